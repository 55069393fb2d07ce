// Adapter instance, version negotiation, adapter info, extensions, dispatch tables, LAMs.
#include "base/config.h"
#include "provider/connector.h"
#include "provider/listener.h"
#include "provider/mr.h"
#include "provider/pd.h"
#include "provider/shared_endpoint.h"
#include "provider/srq.h"
#include "provider_fixture.h"

namespace pt {
namespace {

template <class Table>
void expectAllMembersNonNull(const Table* t) {
  auto* p = reinterpret_cast<void* const*>(t);
  for (std::size_t i = 0; i < sizeof(Table) / sizeof(void*); ++i) EXPECT_NE(p[i], nullptr) << "member " << i;
}

TEST(DeviceVersion, R150_Negotiation) {
  NDK_VERSION g{};
  EXPECT_EQ(Device::negotiateVersion({1, 0}, &g), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(g.Major, 1);
  EXPECT_EQ(g.Minor, 2);
  EXPECT_EQ(Device::negotiateVersion({1, 2}, &g), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(g.Minor, 2);
  EXPECT_EQ(Device::negotiateVersion({1, 3}, &g), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(Device::negotiateVersion({2, 0}, &g), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(g.Major, 2);
  EXPECT_EQ(g.Minor, 1);
  EXPECT_EQ(Device::negotiateVersion({2, 2}, &g), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(Device::negotiateVersion({3, 0}, &g), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(Device::negotiateVersion({0, 1}, &g), NDIS_STATUS_BAD_VERSION);
}

TEST_F(ProviderTest, R150_OpenReportsHighestMinorInHeaderAndInfo) {
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
  p.Version = {1, 0};
  NDK_ADAPTER* b = nullptr;
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &b), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(b->Header.Version.Major, 1);
  EXPECT_EQ(b->Header.Version.Minor, 2);
  NDK_ADAPTER_INFO i{};
  ULONG sz = sizeof(i);
  ASSERT_EQ(b->Dispatch->NdkQueryAdapterInfo(b, &i, &sz), STATUS_SUCCESS);
  EXPECT_EQ(i.Version.Minor, 2);  // R153
  NDK_CQ* c = nullptr;
  ASSERT_EQ(b->Dispatch->NdkCreateCq(b, 4, cqNotify, &cqEvent, nullptr, createDone, nullptr, &c), STATUS_SUCCESS);
  EXPECT_EQ(c->Header.Version.Minor, 2);  // R1, R153
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
  Device::CloseNdkAdapter(dev.get(), b);

  p.Version = {1, 3};
  b = nullptr;
  EXPECT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &b), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(b, nullptr);
  // NULL parameters: newest version.
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), nullptr, &b), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(b->Header.Version.Major, 2);
  EXPECT_EQ(b->Header.Version.Minor, 1);
  Device::CloseNdkAdapter(dev.get(), b);
}

TEST_F(ProviderTest, R151_DisabledDeviceIsNotReady) {
  dev->setEnabled(false);
  NDK_ADAPTER* b = nullptr;
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
  p.Version = {1, 2};
  EXPECT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &b), NDIS_STATUS_ADAPTER_NOT_READY);
  EXPECT_EQ(b, nullptr);
  dev->setEnabled(true);
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &b), NDIS_STATUS_SUCCESS);
  Device::CloseNdkAdapter(dev.get(), b);
}

