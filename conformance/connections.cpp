// Conformance: connection churn and contention through the C ABI only — many connect/disconnect
// cycles without leaking descriptors or memory (R31, R79, R110, R116), both ends connecting to each
// other at once (R96, R97, R99, R104, R31), and the local-address errors of NdkConnect (R95, R114,
// R116, R119), and accepting with a QP of another adapter instance on the same interface (R156).
#include <dirent.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <thread>

#include "consumer.h"

namespace conf {
namespace {

PSOCKADDR sa(SOCKADDR_IN* a) { return reinterpret_cast<PSOCKADDR>(a); }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // quarantines and shadow memory make RSS meaningless
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

int openFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}
long rssKiB() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
// Descriptors are closed by the provider's engine after the close completed; poll (bounded) until
// the count is back to `want`.
int fdsSettledAt(int want) {
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  int n = openFds();
  while (n != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval, not synchronisation
    n = openFds();
  }
  return n;
}

NTSTATUS finish(NTSTATUS inlineStatus, Recorder& r) {
  if (inlineStatus != STATUS_PENDING) return inlineStatus;
  if (!r.waitFor(1)) return STATUS_IO_TIMEOUT;
  return r.last().status;
}

class Connections : public NdkTest {
 protected:
  // One established connection between a fresh connector/QP pair and the listener `l`, then a
  // graceful disconnect from the active side, the peer's disconnect event (R110), the passive
  // NdkDisconnect (R79) and the closes. Returns false (with failures recorded) on any deviation.
  bool cycle(NDK_PD* pd, NDK_CQ* cq, Recorder& events, SOCKADDR_IN dst, int i) {
    NDK_QP* aqp = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
    NDK_QP* pqp = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
    NDK_CONNECTOR* con = makeConnector();
    if (!aqp || !pqp || !con) return false;
    Recorder connectDone, acceptDone, adisc, pdisc;
    SOCKADDR_IN src = loopback4(0);
    size_t before = events.count();
    NTSTATUS st = con->Dispatch->NdkConnect(con, aqp, sa(&src), sizeof src, sa(&dst), sizeof dst, 0, 0, nullptr, 0,
                                            &Recorder::onRequest, &connectDone);
    EXPECT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << "cycle " << i << ": " << statusName(st);
    if (!events.waitFor(before + 1)) {
      ADD_FAILURE() << "cycle " << i << ": no connect event";
      return false;
    }
    auto* in = reinterpret_cast<NDK_CONNECTOR*>(events.calls()[before].object);
    track(in);
    NTSTATUS ast = in->Dispatch->NdkAccept(in, pqp, 0, 0, nullptr, 0, &Recorder::onDisconnect, &pdisc,
                                           &Recorder::onRequest, &acceptDone);
    st = finish(st, connectDone);
    if (st != STATUS_SUCCESS) {
      ADD_FAILURE() << "cycle " << i << ": connect " << statusName(st);
      return false;
    }
    st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return con->Dispatch->NdkCompleteConnect(con, &Recorder::onDisconnect, &adisc, cb, c);
    });
    ast = finish(ast, acceptDone);
    if (st != STATUS_SUCCESS || ast != STATUS_SUCCESS) {
      ADD_FAILURE() << "cycle " << i << ": complete " << statusName(st) << " accept " << statusName(ast);
      return false;
    }
    st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) { return con->Dispatch->NdkDisconnect(con, cb, c); });
    EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "cycle " << i;
    EXPECT_TRUE(pdisc.waitFor(1)) << "cycle " << i << ": no disconnect event (R110)";
    st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) { return in->Dispatch->NdkDisconnect(in, cb, c); });
    EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "cycle " << i << " (R79 after the peer's disconnect)";
    closeNow(con);
    closeNow(in);
    closeNow(aqp);
    closeNow(pqp);
    return !::testing::Test::HasFailure();
  }

  // Active-active: one node = one listener + what the current round gave it. Owned by the
  // fixture so late connect events (until the listener's close in TearDown) find it alive.
  struct Node {
    NDK_LISTENER* l = nullptr;
    SOCKADDR_IN addr{};
    Recorder events;
    std::mutex mu;          // guards the fields below (the connect-event hook runs on the provider)
    int round = -1;         // only connects of this round are accepted (private data = round)
    NDK_QP* in = nullptr;   // QP for this round's incoming connection (used once)
    NDK_QP* used = nullptr; // `in` once accepted
    Recorder* acceptDone = nullptr;
    Recorder* disc = nullptr;
    std::vector<NDK_CONNECTOR*> incoming;  // every incoming connector; the main thread closes them
    NTSTATUS acceptInline = STATUS_PENDING;
  };
  std::array<Node, 2> nodes_;
};

