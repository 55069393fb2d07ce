// Conformance: data transfer over a loopback connection with data verification (NDKPI.md R34–R41,
// R52–R57, R66, R68, R71, R73–R81, R133). A provider answering STATUS_NOT_IMPLEMENTED fails
// (CONF_REQUIRE_NETWORKING).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <tuple>

#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class Data : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    Pair& p = newPair();
    p_ = &p;
    p.separateCqs = separateCqs();
    NTSTATUS st = connectPair(p, 4, 4, nullptr, 0, nullptr, 0, 32, std::min<ULONG>(info_.MaxInlineDataSize, 64));
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    abuf_ = std::make_unique<MdlBuffer>(4 * PAGE_SIZE);
    pbuf_ = std::make_unique<MdlBuffer>(4 * PAGE_SIZE);
    amr_ = makeMr(p.pd, false);
    pmr_ = makeMr(p.pd, false);
    ASSERT_TRUE(amr_ && pmr_);
    const ULONG all = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_RDMA_READ_SINK;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr_, *abuf_, abuf_->size(), all));
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(pmr_, *pbuf_, pbuf_->size(), all));
  }
  NDK_SGE sge(MdlBuffer& b, NDK_MR* mr, size_t off, ULONG len) {
    NDK_SGE s{};
    s.VirtualAddress = b.data() + off;
    s.Length = len;
    s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
    return s;
  }
  NDK_QP* aqp() { return p_->active.qp; }
  NDK_QP* pqp() { return p_->passive.qp; }
  NDK_CQ* acq() { return p_->active.cq; }
  NDK_CQ* pcq() { return p_->passive.cq; }
  NDK_CQ* aicq() { return p_->active.icq; }
  NDK_CQ* picq() { return p_->passive.icq; }
  // Distinct receive and initiator CQs on both QPs (R34); the shared-CQ layout by default.
  virtual bool separateCqs() const { return false; }
  Pair* p_ = nullptr;
  std::unique_ptr<MdlBuffer> abuf_, pbuf_;
  NDK_MR* amr_ = nullptr;
  NDK_MR* pmr_ = nullptr;
};

// R34: each QP of the connection has its own receive CQ and initiator CQ. Initiator completions
// (Send, Write, Read) must land on the initiator CQ, receive completions on the receive CQ, each
// with the QP's context, in both directions; afterwards every CQ is empty (nothing went to both).
// A provider that routed by one CQ only would leave drainEx waiting on the other (and fail).
class DataSplitCqs : public Data {
 protected:
  bool separateCqs() const override { return true; }
};

TEST_F(DataSplitCqs, R34_InitiatorAndReceiveCompletionsGoToTheirOwnCqs) {
  ASSERT_NE(acq(), aicq());
  ASSERT_NE(pcq(), picq());
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data()) + PAGE_SIZE;
  NDK_SGE r = sge(*pbuf_, pmr_, 0, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(1), &r, 1));
  NDK_SGE s = sge(*abuf_, amr_, 0, 16);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(2), &s, 1, 0));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(3), &s, 1, remote, rtok, 0));
  NDK_SGE sink = sge(*abuf_, amr_, PAGE_SIZE, 16);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkRead(aqp(), ctx(4), &sink, 1, remote, rtok, 0));
  auto ai = drainEx(aicq(), 3);
  ASSERT_EQ(3u, ai.size()) << "R34: initiator completions missing from the initiator CQ";
  const NDK_OPERATION_TYPE types[] = {NdkOperationTypeSend, NdkOperationTypeWrite, NdkOperationTypeRead};
  for (size_t i = 0; i < 3; ++i) {
    CONF_EXPECT_STATUS(STATUS_SUCCESS, ai[i].Status);
    EXPECT_EQ(types[i], ai[i].Type);
    EXPECT_EQ(ctx(2 + i), ai[i].RequestContext);
    EXPECT_EQ(static_cast<PVOID>(&p_->active), ai[i].QPContext);
  }
  auto pr = drainEx(pcq(), 1);
  ASSERT_EQ(1u, pr.size()) << "R34: the receive completion is missing from the receive CQ";
  EXPECT_EQ(NdkOperationTypeReceive, pr[0].Type);
  EXPECT_EQ(ctx(1), pr[0].RequestContext);
  EXPECT_EQ(static_cast<PVOID>(&p_->passive), pr[0].QPContext);
  // The other direction: the passive side initiates, the active side receives.
  NDK_SGE ar = sge(*abuf_, amr_, 2 * PAGE_SIZE, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkReceive(aqp(), ctx(5), &ar, 1));
  NDK_SGE ps = sge(*pbuf_, pmr_, 0, 16);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkSend(pqp(), ctx(6), &ps, 1, 0));
  auto pi = drainEx(picq(), 1);
  ASSERT_EQ(1u, pi.size()) << "R34: the passive Send's completion is missing from its initiator CQ";
  EXPECT_EQ(NdkOperationTypeSend, pi[0].Type);
  EXPECT_EQ(ctx(6), pi[0].RequestContext);
  auto ac = drainEx(acq(), 1);
  ASSERT_EQ(1u, ac.size()) << "R34: the active receive completion is missing from its receive CQ";
  EXPECT_EQ(NdkOperationTypeReceive, ac[0].Type);
  EXPECT_EQ(ctx(5), ac[0].RequestContext);
  EXPECT_EQ(static_cast<PVOID>(&p_->active), ac[0].QPContext);
  // Every completion was counted once, on its own CQ: nothing is left anywhere.
  NDK_RESULT_EX rest[4];
  for (NDK_CQ* cq : {acq(), aicq(), pcq(), picq()}) EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResultsEx(cq, rest, 4));
}

