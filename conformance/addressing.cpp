// Conformance: addresses and limits that are indices or totals rather than what they look like
// (NDKPI.md R86 read limits of NDIS_NDK_CAPABILITIES vs NDK_ADAPTER_INFO, R122 the MDL virtual
// address names a region and is never dereferenced).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <ndk/ndk_host.h>

#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

NDK_SGE sgeAt(const void* va, ULONG len, UINT32 token) {
  NDK_SGE s{};
  s.VirtualAddress = const_cast<PVOID>(va);
  s.Length = len;
  s.MemoryRegionToken = token;
  return s;
}

// ---- R86 -------------------------------------------------------------------------------------

class ReadLimits : public NdkTest {};

// R86: NDIS_NDK_CAPABILITIES.Max{In,Out}boundReadLimit are adapter-wide totals (0 = none); the
// per-QP limits are NDK_ADAPTER_INFO's. Checked through the host side (the capabilities the
// miniport reports to NDIS, ndk_host.h) and the adapter info of an open adapter.
TEST_F(ReadLimits, R86_AdapterTotalsVersusPerQpLimits) {
  NDIS_NDK_CAPABILITIES caps{};
  NDK_ADAPTER_INFO hostInfo{};
  CONF_ASSERT_STATUS(NDIS_STATUS_SUCCESS, OpenNdkQueryInterfaceCapabilities(interfaceUnderTest(), &caps, &hostInfo));
  // The host's view of the per-QP limits is the adapter info the consumer sees.
  EXPECT_EQ(info_.MaxInboundReadLimit, hostInfo.MaxInboundReadLimit);
  EXPECT_EQ(info_.MaxOutboundReadLimit, hostInfo.MaxOutboundReadLimit);
  ASSERT_GE(info_.MaxInboundReadLimit, 1u);
  ASSERT_GE(info_.MaxOutboundReadLimit, 1u);
  // A non-zero adapter-wide total can never be below what one QP may use.
  if (caps.MaxInboundReadLimit != 0) {
    EXPECT_GE(caps.MaxInboundReadLimit, info_.MaxInboundReadLimit);
  }
  if (caps.MaxOutboundReadLimit != 0) {
    EXPECT_GE(caps.MaxOutboundReadLimit, info_.MaxOutboundReadLimit);
  }
  if (strict()) {
    // This provider reports no adapter-wide limit (docs/decisions.md, src/provider/device.cpp).
    EXPECT_EQ(0u, caps.MaxInboundReadLimit);
    EXPECT_EQ(0u, caps.MaxOutboundReadLimit);
  }

  // Per QP: a connection asking for more than NDK_ADAPTER_INFO allows gets exactly the per-QP
  // maxima (R82/R83 caps), and with no adapter-wide total every connection gets them, however
  // many there are (a provider treating the 0 total as "no reads" or applying the per-QP value
  // adapter-wide would lower the later ones).
  const ULONG askIrd = info_.MaxInboundReadLimit + 1000, askOrd = info_.MaxOutboundReadLimit + 1000;
  const int pairs = caps.MaxInboundReadLimit == 0 && caps.MaxOutboundReadLimit == 0 ? 3 : 1;
  for (int i = 0; i < pairs; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    Pair& p = newPair();
    NTSTATUS st = connectPair(p, askIrd, askOrd, nullptr, 0, nullptr, 0, 8);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    for (NDK_CONNECTOR* c : {p.active.con, p.passive.con}) {
      ULONG ird = 0, ord = 0, len = 0;
      CONF_ASSERT_STATUS(STATUS_SUCCESS, c->Dispatch->NdkGetConnectionData(c, &ird, &ord, nullptr, &len));
      EXPECT_EQ(info_.MaxInboundReadLimit, ird) << "R82/R86: IRD is capped at the per-QP limit";
      EXPECT_EQ(info_.MaxOutboundReadLimit, ord) << "R83/R86: ORD is capped at the per-QP limit";
    }
  }
}

