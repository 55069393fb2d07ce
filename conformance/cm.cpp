// Conformance: connection management (NDKPI.md §5.9–§5.12: R82–R119): local checks (address
// errors, getters before connect, private-data limits) and the networked paths (a provider that
// answers STATUS_NOT_IMPLEMENTED there fails: CONF_REQUIRE_NETWORKING).
#include <arpa/inet.h>

#include <cstring>

#include <ndk/ndk_host.h>

#include <algorithm>
#include <initializer_list>

#include "consumer.h"

namespace conf {
namespace {

PSOCKADDR sa(SOCKADDR_IN* a) { return reinterpret_cast<PSOCKADDR>(a); }

class Cm : public NdkTest {
 protected:
  NTSTATUS connect(NDK_CONNECTOR* c, NDK_QP* qp, SOCKADDR_IN dst, const void* pd, ULONG len, Recorder* done) {
    SOCKADDR_IN src = loopback4(0);
    return c->Dispatch->NdkConnect(c, qp, sa(&src), sizeof src, sa(&dst), sizeof dst, 4, 4, const_cast<PVOID>(pd),
                                   len, &Recorder::onRequest, done);
  }
  NDK_QP* someQp() {
    NDK_PD* pd = makePd();
    NDK_CQ* cq = makeCq();
    return (pd && cq) ? makeQp(pd, cq, cq) : nullptr;
  }
};

// R107 [D]: no address yet → STATUS_CONNECTION_INVALID.
TEST_F(Cm, R107_GettersBeforeConnect) {
  NDK_CONNECTOR* c = makeConnector();
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_TRUE(c && l);
  SOCKADDR_IN a{};
  ULONG len = sizeof a;
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, c->Dispatch->NdkGetLocalAddress(c, sa(&a), &len));
  len = sizeof a;
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, c->Dispatch->NdkGetPeerAddress(c, sa(&a), &len));
  len = sizeof a;
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, l->Dispatch->NdkGetLocalAddress(l, sa(&a), &len));
  // Still usable.
  EXPECT_NE(nullptr, makeConnector());
}

// R98: NdkCompleteConnect on a connector that is not connecting → STATUS_CONNECTION_INVALID.
TEST_F(Cm, R98_CompleteConnectOnIdleConnector) {
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_NE(nullptr, c);
  Recorder& d = newRecorder();
  NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return c->Dispatch->NdkCompleteConnect(c, &Recorder::onDisconnect, &d, cb, x);
  });
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, st);
  st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return c->Dispatch->NdkCompleteConnectEx(c, &Recorder::onDisconnectEx, &d, cb, x);
  });
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, st);
}

// §3.8.9 [D]: NdkDisconnect on a connector that is not connected → STATUS_CONNECTION_INVALID.
TEST_F(Cm, DisconnectNotConnected) {
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_NE(nullptr, c);
  NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) { return c->Dispatch->NdkDisconnect(c, cb, x); });
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, st);
}

// R87 [D]: private data above MaxCallerData fails inline with STATUS_INVALID_PARAMETER.
TEST_F(Cm, R87_ConnectPrivateDataTooLong) {
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_TRUE(qp && c);
  std::vector<char> data(info_.MaxCallerData + 1, 'x');
  Recorder& done = newRecorder();
  NTSTATUS st = connect(c, qp, loopback4(9), data.data(), static_cast<ULONG>(data.size()), &done);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, st);
  EXPECT_EQ(0u, done.count());
}

// R88: pPrivateData NULL with a non-zero length is invalid (provider decision: INVALID_PARAMETER).
TEST_F(Cm, R88_NullPrivateDataWithLength) {
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_TRUE(qp && c);
  Recorder& done = newRecorder();
  NTSTATUS st = connect(c, qp, loopback4(9), nullptr, 4, &done);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, st);
}

