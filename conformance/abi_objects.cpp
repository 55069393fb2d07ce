// Conformance: object headers, reserved block, dispatch tables (NDKPI.md §5.1, R1–R6, R153, R154)
// and the handling of bad object pointers (provider decision, see docs/decisions.md "Conformance").
#include <arpa/inet.h>

#include <cstring>

#include "consumer.h"

namespace conf {
namespace {

// R5: the layouts a Windows consumer compiled against ndkpi.h relies on (LP64).
static_assert(sizeof(NDK_OBJECT_HEADER) == 40, "R5 header");
static_assert(offsetof(NDK_CQ, Dispatch) == 40, "R5 Dispatch follows the header");
static_assert(sizeof(NDK_QP) == 48, "R5 object = header + dispatch");
static_assert(sizeof(NDK_RESULT_EX) == 40, "R5 NDK_RESULT_EX 2.1 layout");
static_assert(sizeof(NDK_ADAPTER_INFO) == 104, "R5/R152 NDK_ADAPTER_INFO");
static_assert(sizeof(NDK_SGE) == 16, "R5 NDK_SGE");

const PVOID kSentinel[4] = {reinterpret_cast<PVOID>(0x5e11'7e1a'0000'0001ULL),
                            reinterpret_cast<PVOID>(0x5e11'7e1a'0000'0002ULL),
                            reinterpret_cast<PVOID>(0x5e11'7e1a'0000'0003ULL),
                            reinterpret_cast<PVOID>(0x5e11'7e1a'0000'0004ULL)};

void writeSentinels(NDK_OBJECT_HEADER* h) { std::memcpy(h->NdkReserved.rf, kSentinel, sizeof kSentinel); }
bool sentinelsIntact(const NDK_OBJECT_HEADER* h) {
  return std::memcmp(h->NdkReserved.rf, kSentinel, sizeof kSentinel) == 0;
}

// Every member of a dispatch table is a function pointer: view the table as an array.
template <class Table>
void expectAllMembersNonNull(const Table* t, const char* name) {
  ASSERT_NE(nullptr, t) << name;
  static_assert(sizeof(Table) % sizeof(void (*)()) == 0);
  void (*fns[sizeof(Table) / sizeof(void (*)())])();
  std::memcpy(fns, t, sizeof(Table));
  for (size_t i = 0; i < sizeof(Table) / sizeof(void (*)()); ++i) {
    EXPECT_NE(nullptr, fns[i]) << "R4: " << name << " member #" << (i + 1) << " is NULL";
  }
}

void expectFreshHeader(const NDK_OBJECT_HEADER* h, NDK_OBJECT_TYPE type, NDK_VERSION v, const char* what) {
  ASSERT_NE(nullptr, h) << what;
  EXPECT_EQ(type, h->ObjectType) << "R1: " << what;
  EXPECT_EQ(v.Major, h->Version.Major) << "R1/R153: " << what;
  EXPECT_EQ(v.Minor, h->Version.Minor) << "R1/R153: " << what;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(nullptr, h->NdkReserved.rf[i]) << "R1: " << what << " rf[" << i << "]";
}

class AbiObjects : public NdkTest {};

// R5: member order of the tables (offsets in pointer slots) as in the Windows headers.
TEST(Abi, R5_DispatchMemberOrder) {
  constexpr size_t P = sizeof(void*);
  EXPECT_EQ(8 * P, offsetof(NDK_ADAPTER_DISPATCH, NdkReleaseLAM));
  EXPECT_EQ(6 * P, offsetof(NDK_CQ_DISPATCH, NdkGetCqResultsEx));
  EXPECT_EQ(7 * P, offsetof(NDK_PD_DISPATCH, NdkGetPrivilegedMemoryRegionToken));
  EXPECT_EQ(6 * P, offsetof(NDK_MR_DISPATCH, NdkGetLocalTokenFromMr));
  EXPECT_EQ(2 * P, offsetof(NDK_MW_DISPATCH, NdkGetRemoteTokenFromMw));
  EXPECT_EQ(10 * P, offsetof(NDK_QP_DISPATCH, NdkSendAndInvalidate));
  EXPECT_EQ(3 * P, offsetof(NDK_SRQ_DISPATCH, NdkSrqReceive));
  EXPECT_EQ(12 * P, offsetof(NDK_CONNECTOR_DISPATCH, NdkAcceptEx));
  EXPECT_EQ(4 * P, offsetof(NDK_LISTENER_DISPATCH, NdkControlConnectEvents));
  EXPECT_EQ(2 * P, offsetof(NDK_SHARED_ENDPOINT_DISPATCH, NdkGetLocalAddress));
  EXPECT_EQ(8u, offsetof(NDK_OBJECT_HEADER, NdkReserved));
  EXPECT_EQ(28u, offsetof(NDK_RESULT_EX, ProviderErrorCode));
}

TEST_F(AbiObjects, R1_R153_AdapterHeader) {
  expectFreshHeader(&adapter_->Header, NdkObjectTypeAdapter, info_.Version, "adapter");
  // [D] NULL parameters = newest version: 2.1 (§1.5).
  EXPECT_EQ(2, info_.Version.Major);
  EXPECT_EQ(1, info_.Version.Minor);
}

TEST_F(AbiObjects, R1_R153_EveryCreatedObjectHeader) {
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MR* fmr = makeMr(pd, true);
  NDK_MW* mw = makeMw(pd);
  NDK_SRQ* srq = makeSrq(pd);
  NDK_QP* qp = makeQp(pd, cq, cq);
  NDK_QP* sqp = makeQpWithSrq(pd, cq, cq, srq);
  NDK_CONNECTOR* con = makeConnector();
  Recorder& events = newRecorder();
  NDK_LISTENER* lis = makeListener(&events);
  const NDK_VERSION v = info_.Version;
  expectFreshHeader(&cq->Header, NdkObjectTypeCq, v, "cq");
  expectFreshHeader(&pd->Header, NdkObjectTypePd, v, "pd");
  expectFreshHeader(&mr->Header, NdkObjectTypeMr, v, "mr");
  expectFreshHeader(&fmr->Header, NdkObjectTypeMr, v, "fast mr");
  expectFreshHeader(&mw->Header, NdkObjectTypeMw, v, "mw");
  expectFreshHeader(&srq->Header, NdkObjectTypeSrq, v, "srq");
  expectFreshHeader(&qp->Header, NdkObjectTypeQp, v, "qp");
  expectFreshHeader(&sqp->Header, NdkObjectTypeQp, v, "qp with srq");
  expectFreshHeader(&con->Header, NdkObjectTypeConnector, v, "connector");
  expectFreshHeader(&lis->Header, NdkObjectTypeListener, v, "listener");
}

TEST_F(AbiObjects, R1_SharedEndpointHeader) {
  SOCKADDR_IN a = loopback4(0);
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&a), sizeof a, &st);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  expectFreshHeader(&se->Header, NdkObjectTypeSharedEndpoint, info_.Version, "shared endpoint");
}

TEST_F(AbiObjects, R4_EveryTableMemberNonNull) {
  expectAllMembersNonNull(adapter_->Dispatch, "NDK_ADAPTER_DISPATCH");
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MW* mw = makeMw(pd);
  NDK_SRQ* srq = makeSrq(pd);
  NDK_QP* qp = makeQp(pd, cq, cq);
  NDK_CONNECTOR* con = makeConnector();
  Recorder& events = newRecorder();
  NDK_LISTENER* lis = makeListener(&events);
  ASSERT_TRUE(mr && mw && srq && qp && con && lis);
  expectAllMembersNonNull(cq->Dispatch, "NDK_CQ_DISPATCH");
  expectAllMembersNonNull(pd->Dispatch, "NDK_PD_DISPATCH");
  expectAllMembersNonNull(mr->Dispatch, "NDK_MR_DISPATCH");
  expectAllMembersNonNull(mw->Dispatch, "NDK_MW_DISPATCH");
  expectAllMembersNonNull(srq->Dispatch, "NDK_SRQ_DISPATCH");
  expectAllMembersNonNull(qp->Dispatch, "NDK_QP_DISPATCH");
  expectAllMembersNonNull(con->Dispatch, "NDK_CONNECTOR_DISPATCH");
  expectAllMembersNonNull(lis->Dispatch, "NDK_LISTENER_DISPATCH");
  SOCKADDR_IN a = loopback4(0);
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&a), sizeof a, &st);
  if (se) expectAllMembersNonNull(se->Dispatch, "NDK_SHARED_ENDPOINT_DISPATCH");
}

// R2: sentinels written by the consumer survive use and close (checked inside the pending close's
// completion for an antecedent kept open by a successor, R24).
TEST_F(AbiObjects, R2_ReservedBlockUntouched) {
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  writeSentinels(&adapter_->Header);
  writeSentinels(&cq->Header);
  writeSentinels(&pd->Header);
  NDK_MR* mr = makeMr(pd, false);
  NDK_QP* qp = makeQp(pd, cq, cq);
  ASSERT_TRUE(mr && qp);
  writeSentinels(&mr->Header);
  writeSentinels(&qp->Header);

  MdlBuffer buf(8192);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  NDK_RESULT r[4];
  EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(cq, r, 4));
  cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
  NDK_SGE sge{};
  sge.VirtualAddress = buf.data();
  sge.Length = 64;
  sge.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkReceive(qp, nullptr, &sge, 1));
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(1u, drain(cq, 1).size());
  EXPECT_TRUE(sentinelsIntact(&adapter_->Header));
  EXPECT_TRUE(sentinelsIntact(&cq->Header));
  EXPECT_TRUE(sentinelsIntact(&pd->Header));
  EXPECT_TRUE(sentinelsIntact(&mr->Header));
  EXPECT_TRUE(sentinelsIntact(&qp->Header));

