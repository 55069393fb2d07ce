// The soft-iWARP miniport (src/host/miniport.cpp) under a private emulated NDIS: registration
// (R157), attributes (R158), OID_NDK_SET_STATE (R159-R161), the statistics/connections/endpoints
// OIDs and their buffer protocol (R162-R165), version negotiation through the open handler (R150).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "host/ndis.h"
#include "host/miniport.h"
#include "provider/endpoint_registry.h"

using namespace openndk::host;
using openndk::provider::ActivityRegistration;
using openndk::provider::ConnectionRecord;
using openndk::provider::LocalEndpointRecord;

namespace {

constexpr NET_IFINDEX kIf = 4242;

SOCKADDR_INET v4(const char* ip, unsigned port) {
  SOCKADDR_INET a;
  std::memset(&a, 0, sizeof a);
  a.Ipv4.sin_family = AF_INET;
  a.Ipv4.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.Ipv4.sin_addr);
  return a;
}

class Miniport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(openndk::host::SoftIwarpDriverEntry(ndis), NDIS_STATUS_SUCCESS);
    InterfaceInit init;
    init.ifIndex = kIf;
    init.name = "ndktest0";
    init.addresses = {v4("127.0.0.1", 0)};
    ASSERT_EQ(ndis.addInterface(init), NDIS_STATUS_SUCCESS);
  }
  NDIS_STATUS query(NDIS_OID oid, void* buf, ULONG len, ULONG* written = nullptr, ULONG* needed = nullptr) {
    NdisOidRequest r;
    r.type = OidRequestType::Query;
    r.oid = oid;
    r.buffer = buf;
    r.length = len;
    NDIS_STATUS s = ndis.oidRequest(kIf, &r);
    if (written) *written = r.bytesWritten;
    if (needed) *needed = r.bytesNeeded;
    return s;
  }
  NDIS_STATUS set(NDIS_OID oid, void* buf, ULONG len, ULONG* needed = nullptr) {
    NdisOidRequest r;
    r.type = OidRequestType::Set;
    r.oid = oid;
    r.buffer = buf;
    r.length = len;
    NDIS_STATUS s = ndis.oidRequest(kIf, &r);
    if (needed) *needed = r.bytesNeeded;
    return s;
  }
  NDIS_STATUS setState(BOOLEAN on) { return set(OID_NDK_SET_STATE, &on, sizeof on); }
  NDIS_STATUS open(USHORT major, USHORT minor, NDK_ADAPTER** a) {
    NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
    p.Version = {major, minor};
    return ndis.openAdapter(kIf, &p, a);
  }
  NDK_VERSION versionOf(NDK_ADAPTER* a) {
    NDK_ADAPTER_INFO info{};
    ULONG size = sizeof info;
    EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &info, &size), STATUS_SUCCESS);
    EXPECT_EQ(info.Version.Major, a->Header.Version.Major);  // R153
    EXPECT_EQ(info.Version.Minor, a->Header.Version.Minor);
    return info.Version;
  }
  openndk::provider::Device* device() { return deviceOf(ndis.snapshot(kIf)->adapterContext); }

  Ndis ndis;
};

TEST_F(Miniport, R157_R158_RegisteredAndAttributesReported) {
  EXPECT_TRUE(ndis.ndkHandlersRegistered());
  auto s = ndis.snapshot(kIf);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ndkCapable);
  EXPECT_TRUE(s->ndkEnabled);
  EXPECT_EQ(s->capabilities.Header.Type, NDIS_OBJECT_TYPE_DEFAULT);
  EXPECT_EQ(s->capabilities.Header.Revision, NDIS_NDK_CAPABILITIES_REVISION_1);
  EXPECT_EQ(s->capabilities.Header.Size, NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1);
  EXPECT_EQ(s->capabilities.Flags, 0u);
  EXPECT_EQ(s->capabilities.MaxQpCount, device()->capabilities()->MaxQpCount);
  EXPECT_EQ(s->info.MaxCqDepth, device()->capabilities()->NdkInfo->MaxCqDepth);
  EXPECT_EQ(s->info.RdmaTechnology, NdkiWarp);
  EXPECT_EQ(device()->ifIndex(), kIf);
}

