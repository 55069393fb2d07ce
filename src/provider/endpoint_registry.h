// Registry of the active RDMA connections and local endpoints of every interface, read by
// OID_NDK_CONNECTIONS (R163) and OID_NDK_LOCAL_ENDPOINTS (R164). Header-only so that any room
// (provider data path, engine) can report without a link dependency on the host.
//
// The data path reports:
//   * a connection from the moment it is established (NdkConnectEventCallback accepted /
//     NdkCompleteConnect / NdkAccept succeeded) until it is disconnected or its connector closed;
//   * a listener from a successful NdkListen until its endpoint is released (R113);
//   * a shared endpoint from creation until release (R117).
// Keep the returned Registration (RAII) in the object; destroying it removes the entry.
#pragma once
#include <ndk/ndk.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace openndk::provider {

struct ConnectionRecord {
  SOCKADDR_INET local{};
  SOCKADDR_INET remote{};
  bool userModeOwner = false;  // NDSPI; always false for NDK consumers
  std::uint32_t ownerPid = 0;
};

struct LocalEndpointRecord {
  SOCKADDR_INET local{};
  bool listener = false;  // false: shared endpoint
  bool userModeOwner = false;
  std::uint32_t ownerPid = 0;
};

class ActivityRegistry {
 public:
  using Id = std::uint64_t;

  static ActivityRegistry& instance() {
    static ActivityRegistry r;
    return r;
  }

  Id addConnection(NET_IFINDEX ifIndex, const ConnectionRecord& c) {
    std::lock_guard lock(mu_);
    Id id = ++next_;
    connections_[id] = {ifIndex, c};
    return id;
  }
  Id addLocalEndpoint(NET_IFINDEX ifIndex, const LocalEndpointRecord& e) {
    std::lock_guard lock(mu_);
    Id id = ++next_;
    endpoints_[id] = {ifIndex, e};
    return id;
  }
  void remove(Id id) {
    std::lock_guard lock(mu_);
    connections_.erase(id);
    endpoints_.erase(id);
  }
  // In registration order.
  std::vector<ConnectionRecord> connections(NET_IFINDEX ifIndex) const {
    std::lock_guard lock(mu_);
    std::vector<ConnectionRecord> out;
    for (auto& [id, v] : connections_)
      if (v.first == ifIndex) out.push_back(v.second);
    return out;
  }
  std::vector<LocalEndpointRecord> localEndpoints(NET_IFINDEX ifIndex) const {
    std::lock_guard lock(mu_);
    std::vector<LocalEndpointRecord> out;
    for (auto& [id, v] : endpoints_)
      if (v.first == ifIndex) out.push_back(v.second);
    return out;
  }

 private:
  mutable std::mutex mu_;
  Id next_ = 0;
  std::map<Id, std::pair<NET_IFINDEX, ConnectionRecord>> connections_;
  std::map<Id, std::pair<NET_IFINDEX, LocalEndpointRecord>> endpoints_;
};

// Removes its entry when destroyed; movable.
class ActivityRegistration {
 public:
  ActivityRegistration() = default;
  static ActivityRegistration connection(NET_IFINDEX ifIndex, const ConnectionRecord& c) {
    return ActivityRegistration(ActivityRegistry::instance().addConnection(ifIndex, c));
  }
  static ActivityRegistration localEndpoint(NET_IFINDEX ifIndex, const LocalEndpointRecord& e) {
    return ActivityRegistration(ActivityRegistry::instance().addLocalEndpoint(ifIndex, e));
  }
  ActivityRegistration(ActivityRegistration&& o) noexcept : id_(std::exchange(o.id_, 0)) {}
  ActivityRegistration& operator=(ActivityRegistration&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ActivityRegistration(const ActivityRegistration&) = delete;
  ActivityRegistration& operator=(const ActivityRegistration&) = delete;
  ~ActivityRegistration() { reset(); }
  void reset() {
    if (id_) ActivityRegistry::instance().remove(std::exchange(id_, 0));
  }
  explicit operator bool() const { return id_ != 0; }

 private:
  explicit ActivityRegistration(ActivityRegistry::Id id) : id_(id) {}
  ActivityRegistry::Id id_ = 0;
};

}  // namespace openndk::provider