TEST_F(Data, R37_R38_SendReceiveWithVerification) {
  std::memcpy(abuf_->data(), "hello, iwarp", 12);
  NDK_SGE r = sge(*pbuf_, pmr_, 100, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(1), &r, 1));
  NDK_SGE s = sge(*abuf_, amr_, 0, 12);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(2), &s, 1, 0));
  auto rc = drainEx(pcq(), 1);
  ASSERT_EQ(1u, rc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, rc[0].Status);
  EXPECT_EQ(12u, rc[0].BytesTransferred);
  EXPECT_EQ(NdkOperationTypeReceive, rc[0].Type);
  EXPECT_EQ(ctx(1), rc[0].RequestContext);
  EXPECT_EQ(static_cast<PVOID>(&p_->passive), rc[0].QPContext);
  EXPECT_EQ(0, std::memcmp(pbuf_->data() + 100, "hello, iwarp", 12));
  auto sc = drainEx(acq(), 1);
  ASSERT_EQ(1u, sc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, sc[0].Status);
  EXPECT_EQ(NdkOperationTypeSend, sc[0].Type);
  EXPECT_EQ(ctx(2), sc[0].RequestContext);
}

TEST_F(Data, R75_WriteThenReadBack) {
  for (int i = 0; i < 256; ++i) abuf_->data()[i] = static_cast<char>(i);
  NDK_SGE s = sge(*abuf_, amr_, 0, 256);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data()) + 512;
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(1), &s, 1, remote, rtok, 0));
  auto w = drainEx(acq(), 1);
  ASSERT_EQ(1u, w.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, w[0].Status);
  EXPECT_EQ(NdkOperationTypeWrite, w[0].Type);
  waitWritesPlaced(aqp(), acq(), ctx(9));  // R75: completion on hand-off, placed before a later Read
  EXPECT_EQ(0, std::memcmp(pbuf_->data() + 512, abuf_->data(), 256));
  NDK_SGE sink = sge(*abuf_, amr_, PAGE_SIZE, 256);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkRead(aqp(), ctx(2), &sink, 1, remote, rtok, 0));
  auto rd = drainEx(acq(), 1);
  ASSERT_EQ(1u, rd.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, rd[0].Status);
  EXPECT_EQ(NdkOperationTypeRead, rd[0].Type);
  EXPECT_EQ(0, std::memcmp(abuf_->data() + PAGE_SIZE, abuf_->data(), 256));
}

// R75 (amended 2026-12-07): a Write beyond the remote region is refused at the target. On iWARP it
// completes on hand-off (STATUS_SUCCESS is allowed for the Write itself); the first request not yet
// completed behind it (here a Read, issued together with it) reports STATUS_ACCESS_VIOLATION, the
// next STATUS_CONNECTION_ABORTED, each exactly once, in posting order; nothing lands.
TEST_F(Data, R75_WriteBeyondRemoteRegionAccessViolation) {
  NDK_SGE s = sge(*abuf_, amr_, 0, 64);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data()) + pbuf_->size() - 16;
  std::memset(pbuf_->data() + pbuf_->size() - 16, 0xEE, 16);
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  NDK_SGE sink = sge(*abuf_, amr_, PAGE_SIZE, 32);
  std::memset(abuf_->data() + PAGE_SIZE, 0xEE, 32);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(1), &s, 1, remote, rtok, NDK_OP_FLAG_DEFER));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkRead(aqp(), ctx(2), &sink, 1,
                                                              reinterpret_cast<UINT64>(pbuf_->data()), rtok,
                                                              NDK_OP_FLAG_DEFER));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(3), nullptr, 0, 0));
  auto w = drainEx(acq(), 3);
  ASSERT_EQ(3u, w.size());
  EXPECT_EQ(ctx(1), w[0].RequestContext);
  EXPECT_TRUE(w[0].Status == STATUS_SUCCESS || w[0].Status == STATUS_ACCESS_VIOLATION) << std::hex << w[0].Status;
  EXPECT_EQ(ctx(2), w[1].RequestContext);
  if (w[0].Status == STATUS_SUCCESS) CONF_EXPECT_D_STATUS(STATUS_ACCESS_VIOLATION, w[1].Status);
  EXPECT_NE(STATUS_SUCCESS, w[1].Status);
  EXPECT_EQ(ctx(3), w[2].RequestContext);
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_ABORTED, w[2].Status);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(0xEE, static_cast<unsigned char>(pbuf_->data()[pbuf_->size() - 16 + i])) << "stray byte " << i;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(0xEE, static_cast<unsigned char>(abuf_->data()[PAGE_SIZE + i])) << "Read served after the refusal";
  NDK_RESULT_EX extra[2];
  EXPECT_EQ(0u, acq()->Dispatch->NdkGetCqResultsEx(acq(), extra, 2)) << "a request completed twice";
}

TEST_F(Data, R68_SgeLimitsOnInitiatorRequests) {
  NDK_SGE many[8];
  for (int i = 0; i < 8; ++i) many[i] = sge(*abuf_, amr_, i * 16, 16);
  // The pair's QPs were created with MaxInitiatorRequestSge 4.
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, aqp()->Dispatch->NdkSend(aqp(), ctx(1), many, 5, 0));
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data());
  if (info_.MaxReadRequestSge < 4) {
    CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                         aqp()->Dispatch->NdkRead(aqp(), ctx(2), many, info_.MaxReadRequestSge + 1, remote, rtok, 0));
  }
  NDK_SGE bad = sge(*abuf_, amr_, abuf_->size() - 8, 16);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, aqp()->Dispatch->NdkWrite(aqp(), ctx(3), &bad, 1, remote, rtok, 0));
  NDK_RESULT r[4];
  EXPECT_EQ(0u, acq()->Dispatch->NdkGetCqResults(acq(), r, 4)) << "R40";
  // Still usable: a zero-length write (R68 [D]).
  CONF_EXPECT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(4), many, 0, remote, rtok, 0));
  EXPECT_EQ(1u, drainEx(acq(), 1).size());
}