// R95: a local address that is not the adapter's → STATUS_INVALID_ADDRESS (listen, shared endpoint).
TEST_F(Cm, R95_ListenOnForeignAddress) {
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  SOCKADDR_IN foreign = loopback4(0);
  foreign.sin_addr.s_addr = inet_addr("192.0.2.77");  // TEST-NET-1, never local
  NTSTATUS st = listenOn(l, foreign, nullptr);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_STATUS(STATUS_INVALID_ADDRESS, st);
  // The listener is still usable.
  SOCKADDR_IN bound{};
  st = listenOn(l, loopback4(0), &bound);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, st);
}

TEST_F(Cm, R95_SharedEndpointOnForeignAddress) {
  SOCKADDR_IN foreign = loopback4(0);
  foreign.sin_addr.s_addr = inet_addr("192.0.2.77");
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&foreign), sizeof foreign, &st);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_STATUS(STATUS_INVALID_ADDRESS, st);
  EXPECT_EQ(nullptr, se);
}

TEST_F(Cm, BadAddressLengthRejected) {  // provider decision
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  SOCKADDR_IN a = loopback4(0);
  NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return l->Dispatch->NdkListen(l, sa(&a), sizeof(a) - 1, cb, x);
  });
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, st);
  st = listenOn(l, loopback4(0), nullptr);
  CONF_REQUIRE_NETWORKING(st);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, st);
}

// R94/R107: port 0 → an ephemeral port, visible through GetLocalAddress; too-small buffer →
// BUFFER_TOO_SMALL with the required size and nothing written.
TEST_F(Cm, R94_R107_ListenPortZeroAndAddressBuffer) {
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  NTSTATUS st = listenOn(l, loopback4(0), nullptr);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  unsigned char small[8];
  std::memset(small, 0xEE, sizeof small);
  ULONG len = sizeof small;
  CONF_EXPECT_STATUS(STATUS_BUFFER_TOO_SMALL, l->Dispatch->NdkGetLocalAddress(l, reinterpret_cast<PSOCKADDR>(small), &len));
  EXPECT_EQ(sizeof(SOCKADDR_IN), len);
  for (unsigned char b : small) EXPECT_EQ(0xEE, b) << "R107 [D]: nothing written";
  SOCKADDR_IN a{};
  len = sizeof a;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, l->Dispatch->NdkGetLocalAddress(l, sa(&a), &len));
  EXPECT_EQ(sizeof(SOCKADDR_IN), len);
  EXPECT_EQ(AF_INET, a.sin_family);
  EXPECT_GE(ntohs(a.sin_port), OPENNDK_EPHEMERAL_PORT_FIRST);
  EXPECT_EQ(loopback4(0).sin_addr.s_addr, a.sin_addr.s_addr);
}

// R106 [D]: a second NdkListen on the same listener fails with STATUS_INVALID_PARAMETER.
TEST_F(Cm, R106_ListenTwiceFails) {
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  NTSTATUS st = listenOn(l, loopback4(0), nullptr);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, listenOn(l, loopback4(0), nullptr));
  SOCKADDR_IN a{};
  ULONG len = sizeof a;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, l->Dispatch->NdkGetLocalAddress(l, sa(&a), &len));
}

// R113/R114: a held endpoint → STATUS_SHARING_VIOLATION; free again once the listener is closed.
TEST_F(Cm, R113_R114_EndpointSharingAndRelease) {
  Recorder& ev = newRecorder();
  NDK_LISTENER* l1 = makeListener(&ev);
  NDK_LISTENER* l2 = makeListener(&ev);
  ASSERT_TRUE(l1 && l2);
  SOCKADDR_IN bound{};
  NTSTATUS st = listenOn(l1, loopback4(0), &bound);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  CONF_EXPECT_STATUS(STATUS_SHARING_VIOLATION, listenOn(l2, bound, nullptr));
  NTSTATUS sst = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&bound), sizeof bound, &sst);
  CONF_EXPECT_STATUS(STATUS_SHARING_VIOLATION, sst);
  EXPECT_EQ(nullptr, se);
  closeNow(l1);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, listenOn(l2, bound, nullptr)) << "R113: endpoint released";
}