TEST_F(Miniport, R158_ReportedWhileDisabledByKeyword) {
  ::setenv("OPENNDK_NETWORK_DIRECT_NDKTEST1", "0", 1);
  InterfaceInit init;
  init.ifIndex = kIf + 1;
  init.name = "ndktest1";
  ASSERT_EQ(ndis.addInterface(init), NDIS_STATUS_SUCCESS);
  ::unsetenv("OPENNDK_NETWORK_DIRECT_NDKTEST1");
  auto s = ndis.snapshot(kIf + 1);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ndkCapable);
  EXPECT_FALSE(s->ndkEnabled);
  EXPECT_FALSE(deviceOf(s->adapterContext)->enabled());
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
  p.Version = {2, 1};
  NDK_ADAPTER* a = nullptr;
  EXPECT_EQ(ndis.openAdapter(kIf + 1, &p, &a), NDIS_STATUS_ADAPTER_NOT_READY);  // R151
}

// ---- R150 ----

TEST_F(Miniport, R150_VersionNegotiation) {
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(open(1, 0, &a), NDIS_STATUS_SUCCESS);  // minor below highest → highest of major 1
  NDK_VERSION v = versionOf(a);
  EXPECT_EQ(v.Major, 1);
  EXPECT_EQ(v.Minor, 2);
  EXPECT_TRUE(ndis.closeAdapter(a));
  ASSERT_EQ(open(2, 1, &a), NDIS_STATUS_SUCCESS);  // exactly the highest
  v = versionOf(a);
  EXPECT_EQ(v.Major, 2);
  EXPECT_EQ(v.Minor, 1);
  EXPECT_TRUE(ndis.closeAdapter(a));
  a = nullptr;
  EXPECT_EQ(open(1, 3, &a), NDIS_STATUS_BAD_VERSION);  // minor above the highest
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(open(2, 2, &a), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(open(3, 0, &a), NDIS_STATUS_BAD_VERSION);  // unsupported major
  EXPECT_EQ(open(0, 0, &a), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(ndis.snapshot(kIf)->openAdapters, 0u);
  ASSERT_EQ(open(1, 1, &a), NDIS_STATUS_SUCCESS);  // still works
  EXPECT_TRUE(ndis.closeAdapter(a));
}

// ---- R159-R161 ----

TEST_F(Miniport, R159_R161_DisableThenEnable) {
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(open(2, 0, &a), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(FALSE), NDIS_STATUS_SUCCESS);  // never PENDING
  EXPECT_FALSE(device()->enabled());
  // Nobody registered a callback here: close it ourselves; the event completes after that.
  EXPECT_TRUE(ndis.closeAdapter(a));
  ASSERT_TRUE(ndis.waitState(kIf, false, 10000));
  EXPECT_EQ(ndis.forcedCloses(), 0u);
  EXPECT_EQ(open(2, 0, &a), NDIS_STATUS_ADAPTER_NOT_READY);  // R151
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis.waitState(kIf, true, 10000));
  EXPECT_TRUE(device()->enabled());
  ASSERT_EQ(open(2, 0, &a), NDIS_STATUS_SUCCESS);
  EXPECT_TRUE(ndis.closeAdapter(a));
  EXPECT_EQ(ndis.pnpEventsDelivered(), 2u);
  EXPECT_EQ(ndis.r160Violations(), 0u);  // R160: signalled from the work item
}

TEST_F(Miniport, R159_SameStateTwiceSignalsOnce) {
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);
  ndis.drainWorkItems();
  EXPECT_EQ(ndis.pnpEventsDelivered(), 0u);  // already enabled
  EXPECT_TRUE(ndis.snapshot(kIf)->ndkEnabled);
}

