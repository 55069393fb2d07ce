// NDK_SHARED_ENDPOINT: a local address + port reserved on the device (R94, R95, R114, R117).
#pragma once
#include <mutex>
#include <vector>

#include "provider/endpoint_registry.h"
#include "provider/object.h"

namespace openndk::provider {

class SharedEndpoint final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeSharedEndpoint;
  static constexpr const char* kCloseName = "NdkCloseSharedEndpoint";

  SharedEndpoint(Adapter* adapter, const SOCKADDR_INET& bound);
  ~SharedEndpoint() override;
  static const NDK_SHARED_ENDPOINT_DISPATCH* dispatch();

  const SOCKADDR_INET& local() const { return local_; }
  NTSTATUS localAddress(SOCKADDR* addr, ULONG* len);
  // R119: one connection per destination at a time. False if `dst` is already in use.
  bool addDestination(const SOCKADDR_INET& dst);
  void removeDestination(const SOCKADDR_INET& dst);

 private:
  const SOCKADDR_INET local_;
  std::mutex mu_;
  std::vector<SOCKADDR_INET> dests_;
  ActivityRegistration registration_;
};

}  // namespace openndk::provider
