#include "provider/cq.h"

#include "engine/event_loop.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "base/probes.h"
#include "provider/adapter.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS resizeThunk(NDK_CQ* cq, ULONG depth, NDK_FN_REQUEST_COMPLETION, PVOID) {
  NDK_RESOLVE_OR_RETURN(Cq, o, cq, "NdkResizeCq", Object::statusFor(o_why));
  return o->resize(depth);
}
VOID armThunk(NDK_CQ* cq, ULONG type) {
  NDK_RESOLVE_OR_RETURN(Cq, o, cq, "NdkArmCq", );
  o->arm(type);
}
ULONG getResultsThunk(NDK_CQ* cq, NDK_RESULT* results, ULONG n) {
  NDK_RESOLVE_OR_RETURN(Cq, o, cq, "NdkGetCqResults", 0);
  return o->getResults(results, n);
}
ULONG getResultsExThunk(NDK_CQ* cq, NDK_RESULT_EX* results, ULONG n) {
  NDK_RESOLVE_OR_RETURN(Cq, o, cq, "NdkGetCqResultsEx", 0);
  return o->getResults(results, n);
}
NTSTATUS moderationThunk(NDK_CQ* cq, ULONG interval, ULONG count) {
  NDK_RESOLVE_OR_RETURN(Cq, o, cq, "NdkControlCqInterruptModeration", Object::statusFor(o_why));
  return o->controlModeration(interval, count);
}

const NDK_CQ_DISPATCH kDispatch = {
    closeThunk<Cq>, queryExtensionThunk<Cq>, resizeThunk, armThunk, getResultsThunk, moderationThunk, getResultsExThunk,
};

bool isError(NTSTATUS s) { return !NT_SUCCESS(s); }

}  // namespace

const NDK_CQ_DISPATCH* Cq::dispatch() { return &kDispatch; }

Cq::Cq(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx, const GROUP_AFFINITY* affinity)
    : Object(kType, adapter, &kDispatch, adapter->version()), cb_(cb), ctx_(ctx), ring_(depth) {
  if (affinity) affinity_ = *affinity;  // recorded only (R50)
  attachTo(adapter);
}

Cq::~Cq() { device_.releaseResource(Resource::Cq); }

int Cq::armRank(ULONG t) {
  switch (t) {
    case NDK_CQ_NOTIFY_ERRORS: return 0;
    case NDK_CQ_NOTIFY_SOLICITED: return 1;
    case NDK_CQ_NOTIFY_ANY: return 2;
  }
  return -2;
}

bool Cq::matchesLocked(const CompletionEntry& e) const {
  if (arm_ == 2) return true;                                // ANY
  if (arm_ == 1) return e.solicited || isError(e.status);   // SOLICITED (R43, R74)
  return false;                                              // ERRORS: only CQ errors
}

void Cq::addPollSource(const void* key, std::shared_ptr<engine::EventLoop> domain) {
  std::lock_guard lock(sources_mu_);
  if (!index_.emplace(key, master_.size()).second) return;
  master_.push_back({key, std::move(domain)});
  snapshot_.reset();
  have_sources_.store(true, std::memory_order_release);
}

