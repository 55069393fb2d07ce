// Conformance: asynchronous contract and object lifetime (NDKPI.md §5.2, §5.3:
// R9–R31).
#include <atomic>
#include <memory>
#include <thread>

#include "consumer.h"

namespace conf {
namespace {

std::atomic<int> g_seq{0};

class Lifetime : public NdkTest {
 protected:
  // A QP with one receive posted on a registered buffer; flushing it yields one CQ entry.
  struct Rig {
    NDK_PD* pd = nullptr;
    NDK_CQ* cq = nullptr;
    NDK_QP* qp = nullptr;
    NDK_MR* mr = nullptr;
    std::unique_ptr<MdlBuffer> buf;
  };
  Rig rig(Recorder* notify = nullptr) {
    Rig r;
    r.pd = makePd();
    r.cq = makeCq(64, notify);
    if (!r.pd || !r.cq) return r;
    r.qp = makeQp(r.pd, r.cq, r.cq);
    r.mr = makeMr(r.pd, false);
    r.buf = std::make_unique<MdlBuffer>(4096);
    if (r.mr) {
      EXPECT_EQ(STATUS_SUCCESS, registerMr(r.mr, *r.buf, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
    }
    return r;
  }
  void postReceive(Rig& r, PVOID ctx) {
    NDK_SGE sge{};
    sge.VirtualAddress = r.buf->data();
    sge.Length = 256;
    sge.MemoryRegionToken = r.mr->Dispatch->NdkGetLocalTokenFromMr(r.mr);
    CONF_EXPECT_STATUS(STATUS_SUCCESS, r.qp->Dispatch->NdkReceive(r.qp, ctx, &sge, 1));
  }
};

TEST_F(Lifetime, R18_CloseOfLeafObjectsSucceedsOrPends) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MW* mw = makeMw(pd);
  ASSERT_TRUE(mr && mw);
  closeNow(mw);  // closeSync asserts SUCCESS/PENDING and exactly one completion when pending
  closeNow(mr);
  closeNow(pd);
  EXPECT_NE(nullptr, makePd());
}

// R24: antecedent closes pend until successors are closed; R26: their completion comes after.
TEST_F(Lifetime, R24_R25_PdCloseCompletesAfterChildren) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MW* mw = makeMw(pd);
  ASSERT_TRUE(mr && mw);
  untrack(&pd->Header);
  Recorder& pdClose = newRecorder();
  CONF_ASSERT_STATUS(STATUS_PENDING, pd->Dispatch->NdkClosePd(&pd->Header, &Recorder::onClose, &pdClose));
  // R25: the closing PD keeps its MR usable.
  MdlBuffer buf(4096);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, 4096, 0));
  EXPECT_EQ(0u, pdClose.count());
  closeNow(mw);
  EXPECT_FALSE(pdClose.waitFor(1, std::chrono::milliseconds(100))) << "R24: PD close completed with MR open";
  closeNow(mr);
  ASSERT_TRUE(pdClose.waitFor(1));
  EXPECT_EQ(1u, pdClose.count());
}

TEST_F(Lifetime, R24_CqCloseCompletesAfterQp) {
  Rig r = rig();
  ASSERT_TRUE(r.qp);
  untrack(&r.cq->Header);
  Recorder& cqClose = newRecorder();
  CONF_ASSERT_STATUS(STATUS_PENDING, r.cq->Dispatch->NdkCloseCq(&r.cq->Header, &Recorder::onClose, &cqClose));
  // R25: a closing CQ still receives its QP's completions.
  postReceive(r, reinterpret_cast<PVOID>(0x11));
  r.qp->Dispatch->NdkFlush(r.qp);
  EXPECT_FALSE(cqClose.waitFor(1, std::chrono::milliseconds(100))) << "R24: CQ close completed with QP open";
  closeNow(r.qp);
  ASSERT_TRUE(cqClose.waitFor(1));
  EXPECT_EQ(1u, cqClose.count());
}

TEST_F(Lifetime, R24_SrqCloseCompletesAfterQp) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq();
  ASSERT_TRUE(pd && cq);
  NDK_SRQ* srq = makeSrq(pd);
  ASSERT_NE(nullptr, srq);
  NDK_QP* qp = makeQpWithSrq(pd, cq, cq, srq);
  ASSERT_NE(nullptr, qp);
  untrack(&srq->Header);
  Recorder& srqClose = newRecorder();
  CONF_ASSERT_STATUS(STATUS_PENDING, srq->Dispatch->NdkCloseSrq(&srq->Header, &Recorder::onClose, &srqClose));
  EXPECT_EQ(0u, srqClose.count());
  closeNow(qp);
  ASSERT_TRUE(srqClose.waitFor(1));
}