// R71: inline data is copied before the call returns; above InlineDataSize → INVALID_PARAMETER.
TEST_F(Data, R71_InlineSend) {
  if (info_.MaxInlineDataSize == 0) GTEST_SKIP() << "adapter has no inline support";
  ULONG inl = std::min<ULONG>(info_.MaxInlineDataSize, 64);
  char stackData[128];
  std::memset(stackData, 'I', sizeof stackData);
  NDK_SGE s{};
  s.VirtualAddress = stackData;  // not registered: the token is ignored for inline (R71)
  s.Length = inl + 1;
  s.MemoryRegionToken = 0xDEAD;
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, aqp()->Dispatch->NdkSend(aqp(), ctx(1), &s, 1, NDK_OP_FLAG_INLINE));
  NDK_SGE r = sge(*pbuf_, pmr_, 0, 128);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(2), &r, 1));
  s.Length = inl;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(3), &s, 1, NDK_OP_FLAG_INLINE));
  std::memset(stackData, 'X', sizeof stackData);  // after return: must not matter
  auto rc = drainEx(pcq(), 1);
  ASSERT_EQ(1u, rc.size());
  EXPECT_EQ(inl, rc[0].BytesTransferred);
  for (ULONG i = 0; i < inl; ++i) ASSERT_EQ('I', pbuf_->data()[i]) << i;
  EXPECT_EQ(1u, drainEx(acq(), 1).size());
}

// R40/R72: a successful silent request produces no entry.
TEST_F(Data, R40_R72_SilentSuccess) {
  NDK_SGE s = sge(*abuf_, amr_, 0, 32);
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data());
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     aqp()->Dispatch->NdkWrite(aqp(), ctx(1), &s, 1, remote, rtok, NDK_OP_FLAG_SILENT_SUCCESS));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(2), &s, 1, remote, rtok, 0));
  auto got = drainEx(acq(), 1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(2), got[0].RequestContext);
  NDK_RESULT r[2];
  EXPECT_EQ(0u, acq()->Dispatch->NdkGetCqResults(acq(), r, 2));
}

// R74/R43: SOLICITED arm fires for a receive of a solicited send, not for an ordinary one.
TEST_F(Data, R43_R74_SolicitedEvent) {
  Recorder* n = notifierOf(pcq());
  ASSERT_NE(nullptr, n);
  size_t before = n->count();
  NDK_SGE r1 = sge(*pbuf_, pmr_, 0, 64), r2 = sge(*pbuf_, pmr_, 64, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(1), &r1, 1));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(2), &r2, 1));
  pcq()->Dispatch->NdkArmCq(pcq(), NDK_CQ_NOTIFY_SOLICITED);
  NDK_SGE s = sge(*abuf_, amr_, 0, 8);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(3), &s, 1, 0));
  auto plain = pollEx(pcq(), 1);
  ASSERT_EQ(1u, plain.size());
  EXPECT_EQ(before, n->count()) << "R43: an ordinary successful receive does not match SOLICITED";
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(4), &s, 1, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  EXPECT_TRUE(n->waitFor(before + 1)) << "R74";
  auto sol = pollEx(pcq(), 1);
  ASSERT_EQ(1u, sol.size());
  EXPECT_EQ(ctx(2), sol[0].RequestContext);
  EXPECT_EQ(2u, drainEx(acq(), 2).size());
}

// R52/R55/R57 (+R133 bind): send-and-invalidate of a window bound at the receiver.
TEST_F(Data, R52_R55_R56_R57_R133_SendAndInvalidate) {
  NDK_MW* mw = makeMw(p_->pd);
  ASSERT_NE(nullptr, mw);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkBind(pqp(), ctx(1), pmr_, mw, pbuf_->data(), PAGE_SIZE,
                                                             NDK_OP_FLAG_ALLOW_REMOTE_READ));
  auto b = drainEx(pcq(), 1);
  ASSERT_EQ(1u, b.size());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, b[0].Status);
  EXPECT_EQ(NdkOperationTypeBind, b[0].Type);
  UINT32 tok = mw->Dispatch->NdkGetRemoteTokenFromMw(mw);
  EXPECT_NE(0u, tok);
  NDK_SGE r = sge(*pbuf_, pmr_, 2 * PAGE_SIZE, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(2), &r, 1));
  NDK_SGE s = sge(*abuf_, amr_, 0, 16);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSendAndInvalidate(aqp(), ctx(3), &s, 1, 0, tok));
  auto rc = drainEx(pcq(), 1);
  ASSERT_EQ(1u, rc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, rc[0].Status);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, rc[0].Type) << "R55";
  EXPECT_EQ(static_cast<ULONG_PTR>(tok), rc[0].TypeSpecificCompletionOutput) << "R55";
  auto sc = drainEx(acq(), 1);
  ASSERT_EQ(1u, sc.size());
  EXPECT_EQ(NdkOperationTypeSend, sc[0].Type) << "R57";
  if (strict()) {
    EXPECT_EQ(0u, sc[0].TypeSpecificCompletionOutput) << "R57 [D]";
  }
  // R56 [D]: a local invalidate of the already invalidated window: SUCCESS, entry INVALID_PARAMETER.
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkInvalidate(pqp(), ctx(4), &mw->Header, 0));
  auto inv = drainEx(pcq(), 1);
  ASSERT_EQ(1u, inv.size());
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, inv[0].Status);
  EXPECT_EQ(NdkOperationTypeInvalidate, inv[0].Type);
}

