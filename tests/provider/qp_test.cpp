// QP creation (R156), posting rules (R66–R71), DEFER (R58–R62), flush (R77, R78), close (R30),
// validation of the local-only initiator requests (R128–R133).
#include <cstring>

#include "provider/mr.h"
#include "provider/pd.h"
#include "provider_fixture.h"

namespace pt {
namespace {

PVOID ctx(std::uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class QpTest : public ProviderTest {
 protected:
  void SetUp() override {
    ProviderTest::SetUp();
    c = cq(256);
    p = pd();
    q = qp(p, c);
    buf = std::make_unique<Buffer>(4 * PAGE_SIZE);
    m = mr(p, *buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    token = m->Dispatch->NdkGetLocalTokenFromMr(m);
  }
  void TearDown() override {
    if (q) closeAndWait(q);
    closeAndWait(m);
    closeAndWait(p);
    closeAndWait(c);
    ProviderTest::TearDown();
  }
  NDK_SGE sge(std::size_t off, ULONG len) {
    NDK_SGE g{};
    g.VirtualAddress = buf->p + off;
    g.Length = len;
    g.MemoryRegionToken = token;
    return g;
  }
  FakeTransport* connect() {
    ft.qp = qpObj(q);
    qpObj(q)->attachTransport(&ft);
    return &ft;
  }
  NDK_CQ* c = nullptr;
  NDK_PD* p = nullptr;
  NDK_QP* q = nullptr;
  NDK_MR* m = nullptr;
  UINT32 token = 0;
  std::unique_ptr<Buffer> buf;
  FakeTransport ft;
};

TEST_F(QpTest, R156_CreateQpLimits) {
  NDK_QP* out = nullptr;
  auto create = [&](ULONG rq, ULONG iq, ULONG rs, ULONG is, ULONG inl) {
    return p->Dispatch->NdkCreateQp(p, c, c, nullptr, rq, iq, rs, is, inl, createDone, nullptr, &out);
  };
  EXPECT_EQ(create(info.MaxReceiveQueueDepth + 1, 1, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(1, info.MaxInitiatorQueueDepth + 1, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(1, 1, info.MaxReceiveRequestSge + 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(1, 1, 1, info.MaxInitiatorRequestSge + 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(1, 1, 1, 1, info.MaxInlineDataSize + 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(0, 1, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(1, 0, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateQp(p, nullptr, c, nullptr, 1, 1, 1, 1, 0, createDone, nullptr, &out),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(p->Dispatch->NdkCreateQp(p, c, reinterpret_cast<NDK_CQ*>(p), nullptr, 1, 1, 1, 1, 0, createDone, nullptr,
                                     &out),
            STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(p->Dispatch->NdkCreateQp(p, c, c, nullptr, 1, 1, 1, 1, 0, createDone, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
  // CQ of another adapter instance.
  NDK_ADAPTER* b = nullptr;
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), nullptr, &b), NDIS_STATUS_SUCCESS);
  NDK_CQ* other = nullptr;
  ASSERT_EQ(b->Dispatch->NdkCreateCq(b, 4, cqNotify, nullptr, nullptr, createDone, nullptr, &other), STATUS_SUCCESS);
  EXPECT_EQ(p->Dispatch->NdkCreateQp(p, c, other, nullptr, 1, 1, 1, 1, 0, createDone, nullptr, &out),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(closeAndWait(other), STATUS_SUCCESS);
  Device::CloseNdkAdapter(dev.get(), b);
  // The limits themselves are fine.
  ASSERT_EQ(create(info.MaxReceiveQueueDepth, info.MaxInitiatorQueueDepth, info.MaxReceiveRequestSge,
                   info.MaxInitiatorRequestSge, info.MaxInlineDataSize),
            STATUS_SUCCESS);
  EXPECT_EQ(out->Header.ObjectType, NdkObjectTypeQp);
  EXPECT_EQ(closeAndWait(out), STATUS_SUCCESS);
}

TEST_F(QpTest, R66_InitiatorCallsOnUnconnectedQp) {
  NDK_SGE g = sge(0, 100);
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), &g, 1, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(q->Dispatch->NdkSendAndInvalidate(q, ctx(1), &g, 1, 0, 0x1234), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(q->Dispatch->NdkWrite(q, ctx(1), &g, 1, 0x1000, 0x1234, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(q->Dispatch->NdkRead(q, ctx(1), &g, 1, 0x1000, 0x1234, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), nullptr, 0, 0), STATUS_CONNECTION_INVALID);  // nSge 0 is valid (R68)
  // No CQ entries for failed calls (R40).
  EXPECT_TRUE(drain(c).empty());
  // Receives are accepted any time (R66 [I]).
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(2), &g, 1), STATUS_SUCCESS);
}

TEST_F(QpTest, R68_R70_ReceiveValidation) {
  NDK_SGE g[5] = {sge(0, 10), sge(10, 10), sge(20, 10), sge(30, 10), sge(40, 10)};
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), g, 5), STATUS_INVALID_PARAMETER);  // QP MaxReceiveRequestSge 4
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), nullptr, 1), STATUS_INVALID_PARAMETER);
  NDK_SGE bad = sge(0, 10);
  bad.MemoryRegionToken = token ^ 0x1;  // wrong key
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &bad, 1), STATUS_INVALID_PARAMETER);
  NDK_SGE oob = sge(4 * PAGE_SIZE - 10, 11);  // one byte past the region
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &oob, 1), STATUS_INVALID_PARAMETER);
  NDK_SGE before = sge(0, 10);
  before.VirtualAddress = buf->p - 1;
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &before, 1), STATUS_INVALID_PARAMETER);
  // A region without local write cannot be a receive buffer.
  Buffer ro(PAGE_SIZE);
  NDK_MR* rom = mr(p, ro, 0);
  NDK_SGE r{};
  r.VirtualAddress = ro.p;
  r.Length = 10;
  r.MemoryRegionToken = rom->Dispatch->NdkGetLocalTokenFromMr(rom);
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &r, 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(closeAndWait(rom), STATUS_SUCCESS);
  // Privileged token: only logical addresses of a LAM of this adapter.
  UINT32 priv = 0;
  p->Dispatch->NdkGetPrivilegedMemoryRegionToken(p, &priv);
  NDK_SGE pg{};
  pg.LogicalAddress.QuadPart = reinterpret_cast<LONGLONG>(buf->p);
  pg.Length = 64;
  pg.MemoryRegionToken = priv;
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &pg, 1), STATUS_INVALID_PARAMETER);
  MdlChain chain(buf->p, PAGE_SIZE);
  std::vector<std::uint8_t> storage(OPENNDK_LAM_SIZE(1));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ULONG sz = static_cast<ULONG>(storage.size()), fbo = 0;
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, PAGE_SIZE, nullptr, nullptr, lam, &sz, &fbo), STATUS_SUCCESS);
  pg.LogicalAddress = lam->AdapterPageArray[0];
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(3), &pg, 1), STATUS_SUCCESS);
  pg.Length = PAGE_SIZE + 1;  // runs off the mapping
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &pg, 1), STATUS_INVALID_PARAMETER);
  a->Dispatch->NdkReleaseLAM(a, lam);
  // Valid posts still work; no entries were produced by the failures.
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(4), g, 4), STATUS_SUCCESS);
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(5), nullptr, 0), STATUS_SUCCESS);
  EXPECT_EQ(qpObj(q)->receiveOutstanding(), 3u);
  EXPECT_TRUE(drain(c).empty());
}

