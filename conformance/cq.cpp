// Conformance: completion queues (NDKPI.md §5.4: R32–R51). Completions are produced without
// networking by posting zero-SGE receives and flushing them (R41, R77).
#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class Cq : public NdkTest {
 protected:
  // PD + CQ (depth) + QP on it; `notify` records the CQ's notifications.
  void rig(ULONG depth = 64, ULONG rq = 16) {
    pd_ = makePd();
    cq_ = makeCq(depth, &notify_);
    ASSERT_TRUE(pd_ && cq_);
    qp_ = makeQp(pd_, cq_, cq_, ctx(0xC0FFEE), rq, 16, 1, 1, 0);
    ASSERT_NE(nullptr, qp_);
  }
  void postAndFlush(uintptr_t first, size_t n) {
    for (size_t i = 0; i < n; ++i) CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp_, ctx(first + i)));
    qp_->Dispatch->NdkFlush(qp_);
  }
  Recorder& notify_ = newRecorder();
  NDK_PD* pd_ = nullptr;
  NDK_CQ* cq_ = nullptr;
  NDK_QP* qp_ = nullptr;
};

TEST_F(Cq, R32_DepthAboveMaxAndZeroFail) {
  NDK_CQ* cq = nullptr;
  Recorder& rec = newRecorder();
  Recorder& n = newRecorder();
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER,
                     adapter_->Dispatch->NdkCreateCq(adapter_, info_.MaxCqDepth + 1, &Recorder::onCqNotify, &n,
                                                     nullptr, &Recorder::onCreate, &rec, &cq));
  EXPECT_EQ(nullptr, cq);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                       adapter_->Dispatch->NdkCreateCq(adapter_, 0, &Recorder::onCqNotify, &n, nullptr,
                                                       &Recorder::onCreate, &rec, &cq));
  EXPECT_EQ(nullptr, cq);
  EXPECT_EQ(0u, rec.count()) << "R9/R12";
  // The adapter still works; the maximum itself is accepted.
  EXPECT_NE(nullptr, makeCq(info_.MaxCqDepth));
}

TEST_F(Cq, R32_R33_Resize) {
  rig(8);
  auto resize = [&](ULONG d) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return cq_->Dispatch->NdkResizeCq(cq_, d, cb, c);
    });
  };
  if (!(info_.AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED)) {
    CONF_EXPECT_D_STATUS(STATUS_NOT_SUPPORTED, resize(16));  // R33 [D]
    return;
  }
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, resize(info_.MaxCqDepth + 1));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, resize(0));
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
  postAndFlush(1, 4);
  ASSERT_TRUE(notify_.waitFor(1));  // entries are queued (not read)
  // [D] smaller than the queued count fails and leaves the CQ unchanged (this provider queues
  // flushed entries before NdkFlush returns, so all 4 are there).
  if (strict()) {
    CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, resize(2));
  }
  CONF_EXPECT_STATUS(STATUS_SUCCESS, resize(32));
  auto r = pollEx(cq_, 4);
  ASSERT_EQ(4u, r.size()) << "R33: a resize keeps the queued entries";
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(ctx(1 + i), r[i].RequestContext) << "R33 order";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, resize(4));
}

TEST_F(Cq, R36_EmptyCqReturnsZero) {
  rig();
  NDK_RESULT r[4];
  NDK_RESULT_EX rx[4];
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResults(cq_, r, 4));
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResultsEx(cq_, rx, 4));
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResults(cq_, r, 0));
}

// R36 FIFO, at most nResults, never twice; R37 fields; R38 Type; R41 flush status.
TEST_F(Cq, R36_R37_R38_R41_FlushedReceivesInOrder) {
  rig();
  postAndFlush(100, 5);
  auto first = pollEx(cq_, 2);
  ASSERT_EQ(2u, first.size());
  NDK_RESULT_EX rest[8];
  ULONG n = cq_->Dispatch->NdkGetCqResultsEx(cq_, rest, 2);
  EXPECT_LE(n, 2u) << "R36: at most nResults";
  std::vector<NDK_RESULT_EX> all(first);
  all.insert(all.end(), rest, rest + n);
  auto more = pollEx(cq_, 5 - all.size());
  all.insert(all.end(), more.begin(), more.end());
  ASSERT_EQ(5u, all.size());
  for (size_t i = 0; i < 5; ++i) {
    CONF_EXPECT_STATUS(STATUS_CANCELLED, all[i].Status);
    EXPECT_EQ(ctx(100 + i), all[i].RequestContext) << "R36 [D] FIFO";
    EXPECT_EQ(ctx(0xC0FFEE), all[i].QPContext) << "R37";
    EXPECT_EQ(NdkOperationTypeReceive, all[i].Type) << "R38 (flushed entries too)";
    EXPECT_EQ(0u, all[i].ProviderErrorCode) << "R37 [D]";
  }
  EXPECT_EQ(0u, cq_->Dispatch->NdkGetCqResultsEx(cq_, rest, 8)) << "R36: never twice";
}

