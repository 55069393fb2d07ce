// PD, MR, MW, tokens (R120–R134, R139).
#include "base/config.h"
#include "provider/mr.h"
#include "provider/pd.h"
#include "provider_fixture.h"

namespace pt {
namespace {

class MemoryTest : public ProviderTest {
 protected:
  StagTable& stags() { return Object::resolveAs<Adapter>(a)->stags(); }
};

TEST_F(MemoryTest, R134_PrivilegedTokenPerAdapter) {
  NDK_PD *p1 = pd(), *p2 = pd();
  UINT32 t1 = 0, t2 = 0;
  p1->Dispatch->NdkGetPrivilegedMemoryRegionToken(p1, &t1);
  p2->Dispatch->NdkGetPrivilegedMemoryRegionToken(p2, &t2);
  EXPECT_NE(t1, 0u);
  EXPECT_EQ(t1, t2);
  p1->Dispatch->NdkGetPrivilegedMemoryRegionToken(p1, nullptr);  // rejected, no crash
  p1->Dispatch->NdkGetPrivilegedMemoryRegionToken(nullptr, &t2);
  EXPECT_EQ(t2, t1);
  EXPECT_FALSE(stags().lookup(t1).has_value());  // grants no remote access: not in the table
  EXPECT_EQ(closeAndWait(p1), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p2), STATUS_SUCCESS);
}

TEST_F(MemoryTest, R121_R123_R126_RegisterMrAndTokens) {
  NDK_PD* p = pd();
  Buffer buf(3 * PAGE_SIZE);
  NDK_MR* m = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &m), STATUS_SUCCESS);
  EXPECT_EQ(m->Dispatch->NdkGetRemoteTokenFromMr(m), 0u);  // not registered yet
  MdlChain chain(buf.p + 10, 2 * PAGE_SIZE, PAGE_SIZE);  // chain of 3 MDLs
  ASSERT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 2 * PAGE_SIZE, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, nullptr, nullptr),
            STATUS_SUCCESS);
  UINT32 t = m->Dispatch->NdkGetRemoteTokenFromMr(m);
  UINT32 priv = 0;
  p->Dispatch->NdkGetPrivilegedMemoryRegionToken(p, &priv);
  EXPECT_NE(t, 0u);
  EXPECT_NE(t, priv);
  EXPECT_EQ(m->Dispatch->NdkGetLocalTokenFromMr(m), t);
  auto e = stags().lookup(t);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->va, reinterpret_cast<std::uint64_t>(buf.p + 10));  // not zero-based
  EXPECT_EQ(e->length, 2u * PAGE_SIZE);
  EXPECT_TRUE(e->access & kAccessRemoteWrite);
  EXPECT_TRUE(e->access & kAccessLocalWrite);
  ASSERT_EQ(e->segments->size(), 2u);  // two MDLs of one page each
  EXPECT_EQ((*e->segments)[0].system, buf.p + 10);
  // Deregister, register again: a new token value.
  EXPECT_EQ(m->Dispatch->NdkDeregisterMr(m, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_FALSE(stags().lookup(t).has_value());  // R127
  EXPECT_EQ(m->Dispatch->NdkDeregisterMr(m, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  ASSERT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, PAGE_SIZE, 0, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_NE(m->Dispatch->NdkGetRemoteTokenFromMr(m), t);
  EXPECT_EQ(closeAndWait(m), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

TEST_F(MemoryTest, R120_R121_RegisterMrBadArguments) {
  NDK_PD* p = pd();
  Buffer buf(2 * PAGE_SIZE);
  MdlChain chain(buf.p, PAGE_SIZE);
  NDK_MR *m = nullptr, *f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &m), STATUS_SUCCESS);
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  EXPECT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(f->Dispatch->NdkRegisterMr(f, chain.m, 100, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // R120
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, nullptr, 100, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 0, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, PAGE_SIZE + 1, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 100, 0x100, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  MdlChain first(buf.p, 100), second(buf.p + 300, 100);
  first.m->Next = second.m;
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, first.m, 200, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  first.m->Next = nullptr;
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(reinterpret_cast<NDK_MR*>(p), chain.m, 100, 0, nullptr, nullptr),
            STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(m->Dispatch->NdkDeregisterMr(m, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // not registered
  EXPECT_EQ(f->Dispatch->NdkDeregisterMr(f, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  // Still works.
  ASSERT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 100, NDK_MR_FLAG_RDMA_READ_SINK, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 100, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // twice
  EXPECT_EQ(closeAndWait(m), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

TEST_F(MemoryTest, R139_RegistrationAboveMaxRegistrationSize) {
  ASSERT_TRUE(openndk::base::setTunable("max_registration_size", "8192"));
  Device small(3, "small", {}, true);
  openndk::base::resetTunables();
  NDK_ADAPTER* b = nullptr;
  ASSERT_EQ(Device::OpenNdkAdapter(&small, nullptr, &b), NDIS_STATUS_SUCCESS);
  NDK_PD* p = nullptr;
  ASSERT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p), STATUS_SUCCESS);
  NDK_MR *m = nullptr, *f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &m), STATUS_SUCCESS);
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  Buffer buf(3 * PAGE_SIZE);
  MdlChain chain(buf.p, 3 * PAGE_SIZE);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 8193, 0, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, 8192, 0, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 3, FALSE, nullptr, nullptr), STATUS_IMPLEMENTATION_LIMIT);
  EXPECT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 2, FALSE, nullptr, nullptr), STATUS_SUCCESS);
  ULONG sz = OPENNDK_LAM_SIZE(3), fbo = 0;
  std::vector<std::uint8_t> storage(sz);
  EXPECT_EQ(b->Dispatch->NdkBuildLAM(b, chain.m, 8193, nullptr, nullptr,
                                     reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data()), &sz, &fbo),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(closeAndWait(m), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
  Device::CloseNdkAdapter(&small, b);
}

TEST_F(MemoryTest, R128_InitializeFastRegisterMr) {
  NDK_PD* p = pd();
  Buffer buf(PAGE_SIZE);
  NDK_MR* m = mr(p, buf);
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  EXPECT_EQ(m->Dispatch->NdkInitializeFastRegisterMr(m, 4, TRUE, nullptr, nullptr), STATUS_INVALID_PARAMETER);  // R120
  EXPECT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 0, TRUE, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  const ULONG maxPages = static_cast<ULONG>(std::min<SIZE_T>(info.MaxRegistrationSize / PAGE_SIZE, MAXULONG));
  if (maxPages < MAXULONG) {
    EXPECT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, maxPages + 1, TRUE, nullptr, nullptr),
              STATUS_IMPLEMENTATION_LIMIT);
  }
  EXPECT_EQ(f->Dispatch->NdkGetRemoteTokenFromMr(f), 0u);
  ASSERT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 16, TRUE, nullptr, nullptr), STATUS_SUCCESS);
  UINT32 t0 = f->Dispatch->NdkGetRemoteTokenFromMr(f);
  EXPECT_NE(t0, 0u);
  EXPECT_FALSE(stags().lookup(t0).has_value());  // reserved, not valid before a registration
  EXPECT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 8, FALSE, nullptr, nullptr), STATUS_SUCCESS);  // again
  ULONG pages = 0;
  bool remote = true;
  ASSERT_TRUE(Object::resolveAs<Mr>(f)->fastInitialized(&pages, &remote));
  EXPECT_EQ(pages, 8u);
  EXPECT_FALSE(remote);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(m), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