TEST_F(QpTest, R67_ReceiveQueueDepth) {
  NDK_SGE g = sge(0, 8);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(i), &g, 1), STATUS_SUCCESS);
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(9), &g, 1), STATUS_INSUFFICIENT_RESOURCES);
  // A consumed receive frees its slot once its completion is queued.
  ReceiveRequest r;
  ASSERT_TRUE(qpObj(q)->takeReceive(&r));
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(9), &g, 1), STATUS_INSUFFICIENT_RESOURCES);
  qpObj(q)->completeReceive(r, STATUS_SUCCESS, 8, false, 0);
  EXPECT_EQ(q->Dispatch->NdkReceive(q, ctx(9), &g, 1), STATUS_SUCCESS);
  auto e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].BytesTransferred, 8u);
  EXPECT_EQ(e[0].RequestContext, ctx(0));
  EXPECT_EQ(e[0].QPContext, ctx(0x9a9a));
}

TEST_F(QpTest, R77_FlushCancelsPendingReceivesInOrderOnce) {
  NDK_SGE g = sge(0, 8);
  for (std::uintptr_t i = 1; i <= 5; ++i) ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(i), &g, 1), STATUS_SUCCESS);
  q->Dispatch->NdkFlush(q);
  ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(6), &g, 1), STATUS_SUCCESS);  // after the flush: not affected
  q->Dispatch->NdkFlush(nullptr);                                        // rejected, no crash
  auto e = drain(c);
  ASSERT_EQ(e.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(e[i].Status, STATUS_CANCELLED);
    EXPECT_EQ(e[i].RequestContext, ctx(i + 1));
    EXPECT_EQ(e[i].Type, NdkOperationTypeReceive);  // R38 also for flushed entries
  }
  EXPECT_EQ(qpObj(q)->receiveOutstanding(), 1u);
  q->Dispatch->NdkFlush(q);
  e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].RequestContext, ctx(6));
}