TEST_F(Cq, R39_MixResultsAndResultsEx) {
  rig();
  postAndFlush(1, 4);
  auto a = pollEx(cq_, 1);
  ASSERT_EQ(1u, a.size());
  auto b = drain(cq_, 2);
  ASSERT_EQ(2u, b.size());
  auto c = drainEx(cq_, 1);
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(ctx(1), a[0].RequestContext);
  EXPECT_EQ(ctx(2), b[0].RequestContext);
  EXPECT_EQ(ctx(3), b[1].RequestContext);
  EXPECT_EQ(ctx(4), c[0].RequestContext);
  CONF_EXPECT_STATUS(STATUS_CANCELLED, b[0].Status);
}

TEST_F(Cq, R42_NoNotificationWithoutArm) {
  rig();
  postAndFlush(1, 2);
  ASSERT_EQ(2u, pollEx(cq_, 2).size());
  EXPECT_EQ(0u, notify_.count()) << "R42";
}

TEST_F(Cq, R42_R49_OneShotNotificationWithContext) {
  rig();
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
  postAndFlush(1, 3);
  ASSERT_TRUE(notify_.waitFor(1));
  ASSERT_EQ(3u, pollEx(cq_, 3).size());
  EXPECT_EQ(static_cast<PVOID>(&notify_), notify_.last().context) << "R49";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, notify_.last().status) << "R47";
  // Not re-armed: a further entry brings no notification.
  postAndFlush(4, 1);
  ASSERT_EQ(1u, pollEx(cq_, 1).size());
  EXPECT_EQ(1u, notify_.count()) << "R42: one-shot";
}

TEST_F(Cq, R44_ArmWithQueuedEntriesFiresImmediately) {
  rig();
  postAndFlush(1, 1);
  // The entry is new since creation: arming now is satisfied immediately (or as soon as it lands).
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(notify_.waitFor(1)) << "R44";
  // [D] re-arming without draining and with nothing new: this provider fires again immediately.
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
  if (strict()) {
    EXPECT_TRUE(notify_.waitFor(2)) << "R44 [D]";
  }
  EXPECT_EQ(1u, drainEx(cq_, 1).size());
}

// R43: a flushed (error-status) entry matches SOLICITED and ANY but not ERRORS.
TEST_F(Cq, R43_ErrorsArmNotSatisfiedByFlushedEntry) {
  rig();
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ERRORS);
  postAndFlush(1, 1);
  ASSERT_EQ(1u, pollEx(cq_, 1).size());
  EXPECT_EQ(0u, notify_.count()) << "R43: ERRORS only for CQ errors";
}

TEST_F(Cq, R43_SolicitedArmSatisfiedByErrorStatusEntry) {
  rig();
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_SOLICITED);
  postAndFlush(1, 1);
  ASSERT_TRUE(notify_.waitFor(1)) << "R43/R74: error completions always match SOLICITED";
  EXPECT_EQ(1u, pollEx(cq_, 1).size());
}

// R45: the arm in force after two arms is the broader one; never more than one callback.
struct ArmCase {
  ULONG first, second;
  bool fires;  // with an error-status (flushed) entry: ANY and SOLICITED fire, ERRORS does not
};
class CqArmTable : public Cq, public ::testing::WithParamInterface<ArmCase> {};

TEST_P(CqArmTable, R45_ArmCombinationTable) {
  rig();
  cq_->Dispatch->NdkArmCq(cq_, GetParam().first);
  cq_->Dispatch->NdkArmCq(cq_, GetParam().second);
  postAndFlush(1, 2);
  ASSERT_EQ(2u, pollEx(cq_, 2).size());
  if (GetParam().fires) {
    EXPECT_TRUE(notify_.waitFor(1));
  }
  // A later round trip: still at most one notification, none for ERRORS∘ERRORS.
  postAndFlush(3, 1);
  ASSERT_EQ(1u, pollEx(cq_, 1).size());
  EXPECT_EQ(GetParam().fires ? 1u : 0u, notify_.count());
}

