// The emulated NDIS framework against a fake miniport (no provider needed): R151, R157, R158,
// R160, R161, NdisReadConfiguration, interface removal.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "host/ndis.h"

using namespace openndk::host;

namespace {

// One fake miniport driver; the handlers are plain functions, so the fixture is reached through
// a global.
struct Fake {
  NDIS_NDK_PROVIDER_CHARACTERISTICS chars{};
  bool reportAttributes = true;
  NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES attrs{};
  NDIS_NDK_CAPABILITIES caps{};
  NDK_ADAPTER_INFO info{};
  bool pnpInsideOid = false;
  NDIS_STATUS insideOidStatus = NDIS_STATUS_SUCCESS;
  std::thread::id oidThread, eventThread;
  std::atomic<int> opens{0}, closes{0}, halts{0};
  std::mutex mu;
  std::set<NDK_ADAPTER*> live;
  std::map<NET_IFINDEX, NDIS_HANDLE> handles;
};
Fake* g = nullptr;

NDIS_STATUS FakeOpen(NDIS_HANDLE, PNDIS_OPEN_NDK_ADAPTER_PARAMETERS, NDK_ADAPTER** out) {
  auto* a = new NDK_ADAPTER{};
  std::lock_guard lock(g->mu);
  g->live.insert(a);
  ++g->opens;
  *out = a;
  return NDIS_STATUS_SUCCESS;
}
VOID FakeClose(NDIS_HANDLE, NDK_ADAPTER* a) {
  std::lock_guard lock(g->mu);
  EXPECT_EQ(g->live.erase(a), 1u) << "closed twice or never opened";
  delete a;
  ++g->closes;
}
NDIS_STATUS FakeSetOptions(NDIS_HANDLE h, NDIS_HANDLE) { return Ndis::setOptionalHandlers(h, &g->chars); }
NDIS_STATUS FakeInit(NDIS_HANDLE h, NDIS_HANDLE, const InterfaceInit& init, NDIS_HANDLE* ctx) {
  *ctx = reinterpret_cast<NDIS_HANDLE>(static_cast<uintptr_t>(init.ifIndex));
  {
    std::lock_guard lock(g->mu);
    g->handles[init.ifIndex] = h;
  }
  if (!g->reportAttributes) return NDIS_STATUS_SUCCESS;
  return Ndis::setMiniportAttributes(h, &g->attrs);
}
NDIS_STATUS FakeOid(NDIS_HANDLE ctx, NdisOidRequest* r) {
  const auto idx = static_cast<NET_IFINDEX>(reinterpret_cast<uintptr_t>(ctx));
  NDIS_HANDLE h;
  {
    std::lock_guard lock(g->mu);
    h = g->handles[idx];
  }
  if (r->oid != OID_NDK_SET_STATE || r->type != OidRequestType::Set) return NDIS_STATUS_NOT_SUPPORTED;
  const NET_PNP_EVENT_CODE code = *static_cast<BOOLEAN*>(r->buffer) ? NetEventNDKEnable : NetEventNDKDisable;
  g->oidThread = std::this_thread::get_id();
  if (g->pnpInsideOid) {
    g->insideOidStatus = Ndis::netPnPEvent(h, code);  // the R160 mistake
    return NDIS_STATUS_SUCCESS;
  }
  Ndis::queueWorkItem(h, [h, code] {
    g->eventThread = std::this_thread::get_id();
    Ndis::netPnPEvent(h, code);
  });
  return NDIS_STATUS_SUCCESS;
}
void FakeHalt(NDIS_HANDLE) { ++g->halts; }

MiniportDriverCharacteristics driverChars() {
  MiniportDriverCharacteristics c;
  c.SetOptions = &FakeSetOptions;
  c.InitializeEx = &FakeInit;
  c.OidRequest = &FakeOid;
  c.Halt = &FakeHalt;
  return c;
}

InterfaceInit iface(NET_IFINDEX i) {
  InterfaceInit init;
  init.ifIndex = i;
  init.name = "fake" + std::to_string(i);
  return init;
}

NDIS_STATUS setState(Ndis& n, NET_IFINDEX i, BOOLEAN on) {
  NdisOidRequest r;
  r.type = OidRequestType::Set;
  r.oid = OID_NDK_SET_STATE;
  r.buffer = &on;
  r.length = sizeof on;
  return n.oidRequest(i, &r);
}

class NdisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g = &fake;
    fake.chars.Header = {NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS, NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1,
                         NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1};
    fake.chars.OpenNDKAdapterHandler = &FakeOpen;
    fake.chars.CloseNDKAdapterHandler = &FakeClose;
    fake.info.Version = {2, 1};
    fake.info.MaxCqDepth = 4096;
    fake.caps.Header = {NDIS_OBJECT_TYPE_DEFAULT, NDIS_NDK_CAPABILITIES_REVISION_1, NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1};
    fake.caps.MaxQpCount = 77;
    fake.caps.NdkInfo = &fake.info;
    fake.attrs.Header = {NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES,
                         NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1,
                         NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1};
    fake.attrs.Enabled = TRUE;
    fake.attrs.NdkCapabilities = &fake.caps;
  }
  void TearDown() override {
    ndis.reset();
    g = nullptr;
  }
  void registerDriver() {
    ndis = std::make_unique<Ndis>();
    ASSERT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_SUCCESS);
  }
  NDK_ADAPTER* open(NET_IFINDEX i, NDIS_STATUS expect = NDIS_STATUS_SUCCESS) {
    NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
    p.Version = {2, 0};
    NDK_ADAPTER* a = nullptr;
    EXPECT_EQ(ndis->openAdapter(i, &p, &a), expect);
    return a;
  }
  Fake fake;
  std::unique_ptr<Ndis> ndis;
};

