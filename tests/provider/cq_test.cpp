// Completion queues: results (R36–R39), arming (R42–R46), overrun (R47/R48), close vs callback
// (R23, R28), resize (R32/R33), interrupt moderation (R51).
#include <atomic>
#include <future>
#include <thread>

#include "engine/event_loop.h"
#include "provider_fixture.h"

namespace pt {
namespace {

PVOID ctx(std::uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class CqTest : public ProviderTest {
 protected:
  void settle() { Object::resolveAs<Adapter>(a)->callbacks().drain(); }  // every posted callback has run
};

TEST_F(CqTest, R36_FifoAtMostNNeverTwice) {
  NDK_CQ* c = cq(16);
  for (std::uintptr_t i = 1; i <= 5; ++i) ASSERT_TRUE(cqObj(c)->complete(entry(ctx(i))));
  NDK_RESULT r[3];
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, r, 3), 3u);
  EXPECT_EQ(r[0].RequestContext, ctx(1));
  EXPECT_EQ(r[2].RequestContext, ctx(3));
  NDK_RESULT_EX rx[8];
  EXPECT_EQ(c->Dispatch->NdkGetCqResultsEx(c, rx, 8), 2u);  // R39: same queue
  EXPECT_EQ(rx[0].RequestContext, ctx(4));
  EXPECT_EQ(rx[1].RequestContext, ctx(5));
  EXPECT_EQ(rx[1].ProviderErrorCode, 0u);  // R37
  EXPECT_EQ(rx[1].Type, NdkOperationTypeReceive);
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, r, 3), 0u);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, GetResultsNullArrayReturnsZeroAndCqStillWorks) {
  NDK_CQ* c = cq(4);
  cqObj(c)->complete(entry(ctx(1)));
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, nullptr, 4), 0u);
  EXPECT_EQ(c->Dispatch->NdkGetCqResultsEx(c, nullptr, 4), 0u);
  NDK_RESULT r[1];
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, r, 0), 0u);
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, r, 1), 1u);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R42_NoNotificationWithoutArmAndOneShot) {
  NDK_CQ* c = cq(8);
  cqObj(c)->complete(entry(ctx(1)));
  settle();
  EXPECT_EQ(cqEvent.value(), 0);
  drain(c);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  settle();
  EXPECT_EQ(cqEvent.value(), 0);  // nothing queued: waits
  cqObj(c)->complete(entry(ctx(2)));
  cqObj(c)->complete(entry(ctx(3)));
  EXPECT_TRUE(cqEvent.wait(1));
  settle();
  EXPECT_EQ(cqEvent.value(), 1);  // one-shot
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R44_ArmWithEntriesPresentIsSatisfiedOnTheExecutor) {
  std::thread::id cbThread;
  struct Ctx {
    Event ev;
    std::thread::id id;
  } cx;
  NDK_CQ* c = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(
                a, 8,
                [](PVOID p, NTSTATUS s) {
                  auto* x = static_cast<Ctx*>(p);
                  EXPECT_EQ(s, STATUS_SUCCESS);
                  x->id = std::this_thread::get_id();
                  x->ev.set();
                },
                &cx, nullptr, createDone, nullptr, &c),
            STATUS_SUCCESS);
  cqObj(c)->complete(entry(ctx(1)));
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(cx.ev.wait());
  EXPECT_NE(cx.id, std::this_thread::get_id());  // not inline in NdkArmCq
  // Re-arm without draining: [D] satisfied again.
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  EXPECT_TRUE(cx.ev.wait(2));
  (void)cbThread;
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R43_SolicitedArmMatchesSolicitedOrErrorEntries) {
  NDK_CQ* c = cq(8);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_SOLICITED);
  cqObj(c)->complete(entry(ctx(1)));
  settle();
  EXPECT_EQ(cqEvent.value(), 0);
  cqObj(c)->complete(entry(ctx(2), STATUS_SUCCESS, true));
  EXPECT_TRUE(cqEvent.wait(1));
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_SOLICITED);  // queued: one solicited → immediate (R44)
  EXPECT_TRUE(cqEvent.wait(2));
  drain(c);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_SOLICITED);
  cqObj(c)->complete(entry(ctx(3), STATUS_CANCELLED));  // an error matches SOLICITED
  EXPECT_TRUE(cqEvent.wait(3));
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R43_ErrorsArmIgnoresEntriesButSeesOverrun) {
  struct Ctx {
    Event ev;
    NTSTATUS st = 0;
  } cx;
  NDK_CQ* c = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(
                a, 2,
                [](PVOID p, NTSTATUS s) {
                  static_cast<Ctx*>(p)->st = s;
                  static_cast<Ctx*>(p)->ev.set();
                },
                &cx, nullptr, createDone, nullptr, &c),
            STATUS_SUCCESS);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ERRORS);
  EXPECT_TRUE(cqObj(c)->complete(entry(ctx(1), STATUS_CANCELLED)));
  EXPECT_TRUE(cqObj(c)->complete(entry(ctx(2), STATUS_SUCCESS, true)));
  settle();
  EXPECT_EQ(cx.ev.value(), 0);
  const auto errs = dev->counters().cqError.load();
  EXPECT_FALSE(cqObj(c)->complete(entry(ctx(3))));  // R48: overrun
  ASSERT_TRUE(cx.ev.wait());
  EXPECT_EQ(cx.st, STATUS_BUFFER_OVERFLOW);  // R47
  EXPECT_EQ(dev->counters().cqError.load(), errs + 1);
  EXPECT_TRUE(cqObj(c)->broken());
  EXPECT_FALSE(cqObj(c)->complete(entry(ctx(4))));  // unusable
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

