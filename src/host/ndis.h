// The emulated NDIS framework (NDKPI §6, R157–R166): the functions a miniport driver calls
// (NdisMRegisterMiniportDriver, NdisSetOptionalHandlers, NdisMSetMiniportAttributes,
// NdisMNetPnPEvent, NdisReadConfiguration, work items) and the requests NDIS makes of a miniport
// (MiniportInitializeEx per interface, MiniportOidRequest, MiniportHalt, the NDK open/close
// handlers). One Ndis instance is one emulated NDIS with one registered miniport driver; the host
// (host.h) owns the process-wide one, tests build their own around test miniports.
//
// Handles: the driver handle is the Ndis*; a miniport adapter handle is an opaque pointer to the
// framework's per-interface block (MiniportBlock). The miniport adapter context is whatever
// InitializeEx returned (the soft provider uses its Device*).
#pragma once
#include <ndk/ndk.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/executor.h"

namespace openndk::host {

class Ndis;
struct MiniportBlock;

enum class OidRequestType { Query, Set };

// NDIS_OID_REQUEST, reduced to what the NDK OIDs use.
struct NdisOidRequest {
  OidRequestType type = OidRequestType::Query;
  NDIS_OID oid = 0;
  void* buffer = nullptr;
  ULONG length = 0;
  ULONG bytesWritten = 0;  // query: bytes written; set: bytes read
  ULONG bytesNeeded = 0;
};

// What MiniportInitializeEx learns about its interface (the role of NDIS_MINIPORT_INIT_PARAMETERS).
struct InterfaceInit {
  NET_IFINDEX ifIndex = 0;
  std::string name;
  std::vector<SOCKADDR_INET> addresses;
};

// NDIS_MINIPORT_DRIVER_CHARACTERISTICS: the miniport's handlers.
struct MiniportDriverCharacteristics {
  // Called inside registerMiniportDriver (MiniportSetOptions); registers NDK support (R157).
  NDIS_STATUS (*SetOptions)(NDIS_HANDLE ndisDriverHandle, NDIS_HANDLE driverContext) = nullptr;
  // Called once per interface; sets *adapterContext and reports attributes (R158).
  NDIS_STATUS (*InitializeEx)(NDIS_HANDLE miniportAdapterHandle, NDIS_HANDLE driverContext,
                              const InterfaceInit& init, NDIS_HANDLE* adapterContext) = nullptr;
  // MiniportOidRequest; never NDIS_STATUS_PENDING for the NDK OIDs (R159).
  NDIS_STATUS (*OidRequest)(NDIS_HANDLE adapterContext, NdisOidRequest* request) = nullptr;
  // Interface addresses changed (the role of the IP address notifications). May be null.
  void (*AddressesChanged)(NDIS_HANDLE adapterContext, const std::vector<SOCKADDR_INET>& addrs) = nullptr;
  // MiniportHaltEx: the interface is going away; every NDK_ADAPTER is already closed.
  void (*Halt)(NDIS_HANDLE adapterContext) = nullptr;
  NDIS_HANDLE DriverContext = nullptr;
};

// Host-level consumer notification (ndk_host.h NDK_HOST_STATE_CALLBACK).
using StateCallback = void (*)(PVOID context, NET_IFINDEX ifIndex, BOOLEAN enabled);

// A snapshot of one interface, for the host API and the tool.
struct InterfaceSnapshot {
  NET_IFINDEX ifIndex = 0;
  std::string name;
  std::vector<SOCKADDR_INET> addresses;
  bool ndkCapable = false;  // the miniport reported NDK attributes
  bool ndkEnabled = false;  // NDIS's view: attributes' Enabled, then PnP events
  NDIS_NDK_CAPABILITIES capabilities{};
  NDK_ADAPTER_INFO info{};
  NDIS_HANDLE adapterContext = nullptr;
  std::uint32_t openAdapters = 0;
  std::uint32_t pendingEvents = 0;
  std::uint32_t networkDirect = 1;
};

class Ndis {
 public:
  Ndis();
  ~Ndis();  // halts every interface (closing open adapters), drains work items
  Ndis(const Ndis&) = delete;
  Ndis& operator=(const Ndis&) = delete;

  // ---- Framework functions the miniport calls ----