// ---- R157: NdisSetOptionalHandlers validates the NDK provider characteristics ----

TEST_F(NdisTest, R157_ValidCharacteristicsRegisterHandlers) {
  registerDriver();
  EXPECT_TRUE(ndis->driverRegistered());
  EXPECT_TRUE(ndis->ndkHandlersRegistered());
}

struct BadChars {
  const char* what;
  void (*mutate)(NDIS_NDK_PROVIDER_CHARACTERISTICS&);
};

TEST_F(NdisTest, R157_BadCharacteristicsRejectedThenGoodOnesAccepted) {
  const BadChars cases[] = {
      {"type", [](auto& c) { c.Header.Type = NDIS_OBJECT_TYPE_DEFAULT; }},
      {"revision0", [](auto& c) { c.Header.Revision = 0; }},
      {"revision2", [](auto& c) { c.Header.Revision = 2; }},
      {"size", [](auto& c) { c.Header.Size = NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1 - 1; }},
      {"flags", [](auto& c) { c.Flags = 1; }},
      {"open", [](auto& c) { c.OpenNDKAdapterHandler = nullptr; }},
      {"close", [](auto& c) { c.CloseNDKAdapterHandler = nullptr; }},
  };
  ndis = std::make_unique<Ndis>();
  const auto good = fake.chars;
  for (const auto& bc : cases) {
    fake.chars = good;
    bc.mutate(fake.chars);
    EXPECT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_INVALID_PARAMETER) << bc.what;
    EXPECT_FALSE(ndis->driverRegistered()) << bc.what;
    EXPECT_FALSE(ndis->ndkHandlersRegistered()) << bc.what;
  }
  fake.chars = good;  // the framework still works
  ASSERT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(ndis->addInterface(iface(5)), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER* a = open(5);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(ndis->closeAdapter(a));
}

TEST_F(NdisTest, R157_NullCharacteristicsAndOutsideSetOptions) {
  registerDriver();
  EXPECT_EQ(Ndis::setOptionalHandlers(ndis.get(), nullptr), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(Ndis::setOptionalHandlers(nullptr, &fake.chars), NDIS_STATUS_INVALID_PARAMETER);
  // Only valid inside MiniportSetOptions.
  EXPECT_EQ(Ndis::setOptionalHandlers(ndis.get(), &fake.chars), NDIS_STATUS_FAILURE);
  EXPECT_TRUE(ndis->ndkHandlersRegistered());
  // A second registration is refused; the first stays.
  EXPECT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_FAILURE);
  ASSERT_EQ(ndis->addInterface(iface(5)), NDIS_STATUS_SUCCESS);
  EXPECT_NE(open(5), nullptr);
}

TEST_F(NdisTest, MissingMandatoryMiniportHandlerRejected) {
  ndis = std::make_unique<Ndis>();
  auto c = driverChars();
  c.OidRequest = nullptr;
  EXPECT_EQ(ndis->registerMiniportDriver(c), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_SUCCESS);
}

// ---- R158: NdisMSetMiniportAttributes ----

TEST_F(NdisTest, R158_AttributesStoredIncludingCapabilities) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(7)), NDIS_STATUS_SUCCESS);
  auto s = ndis->snapshot(7);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ndkCapable);
  EXPECT_TRUE(s->ndkEnabled);
  EXPECT_EQ(s->capabilities.MaxQpCount, 77u);
  EXPECT_EQ(s->info.MaxCqDepth, 4096u);
  EXPECT_EQ(ndis->interfaces(true), std::vector<NET_IFINDEX>{7});
}

