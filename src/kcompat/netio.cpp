// Interface identifiers of libopenndk_kcompat (include/wdk/netioapi.h), from the host's
// interface list.
#include <net/if.h>

#include <cstdio>
#include <cstring>
#include <cwchar>
#include <string>

#include "wdk/netioapi.h"

namespace {

bool isLoopback(const char* name) {
  // ARPHRD_LOOPBACK (772) in /sys/class/net/<name>/type.
  std::string path = std::string("/sys/class/net/") + name + "/type";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return std::strcmp(name, "lo") == 0;
  int type = 0;
  const bool ok = std::fscanf(f, "%d", &type) == 1;
  std::fclose(f);
  return ok && type == 772;
}

NETIO_STATUS luidFor(NET_IFINDEX index, PNET_LUID luid) {
  char name[IF_NAMESIZE] = {};
  if (index == 0 || !if_indextoname(index, name)) return STATUS_NOT_FOUND;
  luid->Value = 0;
  luid->Info.NetLuidIndex = index & 0xffffff;
  luid->Info.IfType = isLoopback(name) ? IF_TYPE_SOFTWARE_LOOPBACK : IF_TYPE_ETHERNET_CSMACD;
  return STATUS_SUCCESS;
}

// The host interface a LUID names: its index must exist and its type must match.
NETIO_STATUS indexFor(const NET_LUID* luid, NET_IFINDEX* index, char* name) {
  const NET_IFINDEX i = static_cast<NET_IFINDEX>(luid->Info.NetLuidIndex);
  NET_LUID expected;
  if (luidFor(i, &expected) != STATUS_SUCCESS || expected.Value != luid->Value) return STATUS_NOT_FOUND;
  if (name && !if_indextoname(i, name)) return STATUS_NOT_FOUND;
  *index = i;
  return STATUS_SUCCESS;
}

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceIndexToLuid(NET_IFINDEX InterfaceIndex, PNET_LUID InterfaceLuid) {
  if (!InterfaceLuid) return STATUS_INVALID_PARAMETER;
  return luidFor(InterfaceIndex, InterfaceLuid);
}

OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceLuidToIndex(const NET_LUID* InterfaceLuid,
                                                             PNET_IFINDEX InterfaceIndex) {
  if (!InterfaceLuid || !InterfaceIndex) return STATUS_INVALID_PARAMETER;
  return indexFor(InterfaceLuid, InterfaceIndex, nullptr);
}

OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceLuidToAlias(const NET_LUID* InterfaceLuid, PWSTR InterfaceAlias,
                                                             SIZE_T Length) {
  if (!InterfaceLuid || !InterfaceAlias) return STATUS_INVALID_PARAMETER;
  char name[IF_NAMESIZE] = {};
  NET_IFINDEX index = 0;
  NETIO_STATUS st = indexFor(InterfaceLuid, &index, name);
  if (st != STATUS_SUCCESS) return st;
  const SIZE_T n = std::strlen(name);
  if (Length < n + 1) return STATUS_BUFFER_TOO_SMALL;
  for (SIZE_T i = 0; i <= n; ++i) InterfaceAlias[i] = static_cast<WCHAR>(static_cast<unsigned char>(name[i]));
  return STATUS_SUCCESS;
}

OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceAliasToLuid(PCWSTR InterfaceAlias, PNET_LUID InterfaceLuid) {
  if (!InterfaceAlias || !InterfaceLuid) return STATUS_INVALID_PARAMETER;
  char name[IF_NAMESIZE] = {};
  SIZE_T n = std::wcslen(InterfaceAlias);
  if (n == 0 || n >= IF_NAMESIZE) return STATUS_NOT_FOUND;
  for (SIZE_T i = 0; i < n; ++i) {
    if (InterfaceAlias[i] <= 0 || InterfaceAlias[i] > 0x7e) return STATUS_NOT_FOUND;
    name[i] = static_cast<char>(InterfaceAlias[i]);
  }
  const unsigned index = if_nametoindex(name);
  if (index == 0) return STATUS_NOT_FOUND;
  return luidFor(index, InterfaceLuid);
}

}  // extern "C"