// R28/R14/R15: closing a CQ from inside its own notification callback; the close pends (it cannot
// complete while the callback runs) and completes after the callback and the QP are gone.
TEST_F(Lifetime, R28_CloseCqFromInsideNotification) {
  Recorder& notify = newRecorder();
  Rig r = rig(&notify);
  ASSERT_TRUE(r.qp);
  untrack(&r.cq->Header);
  Recorder& cqClose = newRecorder();
  NTSTATUS inside = STATUS_UNSUCCESSFUL;
  notify.hook = [&](const CallRecord&) {
    inside = r.cq->Dispatch->NdkCloseCq(&r.cq->Header, &Recorder::onClose, &cqClose);
  };
  postReceive(r, nullptr);
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  r.qp->Dispatch->NdkFlush(r.qp);
  ASSERT_TRUE(notify.waitFor(1));
  CONF_EXPECT_STATUS(STATUS_PENDING, inside);  // R28 (and R24: the QP is still open)
  closeNow(r.qp);
  ASSERT_TRUE(cqClose.waitFor(1));
  EXPECT_EQ(1u, notify.count());
}

// R28 alone (not masked by R24): a connector has no successor (§1.4), so a close of the connector
// from inside its own disconnect-event callback can pend only because that callback still runs.
// It must return STATUS_PENDING (no deadlock, no completion while the callback runs, R21) and its
// completion must come once the callback has returned.
TEST_F(Lifetime, R28_CloseConnectorFromInsideItsDisconnectEvent) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  NDK_CONNECTOR* con = p.active.con;
  untrack(&con->Header);  // closed from inside the callback
  // Owned by the hook (the recorder outlives the test): the callback may still be returning.
  struct Inside {
    std::atomic<NTSTATUS> status{STATUS_UNSUCCESSFUL};
    std::atomic<size_t> completedWhileInside{0};
    Event done;
  };
  auto in = std::make_shared<Inside>();
  Recorder& closed = newRecorder();
  p.active.disconnects.hook = [in, con, &closed](const CallRecord&) {
    in->status = con->Dispatch->NdkCloseConnector(&con->Header, &Recorder::onClose, &closed);
    in->completedWhileInside = closed.count();
    in->done.set();
  };
  // The peer disconnects: the active connector's disconnect event callback runs.
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return p.passive.con->Dispatch->NdkDisconnect(p.passive.con, cb, c);
                     }));
  ASSERT_TRUE(in->done.wait()) << "no disconnect event on the active connector";
  CONF_EXPECT_STATUS(STATUS_PENDING, in->status.load());
  EXPECT_EQ(0u, in->completedWhileInside.load()) << "R28/R21: the close completed while its callback still ran";
  EXPECT_TRUE(closed.waitFor(1)) << "R28: the pending close never completed";
}

// R15/R14: provider functions called from inside a notification callback (results, arm, post,
// flush, and finally closing the QP whose flush triggered the notification) neither deadlock nor crash.
TEST_F(Lifetime, R14_R15_ProviderCallsFromInsideNotification) {
  Recorder& notify = newRecorder();
  Rig r = rig(&notify);
  ASSERT_TRUE(r.qp);
  untrack(&r.qp->Header);
  Recorder& qpClose = newRecorder();
  NTSTATUS postInside = STATUS_UNSUCCESSFUL, closeInside = STATUS_UNSUCCESSFUL;
  ULONG gotInside = 0;
  std::mutex flushMu;
  std::condition_variable flushCv;
  bool flushReturned = false;
  bool once = false;
  notify.hook = [&](const CallRecord&) {
    if (once) return;  // only the first notification (the arm inside re-arms the CQ)
    once = true;
    NDK_RESULT res[4];
    gotInside = r.cq->Dispatch->NdkGetCqResults(r.cq, res, 4);
    postInside = postEmptyReceive(r.qp, reinterpret_cast<PVOID>(2));
    r.qp->Dispatch->NdkFlush(r.qp);
    r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
    {
      // The close must not overlap the main thread's NdkFlush, which raised this notification and
      // may still be inside the QP (a consumer's own race, TSan: use after free).
      std::unique_lock lk(flushMu);
      flushCv.wait_for(lk, std::chrono::seconds(30), [&] { return flushReturned; });
    }
    closeInside = r.qp->Dispatch->NdkCloseQp(&r.qp->Header, &Recorder::onClose, &qpClose);
  };
  postReceive(r, reinterpret_cast<PVOID>(1));
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  r.qp->Dispatch->NdkFlush(r.qp);
  {
    std::lock_guard lk(flushMu);
    flushReturned = true;
    flushCv.notify_all();
  }
  ASSERT_TRUE(notify.waitFor(1));
  EXPECT_GE(gotInside, 1u);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postInside);
  EXPECT_TRUE(closeInside == STATUS_SUCCESS || closeInside == STATUS_PENDING) << statusName(closeInside);
  if (closeInside == STATUS_PENDING) {
    EXPECT_TRUE(qpClose.waitFor(1));
  }
  // The CQ still works; the second receive was flushed (by the flush or by the close, R30).
  auto rest = drainEx(r.cq, 1);
  EXPECT_EQ(1u, rest.size());
}

