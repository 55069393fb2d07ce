// NDK_ADAPTER: one consumer's instance on a Device (R8). Parent of CQ, PD, connector, listener,
// shared endpoint and LAM; owns the executor on which asynchronous completion callbacks of all its
// descendants run, and the privileged token (R134).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "base/executor.h"
#include "provider/device.h"
#include "provider/object.h"
#include "provider/stag_table.h"
#include "provider/timer.h"

namespace openndk::provider {

class Adapter final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeAdapter;
  static constexpr const char* kCloseName = "CloseNdkAdapter";

  Adapter(Device* device, NDK_VERSION version);
  ~Adapter() override;

  Device* device() const { return &device_; }
  NDK_VERSION version() const { return version_; }
  const NDK_ADAPTER_INFO& info() const { return info_; }
  base::SerialExecutor& callbacks() { return *executor_; }
  Timer& timer() { return timer_; }
  StagTable& stags() { return *stags_; }
  UINT32 privilegedToken() const { return stags_->privilegedToken(); }

  // CLOSE_NDK_ADAPTER_HANDLER: blocks until every descendant is closed and every callback has
  // returned (R27), releases LAMs still built (R138), then destroys the adapter.
  void closeBlocking();

  // True if every page of [logical, logical+length) belongs to a LAM built on this adapter (R70).
  bool lamCovers(std::uint64_t logical, std::uint64_t length) const;
  std::size_t lamCount() const;
  // LAM records alive in the process, over every adapter: a leak check that works in every build
  // (tests count before and after an adapter close, R138), not only under ASan.
  static std::size_t liveLamCount() { return Lam::live.load(std::memory_order_relaxed); }

  // NDK_ADAPTER_DISPATCH members.
  NTSTATUS queryAdapterInfo(NDK_ADAPTER_INFO* pInfo, ULONG* pBufferSize);
  NTSTATUS createCq(ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx, GROUP_AFFINITY* affinity,
                    NDK_CQ** out);
  NTSTATUS createPd(NDK_PD** out);
  NTSTATUS createSharedEndpoint(const SOCKADDR* addr, ULONG len, NDK_SHARED_ENDPOINT** out);
  NTSTATUS createConnector(NDK_CONNECTOR** out);
  NTSTATUS createListener(NDK_FN_CONNECT_EVENT_CALLBACK cb, PVOID ctx, NDK_LISTENER** out);
  NTSTATUS buildLam(MDL* mdl, SIZE_T length, NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lamSize, ULONG* fbo);
  void releaseLam(NDK_LOGICAL_ADDRESS_MAPPING* lam);

 private:
  struct Lam {
    Lam() { live.fetch_add(1, std::memory_order_relaxed); }
    ~Lam() { live.fetch_sub(1, std::memory_order_relaxed); }
    Lam(const Lam&) = delete;
    Lam& operator=(const Lam&) = delete;
    std::vector<std::uint64_t> pages;
    static inline std::atomic<std::size_t> live{0};
  };
  void dropLamLocked(Lam* l);

  const NDK_VERSION version_;
  NDK_ADAPTER_INFO info_;
  std::unique_ptr<base::SerialExecutor> executor_;
  Timer timer_;
  std::unique_ptr<StagTable> stags_;
  mutable std::mutex lam_mu_;
  std::unordered_set<Lam*> lams_;
  std::unordered_map<std::uint64_t, std::uint32_t> lam_pages_;  // logical page → references
};

// Validates an MDL chain for [MmGetMdlVirtualAddress(mdl), +length) (R121) and collects its
// segments (system addresses, R122). Returns false if the chain is not virtually contiguous or
// describes fewer than `length` bytes.
struct MemSegment;
bool collectMdlSegments(const MDL* mdl, std::uint64_t length, std::vector<MemSegment>* out);

}  // namespace openndk::provider
