// Conformance: memory registration, fast-register MRs, windows, privileged token and logical
// address mappings (NDKPI.md §5.13: R120–R140).
#include <sys/mman.h>

#include <cstring>

#include "consumer.h"

namespace conf {
namespace {

class Memory : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    pd_ = makePd();
    ASSERT_NE(nullptr, pd_);
  }
  NTSTATUS deregister(NDK_MR* mr) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) { return mr->Dispatch->NdkDeregisterMr(mr, cb, c); });
  }
  NTSTATUS initFast(NDK_MR* mr, ULONG pages, BOOLEAN remote) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return mr->Dispatch->NdkInitializeFastRegisterMr(mr, pages, remote, cb, c);
    });
  }
  NTSTATUS registerChain(NDK_MR* mr, PMDL chain, SIZE_T len, ULONG flags) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return mr->Dispatch->NdkRegisterMr(mr, chain, len, flags, cb, c);
    });
  }
  NTSTATUS buildLam(PMDL mdl, SIZE_T len, NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* size, ULONG* fbo) {
    return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return adapter_->Dispatch->NdkBuildLAM(adapter_, mdl, len, cb, c, lam, size, fbo);
    });
  }
  NDK_PD* pd_ = nullptr;
};

TEST_F(Memory, R123_R126_RegisterGivesDistinctNonZeroTokens) {
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  MdlBuffer buf(3 * PAGE_SIZE, 100);
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     registerMr(mr, buf, buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ));
  UINT32 priv = 0;
  pd_->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd_, &priv);
  UINT32 lt = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  UINT32 rt = mr->Dispatch->NdkGetRemoteTokenFromMr(mr);
  EXPECT_NE(0u, lt) << "R126 [D]";
  EXPECT_NE(0u, rt) << "R126 [D]";
  EXPECT_NE(priv, lt) << "R126 [D]";
  EXPECT_NE(priv, rt) << "R126 [D]";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, deregister(mr));
}

TEST_F(Memory, R121_LengthZeroAndBeyondChainFail) {
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  MdlBuffer buf(PAGE_SIZE);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerMr(mr, buf, 0, 0));
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, registerMr(mr, buf, PAGE_SIZE + 1, 0));
  // Still usable: a valid registration.
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, 0));
}

TEST_F(Memory, R121_NonContiguousChainFails) {
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  MdlBuffer a(PAGE_SIZE), b(PAGE_SIZE);
  // Two MDLs chained although b does not start where a ends.
  a.mdl()->Next = b.mdl();
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, registerMr(mr, a, 2 * PAGE_SIZE, 0));
  a.mdl()->Next = nullptr;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, a, PAGE_SIZE, 0));
}

TEST_F(Memory, R121_ContiguousChainRegisters) {
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  MdlBuffer buf(4 * PAGE_SIZE, 10);
  PMDL chain = OpenNdkAllocateMdlChain(buf.data(), buf.size(), PAGE_SIZE);
  ASSERT_NE(nullptr, chain);
  ASSERT_NE(nullptr, chain->Next);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerChain(mr, chain, buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, deregister(mr));
  OpenNdkFreeMdlChain(chain);
}

TEST_F(Memory, R120_WrongKindOfMrFails) {
  NDK_MR* normal = makeMr(pd_, false);
  NDK_MR* fast = makeMr(pd_, true);
  ASSERT_TRUE(normal && fast);
  MdlBuffer buf(PAGE_SIZE);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerMr(fast, buf, PAGE_SIZE, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, initFast(normal, 4, FALSE));
  // Both still usable for their own kind.
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(normal, buf, PAGE_SIZE, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, initFast(fast, 4, TRUE));
}

TEST_F(Memory, R127_DeregisterUnregisteredFailsAndReregisterWorks) {
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, deregister(mr));
  MdlBuffer buf(2 * PAGE_SIZE);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, buf.size(), 0));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, deregister(mr));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, deregister(mr));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, NDK_MR_FLAG_ALLOW_REMOTE_WRITE));
}

