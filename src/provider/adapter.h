// NDK_ADAPTER: one consumer's instance on a Device (R8). Parent of CQ, PD, connector, listener,
// shared endpoint and LAM; owns the executor on which asynchronous completion callbacks of all its
// descendants run, and the privileged token (R134).
#pragma once
#include <memory>
#include <mutex>
#include <unordered_map>

#include "base/executor.h"
#include "provider/device.h"
#include "provider/object.h"

namespace openndk::provider {

class StagTable;

class Adapter final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeAdapter;

  Adapter(Device* device, NDK_VERSION version);
  ~Adapter() override;

  Device* device() const { return device_; }
  NDK_VERSION version() const { return version_; }
  const NDK_ADAPTER_INFO& info() const { return info_; }
  base::SerialExecutor& callbacks() { return *executor_; }
  StagTable& stags() { return *stags_; }
  UINT32 privilegedToken() const { return privileged_token_; }
  void countRejected() { device_->counters().rejectedCalls.fetch_add(1, std::memory_order_relaxed); }

  // CLOSE_NDK_ADAPTER_HANDLER: blocks until every descendant is closed and every callback has
  // returned (R27), releases LAMs still built (R138), then destroys the adapter.
  void closeBlocking();

  // NDK_ADAPTER_DISPATCH members.
  NTSTATUS queryAdapterInfo(NDK_ADAPTER_INFO* pInfo, ULONG* pBufferSize);
  NTSTATUS createCq(ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx, GROUP_AFFINITY* affinity,
                    NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_CQ** out);
  NTSTATUS createPd(NDK_FN_CREATE_COMPLETION cc, PVOID rc, NDK_PD** out);
  // ... the remaining NDK_ADAPTER_DISPATCH members (shared endpoint, connector, listener, LAM).

 private:
  Device* const device_;
  const NDK_VERSION version_;
  NDK_ADAPTER_INFO info_;
  std::unique_ptr<base::SerialExecutor> executor_;
  std::unique_ptr<StagTable> stags_;
  UINT32 privileged_token_;
};

}  // namespace openndk::provider