TEST_F(NdisTest, R158_R151_ReportedDisabledThenOpenIsNotReady) {
  fake.attrs.Enabled = FALSE;  // R158: reported also when disabled
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(7)), NDIS_STATUS_SUCCESS);
  auto s = ndis->snapshot(7);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ndkCapable);
  EXPECT_FALSE(s->ndkEnabled);
  EXPECT_EQ(open(7, NDIS_STATUS_ADAPTER_NOT_READY), nullptr);
  EXPECT_EQ(fake.opens.load(), 0);
  ASSERT_EQ(setState(*ndis, 7, TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis->waitState(7, true, 10000));
  NDK_ADAPTER* a = open(7);
  ASSERT_NE(a, nullptr);
  ndis->closeAdapter(a);
}

struct BadAttrs {
  const char* what;
  void (*mutate)(Fake&);
};

TEST_F(NdisTest, R158_BadAttributesFailInitializeThenGoodOnesWork) {
  const BadAttrs cases[] = {
      {"type", [](Fake& f) { f.attrs.Header.Type = NDIS_OBJECT_TYPE_DEFAULT; }},
      {"revision", [](Fake& f) { f.attrs.Header.Revision = 2; }},
      {"size", [](Fake& f) { f.attrs.Header.Size = 8; }},
      {"enabled", [](Fake& f) { f.attrs.Enabled = 2; }},
      {"caps null", [](Fake& f) { f.attrs.NdkCapabilities = nullptr; }},
      {"caps type", [](Fake& f) { f.caps.Header.Type = 0xB3; }},
      {"caps revision", [](Fake& f) { f.caps.Header.Revision = 0; }},
      {"caps size", [](Fake& f) { f.caps.Header.Size = 48; }},
      {"caps flags", [](Fake& f) { f.caps.Flags = 4; }},
      {"info null", [](Fake& f) { f.caps.NdkInfo = nullptr; }},
  };
  registerDriver();
  const auto goodAttrs = fake.attrs;
  const auto goodCaps = fake.caps;
  for (const auto& bc : cases) {
    fake.attrs = goodAttrs;
    fake.caps = goodCaps;
    bc.mutate(fake);
    EXPECT_EQ(ndis->addInterface(iface(9)), NDIS_STATUS_INVALID_PARAMETER) << bc.what;
    EXPECT_FALSE(ndis->snapshot(9)) << bc.what;
  }
  fake.attrs = goodAttrs;
  fake.caps = goodCaps;
  ASSERT_EQ(ndis->addInterface(iface(9)), NDIS_STATUS_SUCCESS);
  EXPECT_NE(open(9), nullptr);
  // Outside MiniportInitializeEx the call is refused.
  EXPECT_EQ(Ndis::setMiniportAttributes(fake.handles[9], &fake.attrs), NDIS_STATUS_FAILURE);
  EXPECT_EQ(Ndis::setMiniportAttributes(fake.handles[9], nullptr), NDIS_STATUS_INVALID_PARAMETER);
}

TEST_F(NdisTest, InterfaceWithoutNdkAttributesIsNotNdkCapable) {
  fake.reportAttributes = false;
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(3)), NDIS_STATUS_SUCCESS);
  EXPECT_TRUE(ndis->interfaces(true).empty());
  EXPECT_EQ(ndis->interfaces(false), std::vector<NET_IFINDEX>{3});
  EXPECT_EQ(open(3, NDIS_STATUS_ADAPTER_NOT_FOUND), nullptr);
  EXPECT_EQ(open(4, NDIS_STATUS_ADAPTER_NOT_FOUND), nullptr);  // unknown index
}