TEST_F(Memory, R128_FastRegisterInitLimits) {
  NDK_MR* fast = makeMr(pd_, true);
  ASSERT_NE(nullptr, fast);
  ULONG maxPages = static_cast<ULONG>(std::min<SIZE_T>(info_.MaxRegistrationSize / PAGE_SIZE, 0xFFFFFFF0u));
  if (strict()) {
    CONF_EXPECT_STATUS(STATUS_IMPLEMENTATION_LIMIT, initFast(fast, maxPages + 1, FALSE));  // [D] max
  }
  CONF_EXPECT_STATUS(STATUS_IMPLEMENTATION_LIMIT, initFast(fast, 0xFFFFFFFFu, FALSE));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, initFast(fast, info_.FRMRPageCount, TRUE));
  EXPECT_NE(0u, fast->Dispatch->NdkGetRemoteTokenFromMr(fast)) << "R126";
  EXPECT_NE(0u, fast->Dispatch->NdkGetLocalTokenFromMr(fast)) << "R126";
  // Re-initialization without a valid registration: allowed, latest parameters apply (R128 [D]).
  CONF_EXPECT_STATUS(STATUS_SUCCESS, initFast(fast, 16, FALSE));
}

TEST_F(Memory, R134_PrivilegedTokenSameForEveryPd) {
  NDK_PD* pd2 = makePd();
  ASSERT_NE(nullptr, pd2);
  UINT32 a = 0, b = 0, c = 0;
  pd_->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd_, &a);
  pd2->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd2, &b);
  pd_->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd_, &c);
  EXPECT_EQ(a, c);
  if (strict()) {
    EXPECT_EQ(a, b) << "R134 [D]";
  }
}

TEST_F(Memory, R135_R137_BuildLamSizesFboAndRelease) {
  const ULONG offset = 0x123;
  MdlBuffer buf(3 * PAGE_SIZE, offset);  // spans 4 pages
  const MDL before = *buf.mdl();
  ULONG pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(buf.data(), buf.size());
  ASSERT_EQ(4u, pages);
  ULONG size = 0, fbo = 0xFFFF;
  CONF_EXPECT_STATUS(STATUS_BUFFER_TOO_SMALL, buildLam(buf.mdl(), buf.size(), nullptr, &size, &fbo));
  EXPECT_EQ(OPENNDK_LAM_SIZE(pages), size) << "R135: required size";
  std::vector<unsigned char> mem(size);
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(mem.data());
  NDK_FN_REQUEST_COMPLETION cb = &Recorder::onRequest;
  Recorder& rec = newRecorder();
  NTSTATUS st = adapter_->Dispatch->NdkBuildLAM(adapter_, buf.mdl(), buf.size(), cb, &rec, lam, &size, &fbo);
  if (strict()) {
    CONF_EXPECT_STATUS(STATUS_SUCCESS, st);  // [D] inline
  }
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(rec.waitFor(1));
    st = rec.last().status;
  }
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  EXPECT_EQ(OPENNDK_LAM_SIZE(pages), size);
  EXPECT_EQ(offset, fbo) << "R135 [D]";
  EXPECT_EQ(pages, lam->AdapterPageCount);
  for (ULONG i = 0; i < lam->AdapterPageCount; ++i) {
    EXPECT_EQ(0, lam->AdapterPageArray[i].QuadPart & (PAGE_SIZE - 1)) << "page " << i << " not aligned";
  }
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
  EXPECT_EQ(0, std::memcmp(&before, buf.mdl(), sizeof before)) << "R137: MDL changed";
  // Adapter still usable: build again.
  size = static_cast<ULONG>(mem.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, buildLam(buf.mdl(), buf.size(), lam, &size, &fbo));
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
}