// Fast registration on a connected QP: R126, R129–R132, and the deferred chain of R58–R62.
class FastReg : public Data {
 protected:
  void SetUp() override {
    Data::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    fmr_ = makeMr(p_->pd, true);
    ASSERT_NE(nullptr, fmr_);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                         return fmr_->Dispatch->NdkInitializeFastRegisterMr(fmr_, 2, FALSE, cb, c);
                       }));
    lamMem_.resize(OPENNDK_LAM_SIZE(4));
    lam_ = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lamMem_.data());
    ULONG size = static_cast<ULONG>(lamMem_.size()), fbo = 0;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                         return adapter_->Dispatch->NdkBuildLAM(adapter_, abuf_->mdl(), abuf_->size(), cb, c, lam_,
                                                                &size, &fbo);
                       }));
  }
  void TearDown() override {
    if (lam_) adapter_->Dispatch->NdkReleaseLAM(adapter_, lam_);
    lam_ = nullptr;
    Data::TearDown();
  }
  NTSTATUS fr(PVOID c, ULONG pages, ULONG fbo, SIZE_T len, uintptr_t base, ULONG flags) {
    return aqp()->Dispatch->NdkFastRegister(aqp(), c, fmr_, pages, lam_->AdapterPageArray, fbo, len,
                                            reinterpret_cast<PVOID>(base), flags);
  }
  NDK_MR* fmr_ = nullptr;
  std::vector<unsigned char> lamMem_;
  NDK_LOGICAL_ADDRESS_MAPPING* lam_ = nullptr;
};

TEST_F(FastReg, R129_R130_InlineValidation) {
  CONF_EXPECT_STATUS(STATUS_ACCESS_VIOLATION, fr(ctx(1), 1, 0, 64, PAGE_SIZE, NDK_OP_FLAG_ALLOW_REMOTE_READ));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, fr(ctx(2), 3, 0, 64, PAGE_SIZE, 0));   // > init count 2
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, fr(ctx(3), 1, 0, PAGE_SIZE + 1, PAGE_SIZE, 0));  // too long
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, fr(ctx(4), 1, 16, 64, PAGE_SIZE, 0));  // base != FBO + n*PAGE
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, fr(ctx(5), 1, PAGE_SIZE, 1, PAGE_SIZE, 0));  // FBO >= PAGE_SIZE
  NDK_RESULT r[4];
  EXPECT_EQ(0u, acq()->Dispatch->NdkGetCqResults(acq(), r, 4)) << "R40";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, fr(ctx(6), 2, 16, 100, PAGE_SIZE + 16, NDK_OP_FLAG_ALLOW_LOCAL_WRITE));
  auto got = drainEx(acq(), 1);
  ASSERT_EQ(1u, got.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, got[0].Status);
  EXPECT_EQ(NdkOperationTypeFastRegister, got[0].Type);
}

TEST_F(FastReg, R126_R131_R132_OneRegistrationUntilInvalidated) {
  const UINT32 t0 = fmr_->Dispatch->NdkGetRemoteTokenFromMr(fmr_);  // read once, as consumers do
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(1), 1, 0, 64, PAGE_SIZE, 0));
  UINT32 t1 = fmr_->Dispatch->NdkGetRemoteTokenFromMr(fmr_);
  if (strict()) {
    EXPECT_EQ(t0, t1) << "R126 [D] (amended): the token of NdkInitializeFastRegisterMr is kept";
  }
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(2), 1, 0, 64, PAGE_SIZE, 0));
  auto got = drainEx(acq(), 2);
  ASSERT_EQ(2u, got.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, got[0].Status);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, got[1].Status);  // R131 [D]
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkInvalidate(aqp(), ctx(3), &fmr_->Header, 0));
  auto inv = drainEx(acq(), 1);
  ASSERT_EQ(1u, inv.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, inv[0].Status);
  EXPECT_EQ(NdkOperationTypeInvalidate, inv[0].Type);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(4), 1, 0, 64, PAGE_SIZE, 0));
  EXPECT_EQ(1u, drainEx(acq(), 1).size());
  if (strict()) {
    EXPECT_EQ(t0, fmr_->Dispatch->NdkGetRemoteTokenFromMr(fmr_))
        << "R126 [D] (amended): the same token across invalidation and re-registration";
  }
}

// R62 test vector: #1 DEFER → SUCCESS; #2 DEFER fails inline; nothing else posted → #1 completes
// (R60: the failure hands the held request over), #2 produces nothing.
TEST_F(FastReg, R58_R60_R62_DeferredChainEndingInFailure) {
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(1), 1, 0, 64, PAGE_SIZE, NDK_OP_FLAG_DEFER));
  NTSTATUS st = fr(ctx(2), 3, 0, 64, PAGE_SIZE, NDK_OP_FLAG_DEFER);  // above the init count
  EXPECT_FALSE(NT_SUCCESS(st)) << statusName(st);
  auto got = drainEx(acq(), 1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(1), got[0].RequestContext);
  NDK_RESULT r[2];
  EXPECT_EQ(0u, acq()->Dispatch->NdkGetCqResults(acq(), r, 2)) << "R40/R59";
}

// R59/R61: a deferred chain ended by a request without DEFER completes entirely, in order.
TEST_F(FastReg, R59_R61_DeferredChainEndedByPlainRequest) {
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(1), 1, 0, 64, PAGE_SIZE, NDK_OP_FLAG_DEFER));
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  NDK_SGE s = sge(*abuf_, amr_, 0, 16);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(2), &s, 1, remote, rtok, NDK_OP_FLAG_DEFER));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(3), &s, 1, remote, rtok, 0));
  auto got = drainEx(acq(), 3);
  ASSERT_EQ(3u, got.size());
  for (uintptr_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
    CONF_EXPECT_STATUS(STATUS_SUCCESS, got[i].Status);
  }
}

