// Fault injection between two network namespaces joined by veth (issue 7). The test process lives
// in namespace A (10.77.0.1) and is the NDK consumer under test; its peer is tests/faults/fault_peer,
// a separate process in namespace B (10.77.0.2). Each case drives RDMA Writes and Reads, injects
// one fault, and then proves:
//   * every posted work request completed exactly once (ledger: no duplicate, no unknown context,
//     nothing outstanding), failures included;
//   * the disconnect event (R110) and the flushed completions (R20, R77) arrived within twice the
//     configured dead-peer detection time (OPENNDK_TCP_USER_TIMEOUT_MS=2000,
//     OPENNDK_KEEPALIVE_IDLE_S=1 unless the environment sets them) plus a fixed margin;
//   * the adapter still works afterwards: a new connection moves verified data.
// Namespaces are created per process and removed at exit (tests/netns). The cases SKIP only when
// namespaces cannot be created (not root, no netns support).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "consumer.h"
#include "netns.h"

using namespace ndktest;
using namespace std::chrono_literals;

namespace {

constexpr int kUserTimeoutMs = 2000;
constexpr int kKeepaliveIdleS = 1;
// A fixed allowance on top of the doubled detection time: process start-up, the flush of the
// queued requests, loaded CI machines and sanitizer builds (not proportional to the timeout).
constexpr Ms kFaultMargin = 5s;

std::uint64_t envU64(const char* name, std::uint64_t fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::strtoull(e, nullptr, 10) : fallback;
}

// The dead-peer detection time the provider is configured with (read back from the environment
// main() prepared, which the provider reads too): TCP_USER_TIMEOUT for unacknowledged data, or
// keepalive for an idle connection (idle time + 3 probes at the same interval, src/engine/tcp.cpp),
// whichever is longer.
Ms configuredDetection() {
  const Ms user{envU64("OPENNDK_TCP_USER_TIMEOUT_MS", kUserTimeoutMs)};
  const Ms keepalive = std::chrono::seconds(4 * envU64("OPENNDK_KEEPALIVE_IDLE_S", kKeepaliveIdleS));
  return std::max(user, keepalive);
}

// Upper bound for "within the configured timeout": at most 2x the detection time plus the fixed
// margin (4 s -> 13 s here), so that a detection several times slower than configured fails.
Ms faultDeadline() { return 2 * configuredDetection() + kFaultMargin; }

NetnsPair* g_ns = nullptr;
std::string g_skip;
std::string g_peerPath;

class NetnsEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string why;
    pair_ = NetnsPair::create(&why);
    if (!pair_) {
      g_skip = "network namespaces unavailable: " + why;
      return;
    }
    if (!pair_->enterA()) {
      g_skip = "setns into namespace A failed";
      return;
    }
    g_ns = pair_.get();
  }
  void TearDown() override {
    g_ns = nullptr;
    pair_.reset();
  }

 private:
  std::unique_ptr<NetnsPair> pair_;
};

