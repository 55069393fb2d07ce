// NDK_SHARED_ENDPOINT: a local address + port reserved on the device (R94, R95, R114, R117).
#pragma once
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

 private:
  const SOCKADDR_INET local_;
};

}  // namespace openndk::provider