TEST_F(QpTest, R30_CloseFlushesAndEntriesStayInCq) {
  NDK_SGE g = sge(0, 8);
  ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &g, 1), STATUS_SUCCESS);
  ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(2), &g, 1), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(q), STATUS_SUCCESS);
  q = nullptr;
  auto e = drain(c);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].Status, STATUS_CANCELLED);
  EXPECT_EQ(e[0].QPContext, ctx(0x9a9a));
  EXPECT_EQ(e[1].RequestContext, ctx(2));
}

TEST_F(QpTest, R68_R71_InitiatorValidation) {
  NDK_SGE g[5] = {sge(0, 10), sge(10, 10), sge(20, 10), sge(30, 10), sge(40, 10)};
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), g, 5, 0), STATUS_INVALID_PARAMETER);  // > QP MaxInitiatorRequestSge
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), g, 1, 0x400), STATUS_INVALID_PARAMETER);  // unknown flag
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), nullptr, 2, 0), STATUS_INVALID_PARAMETER);
  NDK_SGE bad = sge(0, 10);
  bad.MemoryRegionToken = 0;
  EXPECT_EQ(q->Dispatch->NdkWrite(q, ctx(1), &bad, 1, 0, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(q->Dispatch->NdkRead(q, ctx(1), g, 1, 0, 1, NDK_OP_FLAG_INLINE), STATUS_INVALID_PARAMETER);
  // INLINE: no SGE count limit, token ignored, total <= InlineDataSize (64).
  NDK_SGE in[6];
  for (int i = 0; i < 6; ++i) {
    in[i] = sge(i * 10, 10);
    in[i].MemoryRegionToken = 0xdead;
  }
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), in, 6, NDK_OP_FLAG_INLINE), STATUS_CONNECTION_INVALID);  // 60 bytes: valid
  in[5].Length = 15;
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(1), in, 6, NDK_OP_FLAG_INLINE), STATUS_INVALID_PARAMETER);  // 65 bytes
  EXPECT_EQ(q->Dispatch->NdkSend(q, nullptr, g, 4, 0), STATUS_CONNECTION_INVALID);  // valid args
  EXPECT_EQ(q->Dispatch->NdkSend(reinterpret_cast<NDK_QP*>(c), nullptr, g, 1, 0), STATUS_OBJECT_TYPE_MISMATCH);
}