// ---- R122 ------------------------------------------------------------------------------------

// The same pages at two addresses, as an MDL for a buffer of another address space looks to a
// kernel driver: StartVa/ByteOffset name the buffer where its owner sees it (`named`), the data is
// reachable only through the system mapping (`system`, MappedSystemVa with MDL_MAPPED_TO_SYSTEM_VA,
// what MmMapLockedPagesSpecifyCache records). The named mapping is PROT_NONE: a provider that
// dereferenced the MDL's virtual address (or an address derived from it) would crash.
class AliasedBuffer {
 public:
  AliasedBuffer(size_t bytes, size_t offset) : bytes_(bytes), offset_(offset) {
    fd_ = memfd_create("conf-r122", 0);
    if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(bytes + PAGE_SIZE)) != 0) return;
    const size_t map = bytes + PAGE_SIZE;
    void* s = mmap(nullptr, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    void* n = mmap(nullptr, map, PROT_NONE, MAP_SHARED, fd_, 0);
    if (s == MAP_FAILED || n == MAP_FAILED) return;
    system_ = static_cast<char*>(s);
    named_ = static_cast<char*>(n);
    mdl_ = IoAllocateMdl(named_ + offset_, static_cast<ULONG>(bytes_), FALSE, FALSE, nullptr);
    if (!mdl_) return;
    MmProbeAndLockPages(mdl_, KernelMode, IoModifyAccess);
    mdl_->MappedSystemVa = system_ + offset_;
    mdl_->MdlFlags = static_cast<CSHORT>(mdl_->MdlFlags | MDL_MAPPED_TO_SYSTEM_VA);
  }
  ~AliasedBuffer() {
    if (mdl_) {
      MmUnlockPages(mdl_);
      IoFreeMdl(mdl_);
    }
    if (system_) munmap(system_, bytes_ + PAGE_SIZE);
    if (named_) munmap(named_, bytes_ + PAGE_SIZE);
    if (fd_ >= 0) close(fd_);
  }
  AliasedBuffer(const AliasedBuffer&) = delete;
  AliasedBuffer& operator=(const AliasedBuffer&) = delete;
  bool ok() const { return mdl_ != nullptr; }
  char* data() const { return system_ + offset_; }         // where the bytes really are
  char* named() const { return named_ + offset_; }         // the MDL's virtual address (inaccessible)
  UINT64 namedAt(size_t off) const { return reinterpret_cast<UINT64>(named() + off); }
  PMDL mdl() const { return mdl_; }
  size_t size() const { return bytes_; }

 private:
  int fd_ = -1;
  size_t bytes_, offset_;
  char* system_ = nullptr;
  char* named_ = nullptr;
  PMDL mdl_ = nullptr;
};

class MdlIndex : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    Pair& p = newPair();
    p_ = &p;
    NTSTATUS st = connectPair(p, 4, 4, nullptr, 0, nullptr, 0, 16);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    alias_ = std::make_unique<AliasedBuffer>(3 * PAGE_SIZE, 0x123);
    ASSERT_TRUE(alias_->ok()) << "memfd/mmap failed";
    abuf_ = std::make_unique<MdlBuffer>(2 * PAGE_SIZE);
    amr_ = makeMr(p.pd, false);
    xmr_ = makeMr(p.pd, false);
    ASSERT_TRUE(amr_ && xmr_);
    const ULONG all = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                      NDK_MR_FLAG_RDMA_READ_SINK;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr_, *abuf_, abuf_->size(), all));
    // The aliased region is registered on the passive side through the MDL naming `named`.
    CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                         return xmr_->Dispatch->NdkRegisterMr(xmr_, alias_->mdl(), alias_->size(), all, cb, c);
                       }));
  }
  UINT32 atok() { return amr_->Dispatch->NdkGetLocalTokenFromMr(amr_); }
  UINT32 xtok() { return xmr_->Dispatch->NdkGetLocalTokenFromMr(xmr_); }
  UINT32 xrtok() { return xmr_->Dispatch->NdkGetRemoteTokenFromMr(xmr_); }
  NDK_QP* aqp() { return p_->active.qp; }
  NDK_QP* pqp() { return p_->passive.qp; }
  NDK_CQ* acq() { return p_->active.cq; }
  NDK_CQ* pcq() { return p_->passive.cq; }
  void expectOne(NDK_CQ* cq, uintptr_t c, ULONG bytes = MAXULONG) {
    auto got = drainEx(cq, 1);
    ASSERT_EQ(1u, got.size());
    CONF_EXPECT_STATUS(STATUS_SUCCESS, got[0].Status);
    EXPECT_EQ(ctx(c), got[0].RequestContext);
    if (bytes != MAXULONG) {
      EXPECT_EQ(bytes, got[0].BytesTransferred);
    }
  }

  Pair* p_ = nullptr;
  std::unique_ptr<AliasedBuffer> alias_;
  std::unique_ptr<MdlBuffer> abuf_;
  NDK_MR* amr_ = nullptr;
  NDK_MR* xmr_ = nullptr;
};