// R108: IPv6 loopback works as well.
TEST_F(Cm, R108_ListenIpv6Loopback) {
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  // Whether the test applies is the environment's decision, probed with plain sockets (never the
  // provider's own answer): does the interface under test have an IPv6 address a socket can bind?
  if (!hostHasBindableIpv6(interfaceUnderTest()))
    GTEST_SKIP() << "the host has no bindable IPv6 address on the interface under test (plain socket probe)";
  // It has one: then the provider must list it (::1 on "lo").
  SOCKADDR_INET addrs[16];
  ULONG count = 0;
  CONF_ASSERT_STATUS(NDIS_STATUS_SUCCESS, OpenNdkQueryInterfaceAddresses(interfaceUnderTest(), addrs, 16, &count));
  SOCKADDR_IN6 a6{};
  for (ULONG i = 0; i < std::min<ULONG>(count, 16); ++i) {
    if (addrs[i].si_family == AF_INET6) {
      a6 = addrs[i].Ipv6;
      break;
    }
  }
  ASSERT_EQ(AF_INET6, a6.sin6_family) << "the interface has an IPv6 address but OpenNdkQueryInterfaceAddresses lists none";
  a6.sin6_port = 0;
  NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return l->Dispatch->NdkListen(l, reinterpret_cast<PSOCKADDR>(&a6), sizeof a6, cb, x);
  });
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  SOCKADDR_IN6 got{};
  ULONG len = sizeof got;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, l->Dispatch->NdkGetLocalAddress(l, reinterpret_cast<PSOCKADDR>(&got), &len));
  EXPECT_EQ(sizeof(SOCKADDR_IN6), len);
  EXPECT_EQ(AF_INET6, got.sin6_family);
  EXPECT_NE(0, got.sin6_port);
}

// R96: no listener on the destination → STATUS_CONNECTION_REFUSED (inline or async).
TEST_F(Cm, R96_R112_ConnectWithoutListenerRefused) {
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_TRUE(qp && c && l);
  // Find a port nobody listens on: bind a listener, remember the port, close it.
  SOCKADDR_IN bound{};
  NTSTATUS st = listenOn(l, loopback4(0), &bound);
  CONF_REQUIRE_NETWORKING(st);
  closeNow(l);
  Recorder& done = newRecorder();
  st = connect(c, qp, bound, nullptr, 0, &done);
  CONF_REQUIRE_NETWORKING(st);
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(done.waitFor(1));
    st = done.last().status;
  }
  CONF_EXPECT_STATUS(STATUS_CONNECTION_REFUSED, st);
  // R112 [D]: the connector served its one attempt.
  Recorder& done2 = newRecorder();
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, connect(c, qp, bound, nullptr, 0, &done2));
}

// Full establishment: R82–R84 (IRD/ORD), R89–R91 (private data), R97–R99, R102, R107 (addresses).
TEST_F(Cm, R82_R84_R89_R97_R99_R102_R109_R116_EstablishLoopback) {
  Pair& p = newPair();
  const char caller[] = "caller-data";
  const char callee[] = "callee!";
  NTSTATUS st = connectPair(p, 2, 3, caller, sizeof caller, callee, sizeof callee);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  // R102: the incoming connector has a proper header.
  EXPECT_EQ(NdkObjectTypeConnector, p.passive.con->Header.ObjectType);
  // R107: addresses.
  SOCKADDR_IN local{}, peer{}, plocal{}, ppeer{};
  ULONG len = sizeof local;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.active.con->Dispatch->NdkGetLocalAddress(p.active.con, sa(&local), &len));
  len = sizeof peer;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.active.con->Dispatch->NdkGetPeerAddress(p.active.con, sa(&peer), &len));
  len = sizeof plocal;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.passive.con->Dispatch->NdkGetLocalAddress(p.passive.con, sa(&plocal), &len));
  len = sizeof ppeer;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.passive.con->Dispatch->NdkGetPeerAddress(p.passive.con, sa(&ppeer), &len));
  EXPECT_EQ(p.listenAddr.sin_port, peer.sin_port);
  EXPECT_EQ(local.sin_port, ppeer.sin_port);
  EXPECT_EQ(plocal.sin_port, p.listenAddr.sin_port);
  // R116: the active side's endpoint port came from the ephemeral range.
  EXPECT_GE(ntohs(local.sin_port), OPENNDK_EPHEMERAL_PORT_FIRST);
}