  // PD close pends while MR/QP are open; its completion still sees the sentinels.
  untrack(&pd->Header);
  Recorder& pdClose = newRecorder();
  bool intactAtCompletion = false;
  pdClose.hook = [&](const CallRecord&) { intactAtCompletion = sentinelsIntact(&pd->Header); };
  NTSTATUS st = pd->Dispatch->NdkClosePd(&pd->Header, &Recorder::onClose, &pdClose);
  CONF_EXPECT_STATUS(STATUS_PENDING, st);  // R24
  EXPECT_TRUE(sentinelsIntact(&pd->Header));
  EXPECT_EQ(statusName(STATUS_SUCCESS),
            statusName(requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
              return mr->Dispatch->NdkDeregisterMr(mr, cb, ctx);
            })));
  closeNow(qp);
  closeNow(mr);
  ASSERT_TRUE(pdClose.waitFor(1));
  EXPECT_TRUE(intactAtCompletion) << "R2: NdkReserved of the PD changed before its close completed";
  // The provider keeps working: a new PD.
  EXPECT_NE(nullptr, makePd());
}

// R3: the consumer replaces Dispatch by a copy / a forwarding wrapper; everything keeps working.
NDK_FN_GET_CQ_RESULTS g_origGetCqResults = nullptr;
std::atomic<int> g_wrappedCalls{0};
ULONG wrappedGetCqResults(NDK_CQ* cq, NDK_RESULT r[], ULONG n) {
  g_wrappedCalls++;
  return g_origGetCqResults(cq, r, n);
}

