// Object lifetime: create pattern (R11, R12), close (R18–R28).
#include <thread>

#include "provider_fixture.h"

namespace pt {
namespace {

TEST_F(ProviderTest, R11_R12_CreateInlineAndFailureLeavesOutputUntouched) {
  NDK_PD* sentinel = reinterpret_cast<NDK_PD*>(0x1234);
  NDK_CQ* badCq = reinterpret_cast<NDK_CQ*>(0x4321);
  EXPECT_EQ(a->Dispatch->NdkCreateCq(a, 0, cqNotify, nullptr, nullptr, createDone, nullptr, &badCq),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(badCq, reinterpret_cast<NDK_CQ*>(0x4321));
  NDK_PD* p = sentinel;
  ASSERT_EQ(a->Dispatch->NdkCreatePd(a, createDone, nullptr, &p), STATUS_SUCCESS);
  EXPECT_NE(p, sentinel);
  EXPECT_EQ(p->Header.ObjectType, NdkObjectTypePd);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R18_CloseWithoutSuccessorsIsInline) {
  NDK_CQ* c = cq();
  Event ev;
  EXPECT_EQ(c->Dispatch->NdkCloseCq(&c->Header, closeDone, &ev), STATUS_SUCCESS);
  Object::resolveAs<Adapter>(a)->callbacks().drain();
  EXPECT_EQ(ev.value(), 0);  // no completion for an inline close
}

TEST_F(ProviderTest, R24_R26_AntecedentClosePendsUntilSuccessorsClosed) {
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  NDK_QP* q = qp(p, c);
  struct Order {
    std::mutex mu;
    std::vector<int> seq;
    Event all;
  } order;
  struct Ctx {
    Order* o;
    int id;
  };
  Ctx pc{&order, 1}, cc{&order, 2}, qc{&order, 3};
  auto done = [](PVOID x) {
    auto* k = static_cast<Ctx*>(x);
    {
      std::lock_guard l(k->o->mu);
      k->o->seq.push_back(k->id);
    }
    k->o->all.set();
  };
  EXPECT_EQ(p->Dispatch->NdkClosePd(&p->Header, done, &pc), STATUS_PENDING);
  EXPECT_EQ(c->Dispatch->NdkCloseCq(&c->Header, done, &cc), STATUS_PENDING);
  // R25: the closing antecedents keep serving the QP.
  NDK_SGE g{};
  EXPECT_EQ(q->Dispatch->NdkReceive(q, nullptr, &g, 0), STATUS_SUCCESS);
  Object::resolveAs<Adapter>(a)->callbacks().drain();
  EXPECT_EQ(order.all.value(), 0);
  // The QP has no successors, but its antecedents' closes are pending: it pends too, so that
  // their completions follow its own (docs/decisions.md "Close ordering").
  NTSTATUS s = q->Dispatch->NdkCloseQp(&q->Header, done, &qc);
  EXPECT_EQ(s, STATUS_PENDING);
  Object::resolveAs<Adapter>(a)->callbacks().drain();
  std::lock_guard l(order.mu);
  ASSERT_EQ(order.seq.size(), 3u);
  EXPECT_EQ(order.seq[0], 3) << "the QP's completion first, then the PD's and the CQ's (R26)";
}

TEST_F(ProviderTest, R27_AdapterCloseBlocksUntilDescendantsClosed) {
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  std::atomic<bool> closed{false};
  NDK_ADAPTER* ad = a;
  a = nullptr;
  std::thread closer([&] {
    Device::CloseNdkAdapter(dev.get(), ad);
    closed = true;
  });
  // The adapter close waits for us; close the descendants (one of them pending on the other).
  NDK_QP* q = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateQp(p, c, c, nullptr, 1, 1, 1, 1, 0, createDone, nullptr, &q), STATUS_SUCCESS);
  EXPECT_FALSE(closed.load());
  Event cqClosed;
  EXPECT_EQ(c->Dispatch->NdkCloseCq(&c->Header, closeDone, &cqClosed), STATUS_PENDING);
  EXPECT_EQ(closeAndWait(q), STATUS_PENDING);  // its CQ's close (and the adapter's) has started
  EXPECT_TRUE(cqClosed.wait());
  // Pends once the adapter's close (on the other thread) has started, else closes inline.
  const NTSTATUS ps = closeAndWait(p);
  EXPECT_TRUE(ps == STATUS_SUCCESS || ps == STATUS_PENDING) << ps;
  closer.join();
  EXPECT_TRUE(closed.load());
  EXPECT_TRUE(dev->openAdapters().empty());
}

TEST_F(ProviderTest, R19_DoubleCloseIsAnsweredNotCrashed) {
  NDK_PD* p = pd();
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
  Event ev;
  EXPECT_EQ(p->Dispatch->NdkClosePd(&p->Header, closeDone, &ev), STATUS_INVALID_HANDLE);  // tombstone
}

// R14/R28: close of an antecedent from inside the close completion of its successor.
TEST_F(ProviderTest, R14_CloseFromInsideCloseCompletion) {
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  NDK_QP* q = qp(p, c);
  // Close the CQ first (pends on the QP), then the PD... and close the PD from the CQ's completion.
  struct Ctx2 {
    NDK_PD* pd = nullptr;
    NTSTATUS st = 0;
    Event pdDone, fired;
  } y;
  y.pd = p;
  EXPECT_EQ(c->Dispatch->NdkCloseCq(
                &c->Header,
                [](PVOID v) {
                  auto* k = static_cast<Ctx2*>(v);
                  k->st = k->pd->Dispatch->NdkClosePd(&k->pd->Header, closeDone, &k->pdDone);
                  k->fired.set();
                },
                &y),
            STATUS_PENDING);
  EXPECT_EQ(closeAndWait(q), STATUS_PENDING);  // the CQ's close has started
  ASSERT_TRUE(y.fired.wait());
  if (y.st == STATUS_PENDING) {
    EXPECT_TRUE(y.pdDone.wait());
  }
}

}  // namespace
}  // namespace pt
