#include "host/miniport.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "base/log.h"
#include "provider/endpoint_registry.h"

namespace openndk::host {

using provider::ActivityRegistry;
using provider::Device;
using provider::DeviceAddress;

namespace {
constexpr const char* kLayer = "miniport";

// Device* → its NDIS miniport adapter handle (for work items and PnP events).
std::mutex g_mu;
std::map<const Device*, NDIS_HANDLE>& handles() {
  static std::map<const Device*, NDIS_HANDLE> m;
  return m;
}
NDIS_HANDLE handleOf(const Device* d) {
  std::lock_guard lock(g_mu);
  auto it = handles().find(d);
  return it == handles().end() ? nullptr : it->second;
}

std::vector<DeviceAddress> toDeviceAddresses(const std::vector<SOCKADDR_INET>& in) {
  std::vector<DeviceAddress> out;
  out.reserve(in.size());
  for (const auto& a : in) out.push_back(DeviceAddress{a});
  return out;
}

bool readNetworkDirect(NDIS_HANDLE h) {
  ULONG v = 1;  // INF default (R166)
  if (Ndis::readConfiguration(h, NETWORK_DIRECT_KEYWORD, &v) != NDIS_STATUS_SUCCESS) v = 1;
  return v != 0;
}

NDIS_STATUS SetOptions(NDIS_HANDLE ndisDriverHandle, NDIS_HANDLE /*driverContext*/) {
  NDIS_NDK_PROVIDER_CHARACTERISTICS c = Device::providerCharacteristics();
  return Ndis::setOptionalHandlers(ndisDriverHandle, &c);  // R157
}

NDIS_STATUS InitializeEx(NDIS_HANDLE miniportAdapterHandle, NDIS_HANDLE /*driverContext*/,
                         const InterfaceInit& init, NDIS_HANDLE* adapterContext) {
  const bool enabled = readNetworkDirect(miniportAdapterHandle);
  auto* dev = new (std::nothrow) Device(init.ifIndex, init.name, toDeviceAddresses(init.addresses), enabled);
  if (!dev) return NDIS_STATUS_RESOURCES;
  NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES attrs{};
  attrs.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES;
  attrs.Header.Revision = NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1;
  attrs.Header.Size = NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1;
  attrs.Enabled = enabled ? TRUE : FALSE;
  attrs.NdkCapabilities = const_cast<PNDIS_NDK_CAPABILITIES>(dev->capabilities());
  NDIS_STATUS s = Ndis::setMiniportAttributes(miniportAdapterHandle, &attrs);  // R158, also when disabled
  if (s != NDIS_STATUS_SUCCESS) {
    delete dev;
    return s;
  }
  {
    std::lock_guard lock(g_mu);
    handles()[dev] = miniportAdapterHandle;
  }
  *adapterContext = dev;
  return NDIS_STATUS_SUCCESS;
}

void AddressesChanged(NDIS_HANDLE ctx, const std::vector<SOCKADDR_INET>& addrs) {
  deviceOf(ctx)->setAddresses(toDeviceAddresses(addrs));
}

void Halt(NDIS_HANDLE ctx) {
  Device* dev = deviceOf(ctx);
  {
    std::lock_guard lock(g_mu);
    handles().erase(dev);
  }
  delete dev;
}

// R159–R161: change the state now, signal it from a work item (never from here).
NDIS_STATUS setState(Device* dev, NdisOidRequest* r) {
  if (r->length != sizeof(BOOLEAN)) {
    r->bytesNeeded = sizeof(BOOLEAN);
    return NDIS_STATUS_INVALID_LENGTH;
  }
  if (!r->buffer) return NDIS_STATUS_INVALID_PARAMETER;
  const BOOLEAN requested = *static_cast<const BOOLEAN*>(r->buffer);
  NDIS_HANDLE h = handleOf(dev);
  if (!h) return NDIS_STATUS_FAILURE;
  const bool want = requested != FALSE && readNetworkDirect(h);
  if (requested != FALSE && !want)
    NDK_LOG_INFO(kLayer, "if {}: OID_NDK_SET_STATE(TRUE) while *NetworkDirect is 0: NDK stays disabled", dev->ifIndex());
  r->bytesWritten = sizeof(BOOLEAN);
  const bool was = dev->enabled();
  dev->setEnabled(want);
  if (was != want) {
    const NET_PNP_EVENT_CODE code = want ? NetEventNDKEnable : NetEventNDKDisable;
    Ndis::queueWorkItem(h, [h, code] { Ndis::netPnPEvent(h, code); });  // R160, R161
  }
  return NDIS_STATUS_SUCCESS;  // never pending (R159)
}

NDIS_STATUS statistics(Device* dev, NdisOidRequest* r) {
  constexpr ULONG need = sizeof(NDIS_NDK_STATISTICS_INFO);
  static_assert(need >= NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1);
  if (r->length < need || !r->buffer) {
    r->bytesNeeded = need;
    return NDIS_STATUS_BUFFER_TOO_SHORT;
  }
  NDIS_NDK_STATISTICS_INFO info;
  std::memset(&info, 0, sizeof info);
  info.Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
  info.Header.Revision = NDIS_NDK_STATISTICS_INFO_REVISION_1;
  info.Header.Size = NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1;
  info.Flags = 0;
  dev->counters().snapshot(&info.CounterSet);
  // R162: Reserved01..Reserved20 are 0 whatever the snapshot wrote.
  ULONG64* first = &info.CounterSet.Reserved01;
  std::fill(first, first + 20, ULONG64{0});
  std::memcpy(r->buffer, &info, sizeof info);
  r->bytesWritten = need;
  return NDIS_STATUS_SUCCESS;
}

USHORT headerSize(ULONG bytes) { return static_cast<USHORT>(std::min<ULONG>(bytes, MAXUSHORT)); }

NDIS_STATUS connections(Device* dev, NdisOidRequest* r) {
  const auto list = ActivityRegistry::instance().connections(dev->ifIndex());
  const ULONG n = static_cast<ULONG>(list.size());
  const ULONG need = NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(n);
  if (r->length < need || !r->buffer) {
    r->bytesNeeded = need;
    return NDIS_STATUS_BUFFER_TOO_SHORT;
  }
  auto* out = static_cast<NDIS_NDK_CONNECTIONS*>(r->buffer);
  std::memset(out, 0, need);
  out->Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
  out->Header.Revision = NDIS_NDK_CONNECTIONS_REVISION_1;
  out->Header.Size = headerSize(need);
  out->Flags = 0;
  out->Count = n;
  out->NDConnectionsMappedtoTCPConnections = FALSE;  // iWARP: the ND connection is the TCP connection
  auto* e = reinterpret_cast<NDIS_NDK_CONNECTION_ENTRY*>(reinterpret_cast<unsigned char*>(out) +
                                                         FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections));
  for (ULONG i = 0; i < n; ++i) {
    NDIS_NDK_CONNECTION_ENTRY entry{};
    entry.Local = list[i].local;
    entry.Remote = list[i].remote;
    entry.UserModeOwner = list[i].userModeOwner ? TRUE : FALSE;
    entry.OwnerPid = list[i].ownerPid;
    std::memcpy(&e[i], &entry, sizeof entry);
  }
  r->bytesWritten = need;
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS localEndpoints(Device* dev, NdisOidRequest* r) {
  const auto list = ActivityRegistry::instance().localEndpoints(dev->ifIndex());
  const ULONG n = static_cast<ULONG>(list.size());
  const ULONG need = NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(n);
  if (r->length < need || !r->buffer) {
    r->bytesNeeded = need;
    return NDIS_STATUS_BUFFER_TOO_SHORT;
  }
  auto* out = static_cast<NDIS_NDK_LOCAL_ENDPOINTS*>(r->buffer);
  std::memset(out, 0, need);
  out->Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
  out->Header.Revision = NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1;
  out->Header.Size = headerSize(need);
  out->Flags = 0;
  out->Count = n;
  out->NDLocalEndpointsMappedtoTCPLocalEndpoints = FALSE;
  auto* e = reinterpret_cast<NDIS_NDK_LOCAL_ENDPOINT_ENTRY*>(
      reinterpret_cast<unsigned char*>(out) + FIELD_OFFSET(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints));
  for (ULONG i = 0; i < n; ++i) {
    NDIS_NDK_LOCAL_ENDPOINT_ENTRY entry{};
    entry.Local = list[i].local;
    entry.UserModeOwner = list[i].userModeOwner ? TRUE : FALSE;
    entry.Listener = list[i].listener ? TRUE : FALSE;
    entry.OwnerPid = list[i].ownerPid;
    std::memcpy(&e[i], &entry, sizeof entry);
  }
  r->bytesWritten = need;
  return NDIS_STATUS_SUCCESS;
}

}  // namespace

NDIS_STATUS SoftIwarpOidRequest(NDIS_HANDLE ctx, NdisOidRequest* r) {
  Device* dev = deviceOf(ctx);
  if (!dev || !r) return NDIS_STATUS_INVALID_PARAMETER;
  r->bytesWritten = 0;
  r->bytesNeeded = 0;
  const bool query = r->type == OidRequestType::Query;
  switch (r->oid) {
    case OID_NDK_SET_STATE:
      if (query) break;
      return setState(dev, r);
    case OID_NDK_STATISTICS:
      if (!query) break;
      return statistics(dev, r);
    case OID_NDK_CONNECTIONS:
      if (!query) break;
      return connections(dev, r);
    case OID_NDK_LOCAL_ENDPOINTS:
      if (!query) break;
      return localEndpoints(dev, r);
    default:
      break;
  }
  NDK_LOG_DEBUG(kLayer, "if {}: OID {:#x} ({}) not supported", dev->ifIndex(), r->oid, query ? "query" : "set");
  return NDIS_STATUS_NOT_SUPPORTED;
}

NDIS_STATUS SoftIwarpDriverEntry(Ndis& ndis) {
  MiniportDriverCharacteristics c;
  c.SetOptions = &SetOptions;
  c.InitializeEx = &InitializeEx;
  c.OidRequest = &SoftIwarpOidRequest;
  c.AddressesChanged = &AddressesChanged;
  c.Halt = &Halt;
  return ndis.registerMiniportDriver(c);
}

}  // namespace openndk::host