// R46: notifications of one CQ never overlap: while one runs (held), a newly due one waits.
TEST_F(Lifetime, R46_NotificationsOfOneCqNeverOverlap) {
  Recorder& notify = newRecorder();
  notify.gate = true;
  Rig r = rig(&notify);
  ASSERT_TRUE(r.qp);
  postReceive(r, reinterpret_cast<PVOID>(1));
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  r.qp->Dispatch->NdkFlush(r.qp);
  ASSERT_TRUE(notify.entered.wait());
  notify.entered.reset();
  // Re-arm while the first callback is still running (R44: an entry is present → due at once).
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  EXPECT_FALSE(notify.entered.wait(std::chrono::milliseconds(200))) << "R46: second notification overlapped";
  EXPECT_EQ(1u, notify.count());
  notify.release.set();  // also lets the second one through
  EXPECT_TRUE(notify.waitFor(2));
  EXPECT_EQ(1u, drainEx(r.cq, 1).size());
}

// R23: closing a CQ while its notification callback runs keeps the close pending until it returns.
TEST_F(Lifetime, R21_R23_R168_CqCloseWaitsForRunningNotification) {
  Recorder& notify = newRecorder();
  notify.gate = true;
  Rig r = rig(&notify);
  ASSERT_TRUE(r.qp);
  postReceive(r, nullptr);
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  r.qp->Dispatch->NdkFlush(r.qp);
  ASSERT_TRUE(notify.entered.wait());
  closeNow(r.qp);
  untrack(&r.cq->Header);
  Recorder& cqClose = newRecorder();
  NTSTATUS st = r.cq->Dispatch->NdkCloseCq(&r.cq->Header, &Recorder::onClose, &cqClose);  // must not block (R168)
  CONF_EXPECT_STATUS(STATUS_PENDING, st);
  EXPECT_EQ(0u, cqClose.count()) << "R23: close completed while the notification callback runs";
  notify.release.set();
  ASSERT_TRUE(cqClose.waitFor(1));
  EXPECT_FALSE(notify.inCallback());
  EXPECT_EQ(1u, notify.count());
}

// R22/R25/R30: a CQ closed while its QP still has work: the QP close flushes into the closing CQ;
// every notification precedes the CQ's close completion, none follows it.
TEST_F(Lifetime, R22_NoCallbackAfterCloseCompletion) {
  Recorder& notify = newRecorder();
  std::atomic<int> lastNotifySeq{-1};
  notify.hook = [&](const CallRecord&) { lastNotifySeq = g_seq++; };
  Rig r = rig(&notify);
  ASSERT_TRUE(r.qp);
  postReceive(r, reinterpret_cast<PVOID>(1));
  postReceive(r, reinterpret_cast<PVOID>(2));
  r.cq->Dispatch->NdkArmCq(r.cq, NDK_CQ_NOTIFY_ANY);
  untrack(&r.cq->Header);
  Recorder& cqClose = newRecorder();
  std::atomic<int> closeSeq{-1};
  cqClose.hook = [&](const CallRecord&) { closeSeq = g_seq++; };
  CONF_ASSERT_STATUS(STATUS_PENDING, r.cq->Dispatch->NdkCloseCq(&r.cq->Header, &Recorder::onClose, &cqClose));
  closeNow(r.qp);  // R30: flushes both receives into the (closing) CQ
  ASSERT_TRUE(cqClose.waitFor(1));
  size_t n = notify.count();
  EXPECT_LE(n, 1u) << "R42: one-shot";
  if (n == 1) {
    EXPECT_LT(lastNotifySeq.load(), closeSeq.load()) << "R22";
  }
  // Re-check after a further provider round trip: nothing new arrives.
  NDK_CQ* other = makeCq();
  ASSERT_NE(nullptr, other);
  EXPECT_EQ(n, notify.count()) << "R22: notification after close completion";
}

