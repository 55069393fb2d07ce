// A Device is one soft RNIC: what NDIS sees as an NDK-capable miniport adapter, one per host
// network interface. It holds what is shared by every NDK_ADAPTER instance opened on it: limits and
// capabilities (read once from the tunable table), the NDK enable state, the per-miniport object
// counts enforced by R155, and the performance counters of OID_NDK_STATISTICS.
#pragma once
#include <ndk/ndk.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace openndk::engine {
class EventLoop;
}

namespace openndk::provider {

class Adapter;

enum class Resource { Qp, Cq, Mr, Pd, Mw, Srq, Count_ };

// Live counters; OID_NDK_STATISTICS snapshots them into NDIS_NDK_PERFORMANCE_COUNTERS.
struct PerfCounters {
  std::atomic<std::uint64_t> connect{0}, accept{0}, connectFailure{0}, connectionError{0},
      activeConnection{0}, cqError{0}, inOctets{0}, outOctets{0}, inFrames{0}, outFrames{0};
  // Not NDIS counters: rejected calls (bad input) on any object of this device.
  std::atomic<std::uint64_t> rejectedCalls{0};
  void snapshot(NDIS_NDK_PERFORMANCE_COUNTERS* out) const;
};

struct DeviceAddress {
  SOCKADDR_INET addr;  // port 0
};

class Device {
 public:
  Device(NET_IFINDEX ifindex, std::string name, std::vector<DeviceAddress> addresses, bool enabled);
  ~Device();

  NET_IFINDEX ifIndex() const { return ifindex_; }
  const std::string& name() const { return name_; }
  std::vector<DeviceAddress> addresses() const;
  void setAddresses(std::vector<DeviceAddress> addresses);
  // True if `addr` (any port) is one of this interface's addresses; wildcard counts when allowed.
  bool ownsAddress(const SOCKADDR* addr, bool allow_wildcard) const;

  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  void setEnabled(bool on) { enabled_.store(on, std::memory_order_release); }

  // NDK_ADAPTER_INFO for an instance at `version` (R152, R153); the limits are the tunables'.
  NDK_ADAPTER_INFO adapterInfo(NDK_VERSION version) const;
  // NDIS_NDK_CAPABILITIES with NdkInfo pointing at this device's own info (R158).
  const NDIS_NDK_CAPABILITIES* capabilities() const { return &caps_; }

  // R155: per-miniport object counts.
  bool acquire(Resource r);
  void releaseResource(Resource r);
  std::uint32_t inUse(Resource r) const { return in_use_[static_cast<int>(r)].load(); }

  // Local endpoints (address + port) held by listeners, shared endpoints and connectors (R113–R118).
  // Port 0 takes a free port of the ephemeral range (R94). Returns STATUS_SUCCESS,
  // STATUS_SHARING_VIOLATION (held, R114) or STATUS_TOO_MANY_ADDRESSES (no free port).
  NTSTATUS reserveEndpoint(SOCKADDR_INET* addr);
  // How many ports of the ephemeral range a listener, connector or shared endpoint tries when the host says a
  // port is in use. Long runs of such ports are common after thousands of connections (TIME_WAIT of
  // sockets without SO_REUSEADDR, other programs' ephemeral ports in the same range); the cursor
  // moves past them, so a long search is paid once, not per connection.
  static constexpr int kEphemeralPortTries = 1024;
  void releaseEndpoint(const SOCKADDR_INET& addr);
  // reserveEndpoint, then `onHost` with the reserved endpoint (bind it on the host: listen, connect,
  // probe), which says whether the host uses it (true) or not (false). Port 0: a port the host uses
  // stays reserved while the search goes on (the cursor does not come back to it) and is released
  // at the end, up to kEphemeralPortTries; STATUS_TOO_MANY_ADDRESSES if the host used them all. An
  // explicit port is tried once and stays reserved whatever `onHost` said (the caller decides).
  NTSTATUS reserveEndpointFreeOnHost(SOCKADDR_INET* addr, const std::function<bool(const SOCKADDR_INET&)>& onHost);
  // One more reference on a held endpoint (a connector accepted over a listener, R113, or
  // connected over a shared endpoint, R117).
  void retainEndpoint(const SOCKADDR_INET& addr);

  // The progress engines of this RNIC (created on first use; N = online CPUs, at most 8). The
  // affinity picks one (MULTI_ENGINE): the lowest set bit of Mask modulo N; NULL → engine 0.
  engine::EventLoop& engineFor(const GROUP_AFFINITY* affinity);
  std::size_t engineCount();

  PerfCounters& counters() { return counters_; }
  const PerfCounters& counters() const { return counters_; }

  // Open NDK_ADAPTER instances (R8); the host closes them when NDK is disabled (R161).
  void registerAdapter(Adapter* a);
  void unregisterAdapter(Adapter* a);
  std::vector<Adapter*> openAdapters() const;

  // OPEN_NDK_ADAPTER_HANDLER / CLOSE_NDK_ADAPTER_HANDLER (NDKPI §6.2, §6.3);
  // MiniportAdapterContext is the Device*.
  static NDIS_STATUS OpenNdkAdapter(NDIS_HANDLE MiniportAdapterContext, PNDIS_OPEN_NDK_ADAPTER_PARAMETERS Parameters,
                                    NDK_ADAPTER** ppNdkAdapter);
  static VOID CloseNdkAdapter(NDIS_HANDLE MiniportAdapterContext, NDK_ADAPTER* pNdkAdapter);
  // The provider's characteristics, as a miniport fills them in MiniportSetOptions (R157).
  static NDIS_NDK_PROVIDER_CHARACTERISTICS providerCharacteristics();
  // R150: the version an open at `requested` gets, or NDIS_STATUS_BAD_VERSION.
  static NDIS_STATUS negotiateVersion(NDK_VERSION requested, NDK_VERSION* granted);

 private:
  const NET_IFINDEX ifindex_;
  const std::string name_;
  mutable std::mutex mu_;
  std::vector<DeviceAddress> addresses_;
  std::vector<Adapter*> adapters_;
  std::atomic<bool> enabled_;
  std::uint32_t limits_[static_cast<int>(Resource::Count_)];
  std::atomic<std::uint32_t> in_use_[static_cast<int>(Resource::Count_)] = {};
  struct Endpoint {
    SOCKADDR_INET addr;
    int refs;
  };
  std::vector<Endpoint> endpoints_;
  USHORT next_ephemeral_ = 0;  // R94: rotating cursor (a just-released port is not reused at once)
  std::mutex engines_mu_;
  std::vector<std::unique_ptr<engine::EventLoop>> engines_;
  NDK_ADAPTER_INFO info_{};
  NDIS_NDK_CAPABILITIES caps_{};
  PerfCounters counters_;
};

}  // namespace openndk::provider