TEST_F(QpTest, R68_ReadSgeLimitIsMinOfAdapterAndQp) {
  NDK_QP* q2 = qp(p, c, 4, 4, 4, info.MaxInitiatorRequestSge, 0);
  std::vector<NDK_SGE> g(info.MaxInitiatorRequestSge + 1, sge(0, 1));
  EXPECT_EQ(q2->Dispatch->NdkRead(q2, nullptr, g.data(), info.MaxReadRequestSge + 1, 0, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(q2->Dispatch->NdkRead(q2, nullptr, g.data(), info.MaxReadRequestSge, 0, 1, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(closeAndWait(q2), STATUS_SUCCESS);
}

TEST_F(QpTest, R40_R67_R71_ConnectedPostsAndCompletions) {
  auto* t = connect();
  std::memset(buf->p, 0xab, 32);
  NDK_SGE g = sge(0, 32);
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(1), &g, 1, NDK_OP_FLAG_INLINE), STATUS_SUCCESS);
  std::memset(buf->p, 0, 32);  // R71: copied before the call returned
  ASSERT_EQ(t->submitted.size(), 1u);
  EXPECT_TRUE(t->submitted[0].isInline);
  EXPECT_EQ(std::vector<std::uint8_t>(t->submitted[0].inlineData.begin(), t->submitted[0].inlineData.end()), std::vector<std::uint8_t>(32, 0xab));
  ASSERT_EQ(q->Dispatch->NdkWrite(q, ctx(2), &g, 1, 0x5000, 77, NDK_OP_FLAG_SILENT_SUCCESS), STATUS_SUCCESS);
  EXPECT_EQ(t->submitted[1].remoteAddress, 0x5000u);
  EXPECT_EQ(t->submitted[1].remoteToken, 77u);
  for (std::uintptr_t i = 3; i <= 8; ++i) ASSERT_EQ(q->Dispatch->NdkRead(q, ctx(i), &g, 1, 0, 1, 0), STATUS_SUCCESS);
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(9), &g, 1, 0), STATUS_INSUFFICIENT_RESOURCES);  // R67: depth 8
  t->completeAll();
  EXPECT_EQ(qpObj(q)->initiatorOutstanding(), 0u);
  auto e = drain(c);
  ASSERT_EQ(e.size(), 7u);  // the silent write produced none (R40)
  EXPECT_EQ(e[0].Type, NdkOperationTypeSend);
  EXPECT_EQ(e[1].Type, NdkOperationTypeRead);
  EXPECT_EQ(e[1].RequestContext, ctx(3));
  // A failing silent request does produce an entry.
  ASSERT_EQ(q->Dispatch->NdkWrite(q, ctx(10), &g, 1, 0, 1, NDK_OP_FLAG_SILENT_SUCCESS), STATUS_SUCCESS);
  t->completeAll(STATUS_ACCESS_VIOLATION);
  e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].Status, STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(e[0].Type, NdkOperationTypeWrite);
  qpObj(q)->detachTransport();
}

TEST_F(QpTest, R58_R61_R62_DeferredRequests) {
  auto* t = connect();
  NDK_SGE g = sge(0, 16);
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(1), &g, 1, NDK_OP_FLAG_DEFER), STATUS_SUCCESS);
  ASSERT_EQ(q->Dispatch->NdkWrite(q, ctx(2), &g, 1, 0, 1, NDK_OP_FLAG_DEFER), STATUS_SUCCESS);
  EXPECT_TRUE(t->submitted.empty());  // held
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(3), &g, 1, 0), STATUS_SUCCESS);
  ASSERT_EQ(t->submitted.size(), 3u);  // R61: all handed over, in order
  EXPECT_EQ(t->submitted[0].requestContext, ctx(1));
  EXPECT_EQ(t->submitted[2].requestContext, ctx(3));
  t->completeAll();
  drain(c);
  // R62/R60: a deferred success followed by a failing call → the first is handed over.
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(4), &g, 1, NDK_OP_FLAG_DEFER), STATUS_SUCCESS);
  NDK_SGE bad = sge(0, 16);
  bad.MemoryRegionToken = 1;
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(5), &bad, 1, NDK_OP_FLAG_DEFER), STATUS_INVALID_PARAMETER);
  ASSERT_EQ(t->submitted.size(), 1u);
  EXPECT_EQ(t->submitted[0].requestContext, ctx(4));
  t->completeAll();
  auto e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].RequestContext, ctx(4));
  qpObj(q)->detachTransport();
}

