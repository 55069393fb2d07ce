// Shared receive queues (R141–R149).
#include "provider/srq.h"
#include "provider_fixture.h"

namespace pt {
namespace {

PVOID ctx(std::uintptr_t v) { return reinterpret_cast<PVOID>(v); }

struct SrqEvents {
  Event ev;
  std::mutex mu;
  std::vector<NTSTATUS> statuses;
};
VOID srqNotify(PVOID p, NTSTATUS s) {
  auto* x = static_cast<SrqEvents*>(p);
  {
    std::lock_guard l(x->mu);
    x->statuses.push_back(s);
  }
  x->ev.set();
}

class SrqTest : public ProviderTest {
 protected:
  void SetUp() override {
    ProviderTest::SetUp();
    c = cq(64);
    p = pd();
    buf = std::make_unique<Buffer>(PAGE_SIZE);
    m = mr(p, *buf);
    g.VirtualAddress = buf->p;
    g.Length = 64;
    g.MemoryRegionToken = m->Dispatch->NdkGetLocalTokenFromMr(m);
  }
  void TearDown() override {
    closeAndWait(m);
    closeAndWait(p);
    closeAndWait(c);
    ProviderTest::TearDown();
  }
  NDK_SRQ* srq(ULONG depth, ULONG threshold, bool withCallback = true) {
    NDK_SRQ* s = nullptr;
    EXPECT_EQ(p->Dispatch->NdkCreateSrq(p, depth, 2, threshold, withCallback ? srqNotify : nullptr, &events, nullptr,
                                        createDone, nullptr, &s),
              STATUS_SUCCESS);
    return s;
  }
  void settle() { Object::resolveAs<Adapter>(a)->callbacks().drain(); }
  NDK_CQ* c = nullptr;
  NDK_PD* p = nullptr;
  NDK_MR* m = nullptr;
  std::unique_ptr<Buffer> buf;
  NDK_SGE g{};
  SrqEvents events;
};

TEST_F(SrqTest, R141_CreateLimits) {
  NDK_SRQ* s = nullptr;
  EXPECT_EQ(p->Dispatch->NdkCreateSrq(p, 0, 1, 0, nullptr, nullptr, nullptr, createDone, nullptr, &s),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateSrq(p, info.MaxSrqDepth + 1, 1, 0, nullptr, nullptr, nullptr, createDone, nullptr, &s),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateSrq(p, 4, info.MaxReceiveRequestSge + 1, 0, nullptr, nullptr, nullptr, createDone,
                                      nullptr, &s),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateSrq(p, 4, 1, 0, nullptr, nullptr, nullptr, createDone, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(s, nullptr);
  GROUP_AFFINITY aff{};
  ASSERT_EQ(p->Dispatch->NdkCreateSrq(p, info.MaxSrqDepth, info.MaxReceiveRequestSge, 0, nullptr, nullptr, &aff,
                                      createDone, nullptr, &s),
            STATUS_SUCCESS);
  EXPECT_EQ(s->Header.ObjectType, NdkObjectTypeSrq);
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R67_R68_ReceiveValidationAndDepth) {
  NDK_SRQ* s = srq(2, 0);
  NDK_SGE three[3] = {g, g, g};
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), three, 3), STATUS_INVALID_PARAMETER);  // MaxReceiveRequestSge 2
  NDK_SGE bad = g;
  bad.Length = PAGE_SIZE + 1;
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), &bad, 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), &g, 1), STATUS_SUCCESS);
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(2), &g, 1), STATUS_SUCCESS);
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(3), &g, 1), STATUS_INSUFFICIENT_RESOURCES);
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R145_ModifyDepth) {
  NDK_SRQ* s = srq(4, 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(i), &g, 1), STATUS_SUCCESS);
  EXPECT_EQ(s->Dispatch->NdkModifySrq(s, 2, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // below queued
  EXPECT_EQ(s->Dispatch->NdkModifySrq(s, info.MaxSrqDepth + 1, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(Object::resolveAs<Srq>(s)->depth(), 4u);
  EXPECT_EQ(s->Dispatch->NdkModifySrq(s, 0, 0, nullptr, nullptr), STATUS_SUCCESS);  // keeps
  EXPECT_EQ(Object::resolveAs<Srq>(s)->depth(), 4u);
  EXPECT_EQ(s->Dispatch->NdkModifySrq(s, 3, 0, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(9), &g, 1), STATUS_INSUFFICIENT_RESOURCES);
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R143_ThresholdFromCreationArmsOnceOnDrop) {
  NDK_SRQ* s = srq(8, 2);
  Srq* so = Object::resolveAs<Srq>(s);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(i), &g, 1), STATUS_SUCCESS);
  settle();
  EXPECT_EQ(events.ev.value(), 0);  // posting never triggers
  ReceiveRequest r;
  ASSERT_TRUE(so->consume(&r));  // 3 → 2: still >= 2
  EXPECT_EQ(r.requestContext, ctx(0));  // posting order (R149)
  settle();
  EXPECT_EQ(events.ev.value(), 0);
  ASSERT_TRUE(so->consume(&r));  // 2 → 1: below
  ASSERT_TRUE(events.ev.wait(1));
  ASSERT_TRUE(so->consume(&r));  // disarmed: nothing more
  settle();
  EXPECT_EQ(events.ev.value(), 1);
  EXPECT_EQ(events.statuses[0], STATUS_SUCCESS);
  EXPECT_FALSE(so->consume(&r));
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R144_ModifyArmsAndFiresWhenAlreadyBelow) {
  NDK_SRQ* s = srq(8, 0);
  settle();
  EXPECT_EQ(events.ev.value(), 0);  // unarmed at creation
  ASSERT_EQ(s->Dispatch->NdkModifySrq(s, 0, 1, nullptr, nullptr), STATUS_SUCCESS);  // 0 queued < 1
  ASSERT_TRUE(events.ev.wait(1));
  ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), &g, 1), STATUS_SUCCESS);
  ASSERT_EQ(s->Dispatch->NdkModifySrq(s, 0, 1, nullptr, nullptr), STATUS_SUCCESS);  // 1 queued: armed, no event
  settle();
  EXPECT_EQ(events.ev.value(), 1);
  ASSERT_EQ(s->Dispatch->NdkModifySrq(s, 0, 0, nullptr, nullptr), STATUS_SUCCESS);  // keeps the arming
  ReceiveRequest r;
  ASSERT_TRUE(Object::resolveAs<Srq>(s)->consume(&r));
  EXPECT_TRUE(events.ev.wait(2));
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R146_R147_NoCallbackAndCatastrophicError) {
  NDK_SRQ* quiet = srq(4, 1, false);
  ASSERT_EQ(quiet->Dispatch->NdkModifySrq(quiet, 0, 2, nullptr, nullptr), STATUS_SUCCESS);
  settle();
  EXPECT_EQ(events.ev.value(), 0);
  EXPECT_EQ(closeAndWait(quiet), STATUS_SUCCESS);
  NDK_SRQ* s = srq(4, 0);
  Object::resolveAs<Srq>(s)->fail();  // unarmed, still delivered
  ASSERT_TRUE(events.ev.wait(1));
  EXPECT_EQ(events.statuses[0], STATUS_INTERNAL_ERROR);
  EXPECT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), &g, 1), STATUS_INTERNAL_ERROR);
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