TEST_F(ProviderTest, OpenWithNullArgumentsFails) {
  NDK_ADAPTER* b = nullptr;
  EXPECT_EQ(Device::OpenNdkAdapter(nullptr, nullptr, &b), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(Device::OpenNdkAdapter(dev.get(), nullptr, nullptr), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(dev->openAdapters().size(), 1u);
}

TEST_F(ProviderTest, R8_InstancesAreIndependentAndListed) {
  NDK_ADAPTER* b = nullptr;
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), nullptr, &b), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(dev->openAdapters().size(), 2u);
  NDK_PD *p1 = pd(), *p2 = nullptr;
  ASSERT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p2), STATUS_SUCCESS);
  UINT32 t1 = 0, t2 = 0;
  p1->Dispatch->NdkGetPrivilegedMemoryRegionToken(p1, &t1);
  p2->Dispatch->NdkGetPrivilegedMemoryRegionToken(p2, &t2);
  EXPECT_NE(t1, 0u);
  EXPECT_NE(t2, 0u);
  EXPECT_EQ(closeAndWait(p2), STATUS_SUCCESS);
  Device::CloseNdkAdapter(dev.get(), b);
  EXPECT_EQ(dev->openAdapters().size(), 1u);
  EXPECT_EQ(closeAndWait(p1), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R1_HeaderOfEveryObject) {
  EXPECT_EQ(a->Header.ObjectType, NdkObjectTypeAdapter);
  for (auto* r : a->Header.NdkReserved.rf) EXPECT_EQ(r, nullptr);
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  EXPECT_EQ(c->Header.ObjectType, NdkObjectTypeCq);
  EXPECT_EQ(p->Header.ObjectType, NdkObjectTypePd);
  for (auto* r : c->Header.NdkReserved.rf) EXPECT_EQ(r, nullptr);
  EXPECT_EQ(c->Header.Version.Major, a->Header.Version.Major);
  EXPECT_EQ(c->Header.Version.Minor, a->Header.Version.Minor);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R152_QueryAdapterInfoSizes) {
  ULONG sz = 0;
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, nullptr, &sz), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(sz, sizeof(NDK_ADAPTER_INFO));
  EXPECT_EQ(sz, 104u);
  sz = 50;
  NDK_ADAPTER_INFO i{};
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &i, &sz), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(sz, 104u);
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &i, nullptr), STATUS_INVALID_PARAMETER);
  sz = 104;
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, nullptr, &sz), STATUS_INVALID_PARAMETER);
  sz = 200;
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &i, &sz), STATUS_SUCCESS);
  EXPECT_EQ(sz, 104u);
}

TEST_F(ProviderTest, AdapterInfoIsTruthful_R140) {
  EXPECT_GE(info.FRMRPageCount, 16u);
  EXPECT_GE(info.MaxInitiatorRequestSge, 4u);
  EXPECT_EQ(info.RdmaTechnology, NdkiWarp);
  const ULONG want = NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED | NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED |
                     NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED | NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED |
                     NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED | NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED;
  EXPECT_EQ(info.AdapterFlags, want);
  EXPECT_EQ(info.MaxCallerData, 504u);
  EXPECT_EQ(info.MaxCalleeData, 504u);
  EXPECT_GT(info.MaxSrqDepth, 0u);
  const NDIS_NDK_CAPABILITIES* caps = dev->capabilities();
  EXPECT_EQ(caps->MissingCounterMask, 0u);
  EXPECT_EQ(caps->Header.Size, 56);
  ASSERT_NE(caps->NdkInfo, nullptr);
  EXPECT_EQ(caps->NdkInfo->MaxCqDepth, info.MaxCqDepth);
}

TEST(DeviceCharacteristics, R157_ProviderCharacteristics) {
  auto c = Device::providerCharacteristics();
  EXPECT_EQ(c.Header.Type, NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS);
  EXPECT_EQ(c.Header.Revision, 1);
  EXPECT_EQ(c.Header.Size, 24);
  EXPECT_EQ(c.Flags, 0u);
  EXPECT_NE(c.OpenNDKAdapterHandler, nullptr);
  EXPECT_NE(c.CloseNDKAdapterHandler, nullptr);
}