TEST_F(QpTest, R77_R78_FlushWithTransport) {
  auto* t = connect();
  NDK_SGE g = sge(0, 16);
  ASSERT_EQ(q->Dispatch->NdkReceive(q, ctx(1), &g, 1), STATUS_SUCCESS);
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(2), &g, 1, 0), STATUS_SUCCESS);
  ASSERT_EQ(q->Dispatch->NdkSend(q, ctx(3), &g, 1, NDK_OP_FLAG_DEFER), STATUS_SUCCESS);
  q->Dispatch->NdkFlush(q);
  EXPECT_EQ(t->flushes, 1);
  auto e = drain(c);
  ASSERT_EQ(e.size(), 3u);
  for (auto& r : e) EXPECT_EQ(r.Status, STATUS_CANCELLED);
  EXPECT_EQ(e[1].RequestContext, ctx(2));
  EXPECT_EQ(e[2].RequestContext, ctx(3));
  // R78: still connected, new requests execute.
  EXPECT_EQ(q->Dispatch->NdkSend(q, ctx(4), &g, 1, 0), STATUS_SUCCESS);
  t->completeAll();
  e = drain(c);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].Status, STATUS_SUCCESS);
  qpObj(q)->detachTransport();
}

// R128–R131: NdkFastRegister argument validation (inline, before the connection check).
TEST_F(QpTest, R130_FastRegisterValidation) {
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  MdlChain chain(buf->p, 4 * PAGE_SIZE);
  std::vector<std::uint8_t> storage(OPENNDK_LAM_SIZE(4));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ULONG sz = static_cast<ULONG>(storage.size()), fbo = 0;
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, 4 * PAGE_SIZE, nullptr, nullptr, lam, &sz, &fbo), STATUS_SUCCESS);
  const NDK_LOGICAL_ADDRESS* pages = lam->AdapterPageArray;
  PVOID base = reinterpret_cast<PVOID>(0x40000);
  auto fr = [&](NDK_MR* mr_, ULONG n, const NDK_LOGICAL_ADDRESS* pa, ULONG fbo_, SIZE_T len, PVOID va, ULONG fl) {
    return q->Dispatch->NdkFastRegister(q, ctx(1), mr_, n, pa, fbo_, len, va, fl);
  };
  EXPECT_EQ(fr(f, 2, pages, 0, 100, base, 0), STATUS_INVALID_PARAMETER);  // not initialized
  ASSERT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 2, FALSE, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(fr(m, 2, pages, 0, 100, base, 0), STATUS_INVALID_PARAMETER);        // normal MR (R120)
  EXPECT_EQ(fr(nullptr, 2, pages, 0, 100, base, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(reinterpret_cast<NDK_MR*>(p), 2, pages, 0, 100, base, 0), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(fr(f, 3, pages, 0, 100, base, 0), STATUS_INVALID_PARAMETER);        // above the initialized count
  EXPECT_EQ(fr(f, 0, pages, 0, 100, base, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(f, 2, nullptr, 0, 100, base, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(f, 2, pages, PAGE_SIZE, 100, base, 0), STATUS_INVALID_PARAMETER);  // FBO
  EXPECT_EQ(fr(f, 2, pages, 0, 2 * PAGE_SIZE + 1, base, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(f, 2, pages, 8, 2 * PAGE_SIZE - 7, reinterpret_cast<PVOID>(0x40008), 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(f, 2, pages, 0, 0, base, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(fr(f, 2, pages, 8, 100, base, 0), STATUS_INVALID_PARAMETER);  // base VA % PAGE_SIZE != FBO
  NDK_LOGICAL_ADDRESS odd[2] = {pages[0], pages[1]};
  odd[1].QuadPart += 8;
  EXPECT_EQ(fr(f, 2, odd, 0, 100, base, 0), STATUS_INVALID_PARAMETER);  // not aligned
  odd[1].QuadPart = 0x7000000;
  EXPECT_EQ(fr(f, 2, odd, 0, 100, base, 0), STATUS_INVALID_PARAMETER);  // not a LAM page
  EXPECT_EQ(fr(f, 2, pages, 0, 100, base, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_ACCESS_VIOLATION);  // R129
  // Valid: fails only because the QP is not connected (R66).
  EXPECT_EQ(fr(f, 2, pages, 8, 100, reinterpret_cast<PVOID>(0x40008), NDK_OP_FLAG_RDMA_READ_SINK),
            STATUS_CONNECTION_INVALID);
  // Connected: accepted; the MR keeps the token it got at initialisation (R126 amended).
  auto* t = connect();
  UINT32 before = f->Dispatch->NdkGetRemoteTokenFromMr(f);
  ASSERT_EQ(fr(f, 2, pages, 0, 100, base, NDK_OP_FLAG_ALLOW_LOCAL_WRITE), STATUS_SUCCESS);
  UINT32 after = f->Dispatch->NdkGetRemoteTokenFromMr(f);
  EXPECT_EQ(after, before);
  ASSERT_EQ(t->submitted.size(), 1u);
  EXPECT_EQ(t->submitted[0].newToken, after);
  EXPECT_EQ(t->submitted[0].type, NdkOperationTypeFastRegister);
  t->completeAll();
  drain(c);
  qpObj(q)->detachTransport();
  a->Dispatch->NdkReleaseLAM(a, lam);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
}

TEST_F(QpTest, R133_BindValidation) {
  NDK_MW* w = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMw(p, createDone, nullptr, &w), STATUS_SUCCESS);
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  Buffer ro(PAGE_SIZE);
  NDK_MR* rom = mr(p, ro, NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* unreg = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &unreg), STATUS_SUCCESS);
  PVOID va = buf->p + 64;
  auto bind = [&](NDK_MR* mr_, NDK_MW* mw_, PVOID v, SIZE_T len, ULONG fl) {
    return q->Dispatch->NdkBind(q, ctx(1), mr_, mw_, v, len, fl);
  };
  EXPECT_EQ(bind(nullptr, w, va, 64, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(bind(m, nullptr, va, 64, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(bind(m, reinterpret_cast<NDK_MW*>(m), va, 64, 0), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(bind(f, w, va, 64, 0), STATUS_INVALID_PARAMETER);      // fast MR
  EXPECT_EQ(bind(unreg, w, va, 64, 0), STATUS_INVALID_PARAMETER);  // not registered
  EXPECT_EQ(bind(m, w, va, 0, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(bind(m, w, va, 4 * PAGE_SIZE, 0), STATUS_INVALID_PARAMETER);  // beyond the MR
  EXPECT_EQ(bind(m, w, buf->p - 1, 8, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(bind(rom, w, ro.p, 8, NDK_OP_FLAG_ALLOW_REMOTE_WRITE), STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(bind(m, w, va, 64, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_CONNECTION_INVALID);    // valid
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(w), 0u);  // nothing happened
  auto* t = connect();
  ASSERT_EQ(bind(m, w, va, 64, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_SUCCESS);
  UINT32 tok = w->Dispatch->NdkGetRemoteTokenFromMw(w);
  EXPECT_NE(tok, 0u);  // R126: available once NdkBind returned
  ASSERT_EQ(t->submitted.size(), 1u);
  EXPECT_EQ(t->submitted[0].newToken, tok);
  t->completeAll();
  drain(c);
  qpObj(q)->detachTransport();
  EXPECT_EQ(closeAndWait(w), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(rom), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(unreg), STATUS_SUCCESS);
}

TEST_F(QpTest, R132_InvalidateValidation) {
  NDK_MW* w = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMw(p, createDone, nullptr, &w), STATUS_SUCCESS);
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), nullptr, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), &m->Header, 0), STATUS_INVALID_PARAMETER);  // normal MR
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), &c->Header, 0), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), &w->Header, 0x800), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), &w->Header, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(q->Dispatch->NdkInvalidate(q, ctx(1), &f->Header, 0), STATUS_CONNECTION_INVALID);
  EXPECT_EQ(closeAndWait(w), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
}

}  // namespace
}  // namespace pt