TEST_F(AbiObjects, R3_DispatchReplacedByCopyAndWrapper) {
  NDK_ADAPTER_DISPATCH adapterCopy = *adapter_->Dispatch;
  adapter_->Dispatch = &adapterCopy;
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  NDK_CQ_DISPATCH cqWrap = *cq->Dispatch;
  g_origGetCqResults = cqWrap.NdkGetCqResults;
  g_wrappedCalls = 0;
  cqWrap.NdkGetCqResults = &wrappedGetCqResults;
  cq->Dispatch = &cqWrap;
  NDK_PD_DISPATCH pdCopy = *pd->Dispatch;
  pd->Dispatch = &pdCopy;
  NDK_QP* qp = makeQp(pd, cq, cq);
  ASSERT_NE(nullptr, qp);
  NDK_QP_DISPATCH qpCopy = *qp->Dispatch;
  qp->Dispatch = &qpCopy;
  MdlBuffer buf(4096);
  UINT32 priv = 0;
  pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd, &priv);
  NDK_MR* mr = makeMr(pd, false);
  ASSERT_NE(nullptr, mr);
  NDK_MR_DISPATCH mrCopy = *mr->Dispatch;
  mr->Dispatch = &mrCopy;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  NDK_SGE sge{};
  sge.VirtualAddress = buf.data();
  sge.Length = 128;
  sge.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkReceive(qp, reinterpret_cast<PVOID>(7), &sge, 1));
  qp->Dispatch->NdkFlush(qp);
  auto res = drain(cq, 1);  // goes through the wrapper
  ASSERT_EQ(1u, res.size());
  CONF_EXPECT_STATUS(STATUS_CANCELLED, res[0].Status);
  EXPECT_EQ(reinterpret_cast<PVOID>(7), res[0].RequestContext);
  EXPECT_GT(g_wrappedCalls.load(), 0);
  // Closes (TearDown) go through the copies as well; the copies outlive the objects.
  TearDown();
}