// R89/R90/R91 on the passive side before accepting, R84 values known so far, R100 reject.
TEST_F(Cm, R84_R87_R89_R90_R91_R100_RejectWithPrivateData) {
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_TRUE(qp && c && l);
  SOCKADDR_IN bound{};
  NTSTATUS st = listenOn(l, loopback4(0), &bound);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  const char caller[] = "hello-passive";
  Recorder& done = newRecorder();
  st = connect(c, qp, bound, caller, sizeof caller, &done);
  CONF_REQUIRE_NETWORKING(st);
  ASSERT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << statusName(st);
  ASSERT_TRUE(ev.waitFor(1));
  auto* in = reinterpret_cast<NDK_CONNECTOR*>(ev.last().object);
  ASSERT_NE(nullptr, in);
  track(in);
  // R89a: size query.
  ULONG rds = 0, ird = 0, ord = 0;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, in->Dispatch->NdkGetConnectionData(in, &ird, &ord, nullptr, &rds));
  EXPECT_EQ(sizeof caller, rds) << "R90 [D]";
  EXPECT_LE(ird, info_.MaxInboundReadLimit) << "R84";
  EXPECT_LE(ord, info_.MaxOutboundReadLimit) << "R84";
  // R89b [D]
  ULONG bogus = 4;
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, nullptr, &bogus));
  // R89c: too small → truncated copy + BUFFER_TOO_SMALL, length = RDS.
  char small[4] = {};
  ULONG slen = sizeof small;
  CONF_EXPECT_STATUS(STATUS_BUFFER_TOO_SMALL, in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, small, &slen));
  EXPECT_EQ(sizeof caller, slen);
  EXPECT_EQ(0, std::memcmp(small, caller, sizeof small));
  char full[64] = {};
  ULONG flen = sizeof full;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, full, &flen));
  EXPECT_EQ(sizeof caller, flen);
  EXPECT_STREQ(caller, full) << "R91";
  // R87 [D]: reject private data above MaxCalleeData fails; then a real reject.
  std::vector<char> tooLong(info_.MaxCalleeData + 1, 'r');
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER,
                       in->Dispatch->NdkReject(in, tooLong.data(), static_cast<ULONG>(tooLong.size())));
  const char no[] = "no-thanks";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, in->Dispatch->NdkReject(in, const_cast<char*>(no), sizeof no));
  // Active side: CONNECTION_REFUSED, and the reject's private data is readable (R91 [I]).
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(done.waitFor(1));
    st = done.last().status;
  }
  CONF_EXPECT_STATUS(STATUS_CONNECTION_REFUSED, st);
  char got[64] = {};
  ULONG glen = sizeof got;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got, &glen));
  EXPECT_EQ(sizeof no, glen);
  EXPECT_STREQ(no, got);
}

// R93 [D]: a QP already associated with a connector cannot be given to another one.
TEST_F(Cm, R93_QpAlreadyAssociated) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_NE(nullptr, c);
  Recorder& done = newRecorder();
  CONF_EXPECT_D_STATUS(STATUS_INVALID_PARAMETER, connect(c, p.active.qp, p.listenAddr, nullptr, 0, &done));
  EXPECT_EQ(0u, done.count());
}