TEST_F(ProviderTest, R4_EveryDispatchMemberIsNonNull) {
  expectAllMembersNonNull(a->Dispatch);
  expectAllMembersNonNull(Cq::dispatch());
  expectAllMembersNonNull(Pd::dispatch());
  expectAllMembersNonNull(Mr::dispatch());
  expectAllMembersNonNull(Mw::dispatch());
  expectAllMembersNonNull(Qp::dispatch());
  expectAllMembersNonNull(Srq::dispatch());
  expectAllMembersNonNull(Connector::dispatch());
  expectAllMembersNonNull(Listener::dispatch());
  expectAllMembersNonNull(SharedEndpoint::dispatch());
  NDK_CQ* c = cq();
  EXPECT_EQ(c->Dispatch, Cq::dispatch());
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R154_QueryExtensionIsNotSupportedEverywhere) {
  GUID g{};
  NDK_EXTENSION_INTERFACE ext{};
  EXPECT_EQ(a->Dispatch->NdkQueryExtension(&a->Header, &g, {1, 0}, &ext), STATUS_NOT_SUPPORTED);
  EXPECT_EQ(a->Dispatch->NdkQueryExtension(&a->Header, nullptr, {1, 0}, &ext), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkQueryExtension(&a->Header, &g, {1, 0}, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkQueryExtension(nullptr, &g, {1, 0}, &ext), STATUS_INVALID_PARAMETER);
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  EXPECT_EQ(c->Dispatch->NdkQueryExtension(&c->Header, &g, {1, 0}, &ext), STATUS_NOT_SUPPORTED);
  EXPECT_EQ(p->Dispatch->NdkQueryExtension(&p->Header, &g, {1, 0}, &ext), STATUS_NOT_SUPPORTED);
  // The CQ table's member given a PD: wrong type.
  EXPECT_EQ(c->Dispatch->NdkQueryExtension(&p->Header, &g, {1, 0}, &ext), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
}

TEST_F(ProviderTest, BadObjectPointersGetSpecificStatuses) {
  NDK_CQ* c = cq();
  NDK_CQ* out = nullptr;
  const auto before = dev->counters().rejectedCalls.load() + rejectedObjectCalls();
  EXPECT_EQ(a->Dispatch->NdkCreateCq(nullptr, 4, cqNotify, nullptr, nullptr, createDone, nullptr, &out),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkCreateCq(reinterpret_cast<NDK_ADAPTER*>(c), 4, cqNotify, nullptr, nullptr, createDone,
                                     nullptr, &out),
            STATUS_OBJECT_TYPE_MISMATCH);
  std::uint8_t garbage[64] = {};
  EXPECT_EQ(a->Dispatch->NdkCreateCq(reinterpret_cast<NDK_ADAPTER*>(garbage), 4, cqNotify, nullptr, nullptr,
                                     createDone, nullptr, &out),
            STATUS_INVALID_HANDLE);
  EXPECT_EQ(out, nullptr);
  EXPECT_GE(dev->counters().rejectedCalls.load() + rejectedObjectCalls(), before + 3);
  // A closed object is recognised (tombstone), not read as freed memory.
  EXPECT_EQ(closeAndWait(c), STATUS_SUCCESS);
  EXPECT_EQ(Cq::dispatch()->NdkResizeCq(c, 8, nullptr, nullptr), STATUS_INVALID_HANDLE);
  EXPECT_EQ(Cq::dispatch()->NdkGetCqResults(c, nullptr, 0), 0u);
  // The adapter still works.
  NDK_CQ* c2 = cq();
  EXPECT_NE(c2, nullptr);
  EXPECT_EQ(closeAndWait(c2), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R155_ResourceCountsAreEnforcedPerDevice) {
  ASSERT_TRUE(openndk::base::setTunable("max_pd_count", "2"));
  Device small(2, "small", {}, true);
  openndk::base::resetTunables();
  NDK_ADAPTER* b = nullptr;
  ASSERT_EQ(Device::OpenNdkAdapter(&small, nullptr, &b), NDIS_STATUS_SUCCESS);
  NDK_PD *p1 = nullptr, *p2 = nullptr, *p3 = nullptr;
  EXPECT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p1), STATUS_SUCCESS);
  EXPECT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p2), STATUS_SUCCESS);
  EXPECT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p3), STATUS_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(p3, nullptr);  // R12: untouched
  EXPECT_EQ(small.inUse(Resource::Pd), 2u);
  EXPECT_EQ(closeAndWait(p1), STATUS_SUCCESS);
  EXPECT_EQ(b->Dispatch->NdkCreatePd(b, createDone, nullptr, &p3), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p2), STATUS_SUCCESS);
  EXPECT_EQ(closeAndWait(p3), STATUS_SUCCESS);
  Device::CloseNdkAdapter(&small, b);
  EXPECT_EQ(small.inUse(Resource::Pd), 0u);
}