void Cq::removePollSource(const void* key) {
  std::lock_guard lock(sources_mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  const std::size_t at = it->second;
  index_.erase(it);
  if (at + 1 != master_.size()) {
    master_[at] = std::move(master_.back());
    index_[master_[at].key] = at;
  }
  master_.pop_back();
  snapshot_.reset();
  have_sources_.store(!master_.empty(), std::memory_order_release);
}

std::shared_ptr<const Cq::PollSources> Cq::pollSources() const {
  if (!have_sources_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(sources_mu_);
  if (!snapshot_ && !master_.empty()) snapshot_ = std::make_shared<const PollSources>(master_);
  return snapshot_;
}

ULONG Cq::depth() const {
  std::lock_guard lock(mu_);
  return static_cast<ULONG>(ring_.size());
}

ULONG Cq::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<ULONG>(count_);
}

bool Cq::complete(const CompletionEntry& e) {
  std::lock_guard lock(mu_);
  if (error_.load() != STATUS_SUCCESS) return false;  // unusable (R47)
  if (count_ == ring_.size()) {
    // R48: overrun, not a silent drop.
    error_.store(STATUS_BUFFER_OVERFLOW);
    counters_.cqError.fetch_add(1);
    NDK_LOG_WARN("provider", "CQ overrun (depth {}): CQ is unusable from now on (R47)", ring_.size());
    OPENNDK_PROBE2(cq_overrun, static_cast<void*>(this), static_cast<unsigned>(ring_.size()));
    if (arm_ != kUnarmed) fireLocked(STATUS_BUFFER_OVERFLOW);
    return false;
  }
  ring_[(head_ + count_) % ring_.size()] = e;
  ++count_;
  published_count_.store(count_, std::memory_order_release);
  ++added_;
  OPENNDK_PROBE6(complete, static_cast<void*>(this), e.qpContext, e.requestContext, static_cast<unsigned>(e.type), static_cast<unsigned>(e.status), static_cast<unsigned>(e.bytesTransferred));
  const bool solicitedMatch = e.solicited || isError(e.status);
  if (solicitedMatch) ++matching_solicited_;
  if (arm_ != kUnarmed && matchesLocked(e)) {
    const bool moderated = mod_interval_ != 0 && mod_count_ > 1;
    if (!moderated) {
      fireLocked(STATUS_SUCCESS);
    } else {
      ++mod_pending_;
      const bool countControls = mod_count_ != MAXULONG && mod_count_ <= ring_.size();
      if (countControls && mod_pending_ >= mod_count_) {
        fireLocked(STATUS_SUCCESS);
      } else if (mod_timer_ == 0) {
        ULONG us = std::min(mod_interval_, kMaxModerationUs);
        std::uint64_t gen = ++mod_gen_;
        hold();  // the timer keeps the CQ alive until it fired or was cancelled
        mod_timer_ = adapter()->timer().schedule(std::chrono::microseconds(us), [this, gen] { onModerationTimer(gen); });
      }
    }
  }
  return true;
}

void Cq::onModerationTimer(std::uint64_t gen) {
  {
    std::lock_guard lock(mu_);
    if (gen == mod_gen_) {
      mod_timer_ = 0;
      if (arm_ != kUnarmed && mod_pending_ > 0) fireLocked(STATUS_SUCCESS);
    }
  }
  release();
}

void Cq::fail() {
  std::lock_guard lock(mu_);
  if (error_.load() != STATUS_SUCCESS) return;
  error_.store(STATUS_INTERNAL_ERROR);
  OPENNDK_PROBE2(cq_error, static_cast<void*>(this), static_cast<unsigned>(error_.load()));
  counters_.cqError.fetch_add(1);
  if (arm_ != kUnarmed) fireLocked(STATUS_INTERNAL_ERROR);
}

void Cq::fireLocked(NTSTATUS status) {
  arm_ = kUnarmed;  // one-shot (R42)
  armed_.store(false, std::memory_order_relaxed);
  mod_pending_ = 0;
  if (mod_timer_ != 0 && adapter()->timer().cancel(mod_timer_)) {
    mod_timer_ = 0;
    ++mod_gen_;
    // the timer's reference is released below, outside... keep it: the delivery holds its own
    adapter()->callbacks().post([this] { release(); });
  }
  if (stopped_) return;
  if (status != STATUS_SUCCESS) error_notified_ = true;
  added_at_last_notify_ = added_;
  if (!notifier_.scheduleLocked(status)) return;  // R46: after the running callback returned
  hold();  // R23: a close waits for the callback
  auto deliver = [this, status] {
    notifier_.run(mu_, stopped_, status, [this](NTSTATUS s) { cb_(ctx_, s); });  // R49
    release();
  };
  // A completion placed by an engine thread: that thread delivers the notification itself once it
  // has left the progress context — no hop through the callback executor on the blocking-mode
  // critical path (R17 allows any thread). Elsewhere (a consumer's thread inside a provider call,
  // NdkArmCq satisfied at once (R44), the moderation timer): the executor.
  deliverCallback(std::move(deliver));
}

void Cq::arm(ULONG type) {
  int rank = armRank(type);
  if (rank < 0) {
    // §3.2.2 [D]: an unknown Type is treated as NDK_CQ_NOTIFY_ANY.
    NDK_LOG_INFO("provider", "NdkArmCq: unknown Type {} treated as NDK_CQ_NOTIFY_ANY", type);
    rank = 2;
  }
  if (auto src = pollSources())  // the consumer will wait, not poll: the engine serves them again
    for (const PollSource& p : *src) p.domain->consumerIdle();
  std::lock_guard lock(mu_);
  if (stopped_) return;
  arm_ = std::max(arm_, rank);  // R45: the broader of the two
  armed_.store(true, std::memory_order_relaxed);
  if (error_.load() != STATUS_SUCCESS) {
    // A CQ error satisfies every arm type (R43 [I]).
    fireLocked(error_.load());
    return;
  }
  // R44 [D]: entries present → satisfy now (on the executor), if one of them matches.
  if (count_ > 0 && (arm_ == 2 || (arm_ == 1 && matching_solicited_ > 0))) fireLocked(STATUS_SUCCESS);
}

template <class R>
ULONG Cq::getResults(R* results, ULONG n) {
  if (auto src = pollSources()) {
    // An armed CQ: the consumer is about to sleep on the notification (the usual "arm, then poll
    // once more" closes its race). Drive the connections once, but do not mark them as polled, or
    // the engine would park them and the notification would wait for the backstop.
    const bool armed = armed_.load(std::memory_order_relaxed);
    for (const PollSource& p : *src) armed ? p.domain->poll() : p.domain->consumerPoll();
  }
  if (n == 0) return 0;
  if (!results) {
    reject("NdkGetCqResults", STATUS_INVALID_PARAMETER, "NULL Results with nResults > 0");
    return 0;
  }
  // Nothing published: no lock (a poll loop's common case; an entry being added right now is
  // found by the next poll, as it would be had this poll come a moment earlier).
  if (published_count_.load(std::memory_order_acquire) == 0) return 0;
  std::lock_guard lock(mu_);
  ULONG got = 0;
  while (got < n && count_ > 0) {
    const CompletionEntry& e = ring_[head_];
    R& r = results[got++];
    r.Status = e.status;
    r.BytesTransferred = e.bytesTransferred;
    r.QPContext = e.qpContext;
    r.RequestContext = e.requestContext;
    if constexpr (std::is_same_v<R, NDK_RESULT_EX>) {
      r.Type = e.type;
      r.ProviderErrorCode = 0;  // R37 [D]
      r.TypeSpecificCompletionOutput = e.typeSpecific;
    }
    if (e.solicited || isError(e.status)) --matching_solicited_;
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }
  published_count_.store(count_, std::memory_order_release);
  return got;
}
template ULONG Cq::getResults<NDK_RESULT>(NDK_RESULT*, ULONG);
template ULONG Cq::getResults<NDK_RESULT_EX>(NDK_RESULT_EX*, ULONG);

NTSTATUS Cq::resize(ULONG depth) {
  if (!(adapter()->info().AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED))
    return reject("NdkResizeCq", STATUS_NOT_SUPPORTED, "CQ resize not advertised (R33)");
  if (depth == 0 || depth > adapter()->info().MaxCqDepth)
    return reject("NdkResizeCq", STATUS_INVALID_PARAMETER, "CqDepth is 0 or above MaxCqDepth (R32)");
  std::lock_guard lock(mu_);
  if (depth < count_) return reject("NdkResizeCq", STATUS_INVALID_PARAMETER, "CqDepth below the queued entries (R33)");
  std::vector<CompletionEntry> ring(depth);
  for (std::size_t i = 0; i < count_; ++i) ring[i] = ring_[(head_ + i) % ring_.size()];  // keep order
  ring_.swap(ring);
  head_ = 0;
  return STATUS_SUCCESS;
}

NTSTATUS Cq::controlModeration(ULONG interval, ULONG count) {
  if (!(adapter()->info().AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    return STATUS_NOT_SUPPORTED;  // R51b
  std::lock_guard lock(mu_);
  if (interval == MAXULONG && (count == MAXULONG || count > ring_.size()))
    return reject("NdkControlCqInterruptModeration", STATUS_INVALID_PARAMETER_MIX, "no bound on the delay (R51d)");
  mod_interval_ = interval;
  mod_count_ = count;
  // R51h: newest settings win now; pending moderated entries are re-evaluated.
  if (mod_pending_ > 0 && arm_ != kUnarmed && !(interval != 0 && count > 1)) fireLocked(STATUS_SUCCESS);
  return STATUS_SUCCESS;
}

void Cq::onCloseStarted() {
  std::lock_guard lock(mu_);
  stopped_ = true;  // R22/R23: no notification after close started
  arm_ = kUnarmed;
  notifier_.cancelPendingLocked();
  if (mod_timer_ != 0 && adapter()->timer().cancel(mod_timer_)) {
    mod_timer_ = 0;
    ++mod_gen_;
    adapter()->callbacks().post([this] { release(); });
  }
}

}  // namespace openndk::provider
