// Conformance: QP creation limits and posting validation without networking (NDKPI.md §5.7, §5.8:
// R63–R78, R30, R34, R156).
#include <cstring>
#include <set>
#include <thread>

#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class Qp : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    pd_ = makePd();
    cq_ = makeCq(256);
    ASSERT_TRUE(pd_ && cq_);
  }
  NTSTATUS tryCreate(NDK_CQ* rcq, NDK_CQ* icq, ULONG rq, ULONG iq, ULONG rsge, ULONG isge, ULONG inl) {
    NDK_QP* qp = nullptr;
    NTSTATUS st = createSync<NDK_QP>(
        [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_QP** o) {
          return pd_->Dispatch->NdkCreateQp(pd_, rcq, icq, nullptr, rq, iq, rsge, isge, inl, cb, c, o);
        },
        &qp);
    if (qp) closeSync(qp);
    return st;
  }
  NDK_MR* registered(MdlBuffer& buf, ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE) {
    NDK_MR* mr = makeMr(pd_, false);
    if (mr) {
      EXPECT_EQ(STATUS_SUCCESS, registerMr(mr, buf, buf.size(), flags));
    }
    return mr;
  }
  NDK_PD* pd_ = nullptr;
  NDK_CQ* cq_ = nullptr;
};

TEST_F(Qp, R156_CreateLimits) {
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, info_.MaxReceiveQueueDepth + 1, 4, 1, 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 4, info_.MaxInitiatorQueueDepth + 1, 1, 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 4, 4, info_.MaxReceiveRequestSge + 1, 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 4, 4, 1, info_.MaxInitiatorRequestSge + 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 4, 4, 1, 1, info_.MaxInlineDataSize + 1));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 0, 4, 1, 1, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, cq_, 4, 0, 1, 1, 0));
  // The maxima themselves are accepted; the PD still works.
  CONF_EXPECT_STATUS(STATUS_SUCCESS, tryCreate(cq_, cq_, info_.MaxReceiveQueueDepth, info_.MaxInitiatorQueueDepth,
                                               info_.MaxReceiveRequestSge, info_.MaxInitiatorRequestSge,
                                               info_.MaxInlineDataSize));
}

TEST_F(Qp, R156_CqOfAnotherAdapterInstanceFails) {
  NDK_ADAPTER* a2 = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, OpenNdkOpenAdapter(interfaceUnderTest(), nullptr, &a2));
  Recorder& n = newRecorder();
  NDK_CQ* foreign = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, createSync<NDK_CQ>(
                                         [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_CQ** o) {
                                           return a2->Dispatch->NdkCreateCq(a2, 16, &Recorder::onCqNotify, &n,
                                                                            nullptr, cb, c, o);
                                         },
                                         &foreign));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(foreign, cq_, 4, 4, 1, 1, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(cq_, foreign, 4, 4, 1, 1, 0));
  closeSync(foreign);
  OpenNdkCloseAdapter(a2);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, tryCreate(cq_, cq_, 4, 4, 1, 1, 0));
}

// R66: every initiator-queue call on a QP that is not connected fails inline with
// STATUS_CONNECTION_INVALID and produces no CQ entry; the QP stays usable.
TEST_F(Qp, R63_R66_InitiatorCallsOnUnconnectedQp) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_, ctx(1));
  ASSERT_NE(nullptr, qp);
  MdlBuffer buf(PAGE_SIZE);
  NDK_MR* mr = registered(buf);
  NDK_MR* fmr = makeMr(pd_, true);
  NDK_MW* mw = makeMw(pd_);
  ASSERT_TRUE(mr && fmr && mw);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return fmr->Dispatch->NdkInitializeFastRegisterMr(fmr, 4, TRUE, cb, c);
                     }));
  NDK_SGE sge{};
  sge.VirtualAddress = buf.data();
  sge.Length = 16;
  sge.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  const auto& d = *qp->Dispatch;
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkSend(qp, ctx(2), &sge, 1, 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkSendAndInvalidate(qp, ctx(3), &sge, 1, 0, 0x1234));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkWrite(qp, ctx(4), &sge, 1, 0x1000, 0x1234, 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkRead(qp, ctx(5), &sge, 1, 0x1000, 0x1234, 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID,
                     d.NdkBind(qp, ctx(6), mr, mw, buf.data(), 64, NDK_OP_FLAG_ALLOW_REMOTE_READ));
  // A valid page array (from a LAM) so that only the connection state is wrong.
  std::vector<unsigned char> mem(OPENNDK_LAM_SIZE(1));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(mem.data());
  ULONG lsize = static_cast<ULONG>(mem.size()), fbo = 0;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return adapter_->Dispatch->NdkBuildLAM(adapter_, buf.mdl(), PAGE_SIZE, cb, c, lam, &lsize, &fbo);
                     }));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID,
                     d.NdkFastRegister(qp, ctx(7), fmr, 1, lam->AdapterPageArray, 0, 64,
                                       reinterpret_cast<PVOID>(PAGE_SIZE), 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkInvalidate(qp, ctx(8), &fmr->Header, 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, d.NdkSend(qp, ctx(9), &sge, 0, NDK_OP_FLAG_DEFER));
  // R40: no entries; R66 [I]: receives are fine before the connection exists.
  NDK_RESULT r[8];
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResults(cq_, r, 8));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, d.NdkReceive(qp, ctx(10), &sge, 1));
  d.NdkFlush(qp);
  auto got = drainEx(cq_, 1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(10), got[0].RequestContext) << "R40: only the receive produced an entry";
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
}