TEST_F(Memory, R121_R135_BuildLamBadRanges) {
  MdlBuffer buf(PAGE_SIZE);
  std::vector<unsigned char> mem(OPENNDK_LAM_SIZE(4));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(mem.data());
  ULONG size = static_cast<ULONG>(mem.size()), fbo = 0;
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, buildLam(buf.mdl(), 0, lam, &size, &fbo));
  size = static_cast<ULONG>(mem.size());
  CONF_EXPECT_STATUS(STATUS_INVALID_PARAMETER, buildLam(buf.mdl(), PAGE_SIZE + 1, lam, &size, &fbo));
  size = static_cast<ULONG>(mem.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, buildLam(buf.mdl(), PAGE_SIZE, lam, &size, &fbo));
  adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
}

// R138: LAMs still built at adapter close are released by the close (no hang, no leak report
// under ASan; tests/provider R138_AdapterCloseReleasesLams counts the live LAM records in every build).
TEST_F(Memory, R138_LamOutstandingAtAdapterClose) {
  MdlBuffer buf(2 * PAGE_SIZE);
  std::vector<unsigned char> mem(OPENNDK_LAM_SIZE(2));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(mem.data());
  ULONG size = static_cast<ULONG>(mem.size()), fbo = 0;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, buildLam(buf.mdl(), buf.size(), lam, &size, &fbo));
  // TearDown closes the adapter with the mapping still built.
}

// R139: registrations longer than MaxRegistrationSize fail. Needs a MaxRegistrationSize small
// enough to describe with reserved, untouched address space: run by the ctest entry
// "conformance.R139_RegistrationAboveMaxFails" with OPENNDK_MAX_REGISTRATION_SIZE=1 MiB (*Tuned
// suites: see adapter.cpp).
class MemoryTuned : public Memory {};

TEST_F(MemoryTuned, R139_RegistrationAboveMaxFails) {
  SIZE_T max = info_.MaxRegistrationSize;
  ASSERT_LE(max, SIZE_T(1) << 32) << "the entry's small OPENNDK_MAX_REGISTRATION_SIZE is not in effect";
  SIZE_T len = max + PAGE_SIZE;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(MAP_FAILED, p);
  PMDL chain = OpenNdkAllocateMdlChain(p, len, 0);
  ASSERT_NE(nullptr, chain);
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerChain(mr, chain, len, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerChain(mr, chain, PAGE_SIZE, 0));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, deregister(mr));
  OpenNdkFreeMdlChain(chain);
  munmap(p, len);
}

// R124: NDK_MR_FLAG_RDMA_READ_SINK (with any other flags) never makes a registration fail when the
// adapter does not need it; R125 [D]: the provider keeps no pointer to the MDL after registering.
TEST_F(Memory, R124_R125_ReadSinkFlagAndMdlNotRetained) {
  NDK_MR* mr = makeMr(pd_, false);
  NDK_CQ* cq = makeCq();
  ASSERT_TRUE(mr && cq);
  NDK_QP* qp = makeQp(pd_, cq, cq);
  ASSERT_NE(nullptr, qp);
  MdlBuffer buf(2 * PAGE_SIZE);
  PMDL mdl = IoAllocateMdl(buf.data(), static_cast<ULONG>(buf.size()), FALSE, FALSE, nullptr);
  ASSERT_NE(nullptr, mdl);
  MmBuildMdlForNonPagedPool(mdl);
  const ULONG flags = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_RDMA_READ_SINK;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerChain(mr, mdl, buf.size(), flags));
  IoFreeMdl(mdl);  // R125 [D]: the MR must not depend on it any more
  NDK_SGE s{};
  s.VirtualAddress = buf.data() + 100;
  s.Length = 200;
  s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkReceive(qp, nullptr, &s, 1));
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(1u, drainEx(cq, 1).size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, deregister(mr));
}

TEST_F(Memory, RegisterNullMdlRejected) {  // provider decision
  NDK_MR* mr = makeMr(pd_, false);
  ASSERT_NE(nullptr, mr);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerChain(mr, nullptr, PAGE_SIZE, 0));
  MdlBuffer buf(PAGE_SIZE);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, 0));
}