// 1,000 connect / accept / complete / disconnect / close cycles over loopback (R31, R79, R110,
// R116: each connector's endpoint is released when it is closed). After a warm-up (engine threads,
// pools), the descriptor count must come back to the baseline exactly and the resident set must
// stay flat (generous bound; not asserted under sanitizers, whose leak checker covers that).
TEST_F(Connections, R79_R110_R116_ThousandConnectDisconnectCyclesNoLeak) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq(64);
  Recorder& events = newRecorder();
  NDK_LISTENER* l = makeListener(&events);
  ASSERT_TRUE(pd && cq && l);
  SOCKADDR_IN dst{};
  NTSTATUS st = listenOn(l, loopback4(0), &dst);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  constexpr int kWarmup = 50, kCycles = 1000;
  int fdBase = -1;
  long rssBase = 0;
  for (int i = 0; i < kCycles; ++i) {
    ASSERT_TRUE(cycle(pd, cq, events, dst, i));
    if (i == kWarmup - 1) {
      fdBase = fdsSettledAt(openFds());
      rssBase = rssKiB();
    }
  }
  // Nothing is left in the CQ: no request was posted.
  NDK_RESULT r[4];
  EXPECT_EQ(0u, cq->Dispatch->NdkGetCqResults(cq, r, 4));
  EXPECT_EQ(fdBase, fdsSettledAt(fdBase)) << "descriptors leaked over " << kCycles - kWarmup << " cycles";
  long growth = rssKiB() - rssBase;
  std::printf("fds %d, RSS %ld KiB after warm-up, growth %ld KiB over %d cycles\n", fdBase, rssBase, growth,
              kCycles - kWarmup);
  if (!kSanitized) {
    EXPECT_LT(growth, 16 * 1024) << "RSS grew by " << growth << " KiB";
  }
}