TEST_F(Qp, R67_ReceiveQueueDepth) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_, nullptr, 3, 4, 1, 1, 0);
  ASSERT_NE(nullptr, qp);
  for (int i = 0; i < 3; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(i)));
  CONF_EXPECT_D_STATUS(STATUS_INSUFFICIENT_RESOURCES, postEmptyReceive(qp, ctx(99)));
  // Flushing frees the slots once the entries are queued (R67 [I]).
  qp->Dispatch->NdkFlush(qp);
  ASSERT_EQ(3u, drainEx(cq_, 3).size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(4)));
}

TEST_F(Qp, R68_R69_R70_ReceiveSgeValidation) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_, nullptr, 8, 4, 2, 1, 0);
  ASSERT_NE(nullptr, qp);
  MdlBuffer buf(2 * PAGE_SIZE);
  NDK_MR* mr = registered(buf);
  ASSERT_NE(nullptr, mr);
  UINT32 tok = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  auto sge = [&](char* p, ULONG len, UINT32 t) {
    NDK_SGE s{};
    s.VirtualAddress = p;
    s.Length = len;
    s.MemoryRegionToken = t;
    return s;
  };
  NDK_SGE three[3] = {sge(buf.data(), 8, tok), sge(buf.data() + 8, 8, tok), sge(buf.data() + 16, 8, tok)};
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(qp, ctx(1), three, 3));  // > QP max 2
  NDK_SGE outside = sge(buf.data() + buf.size() - 4, 8, tok);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(qp, ctx(2), &outside, 1));  // R70
  NDK_SGE before = sge(buf.data() - 1, 8, tok);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(qp, ctx(3), &before, 1));
  NDK_SGE badTok = sge(buf.data(), 8, tok ^ 0x5A5A5A5Au);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(qp, ctx(4), &badTok, 1));
  if (info_.MaxTransferLength < 0xFFFFFFFFu) {
    NDK_SGE big[2] = {sge(buf.data(), info_.MaxTransferLength, tok), sge(buf.data(), 1, tok)};
    CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(qp, ctx(5), big, 2));  // R68 sum
  }
  // R40: none of the failures produced an entry; valid posts work. R69: the SGE array is only
  // valid during the call — scribbling over it afterwards must not matter.
  CONF_EXPECT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkReceive(qp, ctx(6), three, 2));
  std::memset(three, 0xA5, sizeof three);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(7)));  // R68 [D] nSge 0
  qp->Dispatch->NdkFlush(qp);
  auto got = drainEx(cq_, 2);
  ASSERT_EQ(2u, got.size());
  EXPECT_EQ(ctx(6), got[0].RequestContext);
  EXPECT_EQ(ctx(7), got[1].RequestContext);
  NDK_RESULT_EX extra[4];
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResultsEx(cq_, extra, 4));
}

// R70: the privileged token with a logical address from NdkBuildLAM is a valid receive SGE.
TEST_F(Qp, R70_R136_PrivilegedTokenWithLamAddress) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_);
  ASSERT_NE(nullptr, qp);
  MdlBuffer buf(PAGE_SIZE);
  std::vector<unsigned char> mem(OPENNDK_LAM_SIZE(1));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(mem.data());
  ULONG size = static_cast<ULONG>(mem.size()), fbo = 0;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return adapter_->Dispatch->NdkBuildLAM(adapter_, buf.mdl(), PAGE_SIZE, cb, c, lam, &size, &fbo);
                     }));
  UINT32 priv = 0;
  pd_->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd_, &priv);
  NDK_SGE s{};
  s.LogicalAddress.QuadPart = lam->AdapterPageArray[0].QuadPart + fbo;
  s.Length = 128;
  s.MemoryRegionToken = priv;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkReceive(qp, ctx(1), &s, 1));
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(1u, drainEx(cq_, 1).size());
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
}