// R45: the arm in force after two arms is the broader one.
TEST_F(CqTest, R45_CombinationTable) {
  const ULONG types[3] = {NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED};
  auto rank = [](ULONG t) { return t == NDK_CQ_NOTIFY_ANY ? 2 : t == NDK_CQ_NOTIFY_SOLICITED ? 1 : 0; };
  for (ULONG first : types) {
    for (ULONG second : types) {
      Event ev;
      NDK_CQ* c = cq(8, &ev);
      c->Dispatch->NdkArmCq(c, first);
      c->Dispatch->NdkArmCq(c, second);
      const int expect = std::max(rank(first), rank(second));
      cqObj(c)->complete(entry(ctx(1)));  // plain: only ANY
      settle();
      EXPECT_EQ(ev.value(), expect == 2 ? 1 : 0) << first << "," << second;
      cqObj(c)->complete(entry(ctx(2), STATUS_SUCCESS, true));  // solicited: ANY or SOLICITED
      settle();
      EXPECT_EQ(ev.value(), expect >= 1 ? 1 : 0) << first << "," << second;
      settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
    }
  }
}

TEST_F(CqTest, ArmWithUnknownTypeActsAsAny) {  // §3.2.2 [D]
  NDK_CQ* c = cq(8);
  c->Dispatch->NdkArmCq(c, 7);
  cqObj(c)->complete(entry(ctx(1)));
  EXPECT_TRUE(cqEvent.wait(1));
  drain(c);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(2)));
  EXPECT_TRUE(cqEvent.wait(2));
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

// R46: callbacks of one CQ never overlap, with two producers and a callback that re-arms.
TEST_F(CqTest, R46_SerializedWithTwoProducers) {
  struct Ctx {
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    std::atomic<int> calls{0};
    NDK_CQ* cq = nullptr;
  } cx;
  NDK_CQ* c = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(
                a, 4096,
                [](PVOID p, NTSTATUS) {
                  auto* x = static_cast<Ctx*>(p);
                  if (x->inside.fetch_add(1) != 0) x->overlap = true;
                  NDK_RESULT r[64];
                  while (x->cq->Dispatch->NdkGetCqResults(x->cq, r, 64) > 0) {
                  }
                  x->calls.fetch_add(1);
                  x->inside.fetch_sub(1);
                  x->cq->Dispatch->NdkArmCq(x->cq, NDK_CQ_NOTIFY_ANY);  // R15: from inside the callback
                },
                &cx, nullptr, createDone, nullptr, &c),
            STATUS_SUCCESS);
  cx.cq = c;
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  auto producer = [&](std::uintptr_t base) {
    for (std::uintptr_t i = 0; i < 1000; ++i) cqObj(c)->complete(entry(ctx(base + i)));
  };
  std::thread t1(producer, 1), t2(producer, 100000);
  t1.join();
  t2.join();
  settle();
  EXPECT_FALSE(cx.overlap.load());
  EXPECT_GE(cx.calls.load(), 1);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

// R23: a close while the notification callback runs stays pending until it returned; nothing after.
TEST_F(CqTest, R23_CloseWaitsForRunningCallback) {
  struct Ctx {
    Event entered, release;
    std::atomic<bool> returned{false};
  } cx;
  NDK_CQ* c = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(
                a, 8,
                [](PVOID p, NTSTATUS) {
                  auto* x = static_cast<Ctx*>(p);
                  x->entered.set();
                  EXPECT_TRUE(x->release.wait());
                  x->returned = true;
                },
                &cx, nullptr, createDone, nullptr, &c),
            STATUS_SUCCESS);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(1)));
  ASSERT_TRUE(cx.entered.wait());
  struct CloseCtx {
    Event done;
    Ctx* cb;
    bool callbackHadReturned = false;
  } cc{{}, &cx};
  NTSTATUS s = c->Dispatch->NdkCloseCq(
      &c->Header,
      [](PVOID p) {
        auto* x = static_cast<CloseCtx*>(p);
        x->callbackHadReturned = x->cb->returned.load();
        x->done.set();
      },
      &cc);
  EXPECT_EQ(s, STATUS_PENDING);
  EXPECT_EQ(cc.done.value(), 0);
  cx.release.set();
  ASSERT_TRUE(cc.done.wait());
  EXPECT_TRUE(cc.callbackHadReturned);
}

