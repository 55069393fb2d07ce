// The public host entry points (ndk/ndk.h, ndk/ndk_host.h) through libopenndk.so: discovery,
// OpenNdkOpenAdapter (R150, R151, NULL parameters, unknown interface), the OID buffer protocol of
// OpenNdkQueryInterfaceOid / OpenNdkSetInterfaceOid (R159, R162-R164), disable/enable with the state
// callback (R161). Each test runs in its own process (gtest_discover_tests + ctest).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <ndk/ndk.h>
#include <ndk/ndk_host.h>
#include <ndk/openndk.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

NET_IFINDEX loopback() { return if_nametoindex("lo"); }

std::vector<std::string> addresses(NET_IFINDEX i) {
  ULONG n = 0;
  EXPECT_EQ(OpenNdkQueryInterfaceAddresses(i, nullptr, 0, &n), NDIS_STATUS_SUCCESS);
  std::vector<SOCKADDR_INET> a(n);
  EXPECT_EQ(OpenNdkQueryInterfaceAddresses(i, a.data(), n, &n), NDIS_STATUS_SUCCESS);
  std::vector<std::string> out;
  for (const auto& x : a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (x.si_family == AF_INET) inet_ntop(AF_INET, &x.Ipv4.sin_addr, buf, sizeof buf);
    if (x.si_family == AF_INET6) inet_ntop(AF_INET6, &x.Ipv6.sin6_addr, buf, sizeof buf);
    out.emplace_back(buf);
  }
  return out;
}

bool osHasAddress(const char* ifname, int family) {
  ifaddrs* l = nullptr;
  if (getifaddrs(&l) != 0) return false;
  bool found = false;
  for (ifaddrs* p = l; p; p = p->ifa_next)
    if (p->ifa_addr && p->ifa_addr->sa_family == family && std::strcmp(p->ifa_name, ifname) == 0) found = true;
  freeifaddrs(l);
  return found;
}

NDK_VERSION versionOf(NDK_ADAPTER* a) {
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  EXPECT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &info, &size), STATUS_SUCCESS);
  return info.Version;
}

NDIS_STATUS setState(NET_IFINDEX i, BOOLEAN on) {
  return OpenNdkSetInterfaceOid(i, OID_NDK_SET_STATE, &on, sizeof on, nullptr, nullptr);
}

TEST(HostDiscovery, LoopbackListedWithItsAddresses) {
  ASSERT_NE(loopback(), 0u);
  ULONG n = OpenNdkEnumerateInterfaces(nullptr, 0);
  ASSERT_GE(n, 1u);
  std::vector<NET_IFINDEX> idx(n);
  ASSERT_EQ(OpenNdkEnumerateInterfaces(idx.data(), n), n);
  EXPECT_NE(std::find(idx.begin(), idx.end(), loopback()), idx.end());
  auto a = addresses(loopback());
  EXPECT_NE(std::find(a.begin(), a.end(), "127.0.0.1"), a.end());
  if (osHasAddress("lo", AF_INET6)) {
    EXPECT_NE(std::find(a.begin(), a.end(), "::1"), a.end());
  }
  NDK_HOST_INTERFACE_INFO info;
  ASSERT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);
  EXPECT_STREQ(info.Name, "lo");
  EXPECT_EQ(info.InterfaceIndex, loopback());
  EXPECT_EQ(info.AddressCount, a.size());
  // A short array gets the first entries and the full count.
  NET_IFINDEX one = 0;
  EXPECT_EQ(OpenNdkEnumerateInterfaces(&one, 1), n);
  EXPECT_EQ(one, idx[0]);
}