// R122: remote Write and Read address the region by the MDL's virtual address (an index into the
// named address space); the bytes land in, and come from, the pages the MDL describes.
TEST_F(MdlIndex, R122_RemoteWriteAndReadAddressTheNamedSpace) {
  for (int i = 0; i < 300; ++i) abuf_->data()[i] = static_cast<char>(i * 7 + 1);
  // A Write that crosses the region's first page boundary of the named space.
  const size_t at = PAGE_SIZE - 0x123 - 100;
  NDK_SGE s = sgeAt(abuf_->data(), 300, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(1), &s, 1, alias_->namedAt(at), xrtok(), 0));
  expectOne(acq(), 1);
  waitWritesPlaced(aqp(), acq(), ctx(10));  // R75: completion on hand-off
  EXPECT_EQ(0, std::memcmp(alias_->data() + at, abuf_->data(), 300)) << "Write did not land in the MDL's pages";

  // Read back from another place of the region.
  std::memset(alias_->data() + 2 * PAGE_SIZE, 'Q', 64);
  NDK_SGE sink = sgeAt(abuf_->data() + PAGE_SIZE, 64, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     aqp()->Dispatch->NdkRead(aqp(), ctx(2), &sink, 1, alias_->namedAt(2 * PAGE_SIZE), xrtok(), 0));
  expectOne(acq(), 2);
  EXPECT_EQ(std::string(64, 'Q'), std::string(abuf_->data() + PAGE_SIZE, 64));

  // The region's bounds are those of the named space: one byte past its end is refused (R75): the
  // Write may complete on hand-off, the Read issued behind it fails with the target's refusal.
  NDK_SGE one = sgeAt(abuf_->data(), 2, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(3), &one, 1, alias_->namedAt(alias_->size() - 1),
                                                              xrtok(), NDK_OP_FLAG_DEFER));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkRead(aqp(), ctx(4), nullptr, 0, 0, 0, 0));
  auto bad = drainEx(acq(), 2);
  ASSERT_EQ(2u, bad.size());
  EXPECT_FALSE(NT_SUCCESS(bad[1].Status)) << statusName(bad[1].Status);
}

// R122: local SGEs name the region the same way: a receive into, and a send from, the aliased
// region use addresses of the named space.
TEST_F(MdlIndex, R122_LocalSgesAddressTheNamedSpace) {
  NDK_SGE r = sgeAt(alias_->named() + 10, 200, xtok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkReceive(pqp(), ctx(1), &r, 1));
  std::memcpy(abuf_->data(), "named, not dereferenced", 23);
  NDK_SGE s = sgeAt(abuf_->data(), 23, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkSend(aqp(), ctx(2), &s, 1, 0));
  expectOne(pcq(), 1, 23);
  expectOne(acq(), 2);
  EXPECT_EQ(0, std::memcmp(alias_->data() + 10, "named, not dereferenced", 23));

  // And back: send from the aliased region (crossing a page of the named space).
  const size_t from = 2 * PAGE_SIZE - 0x123 - 8;
  std::memcpy(alias_->data() + from, "0123456789abcdef", 16);
  NDK_SGE r2 = sgeAt(abuf_->data() + 512, 64, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkReceive(aqp(), ctx(3), &r2, 1));
  NDK_SGE s2 = sgeAt(alias_->named() + from, 16, xtok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkSend(pqp(), ctx(4), &s2, 1, 0));
  expectOne(acq(), 3, 16);
  expectOne(pcq(), 4);
  EXPECT_EQ(0, std::memcmp(abuf_->data() + 512, "0123456789abcdef", 16));
}