// One peer process with a line-oriented stdout.
struct Peer {
  pid_t pid = -1;
  int fd = -1;
  std::string buf;
  int status = -1;
  bool reaped = false;
  ~Peer() {
    if (pid > 0 && !reaped) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (fd >= 0) ::close(fd);
  }
  bool start(const std::vector<std::string>& args) {
    std::vector<std::string> argv{g_peerPath};
    argv.insert(argv.end(), args.begin(), args.end());
    pid = g_ns->spawnInB(argv, &fd);
    return pid > 0;
  }
  // Next line beginning with `prefix` (other lines are skipped), or "" at EOF / deadline.
  std::string line(const std::string& prefix, Ms t = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    for (;;) {
      for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        std::string l = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (l.rfind(prefix, 0) == 0) return l;
        if (l.rfind("ERROR", 0) == 0) ADD_FAILURE() << "peer: " << l;
      }
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char tmp[512];
      const ssize_t r = ::read(fd, tmp, sizeof tmp);
      if (r <= 0) return "";
      buf.append(tmp, static_cast<std::size_t>(r));
    }
  }
  // Waits for the process to exit; false on deadline. Polls waitpid with WNOHANG against the pipe's
  // EOF (which comes with the exit), so there is no sleep.
  bool wait(Ms t) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    while (!reaped) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        reaped = true;
        break;
      }
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100))) > 0) {
        char tmp[512];
        const ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n > 0) buf.append(tmp, static_cast<std::size_t>(n));
      }
    }
    return true;
  }
  bool exitedOk() const { return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_ns) GTEST_SKIP() << g_skip;
    ifx = interfaceForIp(g_ns->ipA);
    ASSERT_NE(ifx, 0u) << "OpenNDK does not see " << g_ns->ifA << " in namespace A";
    fdsBefore = openFdCount();
  }

  // Starts a serving peer and connects a fresh endpoint of `ad` to it.
  void connectTo(Adapter& ad, Peer& peer, std::unique_ptr<Endpoint>& ep, std::uint64_t* va, UINT32* token) {
    ASSERT_TRUE(peer.start({"serve", g_ns->ipB}));
    const std::string ready = peer.line("READY");
    ASSERT_FALSE(ready.empty()) << "peer did not start";
    const auto port = static_cast<std::uint16_t>(std::atoi(ready.c_str() + 6));
    ep = std::make_unique<Endpoint>(ad, 64);
    ASSERT_TRUE(ep->ok());
    ASSERT_EQ(ep->connect(g_ns->ipA, g_ns->ipB, port), STATUS_SUCCESS);
    const std::string c = peer.line("CONNECTED");
    ASSERT_FALSE(c.empty());
    unsigned tok = 0;
    ASSERT_EQ(std::sscanf(c.c_str(), "CONNECTED %" SCNu64 " %u", va, &tok), 2);
    *token = tok;
  }

  // Keeps up to `depth` Writes (64 KiB) and Reads (4 KiB) in flight until `successes` of them
  // completed successfully, or a post/completion fails. Returns the successes seen.
  std::size_t pump(Endpoint& ep, Region& r, Buffer& b, std::uint64_t va, UINT32 token, std::size_t successes,
                   Ms t = 60s, std::size_t depth = 16) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    std::size_t ok = 0, n = 0;
    while (ok < successes && std::chrono::steady_clock::now() < deadline) {
      while (ep.ledger.outstanding() < depth) {
        NDK_SGE g{};
        g.MemoryRegionToken = r.local;
        NTSTATUS s;
        if (n % 4 == 3) {
          g.VirtualAddress = b.p + (1 << 19);
          g.Length = 4096;
          s = ep.postRead(&g, 1, va + (n % 8) * 65536, token);
        } else {
          g.VirtualAddress = b.p + (n % 8) * 65536;
          g.Length = 65536;
          s = ep.postWrite(&g, 1, va + (n % 8) * 65536, token);
        }
        ++n;
        if (s != STATUS_SUCCESS) return ok;  // the connection is gone (R81)
      }
      std::vector<NDK_RESULT_EX> got;
      ep.waitSome(1s, &got);
      for (const auto& x : got) {
        if (x.Status != STATUS_SUCCESS) return ok;
        ++ok;
      }
    }
    return ok;
  }

  // The common assertions after a fault: disconnect event, every request completed exactly once.
  void expectCleanFailure(Endpoint& ep, Ms budget, std::chrono::steady_clock::time_point t0) {
    EXPECT_TRUE(ep.disconnected.wait(1, budget)) << "no disconnect event within the timeout (R110)";
    ep.flush();
    const bool drained = ep.waitAllCompleted(budget);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(drained) << ep.ledger.outstanding() << " requests never completed (R20, R77)";
    EXPECT_EQ(ep.ledger.duplicates(), 0u) << "a request completed twice";
    EXPECT_EQ(ep.ledger.unknown(), 0u) << "a completion for a request never posted";
    EXPECT_EQ(ep.ledger.completed(), ep.ledger.posted());
    EXPECT_LT(took, budget);
    // R81: the QP no longer accepts initiator requests.
    NDK_SGE g{};
    EXPECT_NE(ep.postSend(&g, 0), STATUS_SUCCESS);
    ep.flush();
    ep.poll();
    EXPECT_EQ(ep.ledger.duplicates(), 0u);
    faultsSurvived++;
    std::ostringstream o;
    for (const auto& [s, k] : ep.ledger.statuses()) o << statusName(s) << "=" << k << " ";
    RecordProperty("completions", o.str());
    std::printf("[ fault    ] posted=%zu completed=%zu failed=%zu (%s) disconnect+flush in %.2f s\n",
                ep.ledger.posted(), ep.ledger.completed(), ep.ledger.failed(), o.str().c_str(),
                std::chrono::duration<double>(took).count());
  }

  // The adapter is still usable: a new peer, a new connection, verified Write + Read round trip.
  void expectAdapterUsable(Adapter& ad) {
    Peer peer;
    std::unique_ptr<Endpoint> ep;
    std::uint64_t va = 0;
    UINT32 token = 0;
    ASSERT_NO_FATAL_FAILURE(connectTo(ad, peer, ep, &va, &token));
    Buffer b(1 << 20);
    Region r(ad.pd, b, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    ASSERT_TRUE(r.ok());
    for (std::size_t i = 0; i < 4096; ++i) b.p[i] = static_cast<std::uint8_t>(i * 7 + 3);
    NDK_SGE g{b.p, 4096, r.local};
    ASSERT_EQ(ep->postWrite(&g, 1, va + 8192, token), STATUS_SUCCESS);
    NDK_SGE back{b.p + (1 << 19), 4096, r.local};
    ASSERT_EQ(ep->postRead(&back, 1, va + 8192, token), STATUS_SUCCESS);
    std::vector<NDK_RESULT_EX> got;
    ASSERT_TRUE(ep->waitAllCompleted(30s, &got));
    ASSERT_EQ(got.size(), 2u);
    for (const auto& x : got) EXPECT_EQ(x.Status, STATUS_SUCCESS) << statusName(x.Status);
    EXPECT_EQ(std::memcmp(b.p, b.p + (1 << 19), 4096), 0) << "data did not round-trip";
    EXPECT_EQ(ep->disconnect(), STATUS_SUCCESS);
    EXPECT_TRUE(peer.wait(30s));
    EXPECT_TRUE(peer.exitedOk()) << peer.buf;
    ep->closeAll();
  }

  // Runs one data-transfer fault: connect, pump, inject(), expect the clean failure, recover(),
  // then prove the adapter still works.
  template <class Inject, class Recover>
  void runTransferFault(Inject inject, Recover recover, bool peerExitsCleanly) {
    Adapter ad(ifx);
    ASSERT_TRUE(ad.ok()) << statusName(ad.openStatus);
    Buffer b(1 << 20);
    Region r(ad.pd, b, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    ASSERT_TRUE(r.ok());
    {
      Peer peer;
      std::unique_ptr<Endpoint> ep;
      std::uint64_t va = 0;
      UINT32 token = 0;
      ASSERT_NO_FATAL_FAILURE(connectTo(ad, peer, ep, &va, &token));
      ASSERT_GE(pump(*ep, r, b, va, token, 64), 64u) << "no traffic before the fault";
      const auto t0 = std::chrono::steady_clock::now();
      inject(peer);
      // Keep traffic in flight through the fault until the connection fails.
      pump(*ep, r, b, va, token, SIZE_MAX, faultDeadline());
      expectCleanFailure(*ep, faultDeadline(), t0);
      recover();
      EXPECT_TRUE(peer.wait(faultDeadline())) << "peer still running";
      if (peerExitsCleanly) {
        // The peer's own receives were flushed exactly once as well.
        EXPECT_TRUE(peer.exitedOk()) << peer.buf;
      }
      ep->closeAll();
    }
    expectAdapterUsable(ad);
  }

  NET_IFINDEX ifx = 0;
  int fdsBefore = 0;
  static inline int faultsSurvived = 0;
};

// Peer process killed with SIGKILL mid-transfer: its kernel resets the connection.
TEST_F(Faults, PeerKilledMidTransfer_R110_R20_AllCompletedOnce) {
  runTransferFault([](Peer& p) { ASSERT_EQ(::kill(p.pid, SIGKILL), 0); }, [] {}, false);
}

// The peer's link goes down: no FIN, no RST; TCP_USER_TIMEOUT (2 s) declares the peer dead.
TEST_F(Faults, LinkDownMidTransfer_UserTimeout_AllCompletedOnce) {
  runTransferFault([](Peer&) { ASSERT_TRUE(g_ns->linkB(false)); }, [] { ASSERT_TRUE(g_ns->linkB(true)); }, true);
}

// Every TCP segment to and from the peer silently dropped (nftables): as above, the user timeout
// (and on the idle peer, keepalive) ends both sides.
TEST_F(Faults, BlackholeMidTransfer_UserTimeout_AllCompletedOnce) {
  if (runCommand("command -v nft") != 0) GTEST_SKIP() << "nft not installed (scripts/install-deps)";
  runTransferFault([](Peer&) { ASSERT_TRUE(g_ns->blackholeB(true)); }, [] { ASSERT_TRUE(g_ns->blackholeB(false)); },
                   true);
}

// The listener is closed while a second process has 48 connects in flight: the 4 accepted ones
// connect, every other one fails; each NdkConnect completes exactly once (R105, R96, R21), no
// connect event follows the close (R22), and a new listener on the same port accepts again.
TEST_F(Faults, ListenerClosedWhileConnectsInFlight_R105_EachConnectCompletesOnce) {
  Adapter ad(ifx);
  ASSERT_TRUE(ad.ok()) << statusName(ad.openStatus);
  auto lis = std::make_unique<Listener>(ad);
  const std::uint16_t port = lis->listen(g_ns->ipA, 0);
  ASSERT_NE(port, 0);
  Peer storm;
  ASSERT_TRUE(storm.start({"storm", g_ns->ipB, g_ns->ipA, std::to_string(port), "48"}));
  ASSERT_FALSE(storm.line("READY").empty());
  std::vector<std::unique_ptr<Endpoint>> accepted;
  for (int i = 0; i < 4; ++i) {
    NDK_CONNECTOR* c = lis->next(30s);
    ASSERT_NE(c, nullptr) << "connect request " << i << " never arrived";
    accepted.push_back(std::make_unique<Endpoint>(ad, 8));
    ASSERT_EQ(accepted.back()->accept(c), STATUS_SUCCESS);
  }
  lis->beginClose();
  // Requests delivered before the close belong to us: refuse them (R100; a request the closing
  // listener already refused, R105, answers STATUS_CONNECTION_INVALID) and close them.
  int refused = 0;
  while (NDK_CONNECTOR* c = lis->next(0ms)) {
    const NTSTATUS rs = c->Dispatch->NdkReject(c, nullptr, 0);
    EXPECT_TRUE(rs == STATUS_SUCCESS || rs == STATUS_CONNECTION_INVALID || rs == STATUS_CONNECTION_ABORTED)
        << statusName(rs);
    EXPECT_EQ(closeSync(&c->Header), STATUS_SUCCESS);
    ++refused;
  }
  std::printf("[ fault    ] %d connect requests delivered but not accepted before the close\n", refused);
  int results = 0, successes = 0;
  for (;;) {
    const std::string l = storm.line("RESULT", faultDeadline() + 30s);
    if (l.empty()) break;
    ++results;
    if (l.find("STATUS_SUCCESS") != std::string::npos) ++successes;
    if (results == 48) break;
  }
  EXPECT_EQ(results, 48) << "a connect never completed";
  EXPECT_EQ(successes, 4) << "only accepted connects may succeed";
  EXPECT_FALSE(storm.line("DONE 48", 30s).empty());
  EXPECT_TRUE(storm.wait(30s));
  EXPECT_TRUE(storm.exitedOk()) << storm.buf;
  for (auto& e : accepted) {
    EXPECT_TRUE(e->disconnected.wait(1, 30s)) << "accepted connection: no disconnect event (R110)";
    e->flush();
    EXPECT_TRUE(e->waitAllCompleted(30s));
    e->closeAll();
  }
  // With its last successor closed, the listener's close completes (R24); no event came after it.
  EXPECT_TRUE(lis->waitClosed(30s)) << "listener close never completed";
  EXPECT_EQ(lis->next(0ms), nullptr) << "a connect event after the listener closed (R22)";
  // The same port listens again and accepts a new connection.
  Listener again(ad);
  ASSERT_EQ(again.listen(g_ns->ipA, port), port);
  Peer one;
  ASSERT_TRUE(one.start({"storm", g_ns->ipB, g_ns->ipA, std::to_string(port), "1"}));
  NDK_CONNECTOR* c = again.next(30s);
  ASSERT_NE(c, nullptr);
  Endpoint ep(ad, 8);
  ASSERT_EQ(ep.accept(c), STATUS_SUCCESS);
  EXPECT_NE(one.line("RESULT 0 STATUS_SUCCESS", 30s), "");
  EXPECT_TRUE(one.wait(30s));
  EXPECT_TRUE(one.exitedOk()) << one.buf;
  EXPECT_TRUE(ep.disconnected.wait(1, 30s));
}

// A connection kept busy: adapter, MR, peer process and an endpoint with 16 Writes in flight.
struct Busy {
  explicit Busy(NET_IFINDEX ifx) : ad(ifx), b(1 << 20) {}
  Adapter ad;
  Buffer b;
  std::unique_ptr<Region> r;
  Peer peer;
  std::unique_ptr<Endpoint> ep;
  std::uint64_t va = 0;
  UINT32 token = 0;
};

class FaultsBusy : public Faults {
 protected:
  void bringUp(Busy& x) {
    ASSERT_TRUE(x.ad.ok()) << statusName(x.ad.openStatus);
    x.r = std::make_unique<Region>(x.ad.pd, x.b, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    ASSERT_TRUE(x.r->ok());
    ASSERT_NO_FATAL_FAILURE(connectTo(x.ad, x.peer, x.ep, &x.va, &x.token));
    ASSERT_GE(pump(*x.ep, *x.r, x.b, x.va, x.token, 64), 64u);
    for (int i = 0; i < 16; ++i) {  // the queue full again: the fault hits traffic in flight
      NDK_SGE g{x.b.p + static_cast<std::size_t>(i % 8) * 65536, 65536, x.r->local};
      (void)x.ep->postWrite(&g, 1, x.va + static_cast<std::uint64_t>(i % 8) * 65536, x.token);
    }
  }
  // Closes connector and QP at once (R20, R29), drains the still-open CQ (R25): every request
  // completed exactly once; then CQ, MR, PD and adapter; the peer must see the disconnect.
  void closeInFlight(Busy& x, std::chrono::steady_clock::time_point t0) {
    Endpoint& ep = *x.ep;
    EXPECT_EQ(closeSync(&ep.conn->Header), STATUS_SUCCESS);
    ep.conn = nullptr;
    EXPECT_EQ(closeSync(&ep.qp->Header), STATUS_SUCCESS);
    ep.qp = nullptr;
    EXPECT_TRUE(ep.waitAllCompleted(faultDeadline())) << ep.ledger.outstanding() << " requests lost";
    EXPECT_EQ(ep.ledger.duplicates(), 0u);
    EXPECT_EQ(ep.ledger.unknown(), 0u);
    EXPECT_EQ(ep.ledger.completed(), ep.ledger.posted());
    ep.closeAll();
    x.r.reset();
    x.ad.close();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, faultDeadline());
    EXPECT_TRUE(x.peer.wait(faultDeadline())) << "peer never saw the disconnect";
    EXPECT_TRUE(x.peer.exitedOk()) << x.peer.buf;
    std::printf("[ fault    ] posted=%zu completed=%zu failed=%zu, closed in %.2f s\n", ep.ledger.posted(),
                ep.ledger.completed(), ep.ledger.failed(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
};

// The consumer tears its objects down with RDMA traffic in flight, without disconnecting first
// (closeInFlight). The peer sees the disconnect in time and a new adapter instance works.
TEST_F(FaultsBusy, AdapterClosedWithTrafficInFlight_R20_R25_AllCompletedOnce) {
  {
    Busy x(ifx);
    ASSERT_NO_FATAL_FAILURE(bringUp(x));
    closeInFlight(x, std::chrono::steady_clock::now());
  }
  Adapter again(ifx);
  ASSERT_TRUE(again.ok()) << statusName(again.openStatus);
  expectAdapterUsable(again);
}

// NDK disabled on the interface (OID_NDK_SET_STATE FALSE, R159-R161) while an adapter is open with
// traffic in flight: the state callback fires, opens fail while disabled (R151), the consumer
// closes everything (all requests complete exactly once) and the disable completes; re-enabled, a
// new adapter works.
struct StateEvents {
  Latch disabled, enabled;
  NET_IFINDEX ifx = 0;
};
VOID onState(PVOID ctx, NET_IFINDEX i, BOOLEAN en) {
  auto* s = static_cast<StateEvents*>(ctx);
  if (i != s->ifx) return;
  (en ? s->enabled : s->disabled).set();
}

TEST_F(FaultsBusy, NdkDisabledWithOpenAdapter_R159_R161_ConsumerClosesAndReopens) {
  StateEvents ev;
  ev.ifx = ifx;
  PVOID reg = nullptr;
  ASSERT_EQ(OpenNdkRegisterStateCallback(onState, &ev, &reg), NDIS_STATUS_SUCCESS);
  struct Restore {
    NET_IFINDEX i;
    PVOID reg;
    ~Restore() {
      BOOLEAN on = TRUE;
      OpenNdkSetInterfaceOid(i, OID_NDK_SET_STATE, &on, sizeof on, nullptr, nullptr);
      OpenNdkWaitInterfaceState(i, TRUE, 30000);
      OpenNdkDeregisterStateCallback(reg);
    }
  } restore{ifx, reg};
  {
    Busy x(ifx);
    ASSERT_NO_FATAL_FAILURE(bringUp(x));
    BOOLEAN off = FALSE;
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(OpenNdkSetInterfaceOid(ifx, OID_NDK_SET_STATE, &off, sizeof off, nullptr, nullptr), NDIS_STATUS_SUCCESS);
    ASSERT_TRUE(ev.disabled.wait(1, 30s)) << "no NetEventNDKDisable (R161)";
    NDK_ADAPTER* extra = nullptr;
    EXPECT_NE(OpenNdkOpenAdapter(ifx, nullptr, &extra), STATUS_SUCCESS);  // R151
    closeInFlight(x, t0);
    EXPECT_EQ(OpenNdkWaitInterfaceState(ifx, FALSE, 30000), NDIS_STATUS_SUCCESS);
  }
  BOOLEAN on = TRUE;
  ASSERT_EQ(OpenNdkSetInterfaceOid(ifx, OID_NDK_SET_STATE, &on, sizeof on, nullptr, nullptr), NDIS_STATUS_SUCCESS);
  ASSERT_EQ(OpenNdkWaitInterfaceState(ifx, TRUE, 30000), NDIS_STATUS_SUCCESS);
  EXPECT_TRUE(ev.enabled.wait(1, 30s));
  Adapter again(ifx);
  ASSERT_TRUE(again.ok()) << statusName(again.openStatus);
  expectAdapterUsable(again);
}

}  // namespace

int main(int argc, char** argv) {
  // Dead-peer detection in seconds, for this process and (inherited) for the peer processes.
  ::setenv("OPENNDK_TCP_USER_TIMEOUT_MS", std::to_string(kUserTimeoutMs).c_str(), 0);
  ::setenv("OPENNDK_KEEPALIVE_IDLE_S", std::to_string(kKeepaliveIdleS).c_str(), 0);
  std::string self = argv[0];
  const auto slash = self.rfind('/');
  g_peerPath = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/fault_peer";
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new NetnsEnv);
  return RUN_ALL_TESTS();
}