// R79/R110/R81: a graceful disconnect: the peer gets its disconnect event (once), the local side
// does not; afterwards initiator calls fail with STATUS_CONNECTION_INVALID.
TEST_F(Cm, R79_R80_R81_R110_DisconnectEvents) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(p.active.qp, reinterpret_cast<PVOID>(1)));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(p.passive.qp, reinterpret_cast<PVOID>(2)));
  st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return p.active.con->Dispatch->NdkDisconnect(p.active.con, cb, x);
  });
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  ASSERT_TRUE(p.passive.disconnects.waitFor(1)) << "R110";
  // R80: indicating the peer's disconnect does not flush the passive QP; its flush does.
  NDK_RESULT pr[2];
  EXPECT_EQ(0u, p.passive.cq->Dispatch->NdkGetCqResults(p.passive.cq, pr, 2)) << "R80";
  p.passive.qp->Dispatch->NdkFlush(p.passive.qp);
  auto pf = drainEx(p.passive.cq, 1);
  ASSERT_EQ(1u, pf.size());
  CONF_EXPECT_STATUS(STATUS_CANCELLED, pf[0].Status);
  EXPECT_EQ(static_cast<PVOID>(&p.passive.disconnects), p.passive.disconnects.last().context);
  // R79: the implicit flush cancels the pending receive.
  auto got = drainEx(p.active.cq, 1);
  ASSERT_EQ(1u, got.size());
  CONF_EXPECT_STATUS(STATUS_CANCELLED, got[0].Status);
  NDK_SGE s{};
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, p.active.qp->Dispatch->NdkSend(p.active.qp, nullptr, &s, 0, 0));
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, p.passive.qp->Dispatch->NdkSend(p.passive.qp, nullptr, &s, 0, 0));
  EXPECT_EQ(0u, p.active.disconnects.count()) << "R110: not for the local disconnect";
  // Second disconnect: not connected any more ([D] §3.8.9).
  st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return p.active.con->Dispatch->NdkDisconnect(p.active.con, cb, x);
  });
  CONF_EXPECT_D_STATUS(STATUS_CONNECTION_INVALID, st);
}

// R31 [D]: closing a connector with an established connection aborts it: the peer sees its
// disconnect event, the local QP's outstanding requests are flushed.
TEST_F(Cm, R31_R110_CloseConnectedConnectorAborts) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(p.active.qp, reinterpret_cast<PVOID>(1)));
  closeNow(p.active.con);
  ASSERT_TRUE(p.passive.disconnects.waitFor(1)) << "R31/R110";
  auto got = drainEx(p.active.cq, 1);
  ASSERT_EQ(1u, got.size());
  CONF_EXPECT_STATUS(STATUS_CANCELLED, got[0].Status);
  NDK_SGE s{};
  CONF_EXPECT_STATUS(STATUS_CONNECTION_INVALID, p.passive.qp->Dispatch->NdkSend(p.passive.qp, nullptr, &s, 0, 0));
}

// R101/R111 [D]: the Ex callbacks get a ProviderDisconnectReason; 1 = graceful peer disconnect.
TEST_F(Cm, R101_R111_ExCallbacksGetReason) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p, 4, 4, nullptr, 0, nullptr, 0, 32, 0, /*ex=*/true);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
    return p.passive.con->Dispatch->NdkDisconnect(p.passive.con, cb, x);
  });
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  ASSERT_TRUE(p.active.disconnects.waitFor(1));
  if (strict()) {
    EXPECT_EQ(1u, p.active.disconnects.last().reason) << "R111 [D]";
  }
  EXPECT_EQ(0u, p.passive.disconnects.count());
}