// R76: read into fast-registered sink memory; with RDMA_READ_LOCAL_INVALIDATE (when advertised)
// the sink's token is invalid after the read completed.
TEST_F(FastReg, R76_ReadSinkAndLocalInvalidate) {
  const ULONG frFlags = NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_RDMA_READ_SINK;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, fr(ctx(1), 1, 0, PAGE_SIZE, PAGE_SIZE, frFlags));
  ASSERT_EQ(1u, drainEx(acq(), 1).size());
  std::memset(pbuf_->data(), 'R', 32);
  NDK_SGE sink{};
  sink.VirtualAddress = reinterpret_cast<PVOID>(PAGE_SIZE);  // the fast registration's base (R123)
  sink.Length = 32;
  sink.MemoryRegionToken = fmr_->Dispatch->NdkGetLocalTokenFromMr(fmr_);
  const bool li = (info_.AdapterFlags & NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED) != 0;
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     aqp()->Dispatch->NdkRead(aqp(), ctx(2), &sink, 1, reinterpret_cast<UINT64>(pbuf_->data()), rtok,
                                              li ? NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE : 0));
  auto got = drainEx(acq(), 1);
  ASSERT_EQ(1u, got.size());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, got[0].Status);
  EXPECT_EQ(0, std::memcmp(abuf_->data(), pbuf_->data(), 32)) << "the LAM pages are abuf_'s";
  if (li) {
    // The token is gone: the MR can be fast-registered again without an invalidate (R131).
    CONF_EXPECT_STATUS(STATUS_SUCCESS, fr(ctx(3), 1, 0, 64, PAGE_SIZE, 0));
    auto again = drainEx(acq(), 1);
    ASSERT_EQ(1u, again.size());
    CONF_EXPECT_STATUS(STATUS_SUCCESS, again[0].Status) << "R76b: local invalidate did not happen";
  }
}

// R53 [D]: send-and-invalidate with a token that is not valid at the receiver aborts the
// connection: the receive completes with an error, both sides see the disconnect event.
TEST_F(Data, R53_InvalidRemoteTokenAbortsConnection) {
  NDK_SGE r = sge(*pbuf_, pmr_, 0, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(1), &r, 1));
  NDK_SGE s = sge(*abuf_, amr_, 0, 8);
  UINT32 bogus = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_) ^ 0x00FF00FFu;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSendAndInvalidate(aqp(), ctx(2), &s, 1, 0, bogus));
  auto rc = drainEx(pcq(), 1);
  ASSERT_EQ(1u, rc.size());
  EXPECT_FALSE(NT_SUCCESS(rc[0].Status)) << statusName(rc[0].Status);
  EXPECT_TRUE(p_->passive.disconnects.waitFor(1)) << "R53 [D]";
  EXPECT_TRUE(p_->active.disconnects.waitFor(1)) << "R53 [D]";
}

// R73/R85: a READ_FENCE request waits for earlier reads; the reads see the data as it was, the
// fenced write follows them (all complete, in posting order, A-28 [D]).
TEST_F(Data, R73_R85_ReadFenceOrdersAfterReads) {
  std::memset(pbuf_->data(), 'A', 64);
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data());
  NDK_SGE sink = sge(*abuf_, amr_, PAGE_SIZE, 64);
  for (uintptr_t i = 1; i <= 6; ++i) {  // more reads than a small ORD: they queue, not fail (R85 [D])
    CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkRead(aqp(), ctx(i), &sink, 1, remote, rtok, 0));
  }
  std::memset(abuf_->data(), 'B', 64);
  NDK_SGE src = sge(*abuf_, amr_, 0, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     aqp()->Dispatch->NdkWrite(aqp(), ctx(7), &src, 1, remote, rtok, NDK_OP_FLAG_READ_FENCE));
  auto got = drainEx(acq(), 7);
  ASSERT_EQ(7u, got.size());
  for (uintptr_t i = 0; i < 7; ++i) {
    EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
    CONF_EXPECT_STATUS(STATUS_SUCCESS, got[i].Status);
  }
  EXPECT_EQ('A', abuf_->data()[PAGE_SIZE]) << "R73: a read saw the fenced write";
  waitWritesPlaced(aqp(), acq(), ctx(8));  // R75: the Write completed on hand-off
  EXPECT_EQ('B', pbuf_->data()[0]);
}

// R29: closing the connector while another thread posts on its QP: no crash; the posts either fail
// inline or complete (flushed).
// The close starts only once the poster has had a write accepted, so the overlap is real and the
// test always has completions to check; a post after the close must fail inline or be flushed.
TEST_F(Data, R29_ConnectorCloseConcurrentWithPosting) {
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data());
  NDK_SGE s = sge(*abuf_, amr_, 0, 16);
  std::atomic<int> ok{0};
  std::atomic<bool> done{false};
  // At most 64 writes: the pair's CQ holds 72 entries and nobody reads it while the poster runs
  // (overrunning a CQ is the consumer's fault, and it would lose completions).
  std::thread poster([&] {
    for (int i = 0; i < 64; ++i) {
      if (aqp()->Dispatch->NdkWrite(aqp(), ctx(i), &s, 1, remote, rtok, 0) == STATUS_SUCCESS) ok++;
      else break;
    }
    done = true;
  });
  // Wait (yielding) for the first accepted write, or for the poster to give up.
  while (ok.load() == 0 && !done.load()) std::this_thread::yield();
  closeNow(p_->active.con);
  poster.join();
  ASSERT_GT(ok.load(), 0) << "R29: no write was accepted before the close: nothing was checked";
  // Every accepted write completes (successfully or flushed).
  auto got = drainEx(acq(), static_cast<size_t>(ok.load()));
  EXPECT_EQ(static_cast<size_t>(ok.load()), got.size());
  // After the close: a post fails inline or completes (flushed), never succeeds silently.
  NTSTATUS after = aqp()->Dispatch->NdkWrite(aqp(), ctx(9999), &s, 1, remote, rtok, 0);
  if (NT_SUCCESS(after)) {
    auto late = drainEx(acq(), 1);
    ASSERT_EQ(1u, late.size()) << "R29: a write accepted after the close never completed";
    EXPECT_FALSE(NT_SUCCESS(late[0].Status))
        << "R29: a write after the close succeeded: " << statusName(late[0].Status);
  }
}

// One "wait for completions" step of a consumer that arms: read; when empty arm ANY, read again
// (an entry may have arrived before the arm), and only then wait for the notification. Returns the
// entries read (none only when nothing arrived within kTimeout: a lost notification, R42–R44).
std::vector<NDK_RESULT_EX> armedRead(NDK_CQ* cq, Recorder& notify) {
  NDK_RESULT_EX buf[16];
  for (;;) {
    ULONG n = cq->Dispatch->NdkGetCqResultsEx(cq, buf, 16);
    if (n) return {buf, buf + n};
    size_t before = notify.count();
    cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
    n = cq->Dispatch->NdkGetCqResultsEx(cq, buf, 16);
    if (n) return {buf, buf + n};
    if (!notify.waitFor(before + 1)) return {};
  }
}