// R28: close from inside the CQ's own callback pends and completes after it returned.
TEST_F(CqTest, R28_CloseFromInsideCallback) {
  struct Ctx {
    NDK_CQ* cq = nullptr;
    NTSTATUS closeStatus = 0;
    Event closed, cbDone;
  } cx;
  NDK_CQ* c = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(
                a, 8,
                [](PVOID p, NTSTATUS) {
                  auto* x = static_cast<Ctx*>(p);
                  x->closeStatus = x->cq->Dispatch->NdkCloseCq(&x->cq->Header, closeDone, &x->closed);
                  x->cbDone.set();
                },
                &cx, nullptr, createDone, nullptr, &c),
            STATUS_SUCCESS);
  cx.cq = c;
  cqObj(c)->complete(entry(ctx(1)));
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(cx.cbDone.wait());
  EXPECT_EQ(cx.closeStatus, STATUS_PENDING);
  EXPECT_TRUE(cx.closed.wait());
}

TEST_F(CqTest, R32_R33_Resize) {
  NDK_CQ* c = cq(4);
  for (std::uintptr_t i = 1; i <= 4; ++i) cqObj(c)->complete(entry(ctx(i)));
  NDK_RESULT r[2];
  ASSERT_EQ(c->Dispatch->NdkGetCqResults(c, r, 2), 2u);  // ring wraps from here
  cqObj(c)->complete(entry(ctx(5)));
  cqObj(c)->complete(entry(ctx(6)));
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, info.MaxCqDepth + 1, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, 3, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // 4 queued
  EXPECT_EQ(cqObj(c)->depth(), 4u);
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, 16, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(cqObj(c)->depth(), 16u);
  for (std::uintptr_t i = 7; i <= 16; ++i) EXPECT_TRUE(cqObj(c)->complete(entry(ctx(i))));
  auto all = drain(c);
  ASSERT_EQ(all.size(), 14u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].RequestContext, ctx(i + 3));  // order kept
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, 1, nullptr, nullptr), STATUS_SUCCESS);  // shrink when empty
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R51_ModerationArguments) {
  NDK_CQ* c = cq(8);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, MAXULONG, MAXULONG), STATUS_INVALID_PARAMETER_MIX);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, MAXULONG, 9), STATUS_INVALID_PARAMETER_MIX);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, MAXULONG, 8), STATUS_SUCCESS);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, 0, 0), STATUS_SUCCESS);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, 100, MAXULONG), STATUS_SUCCESS);
  EXPECT_EQ(c->Dispatch->NdkControlCqInterruptModeration(nullptr, 100, 2), STATUS_INVALID_PARAMETER);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R51_CountModerationDelaysUntilCount) {
  NDK_CQ* c = cq(8);
  ASSERT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, MAXULONG, 3), STATUS_SUCCESS);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(1)));
  cqObj(c)->complete(entry(ctx(2)));
  settle();
  EXPECT_EQ(cqEvent.value(), 0);  // (the capped interval is 1 s)
  cqObj(c)->complete(entry(ctx(3)));
  EXPECT_TRUE(cqEvent.wait(1));
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(CqTest, R51_IntervalModerationNeverSuppresses) {
  NDK_CQ* c = cq(8);
  ASSERT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, 2000, MAXULONG), STATUS_SUCCESS);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(1)));
  EXPECT_TRUE(cqEvent.wait(1));  // R51i: delivered after at most the interval
  // Interval 0 disables moderation regardless of the count.
  ASSERT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, 0, 5), STATUS_SUCCESS);
  drain(c);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(2)));
  EXPECT_TRUE(cqEvent.wait(2));
  // The timer thread may still be returning its reference: the close may pend (and completes).
  NTSTATUS s = closeAndWait(c);
  EXPECT_TRUE(s == STATUS_SUCCESS || s == STATUS_PENDING);
}

TEST_F(CqTest, R51_CloseWithPendingModerationTimer) {
  NDK_CQ* c = cq(8);
  ASSERT_EQ(c->Dispatch->NdkControlCqInterruptModeration(c, 500000, MAXULONG), STATUS_SUCCESS);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  cqObj(c)->complete(entry(ctx(1)));
  closeAndWait(c);  // completes (timer cancelled); no notification afterwards (R22)
  settle();
  EXPECT_EQ(cqEvent.value(), 0);
}