// R147: after a catastrophic SRQ failure the QPs using it are unusable too: their posts fail inline
// ([D] STATUS_INVALID_DEVICE_STATE, so R40's one-entry promise is never made), no queued SRQ receive
// is handed to them any more (an incoming Send then finds no buffer: the data path terminates the
// connection), and nothing completes into their CQ. A QP of the same PD without the SRQ still works.
TEST_F(SrqTest, R147_FailedSrqMakesItsQpsUnusable) {
  NDK_SRQ* s = srq(8, 0);
  NDK_QP* q = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, s, ctx(0x47), 4, 2, 0, createDone, nullptr, &q), STATUS_SUCCESS);
  ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(1), &g, 1), STATUS_SUCCESS);
  Object::resolveAs<Srq>(s)->fail();
  ASSERT_TRUE(events.ev.wait(1));
  EXPECT_EQ(events.statuses[0], STATUS_INTERNAL_ERROR);
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(2), &g, 1, 0), STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(q->Dispatch->NdkWrite(q, ctx(3), &g, 1, 0x1000, 0x1234, 0), STATUS_INVALID_DEVICE_STATE);
  ReceiveRequest r;
  EXPECT_FALSE(Object::resolveAs<Qp>(q)->takeReceive(&r)) << "a failed SRQ hands out no receive";
  NDK_RESULT res[2];
  EXPECT_EQ(c->Dispatch->NdkGetCqResults(c, res, 2), 0u);
  // The PD and CQ are fine: a plain QP posts and flushes normally.
  NDK_QP* plain = qp(p, c, 4, 4, 1, 1, 0, ctx(0x48));
  ASSERT_EQ(plain->Dispatch->NdkReceive(plain, ctx(4), &g, 1), STATUS_SUCCESS);
  plain->Dispatch->NdkFlush(plain);
  auto e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].RequestContext, ctx(4));
  EXPECT_EQ(e[0].Status, STATUS_CANCELLED);
  EXPECT_EQ(closeAndWait(plain), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(q), STATUS_SUCCESS);
  settle();  // a notification callback may still be returning (the close would pend)
  EXPECT_EQ(closeAndWait(s), STATUS_SUCCESS);
}