TEST_F(AbiObjects, R6_R154_QueryExtensionOnEveryObjectHeader) {
  GUID g{0x12345678, 0x1234, 0x5678, {1, 2, 3, 4, 5, 6, 7, 8}};
  NDK_VERSION v{1, 0};
  NDK_EXTENSION_INTERFACE ext{};
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED,
                     adapter_->Dispatch->NdkQueryExtension(&adapter_->Header, &g, v, &ext));
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MW* mw = makeMw(pd);
  NDK_SRQ* srq = makeSrq(pd);
  NDK_QP* qp = makeQp(pd, cq, cq);
  NDK_CONNECTOR* con = makeConnector();
  Recorder& events = newRecorder();
  NDK_LISTENER* lis = makeListener(&events);
  ASSERT_TRUE(mr && mw && srq && qp && con && lis);
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, cq->Dispatch->NdkQueryExtension(&cq->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, pd->Dispatch->NdkQueryExtension(&pd->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, mr->Dispatch->NdkQueryExtension(&mr->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, mw->Dispatch->NdkQueryExtension(&mw->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, srq->Dispatch->NdkQueryExtension(&srq->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, qp->Dispatch->NdkQueryExtension(&qp->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, con->Dispatch->NdkQueryExtension(&con->Header, &g, v, &ext));
  CONF_EXPECT_STATUS(STATUS_NOT_SUPPORTED, lis->Dispatch->NdkQueryExtension(&lis->Header, &g, v, &ext));
}

// ---- bad object pointers (provider decision: NULL → INVALID_PARAMETER, other type →
// OBJECT_TYPE_MISMATCH, closed → INVALID_HANDLE). The spec leaves these undefined (R19: the
// consumer never does this), so in non-strict mode the use-after-close cases are skipped and the
// others accept any failure status.

TEST_F(AbiObjects, BadObject_NullObjectInvalidParameter) {  // provider decision
  NDK_PD* pd = nullptr;
  NDK_FN_CREATE_COMPLETION cb = &Recorder::onCreate;
  Recorder& rec = newRecorder();
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, adapter_->Dispatch->NdkCreatePd(nullptr, cb, &rec, &pd));
  EXPECT_EQ(nullptr, pd);
  NDK_CQ* cq = makeCq();
  ASSERT_NE(nullptr, cq);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, cq->Dispatch->NdkCloseCq(nullptr, &Recorder::onClose, &rec));
  NDK_RESULT r[2];
  EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(nullptr, r, 2));
  EXPECT_EQ(0u, rec.count());
  // Still usable.
  EXPECT_NE(nullptr, makePd());
  EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(cq, r, 2));
}

