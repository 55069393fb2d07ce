// Conformance: close ordering a kernel consumer can build on (NDKPI.md §1.4, R24, R26). For every
// antecedent → successor relation: the antecedent's close pends while the successor is open, and
// its NdkCloseCompletion runs only after the successor's close call has returned and after the
// successor's own NdkCloseCompletion (if it pended) has returned. Completions run on the
// provider's callback thread (another CPU); the successor's completion is held open inside its
// callback until this thread has seen the successor's close call return, so the order checked is
// enforced by the provider and no sleep takes part in it.
#include <atomic>
#include <cstring>
#include <thread>

#include "consumer.h"

namespace conf {
namespace {

PSOCKADDR sa(SOCKADDR_IN* a) { return reinterpret_cast<PSOCKADDR>(a); }

class CloseOrder : public NdkTest {
 protected:
  // Closes `ant` (must pend, R24), then `succ` from this thread, and checks the order.
  void closeInOrder(NDK_OBJECT_HEADER* ant, NDK_OBJECT_HEADER* succ) {
    ASSERT_TRUE(ant && succ);
    untrack(ant);
    untrack(succ);
    const std::thread::id self = std::this_thread::get_id();
    std::atomic<int> seq{0}, succReturned{-1}, succCallbackDone{-1}, antCallback{-1};
    std::atomic<bool> antInline{false};
    Event mayReturn;
    Recorder& antRec = newRecorder();
    Recorder& succRec = newRecorder();
    antRec.hook = [&](const CallRecord& r) {
      antCallback = seq++;
      antInline = r.thread == self;
    };
    succRec.hook = [&](const CallRecord&) {
      mayReturn.wait();  // held until this thread saw NdkCloseXxx(successor) return
      succCallbackDone = seq++;
    };
    CONF_ASSERT_STATUS(STATUS_PENDING, closeFnOf(ant)(ant, &Recorder::onClose, &antRec))
        << "R24: antecedent type " << ant->ObjectType << " with an open successor";
    const NTSTATUS st = closeFnOf(succ)(succ, &Recorder::onClose, &succRec);
    succReturned = seq++;
    mayReturn.set();
    EXPECT_TRUE(st == STATUS_SUCCESS || st == STATUS_PENDING) << "R18: " << statusName(st);
    // [D] docs/decisions.md "Close ordering": a successor whose antecedent's close has started
    // pends, so the antecedent's completion can follow its completion (R26).
    CONF_EXPECT_D_STATUS(STATUS_PENDING, st);
    if (st == STATUS_PENDING) {
      ASSERT_TRUE(succRec.waitFor(1)) << "R18: successor completion never came";
    }
    ASSERT_TRUE(antRec.waitFor(1)) << "R24: antecedent completion never came";
    EXPECT_EQ(1u, antRec.count());
    EXPECT_FALSE(antInline.load()) << "the completion ran on the closing thread, not on another CPU";
    EXPECT_LT(succReturned.load(), antCallback.load())
        << "R24/R26: the antecedent's completion ran before the successor's close call returned";
    if (st == STATUS_PENDING) {
      EXPECT_LT(succCallbackDone.load(), antCallback.load()) << "R26: before the successor's completion returned";
    }
  }

  // adapter → child: the blocking adapter close (R27) runs on another thread while the child is
  // closed here; it returns only after the child's close call and completion have returned. The
  // moment the adapter close starts is not observable, so either interleaving may occur; both
  // must satisfy the order.
  template <class MakeChild>
  void adapterInOrder(MakeChild make) {
    NDK_ADAPTER* a2 = nullptr;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, OpenNdkOpenAdapter(interfaceUnderTest(), nullptr, &a2));
    NDK_ADAPTER* mine = adapter_;
    adapter_ = a2;
    NDK_OBJECT_HEADER* child = make();
    adapter_ = mine;
    ASSERT_NE(nullptr, child);
    untrack(child);
    std::atomic<int> seq{0}, childReturned{-1}, childCallbackDone{-1}, adapterReturned{-1};
    Event mayReturn;
    Recorder& childRec = newRecorder();
    childRec.hook = [&](const CallRecord&) {
      mayReturn.wait();
      childCallbackDone = seq++;
    };
    std::thread closer([&] {
      OpenNdkCloseAdapter(a2);
      adapterReturned = seq++;
    });
    const NTSTATUS st = closeFnOf(child)(child, &Recorder::onClose, &childRec);
    childReturned = seq++;
    mayReturn.set();
    EXPECT_TRUE(st == STATUS_SUCCESS || st == STATUS_PENDING) << "R18: " << statusName(st);
    closer.join();
    EXPECT_LT(childReturned.load(), adapterReturned.load()) << "R24/R27: adapter closed before its child's close returned";
    if (st == STATUS_PENDING) {
      EXPECT_EQ(1u, childRec.count());
      EXPECT_LT(childCallbackDone.load(), adapterReturned.load()) << "R26/R27";
    }
  }
};

TEST_F(CloseOrder, R24_R26_PdThenMr) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  closeInOrder(&pd->Header, &makeMr(pd, false)->Header);
}

TEST_F(CloseOrder, R24_R26_PdThenMw) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  closeInOrder(&pd->Header, &makeMw(pd)->Header);
}