// R42/R44 under concurrency: a sender thread streams 3,000 Sends while both CQs are consumed
// with the arm-then-read pattern, so arms constantly race with arriving completions (and with the
// notification of the previous arm). Nothing may be lost: every Send and every receive completes,
// in order, with its data (each message carries its sequence number; receives are reposted under
// a credit scheme so a Send never finds the receive queue empty).
TEST_F(Data, R42_R44_ArmRacingCompletions) {
  constexpr uint32_t kMessages = 3000, kSlots = 32;
  Recorder* pn = notifierOf(pcq());
  Recorder* an = notifierOf(acq());
  ASSERT_TRUE(pn && an);
  auto postRecv = [&](uint32_t slot) {
    NDK_SGE r = sge(*pbuf_, pmr_, slot * 64, 64);
    return pqp()->Dispatch->NdkReceive(pqp(), ctx(slot), &r, 1);
  };
  for (uint32_t slot = 0; slot < kSlots; ++slot) CONF_ASSERT_STATUS(STATUS_SUCCESS, postRecv(slot));
  std::atomic<uint32_t> received{0};
  std::atomic<bool> failed{false};
  std::thread sender([&] {
    uint32_t outstanding = 0, done = 0;
    for (uint32_t i = 0; i < kMessages && !failed; ++i) {
      // Credits: never more Sends in flight than receives the peer has posted.
      auto deadline = std::chrono::steady_clock::now() + kTimeout;
      while (!failed && (i - received.load() >= kSlots || outstanding == kSlots)) {
        std::vector<NDK_RESULT_EX> got;
        if (outstanding == kSlots) {
          got = armedRead(acq(), *an);  // blocked on our own completions
          if (got.empty()) failed = true;
        } else {  // waiting for the receiver's credits: reap what is there, no arm
          NDK_RESULT_EX buf[16];
          got.assign(buf, buf + acq()->Dispatch->NdkGetCqResultsEx(acq(), buf, 16));
          if (got.empty()) {
            if (std::chrono::steady_clock::now() > deadline) failed = true;
            std::this_thread::yield();
          }
        }
        for (auto& e : got) {
          if (e.Status != STATUS_SUCCESS || e.RequestContext != ctx(done)) failed = true;
          ++done;
          --outstanding;
        }
      }
      if (failed) break;
      uint32_t slot = i % kSlots;
      std::memcpy(abuf_->data() + slot * 64, &i, sizeof i);
      NDK_SGE s = sge(*abuf_, amr_, slot * 64, sizeof i);
      if (aqp()->Dispatch->NdkSend(aqp(), ctx(i), &s, 1, 0) != STATUS_SUCCESS) failed = true;
      ++outstanding;
    }
    while (!failed && done < kMessages) {
      auto got = armedRead(acq(), *an);
      if (got.empty()) failed = true;
      for (auto& e : got) {
        if (e.Status != STATUS_SUCCESS || e.RequestContext != ctx(done)) failed = true;
        ++done;
      }
    }
  });
  uint32_t next = 0;
  while (next < kMessages && !failed) {
    auto got = armedRead(pcq(), *pn);
    if (got.empty()) {
      ADD_FAILURE() << "receive " << next << " never completed (lost notification?)";
      failed = true;
      break;
    }
    for (auto& e : got) {
      uint32_t slot = next % kSlots, seq = ~0u;
      std::memcpy(&seq, pbuf_->data() + slot * 64, sizeof seq);
      EXPECT_EQ(ctx(slot), e.RequestContext);
      CONF_EXPECT_STATUS(STATUS_SUCCESS, e.Status);
      EXPECT_EQ(sizeof seq, e.BytesTransferred);
      EXPECT_EQ(next, seq) << "message out of order or corrupted";
      if (HasFailure()) failed = true;
      ++next;
      if (next - 1 + kSlots < kMessages && postRecv(slot) != STATUS_SUCCESS) failed = true;
      received.store(next);
    }
  }
  sender.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(kMessages, next);
}