TEST_F(ProviderTest, R32_CreateCqBadArguments) {
  NDK_CQ* out = nullptr;
  EXPECT_EQ(a->Dispatch->NdkCreateCq(a, 0, cqNotify, nullptr, nullptr, createDone, nullptr, &out), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkCreateCq(a, info.MaxCqDepth + 1, cqNotify, nullptr, nullptr, createDone, nullptr, &out),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkCreateCq(a, 4, nullptr, nullptr, nullptr, createDone, nullptr, &out), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkCreateCq(a, 4, cqNotify, nullptr, nullptr, createDone, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(out, nullptr);
  GROUP_AFFINITY aff{};
  aff.Mask = 3;
  ASSERT_EQ(a->Dispatch->NdkCreateCq(a, info.MaxCqDepth, cqNotify, nullptr, &aff, createDone, nullptr, &out),
            STATUS_SUCCESS);
  EXPECT_EQ(cqObj(out)->affinity().Mask, 3u);  // R50: recorded
  EXPECT_EQ(closeAndWait(out), STATUS_SUCCESS);
}

TEST_F(ProviderTest, R3_ConsumerMayReplaceDispatchAndR2_ReservedUntouched) {
  NDK_CQ* c = cq();
  NDK_PD* p = pd();
  NDK_CQ_DISPATCH copy = *c->Dispatch;
  c->Dispatch = &copy;
  for (int i = 0; i < 4; ++i) {
    c->Header.NdkReserved.rf[i] = reinterpret_cast<PVOID>(0x5e000 + i);
    p->Header.NdkReserved.rf[i] = reinterpret_cast<PVOID>(0x6e000 + i);
  }
  NDK_QP* q = qp(p, c);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(c->Dispatch->NdkResizeCq(c, 128, nullptr, nullptr), STATUS_SUCCESS);
  cqObj(c)->complete(entry(reinterpret_cast<PVOID>(1)));
  c->Dispatch->NdkArmCq(c, NDK_CQ_NOTIFY_ANY);
  EXPECT_TRUE(cqEvent.wait());
  EXPECT_EQ(drain(c).size(), 1u);
  EXPECT_EQ(closeAndWait(q), STATUS_SUCCESS);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c->Header.NdkReserved.rf[i], reinterpret_cast<PVOID>(0x5e000 + i));
    EXPECT_EQ(p->Header.NdkReserved.rf[i], reinterpret_cast<PVOID>(0x6e000 + i));
  }
  Event ev;
  NTSTATUS s = copy.NdkCloseCq(&c->Header, closeDone, &ev);
  if (s == STATUS_PENDING) {
    EXPECT_TRUE(ev.wait());
  }
  EXPECT_EQ(closeAndWait(p), STATUS_SUCCESS);
}

// ---- LAMs (R135–R138)