TEST(HostDiscovery, HostQueriesRejectBadArguments) {
  NDK_HOST_INTERFACE_INFO info;
  EXPECT_EQ(OpenNdkQueryInterfaceInfo(loopback(), nullptr), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(OpenNdkQueryInterfaceInfo(0x7fffff00u, &info), NDIS_STATUS_ADAPTER_NOT_FOUND);
  ULONG n = 0;
  EXPECT_EQ(OpenNdkQueryInterfaceAddresses(loopback(), nullptr, 3, &n), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(OpenNdkQueryInterfaceAddresses(loopback(), nullptr, 0, nullptr), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(OpenNdkQueryInterfaceCapabilities(loopback(), nullptr, nullptr), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(OpenNdkSetInterfaceKeyword(loopback(), nullptr, 1), NDIS_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(OpenNdkSetInterfaceKeyword(loopback(), "*NetworkDirect", 5), NDIS_STATUS_INVALID_DATA);
  EXPECT_EQ(OpenNdkWaitInterfaceState(0x7fffff00u, TRUE, 10), NDIS_STATUS_ADAPTER_NOT_FOUND);
  EXPECT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);  // still fine
}

TEST(HostDiscovery, CapabilitiesMatchAdapterInfo) {
  NDIS_NDK_CAPABILITIES caps;
  NDK_ADAPTER_INFO info;
  ASSERT_EQ(OpenNdkQueryInterfaceCapabilities(loopback(), &caps, &info), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(caps.NdkInfo, &info);
  EXPECT_EQ(caps.Header.Size, NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1);
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER_INFO live{};
  ULONG size = sizeof live;
  ASSERT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &live, &size), STATUS_SUCCESS);
  EXPECT_EQ(live.MaxCqDepth, info.MaxCqDepth);
  EXPECT_EQ(live.MaxInitiatorQueueDepth, info.MaxInitiatorQueueDepth);
  EXPECT_EQ(live.AdapterFlags, info.AdapterFlags);
  OpenNdkCloseAdapter(a);
}

// ---- OpenNdkOpenAdapter ----

TEST(HostOpen, NullParametersGiveNewestVersion) {
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  ASSERT_NE(a, nullptr);
  NDK_VERSION v = versionOf(a);
  EXPECT_EQ(v.Major, 2);
  EXPECT_EQ(v.Minor, 1);
  NDK_HOST_INTERFACE_INFO info;
  ASSERT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(info.OpenAdapterCount, 1u);
  OpenNdkCloseAdapter(a);
  ASSERT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(info.OpenAdapterCount, 0u);
}

TEST(HostOpen, R150_ThreeNegotiationCases) {
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
  NDK_ADAPTER* a = nullptr;
  p.Version = {1, 1};  // supported major, minor <= highest: highest minor reported
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), &p, &a), NDIS_STATUS_SUCCESS);
  NDK_VERSION v = versionOf(a);
  EXPECT_EQ(v.Major, 1);
  EXPECT_EQ(v.Minor, 2);
  OpenNdkCloseAdapter(a);
  p.Version = {1, 9};  // supported major, minor above the highest
  EXPECT_EQ(OpenNdkOpenAdapter(loopback(), &p, &a), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(a, nullptr);
  p.Version = {7, 0};  // unsupported major
  EXPECT_EQ(OpenNdkOpenAdapter(loopback(), &p, &a), NDIS_STATUS_BAD_VERSION);
  EXPECT_EQ(a, nullptr);
  p.Version = {2, 0};
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), &p, &a), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(versionOf(a).Minor, 1);
  OpenNdkCloseAdapter(a);
}

TEST(HostOpen, BadArguments) {
  EXPECT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, nullptr), NDIS_STATUS_INVALID_PARAMETER);
  NDK_ADAPTER* a = reinterpret_cast<NDK_ADAPTER*>(0x1);
  EXPECT_EQ(OpenNdkOpenAdapter(0x7fffff00u, nullptr, &a), NDIS_STATUS_ADAPTER_NOT_FOUND);
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(OpenNdkOpenAdapter(0, nullptr, &a), NDIS_STATUS_ADAPTER_NOT_FOUND);
  OpenNdkCloseAdapter(nullptr);  // harmless
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);  // still works
  OpenNdkCloseAdapter(a);
}

// ---- OIDs ----

TEST(HostOid, R162_StatisticsBufferProtocol) {
  ULONG written = 1, needed = 0;
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_STATISTICS, nullptr, 0, &written, &needed),
            NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(written, 0u);
  EXPECT_EQ(needed, sizeof(NDIS_NDK_STATISTICS_INFO));
  NDIS_NDK_STATISTICS_INFO st;
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_STATISTICS, &st, sizeof st - 1, &written, &needed),
            NDIS_STATUS_BUFFER_TOO_SHORT);
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_STATISTICS, nullptr, 8, &written, &needed),
            NDIS_STATUS_INVALID_PARAMETER);
  ASSERT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_STATISTICS, &st, sizeof st, &written, &needed),
            NDIS_STATUS_SUCCESS);
  EXPECT_EQ(written, sizeof st);
  EXPECT_EQ(st.Header.Size, NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1);
  const ULONG64* r = &st.CounterSet.Reserved01;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r[i], 0u);
  // NULL out-pointers are allowed.
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_STATISTICS, &st, sizeof st, nullptr, nullptr), NDIS_STATUS_SUCCESS);
}

