/*
 * wdk/netioapi.h - interface identifiers of the IP Helper kernel API
 * (netioapi.h), backed by the host's interface list (if_indextoname and
 * /sys/class/net). NET_LUID: NetLuidIndex = the Linux interface index, IfType
 * = IF_TYPE_SOFTWARE_LOOPBACK for a loopback device, IF_TYPE_ETHERNET_CSMACD
 * otherwise. The alias is the Linux interface name.
 */
#ifndef OPENNDK_WDK_NETIOAPI_H
#define OPENNDK_WDK_NETIOAPI_H

#include <wdk/wdm.h>

OPENNDK_EXTERN_C_BEGIN

typedef NTSTATUS NETIO_STATUS;
typedef NET_IFINDEX IF_INDEX, *PIF_INDEX;
typedef USHORT NET_IFTYPE, *PNET_IFTYPE;

#ifndef NET_LUID_DEFINED
#define NET_LUID_DEFINED
typedef union _NET_LUID_LH {
  ULONG64 Value;
  struct {
    ULONG64 Reserved : 24;
    ULONG64 NetLuidIndex : 24;
    ULONG64 IfType : 16;
  } Info;
} NET_LUID_LH, *PNET_LUID_LH;
typedef NET_LUID_LH NET_LUID, *PNET_LUID, IF_LUID, *PIF_LUID;
#endif

#define IF_TYPE_OTHER 1
#define IF_TYPE_ETHERNET_CSMACD 6
#define IF_TYPE_SOFTWARE_LOOPBACK 24
#define IF_MAX_STRING_SIZE 256
#define NDIS_IF_MAX_STRING_SIZE IF_MAX_STRING_SIZE
#define NET_IFINDEX_UNSPECIFIED ((NET_IFINDEX)0)

/* STATUS_INVALID_PARAMETER for NULL arguments, STATUS_NOT_FOUND for an index,
 * LUID or alias the host does not have. */
OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceIndexToLuid(NET_IFINDEX InterfaceIndex, PNET_LUID InterfaceLuid);
OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceLuidToIndex(const NET_LUID *InterfaceLuid,
                                                             PNET_IFINDEX InterfaceIndex);
/* Length in characters, terminator included; STATUS_BUFFER_TOO_SMALL when the
 * alias does not fit. */
OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceLuidToAlias(const NET_LUID *InterfaceLuid, PWSTR InterfaceAlias,
                                                             SIZE_T Length);
OPENNDK_KCOMPAT_API NETIO_STATUS ConvertInterfaceAliasToLuid(PCWSTR InterfaceAlias, PNET_LUID InterfaceLuid);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_WDK_NETIOAPI_H */