TEST_F(Memory, R24_MrCloseWhileRegisteredAndMwCreate) {
  NDK_MR* mr = makeMr(pd_, false);
  NDK_MW* mw = makeMw(pd_);
  ASSERT_TRUE(mr && mw);
  MdlBuffer buf(PAGE_SIZE);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  closeNow(mr);  // closing a registered MR is allowed and completes
  closeNow(mw);
  EXPECT_NE(nullptr, makeMr(pd_, true));
}

}  // namespace
}  // namespace conf

namespace conf {
namespace {

// Argument checks the provider decided (docs/decisions.md "Provider objects"); each bad call is
// followed by a good one on the same object.
class ProviderArgs : public Memory {};

TEST_F(ProviderArgs, R121_R124_R128_RegistrationArguments) {  // provider decision
  NDK_MR* mr = makeMr(pd_, false);
  NDK_MR* fast = makeMr(pd_, true);
  ASSERT_TRUE(mr && fast);
  MdlBuffer buf(PAGE_SIZE);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerMr(mr, buf, PAGE_SIZE, 0x80000000u));  // unknown flag
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, 0));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, registerMr(mr, buf, PAGE_SIZE, 0));  // already registered
  CONF_EXPECT_STATUS(STATUS_SUCCESS, deregister(mr));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, initFast(fast, 0, FALSE));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, initFast(fast, 1, FALSE));
}

TEST_F(ProviderArgs, NullCallbacksAndOutputs) {  // provider decision
  NDK_CQ* cq = nullptr;
  Recorder& rec = newRecorder();
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, adapter_->Dispatch->NdkCreateCq(adapter_, 4, nullptr, &rec, nullptr,
                                                                                 &Recorder::onCreate, &rec, &cq));
  EXPECT_EQ(nullptr, cq);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, adapter_->Dispatch->NdkCreateCq(adapter_, 4, &Recorder::onCqNotify,
                                                                                 &rec, nullptr, &Recorder::onCreate,
                                                                                 &rec, nullptr));
  NDK_LISTENER* l = nullptr;
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                       adapter_->Dispatch->NdkCreateListener(adapter_, nullptr, &rec, &Recorder::onCreate, &rec, &l));
  EXPECT_EQ(nullptr, l);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, pd_->Dispatch->NdkCreateMr(pd_, FALSE, &Recorder::onCreate, &rec, nullptr));
  EXPECT_EQ(0u, rec.count());
  EXPECT_NE(nullptr, makeCq(4));
}

// Validation precedes the connection check (R66): bad arguments on an unconnected QP get their own
// status (provider decision).
TEST_F(ProviderArgs, R66_R133_ValidationBeforeConnectionCheck) {  // provider decision
  NDK_CQ* cq = makeCq();
  ASSERT_NE(nullptr, cq);
  NDK_QP* qp = makeQp(pd_, cq, cq);
  NDK_MR* mr = makeMr(pd_, false);
  NDK_MW* mw = makeMw(pd_);
  ASSERT_TRUE(qp && mr && mw);
  MdlBuffer buf(PAGE_SIZE);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr, buf, PAGE_SIZE, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                       qp->Dispatch->NdkBind(qp, nullptr, mr, mw, buf.data(), 0, NDK_OP_FLAG_ALLOW_REMOTE_READ));
  CONF_EXPECT_D_STATUS(STATUS_OBJECT_TYPE_MISMATCH, qp->Dispatch->NdkInvalidate(qp, nullptr, &cq->Header, 0));
  NDK_SGE s{};
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, qp->Dispatch->NdkSend(qp, nullptr, &s, 0, 0x10000u));  // unknown flag
  if (info_.MaxWindowSize < (SIZE_T(1) << 40)) {
    CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                         qp->Dispatch->NdkBind(qp, nullptr, mr, mw, buf.data(), info_.MaxWindowSize + 1, 0));  // R133
  }
  // Valid arguments: the connection check answers.
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID,
                     qp->Dispatch->NdkBind(qp, nullptr, mr, mw, buf.data(), 64, NDK_OP_FLAG_ALLOW_REMOTE_READ));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, postEmptyReceive(qp, nullptr));
}

}  // namespace
}  // namespace conf
