// Non-blocking TCP helpers: listen/connect/accept, errno mapping, options.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>

#include "engine/event_loop.h"
#include "engine/tcp.h"

using namespace openndk::engine;
using namespace std::chrono_literals;

namespace {
constexpr auto kWait = 10s;

// Probed with a plain socket, not with listenTcp (the code under test must not decide whether its
// own IPv6 test runs: a broken IPv6 path in listenTcp would otherwise turn into a skip).
bool ipv6LoopbackAvailable() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct ConnectResult {
  NetError err;
  Socket sock;
};

ConnectResult connectVia(EventLoop& loop, const Endpoint& ep, std::chrono::milliseconds timeout = 5000ms) {
  auto p = std::make_shared<std::promise<ConnectResult>>();
  auto f = p->get_future();
  asyncConnect(loop, ep, timeout, [p](NetError e, Socket s) { p->set_value({e, std::move(s)}); });
  EXPECT_EQ(f.wait_for(kWait), std::future_status::ready);
  return f.get();
}

int intOpt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(fd, level, name, &v, &len);
  return v;
}
}  // namespace

TEST(Tcp, ErrnoMapsToSmallEnum) {
  EXPECT_EQ(netErrorFromErrno(0), NetError::None);
  EXPECT_EQ(netErrorFromErrno(EINPROGRESS), NetError::InProgress);
  EXPECT_EQ(netErrorFromErrno(ECONNREFUSED), NetError::Refused);
  EXPECT_EQ(netErrorFromErrno(ENETUNREACH), NetError::NetUnreachable);
  EXPECT_EQ(netErrorFromErrno(EHOSTUNREACH), NetError::HostUnreachable);
  EXPECT_EQ(netErrorFromErrno(ETIMEDOUT), NetError::TimedOut);
  EXPECT_EQ(netErrorFromErrno(ECONNRESET), NetError::Reset);
  EXPECT_EQ(netErrorFromErrno(EPIPE), NetError::Reset);
  EXPECT_EQ(netErrorFromErrno(EADDRINUSE), NetError::AddrInUse);
  EXPECT_EQ(netErrorFromErrno(EADDRNOTAVAIL), NetError::AddrNotAvail);
  EXPECT_EQ(netErrorFromErrno(EBADF), NetError::Other);
  EXPECT_EQ(to_string(NetError::Refused), "connection refused");
}

TEST(Tcp, EndpointParse) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 4791, ep));
  EXPECT_EQ(ep.family(), AF_INET);
  EXPECT_EQ(ep.port(), 4791);
  EXPECT_EQ(ep.toString(), "127.0.0.1:4791");
  ASSERT_TRUE(Endpoint::parse("::1", 80, ep));
  EXPECT_EQ(ep.family(), AF_INET6);
  EXPECT_EQ(ep.toString(), "[::1]:80");
  EXPECT_FALSE(Endpoint::parse("not-an-address", 1, ep));
  EXPECT_FALSE(Endpoint::parse("", 1, ep));
  // Still usable after a failed parse.
  EXPECT_TRUE(Endpoint::parse("10.0.0.1", 1, ep));
}

TEST(Tcp, ListenPortZeroGetsEphemeralPort) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 8, l), NetError::None);
  Endpoint bound;
  ASSERT_TRUE(localEndpoint(l.fd(), bound));
  EXPECT_NE(bound.port(), 0);
  EXPECT_EQ(intOpt(l.fd(), SOL_SOCKET, SO_REUSEADDR), 1);
}

TEST(Tcp, ListenOnBusyPortIsAddrInUseAndTheFirstListenerStillWorks) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket a;
  ASSERT_EQ(listenTcp(ep, 8, a), NetError::None);
  Endpoint bound;
  ASSERT_TRUE(localEndpoint(a.fd(), bound));
  Socket b;
  EXPECT_EQ(listenTcp(bound, 8, b), NetError::AddrInUse);
  EXPECT_FALSE(b.valid());
  // The first listener still accepts connections.
  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult r = connectVia(loop, bound);
  EXPECT_EQ(r.err, NetError::None);
  Socket acc;
  for (int i = 0; i < 1000 && acceptTcp(a.fd(), acc) == NetError::InProgress; ++i) std::this_thread::yield();
  EXPECT_TRUE(acc.valid());
}

TEST(Tcp, ListenOnForeignAddressIsAddrNotAvail) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("192.0.2.1", 0, ep));  // TEST-NET-1: never a local address
  Socket l;
  EXPECT_EQ(listenTcp(ep, 8, l), NetError::AddrNotAvail);
}

// An ephemeral 127.0.0.1 port that was listened on and closed again: nobody listens there.
static void closedLocalPort(Endpoint* bound) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 1, l), NetError::None);
  ASSERT_TRUE(localEndpoint(l.fd(), *bound));
}

TEST(Tcp, ConnectToClosedPortIsRefused) {
  Endpoint bound;
  ASSERT_NO_FATAL_FAILURE(closedLocalPort(&bound));
  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult r = connectVia(loop, bound);
  EXPECT_EQ(r.err, NetError::Refused);
  EXPECT_FALSE(r.sock.valid());
  // The loop still works after the failure.
  std::promise<void> p;
  loop.post([&] { p.set_value(); });
  EXPECT_EQ(p.get_future().wait_for(kWait), std::future_status::ready);
}