TEST_F(AbiObjects, BadObject_WrongTypeObjectTypeMismatch) {  // provider decision
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  Recorder& rec = newRecorder();
  NDK_MR* mr = nullptr;
  // A CQ passed where a PD is expected.
  CONF_EXPECT_D_STATUS(STATUS_OBJECT_TYPE_MISMATCH,
                       pd->Dispatch->NdkCreateMr(reinterpret_cast<NDK_PD*>(cq), FALSE, &Recorder::onCreate, &rec,
                                                 &mr));
  EXPECT_EQ(nullptr, mr);
  // The PD close function given the CQ's header.
  CONF_EXPECT_D_STATUS(STATUS_OBJECT_TYPE_MISMATCH, pd->Dispatch->NdkClosePd(&cq->Header, &Recorder::onClose, &rec));
  // A PD passed as a CQ to NdkCreateQp.
  NDK_QP* qp = nullptr;
  CONF_EXPECT_D_STATUS(STATUS_OBJECT_TYPE_MISMATCH,
                       pd->Dispatch->NdkCreateQp(pd, reinterpret_cast<NDK_CQ*>(pd), cq, nullptr, 4, 4, 1, 1, 0,
                                                 &Recorder::onCreate, &rec, &qp));
  EXPECT_EQ(nullptr, qp);
  EXPECT_EQ(0u, rec.count());
  // Both still usable.
  EXPECT_NE(nullptr, makeMr(pd, false));
  EXPECT_NE(nullptr, makeQp(pd, cq, cq));
}

TEST_F(AbiObjects, R19_BadObject_ClosedObjectInvalidHandle) {  // provider decision (R19: "may" detect)
  if (!strict()) GTEST_SKIP() << "R19: use after close is undefined for a generic provider";
  NDK_PD* pd = makePd();
  NDK_PD* pd2 = makePd();
  ASSERT_TRUE(pd && pd2);
  const NDK_PD_DISPATCH* d = pd->Dispatch;
  closeNow(pd);
  Recorder& rec = newRecorder();
  NDK_MR* mr = nullptr;
  CONF_EXPECT_D_STATUS(STATUS_INVALID_HANDLE, d->NdkCreateMr(pd, FALSE, &Recorder::onCreate, &rec, &mr));
  EXPECT_EQ(nullptr, mr);
  // Double close.
  CONF_EXPECT_D_STATUS(STATUS_INVALID_HANDLE, d->NdkClosePd(&pd->Header, &Recorder::onClose, &rec));
  EXPECT_EQ(0u, rec.count());
  // The other PD is unaffected.
  EXPECT_NE(nullptr, makeMr(pd2, false));
}

}  // namespace
}  // namespace conf