// A Send racing NdkFlush (R41, R65, R77, R78; docs/decisions.md "Data path", "dp"): the
// guarantees are that every posted Send completes exactly once, in posting order, with
// STATUS_SUCCESS or STATUS_CANCELLED; a Send that completed with STATUS_SUCCESS reached the peer;
// a CANCELLED one may or may not have reached it (it may already have been on the wire); what the
// peer receives is intact and in posting order; the connection stays usable. Rounds of 20 Sends,
// the flush issued at a different point of the posting each round, a marker Send after it.
TEST_F(Data, R41_R65_R77_R78_SendRacingFlushGuarantees) {
  constexpr uint32_t kSlots = 32, kPerRound = 20, kRounds = 30, kMarker = 0xFFFF;
  constexpr ULONG kMsg = 256 * 1024;  // large enough to still be in the engine when the flush comes
  MdlBuffer src((kPerRound + 1) * kMsg), dst(kSlots * kMsg);
  NDK_MR* smr = makeMr(p_->pd, false);
  NDK_MR* dmr = makeMr(p_->pd, false);
  ASSERT_TRUE(smr && dmr);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(smr, src, src.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(dmr, dst, dst.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  // Message i of round r: its 32-bit word r << 16 | i, then random bytes (checked against the
  // source with memcmp: cheap under sanitizers).
  std::vector<char> pattern(kMsg);
  std::mt19937 rng{std::random_device{}()};
  for (auto& c : pattern) c = static_cast<char>(rng());
  auto fill = [&pattern](char* p, uint32_t word) {
    std::memcpy(p, pattern.data(), kMsg);
    std::memcpy(p, &word, sizeof word);
  };
  uint32_t outstandingRecv = 0, slotNext = 0, slotDone = 0, delivered = 0, cancelledButDelivered = 0, cancelled = 0;
  for (uint32_t round = 0; round < kRounds; ++round) {
    while (outstandingRecv < kSlots) {
      uint32_t slot = slotNext++ % kSlots;
      NDK_SGE r = sge(dst, dmr, slot * kMsg, kMsg);
      CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(slot), &r, 1));
      ++outstandingRecv;
    }
    for (uint32_t i = 0; i <= kPerRound; ++i) fill(src.data() + i * kMsg, round << 16 | (i == kPerRound ? kMarker : i));
    std::atomic<uint32_t> posted{0};
    std::thread poster([&] {
      for (uint32_t i = 0; i < kPerRound; ++i) {
        NDK_SGE s = sge(src, smr, i * kMsg, kMsg);
        EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(aqp()->Dispatch->NdkSend(aqp(), ctx(i), &s, 1, 0)));
        posted.store(i + 1);
      }
    });
    const uint32_t flushAt = round % kPerRound;
    while (posted.load() < flushAt) std::this_thread::yield();
    aqp()->Dispatch->NdkFlush(aqp());
    // Sends whose post started after NdkFlush returned (index > atReturn; the one at atReturn may
    // be mid-call) are not affected by it (R77 [I]).
    const uint32_t atReturn = posted.load();
    poster.join();
    // A marker posted right after: not affected either, and the connection is still up (R78).
    NDK_SGE m = sge(src, smr, kPerRound * kMsg, kMsg);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(kMarker), &m, 1, 0)) << "R78";
    // Initiator side: each exactly once, in posting order, SUCCESS or CANCELLED.
    auto sc = drainEx(acq(), kPerRound + 1);
    ASSERT_EQ(kPerRound + 1, sc.size()) << "round " << round;
    for (uint32_t i = atReturn + 1; i < kPerRound; ++i) {
      CONF_EXPECT_STATUS(STATUS_SUCCESS, sc[i].Status) << "round " << round << ": Send " << i
                                                       << " was posted after NdkFlush returned (R77 [I])";
    }
    std::vector<bool> succeeded(kPerRound, false);
    for (uint32_t i = 0; i <= kPerRound; ++i) {
      ASSERT_EQ(ctx(i == kPerRound ? kMarker : i), sc[i].RequestContext) << "round " << round << " (order)";
      ASSERT_TRUE(sc[i].Status == STATUS_SUCCESS || sc[i].Status == STATUS_CANCELLED) << statusName(sc[i].Status);
      if (i < kPerRound) {
        succeeded[i] = sc[i].Status == STATUS_SUCCESS;
        if (!succeeded[i]) ++cancelled;
      }
    }
    CONF_EXPECT_STATUS(STATUS_SUCCESS, sc[kPerRound].Status) << "the marker after the flush (R77 [I], R78)";
    // Passive side: a strictly increasing run of this round's Sends, intact, then the marker.
    std::vector<bool> arrived(kPerRound, false);
    int last = -1;
    for (;;) {
      auto rc = drainEx(pcq(), 1);
      ASSERT_EQ(1u, rc.size()) << "round " << round << ": the marker never arrived";
      CONF_ASSERT_STATUS(STATUS_SUCCESS, rc[0].Status);
      uint32_t slot = slotDone++ % kSlots;
      --outstandingRecv;
      ASSERT_EQ(ctx(slot), rc[0].RequestContext);
      ASSERT_EQ(kMsg, rc[0].BytesTransferred);
      uint32_t word = 0;
      const char* p = dst.data() + slot * kMsg;
      std::memcpy(&word, p, sizeof word);
      ASSERT_EQ(round, word >> 16) << "a Send of another round";
      uint32_t seq = word & 0xFFFF;
      const uint32_t index = seq == kMarker ? kPerRound : seq;
      ASSERT_LT(index, kPerRound + 1);
      ASSERT_EQ(0, std::memcmp(p, src.data() + index * kMsg, kMsg)) << "message " << seq << " of round " << round
                                                                     << " corrupted";
      if (seq == kMarker) break;
      ASSERT_LT(seq, kPerRound);
      ASSERT_GT(static_cast<int>(seq), last) << "out of order";
      last = static_cast<int>(seq);
      arrived[seq] = true;
      ++delivered;
      if (!succeeded[seq]) ++cancelledButDelivered;
    }
    for (uint32_t i = 0; i < kPerRound; ++i) {
      EXPECT_TRUE(!succeeded[i] || arrived[i]) << "round " << round << ": Send " << i
                                               << " completed with success but never arrived";
    }
  }
  std::printf("%u Sends delivered, %u cancelled, %u of those delivered all the same (already on the wire)\n",
              delivered, cancelled, cancelledButDelivered);
}

// Every data operation at the sizes of issue #4 (0, 1, 4095, 4096, 64 KiB, 4 MiB) with a random
// pattern, the local side split into up to three SGEs at random points, the receive side into two,
// buffers starting at odd offsets, and a guard byte behind the target that must stay untouched
// (R37, R38, R68, R70, R75).
enum class Op { Send, Write, Read };
class DataMatrix : public NdkTest, public ::testing::WithParamInterface<std::tuple<Op, ULONG>> {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    p_ = &newPair();
    NTSTATUS st = connectPair(*p_, 4, 4, nullptr, 0, nullptr, 0, 8, 0);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    const size_t bytes = std::get<1>(GetParam()) + 64;
    abuf_ = std::make_unique<MdlBuffer>(bytes, 3);
    pbuf_ = std::make_unique<MdlBuffer>(bytes, 5);
    amr_ = makeMr(p_->pd, false);
    pmr_ = makeMr(p_->pd, false);
    ASSERT_TRUE(amr_ && pmr_);
    const ULONG all = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_RDMA_READ_SINK;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr_, *abuf_, abuf_->size(), all));
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(pmr_, *pbuf_, pbuf_->size(), all));
  }
  // [base, base+len) of `b` in up to `parts` SGEs cut at random points.
  std::vector<NDK_SGE> split(MdlBuffer& b, NDK_MR* mr, size_t base, ULONG len, ULONG parts) {
    std::vector<NDK_SGE> out;
    ULONG at = 0;
    for (ULONG i = 0; i < parts && at < len; ++i) {
      ULONG left = len - at;
      ULONG piece = i + 1 == parts ? left : std::max<ULONG>(1, static_cast<ULONG>(rng_() % left));
      NDK_SGE s{};
      s.VirtualAddress = b.data() + base + at;
      s.Length = piece;
      s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
      out.push_back(s);
      at += piece;
    }
    return out;
  }
  Pair* p_ = nullptr;
  std::unique_ptr<MdlBuffer> abuf_, pbuf_;
  NDK_MR* amr_ = nullptr;
  NDK_MR* pmr_ = nullptr;
  std::mt19937 rng_{std::random_device{}()};
};