// probeBind (NdkCreateSharedEndpoint with port 0 passes over ports the host uses): a port held by
// a bound socket or by a connection we closed (FIN_WAIT / TIME_WAIT) is in use; a port that was
// only bound and then closed is free again at once.
TEST(Tcp, ProbeBindSeesPortsTheHostHolds) {
  Endpoint free;
  ASSERT_NO_FATAL_FAILURE(closedLocalPort(&free));
  EXPECT_EQ(probeBind(free), NetError::None);

  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 1, l), NetError::None);
  Endpoint listening;
  ASSERT_TRUE(localEndpoint(l.fd(), listening));
  EXPECT_EQ(probeBind(listening), NetError::AddrInUse);

  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult c = connectVia(loop, listening);
  ASSERT_EQ(c.err, NetError::None);
  Endpoint clientPort;
  ASSERT_TRUE(localEndpoint(c.sock.fd(), clientPort));
  pollfd pfd{l.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
  Socket server;
  ASSERT_EQ(acceptTcp(l.fd(), server), NetError::None);
  c.sock = Socket();  // we close first: our side keeps the port (FIN_WAIT, then TIME_WAIT)
  server = Socket();
  EXPECT_EQ(probeBind(clientPort), NetError::AddrInUse);
}

// R96: a connect from port P to the same address and port P (nobody listening) is "connected" to
// itself by TCP simultaneous open; the engine reports it as refused, sync and async.
TEST(Tcp, R96_SelfConnectIsRefused) {
  Endpoint bound;
  ASSERT_NO_FATAL_FAILURE(closedLocalPort(&bound));
  Socket s;
  NetError e = startConnect(bound, s, &bound);
  if (e == NetError::InProgress) {
    pollfd pfd{s.fd(), POLLOUT, 0};
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    e = finishConnect(s.fd(), bound, &bound);
  }
  EXPECT_EQ(e, NetError::Refused);
  // The port is usable afterwards: a listener there accepts a real connection.
  s = Socket();
  Socket l;
  ASSERT_EQ(listenTcp(bound, 1, l), NetError::None);
  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult r = connectVia(loop, bound);
  EXPECT_EQ(r.err, NetError::None);
}

// The accepted side does not set the options itself: it inherits them from the listener (one set of
// system calls per listener, not per connection), which this asserts on the running kernel.
TEST(Tcp, ConnectAcceptAppliesStreamOptions) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 8, l), NetError::None);
  Endpoint bound;
  ASSERT_TRUE(localEndpoint(l.fd(), bound));
  EventLoop loop(0, ProgressMode::Adaptive, 20us);
  ConnectResult r = connectVia(loop, bound);
  ASSERT_EQ(r.err, NetError::None);
  Socket acc;
  Endpoint peer;
  auto accepted = std::make_shared<std::promise<void>>();
  loop.post([&] {
    loop.watch(l.fd(), EPOLLIN, [&, accepted](std::uint32_t) {
      if (acceptTcp(l.fd(), acc, &peer) == NetError::None) accepted->set_value();
    });
  });
  ASSERT_EQ(accepted->get_future().wait_for(kWait), std::future_status::ready);
  loop.stop();
  for (int fd : {r.sock.fd(), acc.fd()}) {
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 20000);  // tcp_user_timeout_ms default
    EXPECT_EQ(intOpt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 10);         // keepalive_idle_s default
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 10);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
  }
  EXPECT_EQ(peer.family(), AF_INET);
  EXPECT_GT(tcpMss(r.sock.fd()), 0u);
}

TEST(Tcp, AbortSendsReset) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 8, l), NetError::None);
  Endpoint bound;
  ASSERT_TRUE(localEndpoint(l.fd(), bound));
  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult r = connectVia(loop, bound);
  ASSERT_EQ(r.err, NetError::None);
  Socket acc;
  for (int i = 0; i < 100000 && acceptTcp(l.fd(), acc) == NetError::InProgress; ++i) std::this_thread::yield();
  ASSERT_TRUE(acc.valid());
  r.sock.abort();
  EXPECT_FALSE(r.sock.valid());
  // The accepted side sees the RST: wait for readability (bounded), then recv fails with reset.
  pollfd pfd{acc.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
  char c;
  EXPECT_EQ(::recv(acc.fd(), &c, 1, 0), -1);
  EXPECT_EQ(netErrorFromErrno(errno), NetError::Reset);
}

TEST(Tcp, Ipv6LoopbackConnect) {
  if (!ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback (::1) on this host";
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("::1", 0, ep));
  Socket l;
  ASSERT_EQ(listenTcp(ep, 8, l), NetError::None);
  Endpoint bound;
  ASSERT_TRUE(localEndpoint(l.fd(), bound));
  EXPECT_EQ(bound.family(), AF_INET6);
  EXPECT_NE(bound.port(), 0);
  EventLoop loop(0, ProgressMode::Blocking, 0us);
  ConnectResult r = connectVia(loop, bound);
  EXPECT_EQ(r.err, NetError::None);
}