// R82–R84: effective IRD/ORD = min(local request, adapter maximum, the peer's opposite value);
// the passive side sees the values known so far before accepting.
TEST_F(Cm, R82_R83_R84_ReadLimitsNegotiated) {
  Pair& p = newPair();
  p.pd = makePd();
  NDK_CQ* cq = makeCq();
  ASSERT_TRUE(p.pd && cq);
  p.active.qp = makeQp(p.pd, cq, cq);
  p.passive.qp = makeQp(p.pd, cq, cq);
  p.listener = makeListener(&p.connectEvents);
  ASSERT_TRUE(p.active.qp && p.passive.qp && p.listener);
  NTSTATUS st = listenOn(p.listener, loopback4(0), &p.listenAddr);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  p.active.con = makeConnector();
  ASSERT_NE(nullptr, p.active.con);
  const ULONG aIrd = 8, aOrd = 2, pIrd = 1, pOrd = 6;
  SOCKADDR_IN src = loopback4(0);
  st = p.active.con->Dispatch->NdkConnect(p.active.con, p.active.qp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                          reinterpret_cast<PSOCKADDR>(&p.listenAddr), sizeof p.listenAddr, aIrd, aOrd,
                                          nullptr, 0, &Recorder::onRequest, &p.connectDone);
  CONF_REQUIRE_NETWORKING(st);
  ASSERT_TRUE(st == STATUS_PENDING) << statusName(st);
  ASSERT_TRUE(p.connectEvents.waitFor(1));
  p.passive.con = reinterpret_cast<NDK_CONNECTOR*>(p.connectEvents.last().object);
  track(p.passive.con);
  ULONG ird = 0, ord = 0, len = 0;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.passive.con->Dispatch->NdkGetConnectionData(p.passive.con, &ird, &ord, nullptr, &len));
  EXPECT_EQ(std::min(info_.MaxInboundReadLimit, aOrd), ird) << "R84 [I] passive before accept";
  EXPECT_EQ(std::min(info_.MaxOutboundReadLimit, aIrd), ord) << "R84 [I] passive before accept";
  CONF_ASSERT_STATUS(STATUS_PENDING, p.passive.con->Dispatch->NdkAccept(p.passive.con, p.passive.qp, pIrd, pOrd, nullptr,
                                                                        0, nullptr, nullptr, &Recorder::onRequest,
                                                                        &p.acceptDone));  // R99 [D]
  ASSERT_TRUE(p.connectDone.waitFor(1));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, p.connectDone.last().status);
  len = 0;
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.active.con->Dispatch->NdkGetConnectionData(p.active.con, &ird, &ord, nullptr, &len));
  EXPECT_EQ(std::min({aIrd, info_.MaxInboundReadLimit, pOrd}), ird) << "R82";
  EXPECT_EQ(std::min({aOrd, info_.MaxOutboundReadLimit, pIrd}), ord) << "R83";
  CONF_EXPECT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID x) {
                       return p.active.con->Dispatch->NdkCompleteConnect(p.active.con, nullptr, nullptr, cb, x);
                     }));
  ASSERT_TRUE(p.acceptDone.waitFor(1));
  CONF_EXPECT_STATUS(STATUS_SUCCESS, p.acceptDone.last().status);
}

// R117–R119: a shared endpoint serves several connectors to different destinations; a second
// connection to the same destination fails; its close pends until its connectors are closed.
TEST_F(Cm, R117_R118_R119_SharedEndpoint) {
  SOCKADDR_IN a = loopback4(0);
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&a), sizeof a, &st);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  SOCKADDR_IN seAddr{};
  ULONG len = sizeof seAddr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, se->Dispatch->NdkGetLocalAddress(se, reinterpret_cast<PSOCKADDR>(&seAddr), &len));
  EXPECT_GE(ntohs(seAddr.sin_port), OPENNDK_EPHEMERAL_PORT_FIRST) << "R94";
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_NE(nullptr, l);
  SOCKADDR_IN dst{};
  st = listenOn(l, loopback4(0), &dst);
  CONF_REQUIRE_NETWORKING(st);
  NDK_QP* qp1 = someQp();
  NDK_QP* qp2 = someQp();
  NDK_CONNECTOR* c1 = makeConnector();
  NDK_CONNECTOR* c2 = makeConnector();
  ASSERT_TRUE(qp1 && qp2 && c1 && c2);
  Recorder& d1 = newRecorder();
  Recorder& d2 = newRecorder();
  st = c1->Dispatch->NdkConnectWithSharedEndpoint(c1, qp1, se, reinterpret_cast<PSOCKADDR>(&dst), sizeof dst, 4, 4,
                                                  nullptr, 0, &Recorder::onRequest, &d1);
  CONF_REQUIRE_NETWORKING(st);
  ASSERT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << statusName(st);
  ASSERT_TRUE(ev.waitFor(1));
  track(ev.last().object);
  // Same destination from the same shared endpoint while the first exists → ADDRESS_ALREADY_EXISTS.
  st = c2->Dispatch->NdkConnectWithSharedEndpoint(c2, qp2, se, reinterpret_cast<PSOCKADDR>(&dst), sizeof dst, 4, 4,
                                                  nullptr, 0, &Recorder::onRequest, &d2);
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(d2.waitFor(1));
    st = d2.last().status;
  }
  CONF_EXPECT_STATUS(STATUS_ADDRESS_ALREADY_EXISTS, st);
  // R118: the shared endpoint's close pends while c1 uses it.
  untrack(&se->Header);
  Recorder& seClose = newRecorder();
  CONF_EXPECT_STATUS(STATUS_PENDING,
                     se->Dispatch->NdkCloseSharedEndpoint(&se->Header, &Recorder::onClose, &seClose));
  EXPECT_EQ(0u, seClose.count());
  closeNow(c1);
  EXPECT_TRUE(seClose.waitFor(1));
}