// Both ends listen and connect to each other at the same moment, many rounds. Per round each node
// has an outgoing connector + QP and one QP for the incoming connection, accepted from inside the
// connect event callback. Round kinds: 0 — plain (both connections establish, R97/R99); 1 — B's
// listener is paused (A→B refused, R104/R96); 2 — A closes its outgoing connector right after
// connecting (that connect completes before the close does, R31; the other still establishes).
// Every connect and accept must resolve within the deadline; afterwards the adapter still
// connects and moves data.
TEST_F(Connections, R31_R96_R97_R99_R104_ActiveActiveConnects) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq(64);
  ASSERT_TRUE(pd && cq);
  auto& nodes = nodes_;
  for (Node& n : nodes) {
    n.events.hook = [&n](const CallRecord& r) {
      auto* c = reinterpret_cast<NDK_CONNECTOR*>(r.object);
      int round = -1;  // the connect's private data: the round it belongs to
      ULONG len = sizeof round;
      c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, &round, &len);
      std::lock_guard lock(n.mu);
      n.incoming.push_back(c);
      if (n.in && round == n.round) {  // accept from inside the connect event (NDKPI §4: allowed)
        n.acceptInline = c->Dispatch->NdkAccept(c, n.in, 1, 1, nullptr, 0, &Recorder::onDisconnect, n.disc,
                                                &Recorder::onRequest, n.acceptDone);
        n.used = n.in;
        n.in = nullptr;
      } else {
        c->Dispatch->NdkReject(c, nullptr, 0);
      }
    };
    n.l = makeListener(&n.events);
    ASSERT_NE(nullptr, n.l);
    NTSTATUS st = listenOn(n.l, loopback4(0), &n.addr);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  }
  constexpr int kRounds = 60;
  int established = 0, refused = 0, cancelled = 0;
  for (int round = 0; round < kRounds; ++round) {
    const int kind = round % 3;
    NDK_QP* out[2];
    NDK_CONNECTOR* con[2];
    Recorder* connectDone[2];
    Recorder* accepted[2];
    for (int k = 0; k < 2; ++k) {
      out[k] = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
      NDK_QP* in = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
      con[k] = makeConnector();
      ASSERT_TRUE(out[k] && in && con[k]);
      connectDone[k] = &newRecorder();
      accepted[k] = &newRecorder();
      std::lock_guard lock(nodes[k].mu);
      nodes[k].in = in;
      nodes[k].acceptDone = accepted[k];
      nodes[k].disc = &newRecorder();
      nodes[k].acceptInline = STATUS_PENDING;
      nodes[k].round = round;
    }
    if (kind == 1) nodes[1].l->Dispatch->NdkControlConnectEvents(nodes[1].l, TRUE);
    // Both connects at once: node k connects to the other node's listener.
    NTSTATUS inl[2] = {STATUS_PENDING, STATUS_PENDING};
    Event go;
    std::thread t([&] {
      go.wait();
      SOCKADDR_IN src = loopback4(0);
      inl[1] = con[1]->Dispatch->NdkConnect(con[1], out[1], sa(&src), sizeof src, sa(&nodes[0].addr),
                                            sizeof nodes[0].addr, 1, 1, &round, sizeof round, &Recorder::onRequest,
                                            connectDone[1]);
    });
    go.set();
    SOCKADDR_IN src = loopback4(0);
    inl[0] = con[0]->Dispatch->NdkConnect(con[0], out[0], sa(&src), sizeof src, sa(&nodes[1].addr),
                                          sizeof nodes[1].addr, 1, 1, &round, sizeof round, &Recorder::onRequest,
                                          connectDone[0]);
    if (kind == 2) closeNow(con[0]);  // R31: its pending connect completes before the close does
    t.join();
    NTSTATUS res[2];
    for (int k = 0; k < 2; ++k) {
      res[k] = finish(inl[k], *connectDone[k]);
      ASSERT_NE(statusName(STATUS_IO_TIMEOUT), statusName(res[k])) << "round " << round << ": connect " << k
                                                                    << " never resolved";
      if (k == 0 && kind == 2) {
        // Closed while connecting: cancelled, or already past the accept (then the close aborted it).
        EXPECT_TRUE(res[k] == STATUS_CANCELLED || res[k] == STATUS_SUCCESS || res[k] == STATUS_CONNECTION_ABORTED ||
                    res[k] == STATUS_CONNECTION_REFUSED)
            << "round " << round << ": " << statusName(res[k]);
        if (res[k] == STATUS_CANCELLED) ++cancelled;
        continue;
      }
      if (k == 0 && kind == 1) {
        CONF_EXPECT_STATUS(STATUS_CONNECTION_REFUSED, res[k]) << "round " << round << " (R104)";
        ++refused;
        continue;
      }
      CONF_EXPECT_STATUS(STATUS_SUCCESS, res[k]) << "round " << round << " connect " << k;
      if (res[k] != STATUS_SUCCESS) continue;
      Recorder& d = newRecorder();
      NTSTATUS cst = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return con[k]->Dispatch->NdkCompleteConnect(con[k], &Recorder::onDisconnect, &d, cb, c);
      });
      CONF_EXPECT_STATUS(STATUS_SUCCESS, cst) << "round " << round << " complete " << k;
      // The other node accepted this connection: its accept completes now (R99).
      Node& peer = nodes[1 - k];
      NTSTATUS ast;
      {
        std::lock_guard lock(peer.mu);
        ast = peer.acceptInline;
      }
      ast = finish(ast, *accepted[1 - k]);
      CONF_EXPECT_STATUS(STATUS_SUCCESS, ast) << "round " << round << " accept by node " << 1 - k;
      if (cst == STATUS_SUCCESS && ast == STATUS_SUCCESS) ++established;
    }
    if (kind == 1) nodes[1].l->Dispatch->NdkControlConnectEvents(nodes[1].l, FALSE);
    // Tear the round down: every close must complete (abortive for live connections, R31).
    for (int k = 0; k < 2; ++k) {
      if (!(k == 0 && kind == 2)) closeNow(con[k]);
      closeNow(out[k]);
    }
    for (Node& n : nodes) {
      std::vector<NDK_CONNECTOR*> incoming;
      NDK_QP* unused = nullptr;
      NDK_QP* used = nullptr;
      {
        std::lock_guard lock(n.mu);  // never held across a close: callbacks need the executor
        incoming.swap(n.incoming);
        std::swap(unused, n.in);
        std::swap(used, n.used);
        n.round = -1;
      }
      for (NDK_CONNECTOR* c : incoming) closeSync(c);
      for (NDK_QP* q : {unused, used}) {
        if (q) closeNow(q);
      }
    }
    if (HasFatalFailure()) return;
  }
  for (Node& n : nodes) {  // connect events that arrived after their round ended
    std::vector<NDK_CONNECTOR*> late;
    {
      std::lock_guard lock(n.mu);
      late.swap(n.incoming);
    }
    for (NDK_CONNECTOR* c : late) closeSync(c);
  }
  std::printf("%d established, %d refused, %d cancelled in %d rounds\n", established, refused, cancelled, kRounds);
  EXPECT_GE(established, kRounds);  // at least one per round (two in rounds of kind 0)
  // The adapter is still usable: a fresh pair connects and moves a message.
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, postEmptyReceive(p.passive.qp, nullptr));
  NDK_SGE none{};
  CONF_ASSERT_STATUS(STATUS_SUCCESS, p.active.qp->Dispatch->NdkSend(p.active.qp, nullptr, &none, 0, 0));
  auto rc = drainEx(p.passive.cq, 1);
  ASSERT_EQ(1u, rc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, rc[0].Status);
}