TEST(HostOid, R163_R164_EmptyListsOnIdleInterface) {
  ULONG needed = 0, written = 0;
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_CONNECTIONS, nullptr, 0, &written, &needed),
            NDIS_STATUS_BUFFER_TOO_SHORT);
  ASSERT_GE(needed, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(0));
  std::vector<unsigned char> buf(needed);
  ASSERT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_CONNECTIONS, buf.data(), needed, &written, &needed),
            NDIS_STATUS_SUCCESS);
  NDIS_NDK_CONNECTIONS c;
  std::memcpy(&c, buf.data(), FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections));
  EXPECT_EQ(written, NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(c.Count));
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_LOCAL_ENDPOINTS, nullptr, 0, &written, &needed),
            NDIS_STATUS_BUFFER_TOO_SHORT);
  ASSERT_GE(needed, NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(0));
  buf.assign(needed, 0);
  ASSERT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_LOCAL_ENDPOINTS, buf.data(), needed, &written, &needed),
            NDIS_STATUS_SUCCESS);
}

TEST(HostOid, UnknownOidInterfaceAndDirection) {
  unsigned char buf[8] = {};
  ULONG needed = 0;
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), 0x00010101, buf, sizeof buf, nullptr, nullptr), NDIS_STATUS_INVALID_OID);
  EXPECT_EQ(OpenNdkQueryInterfaceOid(loopback(), OID_NDK_SET_STATE, buf, 1, nullptr, nullptr), NDIS_STATUS_INVALID_OID);
  EXPECT_EQ(OpenNdkSetInterfaceOid(loopback(), OID_NDK_STATISTICS, buf, sizeof buf, nullptr, nullptr),
            NDIS_STATUS_INVALID_OID);
  EXPECT_EQ(OpenNdkQueryInterfaceOid(0x7fffff00u, OID_NDK_STATISTICS, buf, sizeof buf, nullptr, nullptr),
            NDIS_STATUS_ADAPTER_NOT_FOUND);
  EXPECT_EQ(OpenNdkSetInterfaceOid(loopback(), OID_NDK_SET_STATE, buf, 4, nullptr, &needed), NDIS_STATUS_INVALID_LENGTH);
  EXPECT_EQ(needed, sizeof(BOOLEAN));
  EXPECT_EQ(OpenNdkSetInterfaceOid(loopback(), OID_NDK_SET_STATE, nullptr, 1, nullptr, nullptr),
            NDIS_STATUS_INVALID_PARAMETER);
  NDK_HOST_INTERFACE_INFO info;
  ASSERT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);
  EXPECT_TRUE(info.NdkEnabled);  // nothing changed
}

// ---- R159-R161 through the public API ----

struct Consumer {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<NDK_ADAPTER*> adapters;
  int disables = 0, enables = 0;
};

VOID onState(PVOID ctx, NET_IFINDEX, BOOLEAN enabled) {
  auto* c = static_cast<Consumer*>(ctx);
  std::vector<NDK_ADAPTER*> close;
  {
    std::lock_guard lock(c->mu);
    if (enabled) {
      ++c->enables;
    } else {
      ++c->disables;
      close.swap(c->adapters);
    }
  }
  for (NDK_ADAPTER* a : close) OpenNdkCloseAdapter(a);  // R161: close on request (allowed in the callback)
  c->cv.notify_all();
}