TEST_F(CloseOrder, R24_R26_PdThenSrq) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  closeInOrder(&pd->Header, &makeSrq(pd)->Header);
}

TEST_F(CloseOrder, R24_R26_PdThenQp) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq();
  ASSERT_TRUE(pd && cq);
  closeInOrder(&pd->Header, &makeQp(pd, cq, cq)->Header);
}

TEST_F(CloseOrder, R24_R26_CqThenQp) {
  NDK_PD* pd = makePd();
  NDK_CQ* rcq = makeCq();
  NDK_CQ* icq = makeCq();
  ASSERT_TRUE(pd && rcq && icq);
  NDK_QP* qp = makeQp(pd, rcq, icq);
  ASSERT_NE(nullptr, qp);
  // The receive CQ's close pends too (R24); it completes once the QP is gone.
  untrack(&rcq->Header);
  Recorder& rcqClose = newRecorder();
  CONF_ASSERT_STATUS(STATUS_PENDING, rcq->Dispatch->NdkCloseCq(&rcq->Header, &Recorder::onClose, &rcqClose));
  closeInOrder(&icq->Header, &qp->Header);
  EXPECT_TRUE(rcqClose.waitFor(1));
}

TEST_F(CloseOrder, R24_R26_SrqThenQp) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq();
  ASSERT_TRUE(pd && cq);
  NDK_SRQ* srq = makeSrq(pd);
  ASSERT_NE(nullptr, srq);
  closeInOrder(&srq->Header, &makeQpWithSrq(pd, cq, cq, srq)->Header);
}

TEST_F(CloseOrder, R24_R26_R27_AdapterThenCq) {
  adapterInOrder([&] { return &makeCq()->Header; });
}
TEST_F(CloseOrder, R24_R26_R27_AdapterThenPd) {
  adapterInOrder([&] { return &makePd()->Header; });
}
TEST_F(CloseOrder, R24_R26_R27_AdapterThenConnector) {
  adapterInOrder([&] { return &makeConnector()->Header; });
}
TEST_F(CloseOrder, R24_R26_R27_AdapterThenListener) {
  adapterInOrder([&] { return &makeListener(&newRecorder())->Header; });
}
TEST_F(CloseOrder, R24_R26_R27_AdapterThenSharedEndpoint) {
  adapterInOrder([&]() -> NDK_OBJECT_HEADER* {
    SOCKADDR_IN a = loopback4(0);
    NTSTATUS st = STATUS_UNSUCCESSFUL;
    NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(sa(&a), sizeof a, &st);
    return se ? &se->Header : nullptr;
  });
}

// Relations established by connection management and data transfer need a connection.
class CloseOrderConnected : public CloseOrder {
 protected:
  void SetUp() override {
    CloseOrder::SetUp();
    if (HasFatalFailure()) return;
    p_ = &newPair();
    NTSTATUS st = connectPair(*p_);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  }
  Pair* p_ = nullptr;
};

TEST_F(CloseOrderConnected, R24_R26_QpThenConnector) {
  closeInOrder(&p_->active.qp->Header, &p_->active.con->Header);
}

TEST_F(CloseOrderConnected, R24_R26_ListenerThenConnector) {
  closeInOrder(&p_->listener->Header, &p_->passive.con->Header);
}

TEST_F(CloseOrderConnected, R24_R26_BoundMrThenMw) {
  MdlBuffer buf(PAGE_SIZE);
  NDK_MR* mr = makeMr(p_->pd, false);
  NDK_MW* mw = makeMw(p_->pd);
  ASSERT_TRUE(mr && mw);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE |
                                                                            NDK_MR_FLAG_ALLOW_REMOTE_WRITE));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, p_->active.qp->Dispatch->NdkBind(p_->active.qp, nullptr, mr, mw, buf.data(), 64,
                                                                       NDK_OP_FLAG_ALLOW_REMOTE_WRITE));
  auto got = drainEx(p_->active.cq, 1);
  ASSERT_EQ(1u, got.size());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, got[0].Status);
  closeInOrder(&mr->Header, &mw->Header);
}

TEST_F(CloseOrderConnected, R24_R26_SharedEndpointThenConnector) {
  SOCKADDR_IN a = loopback4(0);
  NTSTATUS sst = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(sa(&a), sizeof a, &sst);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, sst);
  NDK_CQ* cq = makeCq();
  NDK_QP* qp = makeQp(p_->pd, cq, cq);
  NDK_CONNECTOR* con = makeConnector();
  ASSERT_TRUE(se && qp && con);
  Recorder& connectDone = newRecorder();
  NTSTATUS st = con->Dispatch->NdkConnectWithSharedEndpoint(con, qp, se, sa(&p_->listenAddr), sizeof p_->listenAddr,
                                                             4, 4, nullptr, 0, &Recorder::onRequest, &connectDone);
  CONF_ASSERT_STATUS(STATUS_PENDING, st);
  ASSERT_TRUE(p_->connectEvents.waitFor(2)) << "the listener saw the connect";
  track(reinterpret_cast<NDK_CONNECTOR*>(p_->connectEvents.last().object));
  closeInOrder(&se->Header, &con->Header);
  EXPECT_TRUE(connectDone.waitFor(1)) << "R20/R31: the connect completes when its connector closes";
}

}  // namespace
}  // namespace conf