TEST_F(Miniport, R159_EnableWithNetworkDirectZeroStaysDisabled) {
  ASSERT_EQ(setState(FALSE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis.waitState(kIf, false, 10000));
  ASSERT_EQ(ndis.setKeyword(kIf, NETWORK_DIRECT_KEYWORD, 0), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);  // success, but NDK may not be enabled
  ndis.drainWorkItems();
  EXPECT_FALSE(device()->enabled());
  EXPECT_FALSE(ndis.snapshot(kIf)->ndkEnabled);
  NDK_ADAPTER* a = nullptr;
  EXPECT_EQ(open(2, 0, &a), NDIS_STATUS_ADAPTER_NOT_READY);
  ASSERT_EQ(ndis.setKeyword(kIf, NETWORK_DIRECT_KEYWORD, 1), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis.waitState(kIf, true, 10000));
  ASSERT_EQ(open(2, 0, &a), NDIS_STATUS_SUCCESS);
  ndis.closeAdapter(a);
}

TEST_F(Miniport, R159_EnabledWhenKeywordTurnsZeroIsDisabledOnTrue) {
  ASSERT_EQ(ndis.setKeyword(kIf, NETWORK_DIRECT_KEYWORD, 0), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_TRUE(ndis.waitState(kIf, false, 10000));
  EXPECT_FALSE(device()->enabled());
}

TEST_F(Miniport, R159_SetStateBadLengthAndDirection) {
  unsigned char two[2] = {1, 0};
  ULONG needed = 0;
  EXPECT_EQ(set(OID_NDK_SET_STATE, two, 2, &needed), NDIS_STATUS_INVALID_LENGTH);
  EXPECT_EQ(needed, sizeof(BOOLEAN));
  EXPECT_EQ(set(OID_NDK_SET_STATE, two, 0, &needed), NDIS_STATUS_INVALID_LENGTH);
  EXPECT_EQ(set(OID_NDK_SET_STATE, nullptr, 1), NDIS_STATUS_INVALID_PARAMETER);
  BOOLEAN b = FALSE;
  EXPECT_EQ(query(OID_NDK_SET_STATE, &b, 1), NDIS_STATUS_NOT_SUPPORTED);  // set-only OID
  EXPECT_TRUE(device()->enabled());  // nothing changed
  EXPECT_EQ(setState(FALSE), NDIS_STATUS_SUCCESS);  // still works
  ASSERT_TRUE(ndis.waitState(kIf, false, 10000));
}

// ---- R162 ----

TEST_F(Miniport, R162_StatisticsSnapshotAndReservedZero) {
  device()->counters().connect += 3;
  device()->counters().outOctets += 1000;
  device()->counters().cqError += 1;
  NDIS_NDK_STATISTICS_INFO st;
  std::memset(&st, 0xAB, sizeof st);
  ULONG written = 0;
  ASSERT_EQ(query(OID_NDK_STATISTICS, &st, sizeof st, &written), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(written, sizeof st);
  EXPECT_EQ(st.Header.Type, NDIS_OBJECT_TYPE_DEFAULT);
  EXPECT_EQ(st.Header.Revision, NDIS_NDK_STATISTICS_INFO_REVISION_1);
  EXPECT_EQ(st.Header.Size, NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1);
  EXPECT_EQ(st.Flags, 0u);
  EXPECT_EQ(st.CounterSet.Connect, 3u);
  EXPECT_EQ(st.CounterSet.RDMAOutOctets, 1000u);
  EXPECT_EQ(st.CounterSet.CQError, 1u);
  const ULONG64* r = &st.CounterSet.Reserved01;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r[i], 0u) << "Reserved" << i + 1;
}

TEST_F(Miniport, R162_StatisticsBufferTooShort) {
  ULONG needed = 0;
  unsigned char small[16];
  EXPECT_EQ(query(OID_NDK_STATISTICS, small, sizeof small, nullptr, &needed), NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(needed, sizeof(NDIS_NDK_STATISTICS_INFO));
  EXPECT_EQ(query(OID_NDK_STATISTICS, nullptr, 0, nullptr, &needed), NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(needed, sizeof(NDIS_NDK_STATISTICS_INFO));
  NDIS_NDK_STATISTICS_INFO st;
  EXPECT_EQ(query(OID_NDK_STATISTICS, &st, sizeof st), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(set(OID_NDK_STATISTICS, &st, sizeof st), NDIS_STATUS_NOT_SUPPORTED);  // query-only
}

// ---- R163, R164 ----

TEST_F(Miniport, R163_ConnectionsEmptyAndSizeProtocol) {
  ULONG needed = 0, written = 0;
  EXPECT_EQ(query(OID_NDK_CONNECTIONS, nullptr, 0, nullptr, &needed), NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(needed, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0));
  std::vector<unsigned char> buf(needed, 0xCD);
  ASSERT_EQ(query(OID_NDK_CONNECTIONS, buf.data(), needed, &written), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(written, needed);
  NDIS_NDK_CONNECTIONS head;
  std::memcpy(&head, buf.data(), FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections));
  EXPECT_EQ(head.Header.Type, NDIS_OBJECT_TYPE_DEFAULT);
  EXPECT_EQ(head.Header.Revision, NDIS_NDK_CONNECTIONS_REVISION_1);
  EXPECT_EQ(head.Header.Size, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0));
  EXPECT_EQ(head.Count, 0u);
  EXPECT_EQ(head.Flags, 0u);
  EXPECT_EQ(head.NDConnectionsMappedtoTCPConnections, FALSE);
}

TEST_F(Miniport, R163_ConnectionsListRegisteredEntries) {
  ConnectionRecord c1{v4("127.0.0.1", 5000), v4("127.0.0.1", 6000), false, 0};
  ConnectionRecord c2{v4("127.0.0.1", 5001), v4("127.0.0.2", 6001), true, 77};
  auto r1 = ActivityRegistration::connection(kIf, c1);
  auto r2 = ActivityRegistration::connection(kIf, c2);
  auto other = ActivityRegistration::connection(kIf + 99, c1);  // another interface
  ULONG needed = 0;
  std::vector<unsigned char> buf(NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(1));
  EXPECT_EQ(query(OID_NDK_CONNECTIONS, buf.data(), static_cast<ULONG>(buf.size()), nullptr, &needed),
            NDIS_STATUS_BUFFER_TOO_SHORT);
  ASSERT_EQ(needed, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(2));
  buf.assign(needed, 0);
  ASSERT_EQ(query(OID_NDK_CONNECTIONS, buf.data(), needed), NDIS_STATUS_SUCCESS);
  auto* list = reinterpret_cast<NDIS_NDK_CONNECTIONS*>(buf.data());
  ASSERT_EQ(list->Count, 2u);
  EXPECT_EQ(list->Header.Size, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(2));
  NDIS_NDK_CONNECTION_ENTRY e[2];
  std::memcpy(e, buf.data() + FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections), sizeof e);
  EXPECT_EQ(std::memcmp(&e[0].Local, &c1.local, sizeof(SOCKADDR_INET)), 0);
  EXPECT_EQ(std::memcmp(&e[0].Remote, &c1.remote, sizeof(SOCKADDR_INET)), 0);
  EXPECT_EQ(e[0].UserModeOwner, FALSE);
  EXPECT_EQ(e[1].UserModeOwner, TRUE);
  EXPECT_EQ(e[1].OwnerPid, 77u);
  r1.reset();
  ASSERT_EQ(query(OID_NDK_CONNECTIONS, buf.data(), needed), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(list->Count, 1u);
}

TEST_F(Miniport, R164_LocalEndpointsListAndSizeProtocol) {
  ULONG needed = 0;
  EXPECT_EQ(query(OID_NDK_LOCAL_ENDPOINTS, nullptr, 0, nullptr, &needed), NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(needed, NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(0));
  LocalEndpointRecord l{v4("127.0.0.1", 7000), true, false, 0};
  LocalEndpointRecord s{v4("127.0.0.1", 7001), false, false, 0};
  auto r1 = ActivityRegistration::localEndpoint(kIf, l);
  auto r2 = ActivityRegistration::localEndpoint(kIf, s);
  EXPECT_EQ(query(OID_NDK_LOCAL_ENDPOINTS, nullptr, 0, nullptr, &needed), NDIS_STATUS_BUFFER_TOO_SHORT);
  ASSERT_EQ(needed, NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(2));
  std::vector<unsigned char> buf(needed);
  ULONG written = 0;
  ASSERT_EQ(query(OID_NDK_LOCAL_ENDPOINTS, buf.data(), needed, &written), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(written, needed);
  auto* list = reinterpret_cast<NDIS_NDK_LOCAL_ENDPOINTS*>(buf.data());
  EXPECT_EQ(list->Header.Revision, NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1);
  ASSERT_EQ(list->Count, 2u);
  EXPECT_EQ(list->NDLocalEndpointsMappedtoTCPLocalEndpoints, FALSE);
  NDIS_NDK_LOCAL_ENDPOINT_ENTRY e[2];
  std::memcpy(e, buf.data() + FIELD_OFFSET(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints), sizeof e);
  EXPECT_EQ(e[0].Listener, TRUE);
  EXPECT_EQ(e[1].Listener, FALSE);
  EXPECT_EQ(ntohs(e[1].Local.Ipv4.sin_port), 7001);
}

TEST_F(Miniport, R165_UnknownOidNotSupportedThenOthersStillWork) {
  unsigned char buf[64];
  EXPECT_EQ(query(0x00010101 /* OID_GEN_SUPPORTED_LIST */, buf, sizeof buf), NDIS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(set(0xFC040299, buf, 1), NDIS_STATUS_NOT_SUPPORTED);
  NDIS_NDK_STATISTICS_INFO st;
  EXPECT_EQ(query(OID_NDK_STATISTICS, &st, sizeof st), NDIS_STATUS_SUCCESS);
}

}  // namespace