// R27 (+R26): the adapter close returns only after every callback of its objects has returned.
TEST_F(Lifetime, R26_R27_AdapterCloseBlocksUntilCallbacksReturned) {
  NDK_ADAPTER* a2 = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, OpenNdkOpenAdapter(interfaceUnderTest(), nullptr, &a2));
  NDK_PD* pd = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, createSync<NDK_PD>(
                                         [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_PD** out) {
                                           return a2->Dispatch->NdkCreatePd(a2, cb, ctx, out);
                                         },
                                         &pd));
  NDK_MR* mr = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, createSync<NDK_MR>(
                                         [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_MR** out) {
                                           return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, ctx, out);
                                         },
                                         &mr));
  // PD close pends (MR open); its completion is gated so it is "running" when the adapter closes.
  Recorder& pdClose = newRecorder();
  pdClose.gate = true;
  std::atomic<int> callbackReturned{-1}, adapterReturned{-1};
  CONF_ASSERT_STATUS(STATUS_PENDING, pd->Dispatch->NdkClosePd(&pd->Header, &Recorder::onClose, &pdClose));
  closeSync(mr);
  ASSERT_TRUE(pdClose.entered.wait());
  Event closed;
  std::thread closer([&] {
    OpenNdkCloseAdapter(a2);
    adapterReturned = g_seq++;
    closed.set();
  });
  EXPECT_FALSE(closed.wait(std::chrono::milliseconds(200))) << "R26/R27: adapter close returned during a callback";
  callbackReturned = g_seq++;
  pdClose.release.set();
  closer.join();
  EXPECT_LT(callbackReturned.load(), adapterReturned.load());
}

// R9/R11/R12: the create contract (the helpers check SUCCESS vs PENDING delivery); an inline
// failure leaves *ppNdkXxx untouched [D] and calls no callback.
TEST_F(Lifetime, R9_R10_R11_R12_CreateContract) {
  NDK_CQ* sentinel = reinterpret_cast<NDK_CQ*>(0x5e5e5e5eULL);
  NDK_CQ* cq = sentinel;
  Recorder& create = newRecorder();
  Recorder& notify = newRecorder();
  NTSTATUS st = adapter_->Dispatch->NdkCreateCq(adapter_, info_.MaxCqDepth + 1, &Recorder::onCqNotify, &notify,
                                                nullptr, &Recorder::onCreate, &create, &cq);
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, st);
  if (strict()) {
    EXPECT_EQ(sentinel, cq) << "R12 [D]: untouched on inline failure";
  }
  EXPECT_EQ(0u, create.count()) << "R9";
  // A successful create: either inline with the object, or pending with exactly one completion
  // carrying our context and the object (createSync checks both).
  NDK_CQ* ok = makeCq(8);
  ASSERT_NE(nullptr, ok);
  EXPECT_EQ(NdkObjectTypeCq, ok->Header.ObjectType);
}

// R7: concurrent calls on one PD from several threads (create/register/deregister/close MRs).
TEST_F(Lifetime, R7_ConcurrentCallsOnOnePd) {
  NDK_PD* pd = makePd();
  ASSERT_NE(nullptr, pd);
  std::atomic<int> failures{0};
  auto worker = [&] {
    MdlBuffer buf(2 * PAGE_SIZE);
    for (int i = 0; i < 50; ++i) {
      NDK_MR* mr = nullptr;
      if (createSync<NDK_MR>(
              [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_MR** o) {
                return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, c, o);
              },
              &mr) != STATUS_SUCCESS) {
        failures++;
        continue;
      }
      NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return mr->Dispatch->NdkRegisterMr(mr, buf.mdl(), buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE, cb, c);
      });
      if (st != STATUS_SUCCESS) failures++;
      UINT32 priv = 0;
      pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd, &priv);
      closeSync(mr);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, failures.load());
  EXPECT_NE(nullptr, makeMr(pd, true));
}

// R8: several adapter instances are independent.
TEST_F(Lifetime, R8_TwoAdapterInstancesIndependent) {
  NDK_ADAPTER* a2 = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, OpenNdkOpenAdapter(interfaceUnderTest(), nullptr, &a2));
  ASSERT_NE(a2, adapter_);
  NDK_PD* pd2 = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, createSync<NDK_PD>(
                                         [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_PD** out) {
                                           return a2->Dispatch->NdkCreatePd(a2, cb, ctx, out);
                                         },
                                         &pd2));
  closeSync(pd2);
  OpenNdkCloseAdapter(a2);
  EXPECT_NE(nullptr, makePd());  // the first instance is unaffected
}

}  // namespace
}  // namespace conf