TEST(HostState, R159_R161_DisableClosesAdaptersAndRefusesOpens) {
  Consumer c;
  PVOID reg = nullptr;
  ASSERT_EQ(OpenNdkRegisterStateCallback(&onState, &c, &reg), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  c.adapters.push_back(a);
  ASSERT_EQ(setState(loopback(), FALSE), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkWaitInterfaceState(loopback(), FALSE, 30000), NDIS_STATUS_SUCCESS);
  {
    std::lock_guard lock(c.mu);
    EXPECT_EQ(c.disables, 1);
    EXPECT_TRUE(c.adapters.empty());
  }
  NDK_HOST_INTERFACE_INFO info;
  ASSERT_EQ(OpenNdkQueryInterfaceInfo(loopback(), &info), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(info.OpenAdapterCount, 0u);
  EXPECT_FALSE(info.NdkEnabled);
  EXPECT_FALSE(info.ProviderEnabled);
  EXPECT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_ADAPTER_NOT_READY);  // R151
  ASSERT_EQ(setState(loopback(), TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkWaitInterfaceState(loopback(), TRUE, 30000), NDIS_STATUS_SUCCESS);
  EXPECT_EQ(c.enables, 1);
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  OpenNdkCloseAdapter(a);
  OpenNdkDeregisterStateCallback(reg);
  EXPECT_EQ(OpenNdkRegisterStateCallback(nullptr, nullptr, &reg), NDIS_STATUS_INVALID_PARAMETER);
}

TEST(HostState, R159_NetworkDirectZeroKeepsNdkDisabled) {
  ASSERT_EQ(OpenNdkSetInterfaceKeyword(loopback(), "*NetworkDirect", 0), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(loopback(), TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkWaitInterfaceState(loopback(), FALSE, 30000), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER* a = nullptr;
  EXPECT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_ADAPTER_NOT_READY);
  ASSERT_EQ(OpenNdkSetInterfaceKeyword(loopback(), "*NetworkDirect", 1), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(setState(loopback(), TRUE), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkWaitInterfaceState(loopback(), TRUE, 30000), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  OpenNdkCloseAdapter(a);
}

TEST(HostConfig, TunableTableExported) {
  ULONG n = OpenNdkQueryTunables(nullptr, 0);
  ASSERT_GT(n, 0u);
  std::vector<NDK_HOST_TUNABLE> t(n);
  ASSERT_EQ(OpenNdkQueryTunables(t.data(), n), n);
  bool found = false;
  for (const auto& row : t) found = found || std::strcmp(row.Name, "network_direct") == 0;
  EXPECT_TRUE(found);
}

// OpenNdkGetConnectorFailure (ndk/openndk.h): 0 and an empty buffer for anything that is not a
// live connector, and for a connector whose connection has not failed. The failed case (a peer
// that is not iWARP) is host.NdkTool.FailedMpaExchangeReasonReachesTheUser.
TEST(HostConnectorFailure, NotAConnectorOrNotFailedGivesNothing) {
  char buf[64] = "unchanged";
  EXPECT_EQ(OpenNdkGetConnectorFailure(nullptr, buf, sizeof buf), 0u);
  EXPECT_STREQ(buf, "");
  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(OpenNdkOpenAdapter(loopback(), nullptr, &a), NDIS_STATUS_SUCCESS);
  std::strcpy(buf, "unchanged");
  EXPECT_EQ(OpenNdkGetConnectorFailure(reinterpret_cast<const struct _NDK_CONNECTOR*>(a), buf, sizeof buf), 0u);
  EXPECT_STREQ(buf, "");
  struct Created {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    NTSTATUS status = STATUS_PENDING;
    NDK_CONNECTOR* c = nullptr;
  } created;
  auto onCreated = [](PVOID ctx, NTSTATUS st, NDK_OBJECT_HEADER* o) {
    auto* w = static_cast<Created*>(ctx);
    std::lock_guard l(w->mu);
    w->status = st;
    w->c = reinterpret_cast<NDK_CONNECTOR*>(o);
    w->done = true;
    w->cv.notify_all();
  };
  NDK_CONNECTOR* c = nullptr;
  NTSTATUS s = a->Dispatch->NdkCreateConnector(a, onCreated, &created, &c);
  if (s == STATUS_PENDING) {
    std::unique_lock l(created.mu);
    ASSERT_TRUE(created.cv.wait_for(l, std::chrono::seconds(10), [&] { return created.done; }));
    s = created.status;
    c = created.c;
  }
  ASSERT_EQ(s, STATUS_SUCCESS);
  std::strcpy(buf, "unchanged");
  EXPECT_EQ(OpenNdkGetConnectorFailure(c, buf, sizeof buf), 0u);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(OpenNdkGetConnectorFailure(c, nullptr, 0), 0u);
  EXPECT_EQ(c->Dispatch->NdkCloseConnector(&c->Header, nullptr, nullptr), STATUS_SUCCESS);
  OpenNdkCloseAdapter(a);
}

}  // namespace