namespace conf {
namespace {

// Every status-returning provider function with a NULL object and with an object of another type
// (provider decision: STATUS_INVALID_PARAMETER / STATUS_OBJECT_TYPE_MISMATCH); afterwards the real
// objects still work.
class BadObjects : public NdkTest {};

TEST_F(BadObjects, EveryFunctionNullAndWrongType) {  // provider decision
  NDK_CQ* cq = makeCq();
  NDK_PD* pd = makePd();
  ASSERT_TRUE(cq && pd);
  NDK_MR* mr = makeMr(pd, false);
  NDK_MW* mw = makeMw(pd);
  NDK_SRQ* srq = makeSrq(pd);
  NDK_QP* qp = makeQp(pd, cq, cq);
  NDK_CONNECTOR* con = makeConnector();
  Recorder& ev = newRecorder();
  NDK_LISTENER* lis = makeListener(&ev);
  ASSERT_TRUE(mr && mw && srq && qp && con && lis);
  Recorder& rec = newRecorder();
  MdlBuffer buf(PAGE_SIZE);
  NDK_SGE sge{};
  SOCKADDR_IN a = loopback4(0);
  ULONG len = sizeof a;
  ULONG u1 = 0, u2 = 0;
  GUID g{};
  NDK_EXTENSION_INTERFACE ext{};

  for (int pass = 0; pass < 2; ++pass) {
    const NTSTATUS want = pass == 0 ? STATUS_INVALID_PARAMETER : STATUS_OBJECT_TYPE_MISMATCH;
    // "Wrong" object for each table: the PD for everything but PD functions (they get the CQ).
    void* other = pass == 0 ? nullptr : static_cast<void*>(pd);
    void* otherForPd = pass == 0 ? nullptr : static_cast<void*>(cq);
    auto* xcq = static_cast<NDK_CQ*>(other);
    auto* xpd = static_cast<NDK_PD*>(otherForPd);
    auto* xmr = static_cast<NDK_MR*>(other);
    auto* xmw = static_cast<NDK_MW*>(other);
    auto* xsrq = static_cast<NDK_SRQ*>(other);
    auto* xqp = static_cast<NDK_QP*>(other);
    auto* xcon = static_cast<NDK_CONNECTOR*>(other);
    auto* xlis = static_cast<NDK_LISTENER*>(other);
    auto* xad = static_cast<NDK_ADAPTER*>(other);
    SCOPED_TRACE(pass == 0 ? "NULL object" : "object of another type");
    NDK_CQ* ocq = nullptr;
    NDK_MR* omr = nullptr;
    CONF_EXPECT_D_STATUS(want, adapter_->Dispatch->NdkCreateCq(xad, 4, &Recorder::onCqNotify, &rec, nullptr,
                                                               &Recorder::onCreate, &rec, &ocq));
    CONF_EXPECT_D_STATUS(want, cq->Dispatch->NdkResizeCq(xcq, 8, &Recorder::onRequest, &rec));
    CONF_EXPECT_D_STATUS(want, cq->Dispatch->NdkControlCqInterruptModeration(xcq, 0, 0));
    CONF_EXPECT_D_STATUS(want, pd->Dispatch->NdkCreateMr(xpd, FALSE, &Recorder::onCreate, &rec, &omr));
    CONF_EXPECT_D_STATUS(want, mr->Dispatch->NdkRegisterMr(xmr, buf.mdl(), PAGE_SIZE, 0, &Recorder::onRequest, &rec));
    CONF_EXPECT_D_STATUS(want, mr->Dispatch->NdkDeregisterMr(xmr, &Recorder::onRequest, &rec));
    CONF_EXPECT_D_STATUS(want, mr->Dispatch->NdkInitializeFastRegisterMr(xmr, 4, FALSE, &Recorder::onRequest, &rec));
    CONF_EXPECT_D_STATUS(want, srq->Dispatch->NdkModifySrq(xsrq, 0, 0, &Recorder::onRequest, &rec));
    CONF_EXPECT_D_STATUS(want, srq->Dispatch->NdkSrqReceive(xsrq, nullptr, &sge, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkReceive(xqp, nullptr, &sge, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkSend(xqp, nullptr, &sge, 0, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkWrite(xqp, nullptr, &sge, 0, 0, 0, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkRead(xqp, nullptr, &sge, 0, 0, 0, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkBind(xqp, nullptr, mr, mw, buf.data(), 16, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkInvalidate(xqp, nullptr, &mw->Header, 0));
    CONF_EXPECT_D_STATUS(want, qp->Dispatch->NdkSendAndInvalidate(xqp, nullptr, &sge, 0, 0, 1));
    len = sizeof a;
    CONF_EXPECT_D_STATUS(want, con->Dispatch->NdkGetLocalAddress(xcon, reinterpret_cast<PSOCKADDR>(&a), &len));
    len = sizeof a;
    CONF_EXPECT_D_STATUS(want, con->Dispatch->NdkGetPeerAddress(xcon, reinterpret_cast<PSOCKADDR>(&a), &len));
    CONF_EXPECT_D_STATUS(want, con->Dispatch->NdkGetConnectionData(xcon, &u1, &u2, nullptr, &len));
    CONF_EXPECT_D_STATUS(want, con->Dispatch->NdkReject(xcon, nullptr, 0));
    len = sizeof a;
    CONF_EXPECT_D_STATUS(want, lis->Dispatch->NdkGetLocalAddress(xlis, reinterpret_cast<PSOCKADDR>(&a), &len));
    CONF_EXPECT_D_STATUS(want, cq->Dispatch->NdkQueryExtension(pass == 0 ? nullptr : &pd->Header, &g,
                                                               NDK_VERSION{1, 0}, &ext));
    // Non-status functions: must not crash.
    NDK_RESULT r[2];
    EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(xcq, r, 2));
    cq->Dispatch->NdkArmCq(xcq, NDK_CQ_NOTIFY_ANY);
    qp->Dispatch->NdkFlush(xqp);
    (void)xmw;
    EXPECT_EQ(nullptr, ocq);
    EXPECT_EQ(nullptr, omr);
  }
  EXPECT_EQ(0u, rec.count()) << "R9: no callback for a failed call";
  // Everything still works.
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, nullptr));
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(1u, drainEx(cq, 1).size());
}

}  // namespace
}  // namespace conf