// R122: NdkBind's VirtualAddress is an index too: a window bound at an address of the named space
// gives the remote peer that part of the MR's pages.
TEST_F(MdlIndex, R122_MemoryWindowBoundInTheNamedSpace) {
  NDK_MW* mw = makeMw(p_->pd);
  ASSERT_NE(nullptr, mw);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp()->Dispatch->NdkBind(pqp(), ctx(1), xmr_, mw, alias_->named() + PAGE_SIZE,
                                                             PAGE_SIZE, NDK_OP_FLAG_ALLOW_REMOTE_WRITE));
  expectOne(pcq(), 1);
  UINT32 wtok = mw->Dispatch->NdkGetRemoteTokenFromMw(mw);
  std::memcpy(abuf_->data(), "through the window", 18);
  NDK_SGE s = sgeAt(abuf_->data(), 18, atok());
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     aqp()->Dispatch->NdkWrite(aqp(), ctx(2), &s, 1, alias_->namedAt(PAGE_SIZE + 40), wtok, 0));
  expectOne(acq(), 2);
  waitWritesPlaced(aqp(), acq(), ctx(3));  // R75: completion on hand-off
  EXPECT_EQ(0, std::memcmp(alias_->data() + PAGE_SIZE + 40, "through the window", 18));
}

// R122 with fast registration: the LAM of the aliased MDL gives the pages (through the system
// mapping), NdkFastRegister's BaseVirtualAddress names them in the (inaccessible) named space.
TEST_F(MdlIndex, R122_FastRegisterBaseNamesTheLamPages) {
  NDK_MR* fmr = makeMr(p_->pd, true);
  ASSERT_NE(nullptr, fmr);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return fmr->Dispatch->NdkInitializeFastRegisterMr(fmr, 4, TRUE, cb, c);  // remote access (R129)
                     }));
  std::vector<unsigned char> lamMem(OPENNDK_LAM_SIZE(4));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lamMem.data());
  ULONG size = static_cast<ULONG>(lamMem.size()), fbo = 0;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return adapter_->Dispatch->NdkBuildLAM(adapter_, alias_->mdl(), alias_->size(), cb, c, lam, &size,
                                                              &fbo);
                     }));
  EXPECT_EQ(0x123u, fbo);
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     pqp()->Dispatch->NdkFastRegister(pqp(), ctx(1), fmr, lam->AdapterPageCount, lam->AdapterPageArray,
                                                      fbo, alias_->size(), alias_->named(), NDK_OP_FLAG_ALLOW_REMOTE_WRITE));
  expectOne(pcq(), 1);
  std::memcpy(abuf_->data(), "fast, through the LAM", 21);
  NDK_SGE s = sgeAt(abuf_->data(), 21, atok());
  const size_t at = PAGE_SIZE + 50;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, aqp()->Dispatch->NdkWrite(aqp(), ctx(2), &s, 1, alias_->namedAt(at),
                                                              fmr->Dispatch->NdkGetRemoteTokenFromMr(fmr), 0));
  expectOne(acq(), 2);
  waitWritesPlaced(aqp(), acq(), ctx(3));  // R75: completion on hand-off
  EXPECT_EQ(0, std::memcmp(alias_->data() + at, "fast, through the LAM", 21));
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
}

}  // namespace
}  // namespace conf