// R95 / R114 / R116 / R119: the local-address errors of a connect, each followed by a connect that
// works on the same connector (an inline failure leaves the connector unused).
//  - source port held by a listener → STATUS_SHARING_VIOLATION (R114);
//  - source port held by another connector's connection → STATUS_SHARING_VIOLATION (R116);
//  - a second connection from one shared endpoint to the same destination, i.e. the same
//    (local address, local port, remote address, remote port) → STATUS_ADDRESS_ALREADY_EXISTS.
TEST_F(Connections, R95_R114_R116_R119_ConnectLocalAddressErrors) {
  Pair& p = newPair();
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  SOCKADDR_IN activeLocal{};
  ULONG len = sizeof activeLocal;
  CONF_ASSERT_STATUS(STATUS_SUCCESS,
                     p.active.con->Dispatch->NdkGetLocalAddress(p.active.con, sa(&activeLocal), &len));
  Recorder& ev2 = newRecorder();
  NDK_LISTENER* l2 = makeListener(&ev2);
  ASSERT_NE(nullptr, l2);
  SOCKADDR_IN dst2{};
  CONF_ASSERT_STATUS(STATUS_SUCCESS, listenOn(l2, loopback4(0), &dst2));
  NDK_CQ* cq = makeCq();
  NDK_QP* qp = makeQp(p.pd, cq, cq);
  NDK_CONNECTOR* c = makeConnector();
  ASSERT_TRUE(cq && qp && c);
  for (SOCKADDR_IN held : {p.listenAddr, activeLocal}) {
    Recorder& done = newRecorder();
    st = c->Dispatch->NdkConnect(c, qp, sa(&held), sizeof held, sa(&dst2), sizeof dst2, 4, 4, nullptr, 0,
                                 &Recorder::onRequest, &done);
    ASSERT_NE(STATUS_PENDING, st) << "this provider reports local-address errors inline";
    CONF_EXPECT_STATUS(STATUS_SHARING_VIOLATION, st) << "port " << ntohs(held.sin_port);
    EXPECT_EQ(0u, done.count());
  }
  // Shared endpoint: the first connection to dst2 works, the second to dst2 collides.
  SOCKADDR_IN seAddr = loopback4(0);
  NDK_SHARED_ENDPOINT* se = makeSharedEndpoint(reinterpret_cast<SOCKADDR*>(&seAddr), sizeof seAddr, &st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  NDK_QP* qp2 = makeQp(p.pd, cq, cq);
  NDK_CONNECTOR* c2 = makeConnector();
  ASSERT_TRUE(se && qp2 && c2);
  Recorder& d1 = newRecorder();
  st = c->Dispatch->NdkConnectWithSharedEndpoint(c, qp, se, sa(&dst2), sizeof dst2, 4, 4, nullptr, 0,
                                                 &Recorder::onRequest, &d1);
  ASSERT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << statusName(st) << ": connector unusable after the"
                                                                                 " inline failures";
  ASSERT_TRUE(ev2.waitFor(1));
  track(ev2.last().object);
  Recorder& d2 = newRecorder();
  st = finish(c2->Dispatch->NdkConnectWithSharedEndpoint(c2, qp2, se, sa(&dst2), sizeof dst2, 4, 4, nullptr, 0,
                                                         &Recorder::onRequest, &d2),
              d2);
  CONF_EXPECT_STATUS(STATUS_ADDRESS_ALREADY_EXISTS, st) << "R95/R119: same 4-tuple";
  // c2 is still usable: the same shared endpoint to another destination (the pair's listener).
  Recorder& d3 = newRecorder();
  st = c2->Dispatch->NdkConnectWithSharedEndpoint(c2, qp2, se, sa(&p.listenAddr), sizeof p.listenAddr, 4, 4,
                                                  nullptr, 0, &Recorder::onRequest, &d3);
  EXPECT_TRUE(st == STATUS_PENDING || st == STATUS_SUCCESS) << statusName(st);
  ASSERT_TRUE(p.connectEvents.waitFor(2)) << "the second connect reached the pair's listener";
  track(p.connectEvents.last().object);
  // `c` was created before the shared endpoint, whose close pends until c is closed (R118): close
  // it first (teardown closes in reverse creation order).
  closeNow(c);
}

// R156 (amended): the listener's connector (this adapter instance) accepts with a QP of a second
// instance opened on the same interface, as consumers with one instance per socket do; data flows
// both ways and the peer's RDMA Write lands through a token of the second instance.
TEST_F(Connections, R156_AcceptWithQpOfAnotherAdapterInstance) {
  NDK_ADAPTER* a2 = nullptr;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, OpenNdkOpenAdapter(interfaceUnderTest(), nullptr, &a2));
  NDK_ADAPTER* mine = adapter_;
  adapter_ = a2;  // the make* helpers create on adapter_
  NDK_PD* pd2 = makePd();
  NDK_CQ* cq2 = makeCq(80);
  Pair& p = newPair();
  NDK_QP* qp2 = pd2 && cq2 ? makeQp(pd2, cq2, cq2, &p.passive, 32, 32, 4, 4, 0) : nullptr;
  MdlBuffer buf2(PAGE_SIZE);
  NDK_MR* mr2 = pd2 ? makeMr(pd2, false) : nullptr;
  adapter_ = mine;
  ASSERT_TRUE(qp2 && mr2);
  const ULONG all = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ;
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(mr2, buf2, buf2.size(), all));
  p.passive.qp = qp2;
  p.passive.cq = cq2;
  NTSTATUS st = connectPair(p);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);

  MdlBuffer abuf(PAGE_SIZE);
  NDK_MR* amr = makeMr(p.pd, false);
  ASSERT_NE(nullptr, amr);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr, abuf, abuf.size(), all));
  std::memcpy(abuf.data(), "written into instance 2", 23);
  NDK_SGE ws = sgeIn(abuf, amr, 0, 23);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, p.active.qp->Dispatch->NdkWrite(p.active.qp, nullptr, &ws, 1,
                                                                      reinterpret_cast<UINT64>(buf2.data()) + 64,
                                                                      mr2->Dispatch->NdkGetRemoteTokenFromMr(mr2), 0));
  auto wc = drainEx(p.active.cq, 1);
  ASSERT_EQ(1u, wc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, wc[0].Status);
  // A Send after the Write: its arrival on the second instance's CQ orders the Write's placement.
  NDK_SGE rs = sgeIn(buf2, mr2, 512, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, qp2->Dispatch->NdkReceive(qp2, nullptr, &rs, 1));
  std::memcpy(abuf.data() + 100, "sent", 4);
  NDK_SGE ss = sgeIn(abuf, amr, 100, 4);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, p.active.qp->Dispatch->NdkSend(p.active.qp, nullptr, &ss, 1, 0));
  auto rc = drainEx(cq2, 1);
  ASSERT_EQ(1u, rc.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, rc[0].Status);
  EXPECT_EQ(4u, rc[0].BytesTransferred);
  EXPECT_EQ(0, std::memcmp(buf2.data() + 512, "sent", 4));
  EXPECT_EQ(0, std::memcmp(buf2.data() + 64, "written into instance 2", 23));
  EXPECT_EQ(1u, drainEx(p.active.cq, 1).size());

  // Close the second instance's objects (the passive connector first: it is their successor).
  closeNow(p.passive.con);
  p.passive.con = nullptr;
  closeNow(qp2);
  p.passive.qp = nullptr;
  closeNow(mr2);
  closeNow(cq2);
  p.passive.cq = nullptr;
  closeNow(pd2);
  OpenNdkCloseAdapter(a2);
}

}  // namespace
}  // namespace conf
