// NDK_CQ: a ring of completion entries, one-shot arming (R42–R46), overrun (R47/R48), resize
// (R32/R33) and interrupt moderation (R51).
//
// Producers (QPs, the data path) call complete() from any thread. Notifications are never delivered
// under a provider lock or progress token: a completion placed by an engine thread is notified by
// that thread once it left its progress context (engine::EventLoop::deferToContextExit), any other
// (a consumer's thread driving progress, NdkArmCq, moderation timer) through the adapter's callback
// executor; either way holding a
// busy reference so that a close waits for a running callback (R23) and no notification follows a
// completed close (R22).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "provider/event_notifier.h"
#include "provider/object.h"
#include "provider/work.h"

namespace openndk::engine {
class EventLoop;
}

namespace openndk::provider {

class Cq final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeCq;
  static constexpr const char* kCloseName = "NdkCloseCq";
  // Interrupt moderation: the interval is capped here (R51e allows rounding down to a maximum), so
  // that moderation only ever delays (R51i).
  static constexpr ULONG kMaxModerationUs = 1000000;

  Cq(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx, const GROUP_AFFINITY* affinity);
  ~Cq() override;
  static const NDK_CQ_DISPATCH* dispatch();

  // ---- producer API (data path, QPs) ----
  // Queues one entry. Returns false if the CQ is in the error state or the entry overran it (the
  // CQ then enters the overrun state, R48).
  bool complete(const CompletionEntry& e);
  // Fatal failure (STATUS_INTERNAL_ERROR, R47).
  void fail();
  bool broken() const { return error_.load() != STATUS_SUCCESS; }
  // Consumer-driven progress (docs/engine.md "Progress domains"): every connection whose QP sends
  // completions here registers its progress domain; NdkGetCqResults(Ex) drives each of them
  // (EventLoop::consumerPoll: that connection's socket only), NdkArmCq tells each that the
  // consumer is about to sleep (consumerIdle). A CQ may serve many QPs: a list, added and removed
  // from any thread, read on every poll without the CQ lock (a snapshot).
  void addPollSource(const void* key, std::shared_ptr<engine::EventLoop> domain);
  void removePollSource(const void* key);

  // ---- NDK_CQ_DISPATCH members ----
  NTSTATUS resize(ULONG depth);
  void arm(ULONG type);
  template <class R>
  ULONG getResults(R* results, ULONG n);
  NTSTATUS controlModeration(ULONG interval, ULONG count);

  ULONG depth() const;
  ULONG queued() const;
  const GROUP_AFFINITY& affinity() const { return affinity_; }

 protected:
  void onCloseStarted() override;

 private:
  enum ArmState : int { kUnarmed = -1 };
  static int armRank(ULONG t);  // ERRORS 0 < SOLICITED 1 < ANY 2
  bool matchesLocked(const CompletionEntry& e) const;
  void fireLocked(NTSTATUS status);           // disarm and deliver (R42)
  void onModerationTimer(std::uint64_t gen);  // runs on the timer thread

  NDK_FN_CQ_NOTIFICATION_CALLBACK cb_;
  PVOID ctx_;
  GROUP_AFFINITY affinity_{};
  mutable std::mutex mu_;
  std::vector<CompletionEntry> ring_;
  std::size_t head_ = 0, count_ = 0;
  // count_ as last published under mu_, readable without it: an empty poll takes no lock.
  std::atomic<std::size_t> published_count_{0};
  std::size_t matching_solicited_ = 0;  // queued entries that satisfy a SOLICITED arm
  std::uint64_t added_ = 0;             // entries ever added
  std::uint64_t added_at_last_notify_ = 0;
  int arm_ = kUnarmed;
  EventNotifier notifier_;    // R46: one notification callback at a time
  bool stopped_ = false;      // close started: no more notifications
  std::atomic<NTSTATUS> error_{STATUS_SUCCESS};
  bool error_notified_ = false;
  // moderation
  ULONG mod_interval_ = 0, mod_count_ = 0;
  std::uint64_t mod_pending_ = 0;  // matching entries accumulated while moderated
  std::uint64_t mod_timer_ = 0;    // timer id, 0 = none
  std::uint64_t mod_gen_ = 0;
  struct PollSource {
    const void* key;
    std::shared_ptr<engine::EventLoop> domain;
  };
  using PollSources = std::vector<PollSource>;
  // The poll path reads an immutable snapshot without holding a lock while it drives the domains;
  // adds and removes change only the master list (O(1): swap-remove through the index), and the
  // next poll rebuilds the snapshot once if it is stale. A CQ shared by thousands of QPs that
  // connect and disconnect between two polls thus costs O(1) per change, not a copy of the list
  // per change (issue 12: that copy made establishment O(n) per connection).
  std::shared_ptr<const PollSources> pollSources() const;
  mutable std::mutex sources_mu_;  // guards master_, index_, snapshot_
  PollSources master_;
  std::unordered_map<const void*, std::size_t> index_;  // key -> position in master_
  mutable std::shared_ptr<const PollSources> snapshot_;  // null when stale
  std::atomic<bool> have_sources_{false};
  std::atomic<bool> armed_{false};  // arm_ != kUnarmed, readable without mu_ (the poll path)
};

}  // namespace openndk::provider