  // NdisMRegisterMiniportDriver: stores the handlers, calls SetOptions inside. Fails with
  // NDIS_STATUS_INVALID_PARAMETER if a mandatory handler is missing, NDIS_STATUS_FAILURE if a
  // driver is already registered, or with SetOptions' status.
  NDIS_STATUS registerMiniportDriver(const MiniportDriverCharacteristics& chars);
  // NdisSetOptionalHandlers with NDIS_NDK_PROVIDER_CHARACTERISTICS (R157): only valid during
  // SetOptions. Header Type 0xB2, Revision 1, Size >= NDIS_SIZEOF_..._REVISION_1, Flags 0, both
  // handlers set; otherwise NDIS_STATUS_INVALID_PARAMETER and nothing is registered.
  static NDIS_STATUS setOptionalHandlers(NDIS_HANDLE ndisDriverHandle,
                                         const NDIS_NDK_PROVIDER_CHARACTERISTICS* chars);
  // NdisMSetMiniportAttributes with NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES (R158): only valid during
  // InitializeEx. Validates both headers (attributes 0xB3/1/>=16; capabilities DEFAULT/1/>=56,
  // Flags 0, NdkInfo set); stores Enabled, a copy of the capabilities and of *NdkInfo.
  static NDIS_STATUS setMiniportAttributes(NDIS_HANDLE miniportAdapterHandle,
                                           const NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES* attrs);
  // NdisMNetPnPEvent with NetEventNDKEnable / NetEventNDKDisable (R161). Refused with
  // NDIS_STATUS_FAILURE when called inside MiniportOidRequest (R160; counted, see
  // r160Violations()). Enable: state on, consumers told. Disable: state off (new opens get
  // NDIS_STATUS_ADAPTER_NOT_READY), consumers told to close, then blocks until every NDK_ADAPTER of
  // the interface is closed (after disableGrace(), the framework closes the rest itself).
  static NDIS_STATUS netPnPEvent(NDIS_HANDLE miniportAdapterHandle, NET_PNP_EVENT_CODE code);
  // NdisReadConfiguration (integer) of a keyword of the interface: the per-interface value if set
  // (setKeyword, or environment OPENNDK_NETWORK_DIRECT_<IFNAME>), else for "*NetworkDirect" the
  // tunable network_direct. NDIS_STATUS_FAILURE for an unknown keyword.
  static NDIS_STATUS readConfiguration(NDIS_HANDLE miniportAdapterHandle, const char* keyword,
                                       ULONG* value);
  // NdisQueueIoWorkItem: runs `fn` on the framework's work-item thread (never inside the caller).
  static void queueWorkItem(NDIS_HANDLE miniportAdapterHandle, std::function<void()> fn);
  // The interface index of a miniport adapter handle (for logging).
  static NET_IFINDEX ifIndexOf(NDIS_HANDLE miniportAdapterHandle);

  // ---- What NDIS does on behalf of the system and consumers ----

  // Creates the miniport adapter of an interface (InitializeEx). NDIS_STATUS_FAILURE if no driver
  // or the index exists; InitializeEx's failure is returned and the interface is dropped.
  NDIS_STATUS addInterface(const InterfaceInit& init);
  // Addresses changed: stored and passed to the miniport.
  void updateAddresses(NET_IFINDEX ifIndex, const std::vector<SOCKADDR_INET>& addrs);
  // The interface is gone: closes its open adapters, then MiniportHaltEx.
  void removeInterface(NET_IFINDEX ifIndex);
  std::vector<NET_IFINDEX> interfaces(bool ndkCapableOnly) const;
  std::optional<InterfaceSnapshot> snapshot(NET_IFINDEX ifIndex) const;

  // Open/close through the registered NDK handlers (R150, R151). Open: unknown or not NDK-capable
  // interface → NDIS_STATUS_ADAPTER_NOT_FOUND; NDK disabled → NDIS_STATUS_ADAPTER_NOT_READY; no
  // handlers → NDIS_STATUS_NOT_SUPPORTED; else the handler's status.
  NDIS_STATUS openAdapter(NET_IFINDEX ifIndex, PNDIS_OPEN_NDK_ADAPTER_PARAMETERS params,
                          NDK_ADAPTER** out);
  // Close: false if `adapter` was not opened here (or was already closed by a forced disable).
  bool closeAdapter(NDK_ADAPTER* adapter);

  // MiniportOidRequest. NDIS_STATUS_ADAPTER_NOT_FOUND for an unknown interface.
  NDIS_STATUS oidRequest(NET_IFINDEX ifIndex, NdisOidRequest* request);

  // Keyword overrides (the registry's per-adapter values).
  NDIS_STATUS setKeyword(NET_IFINDEX ifIndex, const std::string& keyword, ULONG value);

  // Blocks until no work item of the interface is pending and the NDK state is `enabled`.
  // Returns false on timeout or unknown interface.
  bool waitState(NET_IFINDEX ifIndex, bool enabled, std::uint32_t timeoutMs);
  // Blocks until every work item queued so far has run.
  void drainWorkItems();

  // Consumer state callbacks (R161).
  void* registerStateCallback(StateCallback cb, PVOID ctx);
  void deregisterStateCallback(void* registration);

  // Test hooks.
  std::uint64_t r160Violations() const { return r160_violations_.load(); }
  std::uint64_t pnpEventsDelivered() const { return pnp_events_.load(); }
  std::uint64_t forcedCloses() const { return forced_closes_.load(); }
  void setDisableGraceMs(std::uint32_t ms) { disable_grace_ms_.store(ms); }
  bool driverRegistered() const;
  bool ndkHandlersRegistered() const;

 private:
  friend struct MiniportBlock;
  struct CallbackReg;
  MiniportBlock* find(NET_IFINDEX ifIndex) const;
  void notify(NET_IFINDEX ifIndex, bool enabled);
  void closeAllOf(MiniportBlock* b, bool forced);

  mutable std::mutex mu_;  // blocks_, driver state
  std::condition_variable cv_;  // any block's counters or state changed
  MiniportDriverCharacteristics driver_{};
  bool registered_ = false;
  bool in_set_options_ = false;
  OPEN_NDK_ADAPTER_HANDLER open_handler_ = nullptr;
  CLOSE_NDK_ADAPTER_HANDLER close_handler_ = nullptr;
  std::map<NET_IFINDEX, std::unique_ptr<MiniportBlock>> blocks_;
  std::map<NDK_ADAPTER*, MiniportBlock*> instances_;  // guarded by mu_

  std::mutex cb_mu_;
  std::condition_variable cb_cv_;
  std::vector<std::shared_ptr<CallbackReg>> callbacks_;

  std::atomic<std::uint64_t> r160_violations_{0};
  std::atomic<std::uint64_t> pnp_events_{0};
  std::atomic<std::uint64_t> forced_closes_{0};
  std::atomic<std::uint32_t> disable_grace_ms_{10000};
  std::unique_ptr<base::SerialExecutor> work_;  // the work-item thread (R160)
};

}  // namespace openndk::host