TEST_F(SrqTest, R149_R34_QpWithSrq) {
  NDK_SRQ* s = srq(8, 0);
  NDK_QP* q = nullptr;
  NDK_PD* other = pd();
  NDK_SRQ* otherSrq = nullptr;
  ASSERT_EQ(other->Dispatch->NdkCreateSrq(other, 4, 1, 0, nullptr, nullptr, nullptr, createDone, nullptr, &otherSrq),
            STATUS_SUCCESS);
  EXPECT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, otherSrq, nullptr, 4, 2, 0, createDone, nullptr, &q),
            STATUS_INVALID_PARAMETER);  // SRQ of another PD
  EXPECT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, nullptr, nullptr, 4, 2, 0, createDone, nullptr, &q),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, reinterpret_cast<NDK_SRQ*>(c), nullptr, 4, 2, 0, createDone,
                                            nullptr, &q),
            STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, s, nullptr, 0, 2, 0, createDone, nullptr, &q),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(closeAndWait(otherSrq), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(other), STATUS_SUCCESS);
  ASSERT_EQ(p->Dispatch->NdkCreateQpWithSrq(p, c, c, s, ctx(0x77), 4, 2, 0, createDone, nullptr, &q), STATUS_SUCCESS);
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &g, 1), STATUS_INVALID_PARAMETER);  // R149 [D]
  ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(5), &g, 1), STATUS_SUCCESS);
  ASSERT_EQ(s->Dispatch->NdkSrqReceive(s, ctx(6), &g, 1), STATUS_SUCCESS);
  q->Dispatch->NdkFlush(q);  // R77 [D]: SRQ receives stay
  EXPECT_EQ(Object::resolveAs<Srq>(s)->queued(), 2u);
  Qp* qo = Object::resolveAs<Qp>(q);
  ReceiveRequest r;
  ASSERT_TRUE(qo->takeReceive(&r));
  qo->completeReceive(r, STATUS_SUCCESS, 10, false, 0);
  auto e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].QPContext, ctx(0x77));
  EXPECT_EQ(e[0].RequestContext, ctx(5));
  // R24: SRQ close pends while the QP is open.
  Event srqClosed;
  EXPECT_EQ(s->Dispatch->NdkCloseSrq(&s->Header, closeDone, &srqClosed), STATUS_PENDING);
  EXPECT_EQ(closeAndWait(q), STATUS_PENDING);  // its SRQ's close has started: completes first
  EXPECT_TRUE(srqClosed.wait());
}

}  // namespace
}  // namespace pt
