#include "provider/srq.h"

#include "base/log.h"
#include "base/probes.h"
#include "provider/adapter.h"
#include "provider/pd.h"
#include "provider/qp.h"
#include "provider/thunks.h"

namespace openndk::provider {

NTSTATUS validateReceiveSgl(const Object* self, const char* fn, Pd* pd, const NDK_SGE* sgl, ULONG nSge, ULONG maxSge,
                            ReceiveRequest* out);  // qp.cpp

namespace {

NTSTATUS modifyThunk(NDK_SRQ* srq, ULONG depth, ULONG threshold, NDK_FN_REQUEST_COMPLETION, PVOID) {
  NDK_RESOLVE_OR_RETURN(Srq, o, srq, "NdkModifySrq", Object::statusFor(o_why));
  return o->modify(depth, threshold);
}
NTSTATUS receiveThunk(NDK_SRQ* srq, PVOID ctx, const NDK_SGE* sgl, ULONG nSge) {
  NDK_RESOLVE_OR_RETURN(Srq, o, srq, "NdkSrqReceive", Object::statusFor(o_why));
  ReceiveRequest r;
  r.requestContext = ctx;
  NTSTATUS s = validateReceiveSgl(o, "NdkSrqReceive", o->pd(), sgl, nSge, o->maxSge(), &r);
  if (s != STATUS_SUCCESS) return s;
  return o->post(std::move(r));
}
const NDK_SRQ_DISPATCH kDispatch = {closeThunk<Srq>, queryExtensionThunk<Srq>, modifyThunk, receiveThunk};

}  // namespace

const NDK_SRQ_DISPATCH* Srq::dispatch() { return &kDispatch; }

Srq::Srq(Adapter* adapter, Pd* pd, ULONG depth, ULONG maxSge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb,
         PVOID ctx, const GROUP_AFFINITY* affinity)
    : Object(kType, adapter, &kDispatch, adapter->version()), pd_(pd), max_sge_(maxSge), cb_(cb), ctx_(ctx),
      depth_(depth) {
  if (affinity) affinity_ = *affinity;  // recorded (R50)
  if (threshold > 0) {                  // R143 [I]: a creation threshold arms the first notification
    threshold_ = threshold;
    armed_ = true;
  }
  attachTo(pd);
}

Srq::~Srq() {
  if (!queue_.empty())
    NDK_LOG_DEBUG("provider", "SRQ destroyed with {} receives never consumed (no CQ to report them to)", queue_.size());
  device_.releaseResource(Resource::Srq);
}

ULONG Srq::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<ULONG>(queue_.size());
}

ULONG Srq::depth() const {
  std::lock_guard lock(mu_);
  return depth_;
}

NTSTATUS Srq::modify(ULONG depth, ULONG threshold) {
  const char* fn = "NdkModifySrq";
  if (depth > adapter()->info().MaxSrqDepth) return reject(fn, STATUS_INVALID_PARAMETER, "SrqDepth above MaxSrqDepth (R141)");
  std::lock_guard lock(mu_);
  if (depth != 0 && depth < queue_.size())
    return reject(fn, STATUS_INVALID_PARAMETER, "SrqDepth below the receives queued (R145)");
  if (depth != 0) depth_ = depth;  // R145: 0 keeps the depth
  if (threshold > 0) {             // R144: 0 keeps threshold and arming
    threshold_ = threshold;
    armed_ = true;
    if (queue_.size() < threshold_) notifyLocked(STATUS_SUCCESS);
  }
  return STATUS_SUCCESS;
}

NTSTATUS Srq::post(ReceiveRequest&& r) {
  std::lock_guard lock(mu_);
  if (failed_) return reject("NdkSrqReceive", STATUS_INTERNAL_ERROR, "SRQ failed (R147)");
  if (queue_.size() >= depth_)
    return reject("NdkSrqReceive", STATUS_INSUFFICIENT_RESOURCES, "SRQ is full (R67)");
  OPENNDK_PROBE3(post_receive, static_cast<void*>(this), r.requestContext, static_cast<unsigned long long>(r.totalLength));
  queue_.push_back(std::move(r));
  return STATUS_SUCCESS;
}

bool Srq::consume(ReceiveRequest* out) {
  std::lock_guard lock(mu_);
  if (failed_ || queue_.empty()) return false;
  std::size_t before = queue_.size();
  *out = std::move(queue_.front());
  queue_.pop_front();
  // R143 [I]: only the drop from >= threshold to < threshold triggers.
  if (armed_ && before >= threshold_ && queue_.size() < threshold_) notifyLocked(STATUS_SUCCESS);
  return true;
}

bool Srq::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

void Srq::fail() {
  std::lock_guard lock(mu_);
  if (failed_) return;
  failed_ = true;
  notifyLocked(STATUS_INTERNAL_ERROR);  // R147 [I]: even when not armed
}

void Srq::notifyLocked(NTSTATUS status) {
  if (status == STATUS_SUCCESS) armed_ = false;  // one-shot (R143)
  if (!cb_ || stopped_) return;                  // R146
  if (!notifier_.scheduleLocked(status)) return;  // R148
  hold();
  adapter()->callbacks().post([this, status] {
    notifier_.run(mu_, stopped_, status, [this](NTSTATUS s) { cb_(ctx_, s); });
    release();
  });
}

void Srq::onCloseStarted() {
  std::lock_guard lock(mu_);
  stopped_ = true;  // R22: no notification once the close started
  armed_ = false;
}

}  // namespace openndk::provider