TEST_F(NdisTest, DuplicateInterfaceAndNoDriverRefused) {
  ndis = std::make_unique<Ndis>();
  EXPECT_EQ(ndis->addInterface(iface(1)), NDIS_STATUS_FAILURE);  // no driver yet
  ASSERT_EQ(ndis->registerMiniportDriver(driverChars()), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(ndis->addInterface(iface(1)), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(ndis->addInterface(iface(1)), NDIS_STATUS_FAILURE);
  EXPECT_NE(open(1), nullptr);
}

// ---- R160: never NdisMNetPnPEvent inside MiniportOidRequest ----

TEST_F(NdisTest, R160_PnPEventInsideOidHandlerIsRefused) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(2)), NDIS_STATUS_SUCCESS);
  fake.pnpInsideOid = true;
  EXPECT_EQ(setState(*ndis, 2, FALSE), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(fake.insideOidStatus, NDIS_STATUS_FAILURE);
  EXPECT_EQ(ndis->r160Violations(), 1u);
  EXPECT_TRUE(ndis->snapshot(2)->ndkEnabled);  // not applied
  // The right way still works.
  fake.pnpInsideOid = false;
  EXPECT_EQ(setState(*ndis, 2, FALSE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis->waitState(2, false, 10000));
  EXPECT_NE(fake.eventThread, fake.oidThread);
  EXPECT_EQ(ndis->r160Violations(), 1u);
  EXPECT_EQ(ndis->pnpEventsDelivered(), 1u);
}

TEST_F(NdisTest, PnPEventOtherCodesAndNullHandle) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(2)), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(Ndis::netPnPEvent(nullptr, NetEventNDKDisable), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(Ndis::netPnPEvent(fake.handles[2], NetEventPause), NDIS_STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(ndis->snapshot(2)->ndkEnabled);
}

// ---- R161: disable closes the instances and stays pending until they are closed ----

struct CloseOnDisable {
  Ndis* ndis = nullptr;
  std::mutex mu;
  std::vector<NDK_ADAPTER*> mine;
  std::vector<std::pair<NET_IFINDEX, BOOLEAN>> seen;
  bool openCountZeroDuringCallback = false;
};

void closeMine(PVOID ctx, NET_IFINDEX i, BOOLEAN enabled) {
  auto* c = static_cast<CloseOnDisable*>(ctx);
  std::vector<NDK_ADAPTER*> v;
  {
    std::lock_guard lock(c->mu);
    c->seen.emplace_back(i, enabled);
    if (!enabled) v.swap(c->mine);
  }
  for (NDK_ADAPTER* a : v) EXPECT_TRUE(c->ndis->closeAdapter(a));
}

TEST_F(NdisTest, R161_DisableAsksConsumersToCloseAndCompletesAfterClose) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(ndis->addInterface(iface(6)), NDIS_STATUS_SUCCESS);
  CloseOnDisable c;
  c.ndis = ndis.get();
  void* reg = ndis->registerStateCallback(&closeMine, &c);
  c.mine = {open(4), open(4)};
  NDK_ADAPTER* other = open(6);  // another interface: untouched
  ASSERT_EQ(setState(*ndis, 4, FALSE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis->waitState(4, false, 10000));
  EXPECT_EQ(ndis->snapshot(4)->openAdapters, 0u);
  EXPECT_EQ(fake.closes.load(), 2);
  EXPECT_EQ(ndis->forcedCloses(), 0u);
  EXPECT_EQ(ndis->snapshot(6)->openAdapters, 1u);
  EXPECT_EQ(open(4, NDIS_STATUS_ADAPTER_NOT_READY), nullptr);  // R151
  ASSERT_EQ(setState(*ndis, 4, TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis->waitState(4, true, 10000));
  NDK_ADAPTER* again = open(4);
  ASSERT_NE(again, nullptr);
  {
    std::lock_guard lock(c.mu);
    ASSERT_EQ(c.seen.size(), 2u);
    EXPECT_EQ(c.seen[0], std::make_pair(NET_IFINDEX{4}, BOOLEAN{FALSE}));
    EXPECT_EQ(c.seen[1], std::make_pair(NET_IFINDEX{4}, BOOLEAN{TRUE}));
  }
  ndis->deregisterStateCallback(reg);
  ndis->closeAdapter(again);
  ndis->closeAdapter(other);
}

// The disable event blocks until a consumer closes from its own thread.
TEST_F(NdisTest, R161_DisableStaysPendingUntilLastCloseFromAnotherThread) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER* a = open(4);
  std::mutex mu;
  std::condition_variable cv;
  bool told = false;
  struct Ctx {
    std::mutex* mu;
    std::condition_variable* cv;
    bool* told;
  } ctx{&mu, &cv, &told};
  void* reg = ndis->registerStateCallback(
      [](PVOID p, NET_IFINDEX, BOOLEAN en) {
        auto* c = static_cast<Ctx*>(p);
        if (en) return;
        std::lock_guard lock(*c->mu);
        *c->told = true;
        c->cv->notify_all();
      },
      &ctx);
  ASSERT_EQ(setState(*ndis, 4, FALSE), NDIS_STATUS_SUCCESS);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return told; }));
  }
  // Told, not yet closed: the event is still pending.
  EXPECT_EQ(ndis->snapshot(4)->pendingEvents, 1u);
  EXPECT_FALSE(ndis->snapshot(4)->ndkEnabled);
  EXPECT_TRUE(ndis->closeAdapter(a));
  ASSERT_TRUE(ndis->waitState(4, false, 10000));
  EXPECT_EQ(ndis->snapshot(4)->pendingEvents, 0u);
  EXPECT_EQ(ndis->forcedCloses(), 0u);
  ndis->deregisterStateCallback(reg);
}

