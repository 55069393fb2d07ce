// The exported C entry points of ndk/ndk.h and ndk/ndk_host.h.
#include <ndk/ndk.h>
#include <ndk/ndk_host.h>
#include <ndk/openndk.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "base/config.h"
#include "base/log.h"
#include "host/control.h"
#include "host/host.h"
#include "provider/connector.h"
#include "host/miniport.h"

using openndk::host::Host;
using openndk::host::NdisOidRequest;
using openndk::host::OidRequestType;

namespace {

template <class F>
NDIS_STATUS guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return NDIS_STATUS_RESOURCES;
  } catch (...) {
    return NDIS_STATUS_FAILURE;
  }
}

NDIS_STATUS oid(NET_IFINDEX ifIndex, OidRequestType type, NDIS_OID id, PVOID buffer, ULONG length, ULONG* done,
                ULONG* needed) {
  if (done) *done = 0;
  if (needed) *needed = 0;
  if (!buffer && length > 0) return NDIS_STATUS_INVALID_PARAMETER;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(ifIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    NdisOidRequest r;
    r.type = type;
    r.oid = id;
    r.buffer = buffer;
    r.length = length;
    NDIS_STATUS s = h.ndis().oidRequest(ifIndex, &r);
    // The miniport answers NOT_SUPPORTED for an OID it does not handle in this direction; the
    // host entry points name that NDIS_STATUS_INVALID_OID (ndk.h).
    if (s == NDIS_STATUS_NOT_SUPPORTED) s = NDIS_STATUS_INVALID_OID;
    if (done && s == NDIS_STATUS_SUCCESS) *done = r.bytesWritten;
    if (needed) *needed = r.bytesNeeded;
    return s;
  });
}

void copyString(CHAR* dst, std::size_t cap, std::string_view src) {
  const std::size_t n = std::min(cap - 1, src.size());
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

}  // namespace

extern "C" {

OPENNDK_API NTSTATUS OpenNdkOpenAdapter(NET_IFINDEX InterfaceIndex, const NDIS_OPEN_NDK_ADAPTER_PARAMETERS* Parameters,
                                    NDK_ADAPTER** Adapter) {
  if (!Adapter) return NDIS_STATUS_INVALID_PARAMETER;
  *Adapter = nullptr;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    // NULL: the newest version (major 2, any minor: the provider grants its highest, R150).
    NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
    if (Parameters) {
      p = *Parameters;
    } else {
      p.Version = NDK_VERSION{2, 0};
    }
    const NDIS_STATUS s = h.ndis().openAdapter(InterfaceIndex, &p, Adapter);
    // A process with an adapter open publishes its state (src/host/control.h); the first open
    // starts the endpoint, later ones find it running.
    if (s == NDIS_STATUS_SUCCESS) openndk::host::control::ensureServerStarted(h);
    return s;
  });
}

OPENNDK_API VOID OpenNdkCloseAdapter(NDK_ADAPTER* Adapter) {
  if (!Adapter) return;
  if (!Host::instance().ndis().closeAdapter(Adapter))
    NDK_LOG_WARN("host", "OpenNdkCloseAdapter({}): not an open adapter (already closed, or closed by an NDK disable)",
                 static_cast<void*>(Adapter));
}

OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceOid(NET_IFINDEX InterfaceIndex, NDIS_OID Oid, PVOID InformationBuffer,
                                             ULONG InformationBufferLength, ULONG* BytesWritten, ULONG* BytesNeeded) {
  return oid(InterfaceIndex, OidRequestType::Query, Oid, InformationBuffer, InformationBufferLength, BytesWritten,
             BytesNeeded);
}

OPENNDK_API NDIS_STATUS OpenNdkSetInterfaceOid(NET_IFINDEX InterfaceIndex, NDIS_OID Oid, PVOID InformationBuffer,
                                           ULONG InformationBufferLength, ULONG* BytesRead, ULONG* BytesNeeded) {
  return oid(InterfaceIndex, OidRequestType::Set, Oid, InformationBuffer, InformationBufferLength, BytesRead,
             BytesNeeded);
}

OPENNDK_API ULONG OpenNdkEnumerateInterfaces(NET_IFINDEX* Indices, ULONG Capacity) {
  try {
    Host& h = Host::instance();
    h.refresh();
    auto list = h.ndis().interfaces(true);
    if (Indices)
      for (ULONG i = 0; i < Capacity && i < list.size(); ++i) Indices[i] = list[i];
    return static_cast<ULONG>(list.size());
  } catch (...) {
    return 0;
  }
}

OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceInfo(NET_IFINDEX InterfaceIndex, NDK_HOST_INTERFACE_INFO* Info) {
  if (!Info) return NDIS_STATUS_INVALID_PARAMETER;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    auto s = h.ndis().snapshot(InterfaceIndex);
    if (!s || !s->ndkCapable) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    std::memset(Info, 0, sizeof *Info);
    Info->InterfaceIndex = s->ifIndex;
    copyString(Info->Name, sizeof Info->Name, s->name);
    Info->NdkEnabled = s->ndkEnabled ? TRUE : FALSE;
    // The host's miniport is the soft one: its adapter context is the Device.
    Info->ProviderEnabled = s->adapterContext && openndk::host::deviceOf(s->adapterContext)->enabled() ? TRUE : FALSE;
    Info->NetworkDirect = s->networkDirect;
    Info->AddressCount = static_cast<ULONG>(s->addresses.size());
    Info->OpenAdapterCount = s->openAdapters;
    Info->PendingEvents = s->pendingEvents;
    return NDIS_STATUS_SUCCESS;
  });
}

OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceAddresses(NET_IFINDEX InterfaceIndex, SOCKADDR_INET* Addresses,
                                                   ULONG Capacity, ULONG* Count) {
  if (!Count || (!Addresses && Capacity > 0)) return NDIS_STATUS_INVALID_PARAMETER;
  *Count = 0;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    auto s = h.ndis().snapshot(InterfaceIndex);
    if (!s || !s->ndkCapable) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    for (ULONG i = 0; i < Capacity && i < s->addresses.size(); ++i) Addresses[i] = s->addresses[i];
    *Count = static_cast<ULONG>(s->addresses.size());
    return NDIS_STATUS_SUCCESS;
  });
}

OPENNDK_API NDIS_STATUS OpenNdkQueryInterfaceCapabilities(NET_IFINDEX InterfaceIndex, NDIS_NDK_CAPABILITIES* Capabilities,
                                                      NDK_ADAPTER_INFO* Info) {
  if (!Capabilities) return NDIS_STATUS_INVALID_PARAMETER;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    auto s = h.ndis().snapshot(InterfaceIndex);
    if (!s || !s->ndkCapable) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    *Capabilities = s->capabilities;
    Capabilities->NdkInfo = Info;
    if (Info) *Info = s->info;
    return NDIS_STATUS_SUCCESS;
  });
}

OPENNDK_API NDIS_STATUS OpenNdkWaitInterfaceState(NET_IFINDEX InterfaceIndex, BOOLEAN Enabled, ULONG TimeoutMs) {
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    return h.ndis().waitState(InterfaceIndex, Enabled != FALSE, TimeoutMs) ? NDIS_STATUS_SUCCESS
                                                                            : NDIS_STATUS{STATUS_IO_TIMEOUT};
  });
}

OPENNDK_API NDIS_STATUS OpenNdkSetInterfaceKeyword(NET_IFINDEX InterfaceIndex, const CHAR* Keyword, ULONG Value) {
  if (!Keyword) return NDIS_STATUS_INVALID_PARAMETER;
  return guarded([&] {
    Host& h = Host::instance();
    if (!h.known(InterfaceIndex)) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    return h.ndis().setKeyword(InterfaceIndex, Keyword, Value);
  });
}

OPENNDK_API NDIS_STATUS OpenNdkRegisterStateCallback(NDK_HOST_STATE_CALLBACK Callback, PVOID Context, PVOID* Registration) {
  if (!Callback || !Registration) return NDIS_STATUS_INVALID_PARAMETER;
  return guarded([&] {
    *Registration = Host::instance().ndis().registerStateCallback(Callback, Context);
    return NDIS_STATUS_SUCCESS;
  });
}

OPENNDK_API VOID OpenNdkDeregisterStateCallback(PVOID Registration) {
  if (Registration) Host::instance().ndis().deregisterStateCallback(Registration);
}

OPENNDK_API VOID OpenNdkRefreshInterfaces(void) {
  try {
    Host::instance().refresh();
  } catch (...) {
  }
}

OPENNDK_API ULONG OpenNdkQueryTunables(NDK_HOST_TUNABLE* Tunables, ULONG Capacity) {
  auto table = openndk::base::tunableTable();
  if (Tunables) {
    for (ULONG i = 0; i < Capacity && i < table.size(); ++i) {
      const auto& t = table[i];
      NDK_HOST_TUNABLE& o = Tunables[i];
      copyString(o.Name, sizeof o.Name, t.name);
      copyString(o.Value, sizeof o.Value, openndk::base::tunableString(t.key));
      copyString(o.DefaultValue, sizeof o.DefaultValue, t.defaultValue);
      copyString(o.Unit, sizeof o.Unit, t.unit);
      copyString(o.Description, sizeof o.Description, t.description);
    }
  }
  return static_cast<ULONG>(table.size());
}

OPENNDK_API unsigned long OpenNdkGetConnectorFailure(const struct _NDK_CONNECTOR* Connector, char* Buffer,
                                                     unsigned long Capacity) {
  try {
    auto* c = openndk::provider::Object::resolveAs<openndk::provider::Connector>(Connector);
    const std::string text = c ? c->failure() : std::string();
    if (Buffer && Capacity > 0) copyString(Buffer, Capacity, text);
    return static_cast<unsigned long>(text.size());
  } catch (...) {
    return 0;
  }
}

}  // extern "C"