// Consumer-driven progress: every registered domain is driven by each poll and told when the
// consumer arms the CQ (a CQ serving two QPs keeps both, not the last one registered).
TEST_F(CqTest, PollSourcesAreDrivenOnPollAndIdledOnArm) {
  NDK_CQ* c = cq(8);
  openndk::engine::EventLoop engine(40, openndk::engine::ProgressMode::Poll, std::chrono::microseconds(0));
  auto d1 = engine.makeDomain(), d2 = engine.makeDomain();
  std::atomic<int> polls1{0}, polls2{0};
  std::promise<void> ready;
  ASSERT_TRUE(d1->post([&] {
    d1->addPollHandler([&] { polls1.fetch_add(1); return false; });
    ASSERT_TRUE(d2->post([&] {
      d2->addPollHandler([&] { polls2.fetch_add(1); return false; });
      ready.set_value();
    }));
  }));
  ASSERT_EQ(ready.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  int key1 = 1, key2 = 2;
  cqObj(c)->addPollSource(&key1, d1);
  cqObj(c)->addPollSource(&key2, d2);
  cqObj(c)->addPollSource(&key2, d2);  // once per key
  // A poll drives a domain unless another thread holds its token right now (the engine thread may
  // still be finishing the setup task): poll until both were driven, by both result forms.
  NDK_RESULT r[1];
  NDK_RESULT_EX rx[1];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((polls1.load() < 2 || polls2.load() < 2) && std::chrono::steady_clock::now() < deadline) {
    c->Dispatch->NdkGetCqResults(c, r, 1);
    c->Dispatch->NdkGetCqResultsEx(c, rx, 1);
  }
  EXPECT_GE(polls1.load(), 2);
  EXPECT_GE(polls2.load(), 2);
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  EXPECT_FALSE(d1->consumersPolling());
  EXPECT_FALSE(d2->consumersPolling());
  cqObj(c)->removePollSource(&key1);
  const int p1 = polls1.load(), p2 = polls2.load();
  while (polls2.load() < p2 + 2 && std::chrono::steady_clock::now() < deadline) c->Dispatch->NdkGetCqResults(c, r, 1);
  EXPECT_EQ(polls1.load(), p1);  // no longer a source
  EXPECT_GE(polls2.load(), p2 + 2);
  cqObj(c)->removePollSource(&key2);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
  engine.stop();
}

// Issue 12: the list is a swap-remove array with an index (O(1) per change, where a copy per change
// made establishing n connections on one CQ O(n^2)). Removing from the middle must keep every other
// source reachable, and a re-added key is driven again.
TEST_F(CqTest, PollSourceRemovedFromTheMiddleKeepsTheOthersDriven) {
  NDK_CQ* c = cq(8);
  openndk::engine::EventLoop engine(41, openndk::engine::ProgressMode::Poll, std::chrono::microseconds(0));
  constexpr int kSources = 5;
  std::shared_ptr<openndk::engine::EventLoop> d[kSources];
  std::atomic<int> polls[kSources] = {};
  std::atomic<int> installed{0};
  for (int i = 0; i < kSources; ++i) {
    d[i] = engine.makeDomain();
    auto* dom = d[i].get();
    std::atomic<int>* count = &polls[i];
    ASSERT_TRUE(dom->post([dom, count, &installed] {
      dom->addPollHandler([count] { count->fetch_add(1); return false; });
      installed.fetch_add(1);
    }));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (installed.load() < kSources && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(installed.load(), kSources);
  int keys[kSources] = {0, 1, 2, 3, 4};
  for (int i = 0; i < kSources; ++i) cqObj(c)->addPollSource(&keys[i], d[i]);
  cqObj(c)->removePollSource(&keys[1]);  // middle: the last one moves into its slot
  cqObj(c)->removePollSource(&keys[1]);  // twice: nothing
  cqObj(c)->removePollSource(&keys[4]);  // the moved one
  cqObj(c)->addPollSource(&keys[4], d[4]);
  int before[kSources];
  for (int i = 0; i < kSources; ++i) before[i] = polls[i].load();
  NDK_RESULT r[1];
  auto allDriven = [&] {
    for (int i : {0, 2, 3, 4})
      if (polls[i].load() < before[i] + 2) return false;
    return true;
  };
  while (!allDriven() && std::chrono::steady_clock::now() < deadline) c->Dispatch->NdkGetCqResults(c, r, 1);
  EXPECT_TRUE(allDriven());
  EXPECT_EQ(polls[1].load(), before[1]);  // removed: never driven again
  for (int i : {0, 2, 3, 4}) cqObj(c)->removePollSource(&keys[i]);
  settle();
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
  engine.stop();
}

}  // namespace
}  // namespace pt