TEST_F(ProviderTest, R135_BuildLamPagesFboAndSize) {
  Buffer buf(4 * PAGE_SIZE);
  std::uint8_t* va = buf.p + 100;
  const SIZE_T len = 2 * PAGE_SIZE;  // spans 3 pages from offset 100
  MdlChain chain(va, len, PAGE_SIZE);  // several MDLs
  ULONG sz = 0, fbo = 0;
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, len, nullptr, nullptr, nullptr, &sz, &fbo), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(sz, OPENNDK_LAM_SIZE(3));
  std::vector<std::uint8_t> storage(sz);
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, len, nullptr, nullptr, lam, &sz, &fbo), STATUS_SUCCESS);
  EXPECT_EQ(fbo, 100u);
  EXPECT_EQ(lam->AdapterPageCount, 3u);
  for (ULONG i = 0; i < 3; ++i) {
    EXPECT_EQ(lam->AdapterPageArray[i].QuadPart % PAGE_SIZE, 0);
    EXPECT_EQ(static_cast<std::uint64_t>(lam->AdapterPageArray[i].QuadPart),
              reinterpret_cast<std::uint64_t>(buf.p) + i * PAGE_SIZE);
  }
  auto* adapterObj = Object::resolveAs<Adapter>(a);
  EXPECT_TRUE(adapterObj->lamCovers(reinterpret_cast<std::uint64_t>(va), len));
  a->Dispatch->NdkReleaseLAM(a, lam);
  EXPECT_FALSE(adapterObj->lamCovers(reinterpret_cast<std::uint64_t>(va), len));
  EXPECT_EQ(adapterObj->lamCount(), 0u);
  a->Dispatch->NdkReleaseLAM(a, lam);  // second release: rejected, no crash
  a->Dispatch->NdkReleaseLAM(a, nullptr);
}

TEST_F(ProviderTest, R121_BuildLamBadArguments) {
  Buffer buf(2 * PAGE_SIZE);
  MdlChain chain(buf.p, PAGE_SIZE);
  std::vector<std::uint8_t> storage(OPENNDK_LAM_SIZE(4));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ULONG sz = static_cast<ULONG>(storage.size()), fbo = 0;
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, nullptr, 10, nullptr, nullptr, lam, &sz, &fbo), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, 0, nullptr, nullptr, lam, &sz, &fbo), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, PAGE_SIZE + 1, nullptr, nullptr, lam, &sz, &fbo),
            STATUS_INVALID_PARAMETER);  // longer than the chain
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, 10, nullptr, nullptr, lam, nullptr, &fbo), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, 10, nullptr, nullptr, lam, &sz, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, 10, nullptr, nullptr, nullptr, &sz, &fbo), STATUS_INVALID_PARAMETER);
  // Not virtually contiguous: two MDLs with a hole.
  MdlChain first(buf.p, 100), second(buf.p + 200, 100);
  first.m->Next = second.m;
  EXPECT_EQ(a->Dispatch->NdkBuildLAM(a, first.m, 200, nullptr, nullptr, lam, &sz, &fbo), STATUS_INVALID_PARAMETER);
  first.m->Next = nullptr;
  EXPECT_EQ(Object::resolveAs<Adapter>(a)->lamCount(), 0u);  // nothing partial left (R135)
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, PAGE_SIZE, nullptr, nullptr, lam, &sz, &fbo), STATUS_SUCCESS);
  a->Dispatch->NdkReleaseLAM(a, lam);
}

TEST_F(ProviderTest, R138_AdapterCloseReleasesLams) {
  Buffer buf(PAGE_SIZE);
  MdlChain chain(buf.p, PAGE_SIZE);
  std::vector<std::uint8_t> storage(OPENNDK_LAM_SIZE(1));
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ULONG sz = static_cast<ULONG>(storage.size()), fbo = 0;
  // Counted in every build (not only under ASan): the LAM records and NDK objects alive before
  // the LAM, with it, and after the adapter close.
  const std::size_t lamsBefore = Adapter::liveLamCount();
  const std::size_t objectsBefore = Object::liveCount();
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, PAGE_SIZE, nullptr, nullptr, lam, &sz, &fbo), STATUS_SUCCESS);
  EXPECT_EQ(Adapter::liveLamCount(), lamsBefore + 1);
  Device::CloseNdkAdapter(dev.get(), a);  // does not wait for the LAM: it releases it
  a = nullptr;
  EXPECT_EQ(Adapter::liveLamCount(), lamsBefore) << "R138: a LAM built on the adapter outlived its close";
  EXPECT_EQ(Object::liveCount(), objectsBefore - 1) << "the adapter object itself was not destroyed";
}

}  // namespace
}  // namespace pt