TEST_P(DataMatrix, R37_R38_R68_R70_R75_VerifiedTransfer) {
  const Op op = std::get<0>(GetParam());
  const ULONG len = std::get<1>(GetParam());
  NDK_QP* aqp = p_->active.qp;
  NDK_QP* pqp = p_->passive.qp;
  const size_t off = 1;  // one byte in: odd addresses on both sides
  // Source of the data: the active side for Send/Write, the passive side for Read.
  MdlBuffer& src = op == Op::Read ? *pbuf_ : *abuf_;
  MdlBuffer& dst = op == Op::Read ? *abuf_ : *pbuf_;
  for (size_t i = 0; i < src.size(); ++i) src.data()[i] = static_cast<char>(rng_());
  std::memset(dst.data(), 0x5A, dst.size());
  const char guard = dst.data()[off + len];
  UINT32 rtok = pmr_->Dispatch->NdkGetRemoteTokenFromMr(pmr_);
  UINT64 remote = reinterpret_cast<UINT64>(pbuf_->data() + off);
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  if (op == Op::Send) {
    auto r = split(*pbuf_, pmr_, off, len, 2);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp->Dispatch->NdkReceive(pqp, ctx(1), r.data(), static_cast<ULONG>(r.size())));
    auto s = split(*abuf_, amr_, off, len, 3);
    st = aqp->Dispatch->NdkSend(aqp, ctx(2), s.data(), static_cast<ULONG>(s.size()), 0);
  } else if (op == Op::Write) {
    auto s = split(*abuf_, amr_, off, len, 3);
    st = aqp->Dispatch->NdkWrite(aqp, ctx(2), s.data(), static_cast<ULONG>(s.size()), remote, rtok, 0);
  } else {
    auto s = split(*abuf_, amr_, off, len, std::min<ULONG>(3, info_.MaxReadRequestSge));
    st = aqp->Dispatch->NdkRead(aqp, ctx(2), s.data(), static_cast<ULONG>(s.size()), remote, rtok, 0);
  }
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  auto ic = drainEx(p_->active.cq, 1);
  ASSERT_EQ(1u, ic.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, ic[0].Status);
  EXPECT_EQ(ctx(2), ic[0].RequestContext);
  EXPECT_EQ(op == Op::Send ? NdkOperationTypeSend : op == Op::Write ? NdkOperationTypeWrite : NdkOperationTypeRead,
            ic[0].Type);
  if (op == Op::Send) {
    auto rc = drainEx(p_->passive.cq, 1);
    ASSERT_EQ(1u, rc.size());
    CONF_EXPECT_STATUS(STATUS_SUCCESS, rc[0].Status);
    EXPECT_EQ(len, rc[0].BytesTransferred);
    EXPECT_EQ(NdkOperationTypeReceive, rc[0].Type);
  } else if (op == Op::Write) {
    // A Send behind the Write: when it arrives, the Write has been placed (in order).
    CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(pqp, ctx(3)));
    NDK_SGE none{};
    CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp->Dispatch->NdkSend(aqp, ctx(4), &none, 0, 0));
    ASSERT_EQ(1u, drainEx(p_->passive.cq, 1).size());
    ASSERT_EQ(1u, drainEx(p_->active.cq, 1).size());
  }
  EXPECT_EQ(0, std::memcmp(dst.data() + off, src.data() + off, len)) << len << " bytes differ";
  EXPECT_EQ(guard, dst.data()[off + len]) << "written beyond the target";
  EXPECT_EQ(0x5A, dst.data()[0]) << "written before the target";
}

std::string matrixName(const ::testing::TestParamInfo<std::tuple<Op, ULONG>>& info) {
  static const char* const kNames[] = {"Send", "Write", "Read"};
  return std::string(kNames[static_cast<int>(std::get<0>(info.param))]) + "_" + std::to_string(std::get<1>(info.param));
}
INSTANTIATE_TEST_SUITE_P(Sizes, DataMatrix,
                         ::testing::Combine(::testing::Values(Op::Send, Op::Write, Op::Read),
                                            ::testing::Values(0u, 1u, 4095u, 4096u, 65536u, 4194304u)),
                         matrixName);

// R77/R78: flush cancels pending receives and does not disconnect.
TEST_F(Data, R77_R78_FlushKeepsConnection) {
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(pqp(), ctx(1)));
  pqp()->Dispatch->NdkFlush(pqp());
  auto f = drainEx(pcq(), 1);
  ASSERT_EQ(1u, f.size());
  CONF_EXPECT_STATUS(STATUS_CANCELLED, f[0].Status);
  NDK_SGE r = sge(*pbuf_, pmr_, 0, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(2), &r, 1));
  NDK_SGE s = sge(*abuf_, amr_, 0, 4);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(3), &s, 1, 0));
  EXPECT_EQ(1u, drainEx(pcq(), 1).size());
  EXPECT_EQ(1u, drainEx(acq(), 1).size());
}

}  // namespace
}  // namespace conf