// R77/R41: flush cancels every pending receive exactly once; later posts are not affected.
TEST_F(Qp, R77_FlushCancelsReceivesExactlyOnce) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_, ctx(0xAB), 16, 4, 1, 1, 0);
  ASSERT_NE(nullptr, qp);
  for (uintptr_t i = 1; i <= 3; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(i)));
  qp->Dispatch->NdkFlush(qp);
  auto got = drainEx(cq_, 3);
  ASSERT_EQ(3u, got.size());
  for (uintptr_t i = 0; i < 3; ++i) {
    CONF_EXPECT_STATUS(STATUS_CANCELLED, got[i].Status);
    EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
    EXPECT_EQ(ctx(0xAB), got[i].QPContext);
    EXPECT_EQ(NdkOperationTypeReceive, got[i].Type);
  }
  // Flushing an empty queue produces nothing; a receive posted after a flush is untouched by it.
  qp->Dispatch->NdkFlush(qp);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(4)));
  qp->Dispatch->NdkFlush(qp);
  auto again = drainEx(cq_, 1);
  ASSERT_EQ(1u, again.size());
  EXPECT_EQ(ctx(4), again[0].RequestContext);
  closeNow(qp);  // R30: nothing left to flush
  NDK_RESULT_EX extra[4];
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResultsEx(cq_, extra, 4)) << "exactly once";
}

// R30 [D]: closing a QP flushes what is outstanding before the close completes; entries remain
// retrievable after the close.
TEST_F(Qp, R20_R30_CloseFlushesOutstandingReceives) {
  NDK_QP* qp = makeQp(pd_, cq_, cq_, ctx(0xCD));
  ASSERT_NE(nullptr, qp);
  for (uintptr_t i = 1; i <= 4; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(i)));
  closeNow(qp);
  NDK_RESULT_EX r[8];
  ULONG n = cq_->Dispatch->NdkGetCqResultsEx(cq_, r, 8);
  ASSERT_EQ(4u, n) << "R30: entries queued before the QP close completed";
  for (ULONG i = 0; i < n; ++i) {
    CONF_EXPECT_STATUS(STATUS_CANCELLED, r[i].Status);
    EXPECT_EQ(ctx(0xCD), r[i].QPContext);
  }
}

// R34: receive completions go to the receive CQ, not the initiator CQ.
TEST_F(Qp, R34_ReceiveCompletionsGoToReceiveCq) {
  NDK_CQ* icq = makeCq(16);
  ASSERT_NE(nullptr, icq);
  NDK_QP* qp = makeQp(pd_, cq_, icq);
  ASSERT_NE(nullptr, qp);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, ctx(1)));
  qp->Dispatch->NdkFlush(qp);
  ASSERT_EQ(1u, drainEx(cq_, 1).size());
  NDK_RESULT r[2];
  EXPECT_EQ(0u, icq->Dispatch->NdkGetCqResults(icq, r, 2));
}

// R65: NdkFlush overlapping posting calls: every successful post completes exactly once.
TEST_F(Qp, R65_FlushConcurrentWithPosting) {
  const ULONG depth = 64;
  NDK_QP* qp = makeQp(pd_, cq_, cq_, nullptr, depth, 4, 1, 1, 0);
  ASSERT_NE(nullptr, qp);
  std::atomic<bool> stop{false};
  std::set<uintptr_t> posted;
  std::thread poster([&] {
    for (uintptr_t i = 1; i <= 2000 && !stop.load(); ++i) {
      NTSTATUS st = postEmptyReceive(qp, ctx(i));
      if (st == STATUS_SUCCESS) posted.insert(i);
      else if (st != STATUS_INSUFFICIENT_RESOURCES) ADD_FAILURE() << statusName(st);
    }
  });
  std::set<uintptr_t> completed;
  size_t dup = 0;
  auto collect = [&] {
    NDK_RESULT_EX r[32];
    ULONG n;
    while ((n = cq_->Dispatch->NdkGetCqResultsEx(cq_, r, 32)) > 0) {
      for (ULONG k = 0; k < n; ++k) {
        if (!completed.insert(reinterpret_cast<uintptr_t>(r[k].RequestContext)).second) ++dup;
        EXPECT_EQ(STATUS_CANCELLED, r[k].Status);
      }
    }
  };
  for (int k = 0; k < 200; ++k) {
    qp->Dispatch->NdkFlush(qp);
    collect();
  }
  poster.join();
  qp->Dispatch->NdkFlush(qp);
  auto rest = drainEx(cq_, posted.size() - completed.size());
  for (auto& r : rest) {
    if (!completed.insert(reinterpret_cast<uintptr_t>(r.RequestContext)).second) ++dup;
  }
  EXPECT_EQ(0u, dup) << "R41: a request completed twice";
  EXPECT_EQ(posted, completed);
}

TEST_F(Qp, NullQpIsRejected) {  // provider decision
  NDK_QP* qp = makeQp(pd_, cq_, cq_);
  ASSERT_NE(nullptr, qp);
  NDK_SGE s{};
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkReceive(nullptr, nullptr, &s, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkSend(nullptr, nullptr, &s, 0, 0));
  qp->Dispatch->NdkFlush(nullptr);  // VOID: must simply not crash
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, nullptr));
}

}  // namespace
}  // namespace conf