INSTANTIATE_TEST_SUITE_P(
    All, CqArmTable,
    ::testing::Values(ArmCase{NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ANY, true},
                      ArmCase{NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ERRORS, true},
                      ArmCase{NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_SOLICITED, true},
                      ArmCase{NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_ANY, true},
                      ArmCase{NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_ERRORS, false},
                      ArmCase{NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED, true},
                      ArmCase{NDK_CQ_NOTIFY_SOLICITED, NDK_CQ_NOTIFY_ANY, true},
                      ArmCase{NDK_CQ_NOTIFY_SOLICITED, NDK_CQ_NOTIFY_ERRORS, true},
                      ArmCase{NDK_CQ_NOTIFY_SOLICITED, NDK_CQ_NOTIFY_SOLICITED, true}));

TEST_F(Cq, ArmUnknownTypeActsAsAny) {  // §3.2.2 [D]
  rig();
  cq_->Dispatch->NdkArmCq(cq_, 77);
  postAndFlush(1, 1);
  if (strict()) {
    EXPECT_TRUE(notify_.waitFor(1));
  }
  EXPECT_EQ(1u, pollEx(cq_, 1).size());
}

// R47/R48: more entries than the depth → overrun: CqStatus STATUS_BUFFER_OVERFLOW (an ERRORS arm
// is satisfied by a CQ error, R43).
TEST_F(Cq, R47_R48_OverrunReportsBufferOverflow) {
  rig(2, 8);
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ERRORS);
  postAndFlush(1, 4);
  ASSERT_TRUE(notify_.waitFor(1)) << "R48: overrun must be reported, not dropped silently";
  CONF_EXPECT_STATUS(STATUS_BUFFER_OVERFLOW, notify_.last().status);
}

// R47/R40: after an overrun the CQ and every QP attached to it are unusable, so a post on such a QP
// cannot promise its one CQ entry and must be refused inline ([D] STATUS_INVALID_DEVICE_STATE),
// receives and initiator requests alike. A QP on a healthy CQ of the same PD still works.
TEST_F(Cq, R40_R47_PostOnQpOfOverrunCqRefused) {
  rig(2, 8);
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ERRORS);
  postAndFlush(1, 4);
  ASSERT_TRUE(notify_.waitFor(1));
  CONF_ASSERT_STATUS(STATUS_BUFFER_OVERFLOW, notify_.last().status);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_DEVICE_STATE, postEmptyReceive(qp_, ctx(9)));
  NDK_SGE none{};
  NTSTATUS st = qp_->Dispatch->NdkSend(qp_, ctx(10), &none, 0, 0);
  EXPECT_FALSE(NT_SUCCESS(st)) << statusName(st);
  if (strict()) {
    CONF_EXPECT_STATUS(STATUS_INVALID_DEVICE_STATE, st);
  }
  Recorder& n2 = newRecorder();
  NDK_CQ* cq2 = makeCq(8, &n2);
  ASSERT_NE(nullptr, cq2);
  NDK_QP* qp2 = makeQp(pd_, cq2, cq2, ctx(0xBEEF), 4, 4, 1, 1, 0);
  ASSERT_NE(nullptr, qp2);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp2, ctx(11)));
  qp2->Dispatch->NdkFlush(qp2);
  auto got = drainEx(cq2, 1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(11), got[0].RequestContext);
  CONF_EXPECT_STATUS(STATUS_CANCELLED, got[0].Status);
}

TEST_F(Cq, R50_AffinityIsAcceptedAsHint) {
  GROUP_AFFINITY aff{};
  aff.Mask = 1;
  Recorder& n = newRecorder();
  NDK_CQ* cq = nullptr;
  NTSTATUS st = createSync<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_CQ** out) {
        return adapter_->Dispatch->NdkCreateCq(adapter_, 8, &Recorder::onCqNotify, &n, &aff, cb, c, out);
      },
      &cq);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  closeSync(cq);
}

TEST_F(Cq, R51_InterruptModeration) {
  rig(16);
  auto mod = [&](ULONG i, ULONG c) { return cq_->Dispatch->NdkControlCqInterruptModeration(cq_, i, c); };
  if (!(info_.AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED)) {
    CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, mod(100, 4));  // R51b
    return;
  }
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER_MIX, mod(MAXULONG, MAXULONG));  // R51d
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER_MIX, mod(MAXULONG, 17));         // > depth
  CONF_EXPECT_STATUS(STATUS_SUCCESS, mod(MAXULONG, 16));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, mod(0, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, mod(100, 4));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, mod(100, MAXULONG));
  // R51i: moderation only delays; an armed CQ still gets its notification.
  cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
  postAndFlush(1, 1);
  EXPECT_TRUE(notify_.waitFor(1));
  EXPECT_EQ(1u, pollEx(cq_, 1).size());
}

}  // namespace
}  // namespace conf