// The execution half of fast registration (the data path calls it): R126 (amended) the token of
// NdkInitializeFastRegisterMr is kept across registrations, and invalid between an invalidation and
// the next registration; R131 one valid registration; R56 invalidate of an invalid token fails.
TEST_F(MemoryTest, R126_R131_FastRegisterKeepsItsToken) {
  NDK_PD* p = pd();
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  ASSERT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 4, TRUE, nullptr, nullptr), STATUS_SUCCESS);
  const UINT32 t0 = f->Dispatch->NdkGetRemoteTokenFromMr(f);
  ASSERT_NE(t0, 0u);
  Mr* fm = Object::resolveAs<Mr>(f);
  Buffer buf(2 * PAGE_SIZE);
  std::vector<std::uint64_t> pages = {reinterpret_cast<std::uint64_t>(buf.p),
                                      reinterpret_cast<std::uint64_t>(buf.p) + PAGE_SIZE};
  EXPECT_FALSE(stags().lookup(t0).has_value()) << "not registered yet: the token grants nothing";
  EXPECT_EQ(fm->reserveFastToken(), t0);
  ASSERT_EQ(fm->applyFastRegister(t0, pages, 0, 100, 0, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_SUCCESS);
  EXPECT_TRUE(stags().lookup(t0).has_value());
  EXPECT_EQ(fm->invalidate(t0), STATUS_SUCCESS);
  EXPECT_FALSE(stags().lookup(t0).has_value()) << "R126: invalid between invalidation and registration";
  EXPECT_EQ(fm->reserveFastToken(), t0);
  EXPECT_FALSE(stags().lookup(t0).has_value()) << "reserved, not yet applied";
  ASSERT_EQ(fm->applyFastRegister(t0, pages, 0, 100, 0, 0), STATUS_SUCCESS);
  EXPECT_TRUE(stags().lookup(t0).has_value());
  EXPECT_EQ(f->Dispatch->NdkGetRemoteTokenFromMr(f), t0);
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

// With frmr_token_rotation=1: a new token per registration; the stale one is refused.
TEST_F(MemoryTest, R126_R131_FastRegisterExecutionWithTokenRotation) {
  ASSERT_TRUE(openndk::base::setTunable("frmr_token_rotation", "1"));
  struct Restore {
    ~Restore() { openndk::base::setTunable("frmr_token_rotation", "0"); }
  } restore;
  NDK_PD* p = pd();
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  ASSERT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 4, TRUE, nullptr, nullptr), STATUS_SUCCESS);
  Mr* fm = Object::resolveAs<Mr>(f);
  Buffer buf(2 * PAGE_SIZE);
  std::vector<std::uint64_t> pages = {reinterpret_cast<std::uint64_t>(buf.p),
                                      reinterpret_cast<std::uint64_t>(buf.p) + PAGE_SIZE};
  UINT32 t1 = fm->reserveFastToken();
  EXPECT_EQ(f->Dispatch->NdkGetRemoteTokenFromMr(f), t1);
  ASSERT_EQ(fm->applyFastRegister(t1, pages, 16, 1000, 0x10010, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_SUCCESS);
  auto e = stags().lookup(t1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->va, 0x10010u);
  EXPECT_EQ((*e->segments)[0].system, buf.p + 16);
  EXPECT_EQ(fm->reserveFastToken(), 0u);  // R131: still valid
  EXPECT_EQ(fm->invalidate(t1), STATUS_SUCCESS);
  EXPECT_FALSE(stags().lookup(t1).has_value());
  EXPECT_EQ(fm->invalidate(t1), STATUS_INVALID_PARAMETER);  // R56
  UINT32 t2 = fm->reserveFastToken();
  EXPECT_NE(t2, t1);
  EXPECT_NE(t2, 0u);
  EXPECT_EQ(fm->applyFastRegister(t1, pages, 0, 10, 0, 0), STATUS_INVALID_PARAMETER);  // stale token
  EXPECT_EQ(closeAndWait(f), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

// Windows: token lifecycle and MR → MW antecedence once bound (R24, R126, R127, R133).
TEST_F(MemoryTest, R24_R127_WindowBindLifecycle) {
  NDK_PD* p = pd();
  Buffer buf(2 * PAGE_SIZE);
  NDK_MR* m = mr(p, buf, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  NDK_MW* w = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMw(p, createDone, nullptr, &w), STATUS_SUCCESS);
  EXPECT_EQ(p->Dispatch->NdkCreateMw(p, createDone, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(w), 0u);
  Mw* mw = Object::resolveAs<Mw>(w);
  UINT32 t = mw->reserveToken();
  ASSERT_NE(t, 0u);
  std::uint64_t va = reinterpret_cast<std::uint64_t>(buf.p) + 100;
  ASSERT_EQ(mw->applyBind(t, Object::resolveAs<Mr>(m), va, 200, NDK_OP_FLAG_ALLOW_REMOTE_WRITE), STATUS_SUCCESS);
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(w), t);
  auto e = stags().lookup(t);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, StagKind::Mw);
  EXPECT_EQ(e->segOffset, 100u);
  EXPECT_TRUE(e->access & kAccessRemoteWrite);
  // Rebind: new token, old one dead.
  UINT32 t2 = mw->reserveToken();
  EXPECT_NE(t2, t);
  EXPECT_FALSE(stags().lookup(t).has_value());
  ASSERT_EQ(mw->applyBind(t2, Object::resolveAs<Mr>(m), va, 200, NDK_OP_FLAG_ALLOW_REMOTE_READ), STATUS_SUCCESS);
  EXPECT_EQ(mw->applyBind(t2, Object::resolveAs<Mr>(m), va, 3 * PAGE_SIZE, 0), STATUS_INVALID_PARAMETER);  // outside
  // Deregistering the MR invalidates the window (R127 [D]).
  EXPECT_EQ(m->Dispatch->NdkDeregisterMr(m, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_FALSE(stags().lookup(t2).has_value());
  // MR close while the bound window is open: pending until the window is closed (R24).
  Event mrClosed;
  EXPECT_EQ(m->Dispatch->NdkCloseMr(&m->Header, closeDone, &mrClosed), STATUS_PENDING);
  EXPECT_EQ(mrClosed.value(), 0);
  EXPECT_EQ(closeAndWait(w), STATUS_PENDING);  // its MR's close has started: completes first
  EXPECT_TRUE(mrClosed.wait());
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

TEST_F(MemoryTest, TokenGettersOnBadObjectsReturnZero) {
  NDK_PD* p = pd();
  Buffer buf(PAGE_SIZE);
  NDK_MR* m = mr(p, buf);
  NDK_MW* w = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMw(p, createDone, nullptr, &w), STATUS_SUCCESS);
  EXPECT_EQ(m->Dispatch->NdkGetRemoteTokenFromMr(nullptr), 0u);
  EXPECT_EQ(m->Dispatch->NdkGetLocalTokenFromMr(reinterpret_cast<NDK_MR*>(w)), 0u);  // wrong type
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(reinterpret_cast<NDK_MW*>(m)), 0u);
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(nullptr), 0u);
  EXPECT_NE(m->Dispatch->NdkGetRemoteTokenFromMr(m), 0u);  // still works
  EXPECT_EQ(closeAndWait(w), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(m), STATUS_SUCCESS);
  EXPECT_EQ(w->Dispatch->NdkGetRemoteTokenFromMw(w), 0u);  // closed: tombstone
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

TEST(StagTableTest, TokensNeverZeroNeverPrivilegedFreshPerRegistration) {
  StagTable t;
  UINT32 previous = 0;
  for (int i = 0; i < 1000; ++i) {
    StagEntry e;
    UINT32 tok = t.insert(e);
    EXPECT_NE(tok, 0u);
    EXPECT_NE(tok, t.privilegedToken());
    EXPECT_NE(tok, previous);  // the reused slot gets a key different from its last one
    UINT32 again = t.rekey(tok);
    EXPECT_NE(again, tok);
    EXPECT_FALSE(t.lookup(again).has_value());  // reserved until update
    EXPECT_TRUE(t.update(again, e));
    EXPECT_TRUE(t.lookup(again).has_value());
    EXPECT_FALSE(t.lookup(tok).has_value());
    t.remove(again);
    previous = again;
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.lookup(0).has_value());
  EXPECT_FALSE(t.lookup(t.privilegedToken()).has_value());
}

}  // namespace
}  // namespace pt