TEST_F(NdisTest, R161_UnclosedInstancesForceClosedAfterGrace) {
  registerDriver();
  ndis->setDisableGraceMs(20);
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER* a = open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(setState(*ndis, 4, FALSE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis->waitState(4, false, 10000));
  EXPECT_EQ(ndis->forcedCloses(), 1u);
  EXPECT_EQ(fake.closes.load(), 1);
  EXPECT_FALSE(ndis->closeAdapter(a));  // the consumer's late close is harmless
  EXPECT_EQ(fake.closes.load(), 1);
}

TEST_F(NdisTest, CloseUnknownAdapterIsRefused) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER bogus{};
  EXPECT_FALSE(ndis->closeAdapter(&bogus));
  EXPECT_FALSE(ndis->closeAdapter(nullptr));
  NDK_ADAPTER* a = open(4);
  EXPECT_TRUE(ndis->closeAdapter(a));
  EXPECT_FALSE(ndis->closeAdapter(a));  // twice
}

TEST_F(NdisTest, RemoveInterfaceClosesAdaptersAndHalts) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);
  open(4);
  open(4);
  ndis->removeInterface(4);
  EXPECT_EQ(fake.closes.load(), 2);
  EXPECT_EQ(fake.halts.load(), 1);
  EXPECT_FALSE(ndis->snapshot(4));
  EXPECT_EQ(open(4, NDIS_STATUS_ADAPTER_NOT_FOUND), nullptr);
  ASSERT_EQ(ndis->addInterface(iface(4)), NDIS_STATUS_SUCCESS);  // can come back
  EXPECT_NE(open(4), nullptr);
}

TEST_F(NdisTest, OidOnUnknownInterface) {
  registerDriver();
  EXPECT_EQ(setState(*ndis, 99, TRUE), NDIS_STATUS_ADAPTER_NOT_FOUND);
  EXPECT_EQ(ndis->oidRequest(99, nullptr), NDIS_STATUS_INVALID_PARAMETER);
}

// ---- NdisReadConfiguration: *NetworkDirect (R159, R166) ----

TEST_F(NdisTest, R166_NetworkDirectKeywordDefaultOverrideAndErrors) {
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(8)), NDIS_STATUS_SUCCESS);
  NDIS_HANDLE h = fake.handles[8];
  ULONG v = 7;
  ASSERT_EQ(Ndis::readConfiguration(h, NETWORK_DIRECT_KEYWORD, &v), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(v, 1u);  // tunable network_direct default
  EXPECT_EQ(ndis->setKeyword(8, NETWORK_DIRECT_KEYWORD, 0), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(Ndis::readConfiguration(h, NETWORK_DIRECT_KEYWORD, &v), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(ndis->snapshot(8)->networkDirect, 0u);
  EXPECT_EQ(Ndis::readConfiguration(h, "*JumboPacket", &v), NDIS_STATUS_FAILURE);
  EXPECT_EQ(Ndis::readConfiguration(h, nullptr, &v), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ndis->setKeyword(8, NETWORK_DIRECT_KEYWORD, 2), NDIS_STATUS_INVALID_DATA);
  EXPECT_EQ(ndis->setKeyword(8, "*JumboPacket", 9000), NDIS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(ndis->setKeyword(99, NETWORK_DIRECT_KEYWORD, 1), NDIS_STATUS_ADAPTER_NOT_FOUND);
  EXPECT_EQ(ndis->setKeyword(8, NETWORK_DIRECT_KEYWORD, 1), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(Ndis::readConfiguration(h, NETWORK_DIRECT_KEYWORD, &v), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(v, 1u);
}

TEST_F(NdisTest, R166_NetworkDirectFromEnvironmentPerInterface) {
  ::setenv("OPENNDK_NETWORK_DIRECT_FAKE12", "0", 1);
  registerDriver();
  ASSERT_EQ(ndis->addInterface(iface(12)), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(ndis->addInterface(iface(13)), NDIS_STATUS_SUCCESS);
  ULONG v = 7;
  ASSERT_EQ(Ndis::readConfiguration(fake.handles[12], NETWORK_DIRECT_KEYWORD, &v), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(v, 0u);
  ASSERT_EQ(Ndis::readConfiguration(fake.handles[13], NETWORK_DIRECT_KEYWORD, &v), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(v, 1u);
  ::unsetenv("OPENNDK_NETWORK_DIRECT_FAKE12");
}

}  // namespace
