// Conformance: shared receive queues (NDKPI.md §5.14: R141–R149; R67/R68 for SRQ posting,
// R77 [D] flush vs SRQ, R156 SRQ/PD mismatch).
#include "consumer.h"

namespace conf {
namespace {

class Srq : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    pd_ = makePd();
    ASSERT_NE(nullptr, pd_);
  }
  NTSTATUS create(ULONG depth, ULONG sge, NDK_SRQ** out) {
    return createSync<NDK_SRQ>(
        [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_SRQ** o) {
          return pd_->Dispatch->NdkCreateSrq(pd_, depth, sge, 0, nullptr, nullptr, nullptr, cb, c, o);
        },
        out);
  }
  NTSTATUS modify(NDK_SRQ* srq, ULONG depth, ULONG threshold) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return srq->Dispatch->NdkModifySrq(srq, depth, threshold, cb, c);
    });
  }
  NTSTATUS post(NDK_SRQ* srq, PVOID ctx, ULONG nSge = 0) {
    NDK_SGE sges[8]{};
    return srq->Dispatch->NdkSrqReceive(srq, ctx, sges, nSge);
  }
  NDK_PD* pd_ = nullptr;
};

TEST_F(Srq, R141_CreateLimits) {
  NDK_SRQ* srq = nullptr;
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, create(info_.MaxSrqDepth + 1, 1, &srq));
  EXPECT_EQ(nullptr, srq);
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, create(4, info_.MaxReceiveRequestSge + 1, &srq));
  EXPECT_EQ(nullptr, srq);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, create(0, 1, &srq));
  EXPECT_EQ(nullptr, srq);
  // The PD still works; the limits themselves are accepted.
  CONF_ASSERT_STATUS(STATUS_SUCCESS, create(info_.MaxSrqDepth, info_.MaxReceiveRequestSge, &srq));
  closeSync(srq);
}

TEST_F(Srq, R141_R145_ModifyDepth) {
  NDK_SRQ* srq = makeSrq(pd_, 8, 1);
  ASSERT_NE(nullptr, srq);
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, modify(srq, info_.MaxSrqDepth + 1, 0));
  for (int i = 0; i < 4; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, modify(srq, 2, 0));  // below the 4 queued
  CONF_EXPECT_STATUS(STATUS_SUCCESS, modify(srq, 0, 0));              // keeps depth 8
  for (int i = 0; i < 4; ++i) CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  CONF_EXPECT_D_STATUS(STATUS_INSUFFICIENT_RESOURCES, post(srq, nullptr));  // R67: depth 8 is full
  CONF_EXPECT_STATUS(STATUS_SUCCESS, modify(srq, 12, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
}

TEST_F(Srq, R67_R68_PostLimits) {
  NDK_SRQ* srq = makeSrq(pd_, 2, 1);
  ASSERT_NE(nullptr, srq);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, post(srq, nullptr, 2));  // > MaxReceiveRequestSge
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  CONF_EXPECT_D_STATUS(STATUS_INSUFFICIENT_RESOURCES, post(srq, nullptr));
}

// R144: arming with a threshold above the current count notifies once, with STATUS_SUCCESS (R147).
TEST_F(Srq, R143_R144_ThresholdAlreadyBelowNotifiesOnce) {
  Recorder& n = newRecorder();
  NDK_SRQ* srq = makeSrq(pd_, 16, 1, 0, &n);
  ASSERT_NE(nullptr, srq);
  for (int i = 0; i < 2; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  EXPECT_EQ(0u, n.count()) << "R143: posting never notifies";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, modify(srq, 0, 8));
  ASSERT_TRUE(n.waitFor(1)) << "R144";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, n.last().status);
  EXPECT_EQ(static_cast<PVOID>(&n), n.last().context);
  // Disarmed now; threshold 0 keeps the (disarmed) state: no second notification (R143/R144).
  CONF_EXPECT_STATUS(STATUS_SUCCESS, modify(srq, 0, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
  EXPECT_EQ(1u, n.count());
}

// R148 [D]: notifications of one SRQ never overlap. The first (R144: threshold above the count)
// is held inside the callback; a second one made due meanwhile must wait for it to return.
TEST_F(Srq, R144_R148_NotificationsOfOneSrqNeverOverlap) {
  Recorder& n = newRecorder();
  n.gate = true;
  NDK_SRQ* srq = makeSrq(pd_, 16, 1, 0, &n);
  ASSERT_NE(nullptr, srq);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, modify(srq, 0, 4));
  ASSERT_TRUE(n.entered.wait());
  n.entered.reset();
  CONF_ASSERT_STATUS(STATUS_SUCCESS, modify(srq, 0, 4));  // re-armed, still below: due at once
  EXPECT_FALSE(n.entered.wait(std::chrono::milliseconds(200))) << "R148: second notification overlapped";
  EXPECT_EQ(1u, n.count());
  n.release.set();  // also lets the second one through
  EXPECT_TRUE(n.waitFor(2));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, n.last().status);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));  // still usable
}

TEST_F(Srq, R146_NoCallbackMeansNoNotification) {
  NDK_SRQ* srq = makeSrq(pd_, 4, 1, 3, nullptr);
  ASSERT_NE(nullptr, srq);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, modify(srq, 0, 8));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, nullptr));
}

TEST_F(Srq, R149_ReceiveOnSrqQpFails) {
  NDK_CQ* cq = makeCq();
  NDK_SRQ* srq = makeSrq(pd_);
  ASSERT_TRUE(cq && srq);
  NDK_QP* qp = makeQpWithSrq(pd_, cq, cq, srq, reinterpret_cast<PVOID>(5));
  ASSERT_NE(nullptr, qp);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, postEmptyReceive(qp, nullptr));
  // Still usable: SRQ receives, flush does not remove them (R77 [D]).
  CONF_EXPECT_STATUS(STATUS_SUCCESS, post(srq, reinterpret_cast<PVOID>(9)));
  qp->Dispatch->NdkFlush(qp);
  closeNow(qp);  // R30: anything the QP owned is in the CQ before its close completed
  NDK_RESULT r[4];
  EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(cq, r, 4)) << "R77 [D]: SRQ receives are not the QP's";
}

TEST_F(Srq, R156_QpWithSrqLimitsAndForeignSrq) {
  NDK_CQ* cq = makeCq();
  NDK_SRQ* srq = makeSrq(pd_);
  NDK_PD* pd2 = makePd();
  ASSERT_TRUE(cq && srq && pd2);
  auto tryCreate = [&](NDK_PD* pd, ULONG iq, ULONG isge, ULONG inl) {
    NDK_QP* qp = nullptr;
    NTSTATUS st = createSync<NDK_QP>(
        [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_QP** o) {
          return pd->Dispatch->NdkCreateQpWithSrq(pd, cq, cq, srq, nullptr, iq, isge, inl, cb, c, o);
        },
        &qp);
    if (qp) closeSync(qp);
    return st;
  };
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(pd_, info_.MaxInitiatorQueueDepth + 1, 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(pd_, 4, info_.MaxInitiatorRequestSge + 1, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, tryCreate(pd_, 4, 1, info_.MaxInlineDataSize + 1));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(pd_, 0, 1, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, tryCreate(pd2, 4, 1, 0));  // SRQ of another PD
  CONF_EXPECT_STATUS(STATUS_SUCCESS, tryCreate(pd_, 4, 1, 0));
}

}  // namespace
}  // namespace conf