// R103 [D]: connect events of one listener are delivered one at a time.
TEST_F(Cm, R103_ConnectEventsOneAtATime) {
  Recorder& ev = newRecorder();
  ev.gate = true;
  NDK_LISTENER* l = makeListener(&ev);
  NDK_QP* qp1 = someQp();
  NDK_QP* qp2 = someQp();
  NDK_CONNECTOR* c1 = makeConnector();
  NDK_CONNECTOR* c2 = makeConnector();
  ASSERT_TRUE(l && qp1 && qp2 && c1 && c2);
  SOCKADDR_IN dst{};
  NTSTATUS st = listenOn(l, loopback4(0), &dst);
  CONF_REQUIRE_NETWORKING(st);
  Recorder& d1 = newRecorder();
  Recorder& d2 = newRecorder();
  st = connect(c1, qp1, dst, nullptr, 0, &d1);
  CONF_REQUIRE_NETWORKING(st);
  ASSERT_TRUE(ev.entered.wait());
  ev.entered.reset();
  st = connect(c2, qp2, dst, nullptr, 0, &d2);
  EXPECT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << statusName(st);
  EXPECT_FALSE(ev.entered.wait(std::chrono::milliseconds(200))) << "R103: second connect event overlapped";
  ev.release.set();
  ASSERT_TRUE(ev.waitFor(2));
  for (const CallRecord& r : ev.calls()) track(r.object);
}

// R104: a paused listener refuses incoming requests; resumed it delivers again.
TEST_F(Cm, R104_PausedListenerRefuses) {
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  Recorder& ev = newRecorder();
  NDK_LISTENER* l = makeListener(&ev);
  ASSERT_TRUE(qp && c && l);
  SOCKADDR_IN bound{};
  NTSTATUS st = listenOn(l, loopback4(0), &bound);
  CONF_REQUIRE_NETWORKING(st);
  l->Dispatch->NdkControlConnectEvents(l, TRUE);
  Recorder& done = newRecorder();
  st = connect(c, qp, bound, nullptr, 0, &done);
  CONF_REQUIRE_NETWORKING(st);
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(done.waitFor(1));
    st = done.last().status;
  }
  CONF_EXPECT_STATUS(STATUS_CONNECTION_REFUSED, st);
  EXPECT_EQ(0u, ev.count());
  l->Dispatch->NdkControlConnectEvents(l, FALSE);
}

// R105/R115: closing a listener with a delivered connector pends until that connector is closed.
TEST_F(Cm, R105_R115_ListenerCloseWaitsForConnectors) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  untrack(&p.listener->Header);
  Recorder& lclose = newRecorder();
  CONF_ASSERT_STATUS(STATUS_PENDING,
                     p.listener->Dispatch->NdkCloseListener(&p.listener->Header, &Recorder::onClose, &lclose));
  // R105: new requests are refused meanwhile.
  NDK_QP* qp = someQp();
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_TRUE(qp && c);
  Recorder& done = newRecorder();
  st = connect(c, qp, p.listenAddr, nullptr, 0, &done);
  if (st == STATUS_PENDING) {
    ASSERT_TRUE(done.waitFor(1));
    st = done.last().status;
  }
  CONF_EXPECT_STATUS(STATUS_CONNECTION_REFUSED, st);
  EXPECT_EQ(0u, lclose.count());
  closeNow(p.passive.con);
  ASSERT_TRUE(lclose.waitFor(1));
}

}  // namespace
}  // namespace conf
