// ndk ping: connect over NDK and exchange, per iteration, a Send/Receive control message carrying
// (address, token, length) of a buffer, an RDMA Read of the peer's buffer and an RDMA Write back,
// verifying the data patterns (in the spirit of rping). Exit 0 all verified, 1 failure, 2 usage.
// --rping speaks rping's own protocol instead (rping_protocol.h), against `rping -s` / `rping -c`
// of rdma-core (docs/interop.md).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "common.h"
#include "perf/ndk_endpoint.h"
#include "perf/wire.h"
#include "rping_protocol.h"

namespace ndktool {
namespace {

using namespace ndkperf;
using Clock = std::chrono::steady_clock;

// Hello: private data of the client; BufMsg: control message (parsed in perf/wire.cpp).
using wire::BufMsg;
using wire::Hello;
using wire::kBufMsg;
using wire::kHello;

struct PingArgs {
  bool server = false, loopback = false, verbose = false, v6 = false;
  bool countSet = false;            // -C given (--rping server: then the count it expects)
  bool rping = false;               // rping's wire protocol (interop with rdma-core's rping)
  unsigned firstFpduDelayMs = 0;    // --rping client: pause before the first Send
  unsigned timeoutS = 60;           // --rping: per-step timeout
  std::optional<std::string> client;
  std::optional<std::string> address;  // -a (rping)
  std::string bind;
  unsigned port = 7174, count = 4;
  std::string size = "64";
};

// Layout: [exposed buffer: L][read sink: L][control: 4 x 64], L = the layout size (the server
// lays out for the largest size before it learns the client's), S <= L bytes used per buffer.
struct Ping {
  std::unique_ptr<NdkEndpoint> ep;
  std::size_t size = 0;    // S
  std::size_t layout = 0;  // L
  char* exposed() { return ep->buf(); }
  char* sink() { return ep->buf() + layout; }
  char* ctl(unsigned i) { return ep->buf() + 2 * layout + 64 * i; }
  static NdkEndpoint::Params params(std::size_t size) {
    NdkEndpoint::Params p;
    p.bufBytes = 2 * size + 4 * 64;
    p.rqDepth = 4;
    p.iqDepth = 8;
    p.ird = p.ord = 2;
    return p;
  }
  void postCtlRecvs() {
    for (unsigned i = 0; i < 2; ++i) ep->postRecv(i, ctl(i), 64);
  }
  NDK_RESULT_EX wait(const char* what) {
    NDK_RESULT_EX r = ep->next();
    if (r.Status != STATUS_SUCCESS)
      throw PerfError(fmt::format("provider: {} completed with 0x{:08X} ({})", what, static_cast<std::uint32_t>(r.Status),
                                  ntStatusName(r.Status)));
    return r;
  }
  BufMsg recvMsg() {
    for (;;) {
      NDK_RESULT_EX r = wait("receive");
      auto i = reinterpret_cast<std::uintptr_t>(r.RequestContext);
      if (i >= 2) continue;  // a send completion
      const BufMsg m = wire::parseBufMsg(ctl(static_cast<unsigned>(i)), r.BytesTransferred);
      ep->postRecv(i, ctl(static_cast<unsigned>(i)), 64);
      return m;
    }
  }
  void sendMsg(std::uint64_t seq) {
    BufMsg m{kBufMsg, ep->remoteToken(), ep->bufAddr(), size, seq};
    std::memcpy(ctl(2), &m, sizeof m);
    ep->postSend(2, ctl(2), sizeof m);
    waitFor(2, "send");
  }
  void waitFor(std::uintptr_t ctx, const char* what) {
    for (;;) {
      NDK_RESULT_EX r = wait(what);
      auto i = reinterpret_cast<std::uintptr_t>(r.RequestContext);
      if (i == ctx) return;
      if (i < 2) throw PerfError("protocol: unexpected message from the peer");
    }
  }
};

void fill(char* p, std::size_t n, std::uint64_t seq, char side) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 7 + seq * 13 + static_cast<unsigned char>(side)) & 0xff);
}
void verify(const char* p, std::size_t n, std::uint64_t seq, char side, const char* what) {
  for (std::size_t i = 0; i < n; ++i) {
    char want = static_cast<char>((i * 7 + seq * 13 + static_cast<unsigned char>(side)) & 0xff);
    if (p[i] != want)
      throw PerfError(fmt::format("data mismatch after {} (seq {}, offset {}: got {:#04x}, expected {:#04x})", what, seq, i,
                                  static_cast<unsigned char>(p[i]), static_cast<unsigned char>(want)));
  }
}

// Server: serves one client; every iteration: receive the client's buffer, RDMA Read it and
// verify, RDMA Write our pattern into it, then send our buffer's description.
void serveOne(NdkEndpoint& ep, std::size_t maxSize, bool verbose) {
  Ping p;
  p.ep.reset(&ep);
  struct Release {
    Ping& p;
    ~Release() { (void)p.ep.release(); }
  } rel{p};
  p.layout = maxSize;
  p.postCtlRecvs();
  ep.acceptOne(nullptr, 0, 120000);
  const Hello h = wire::parseHello(ep.peerData().data(), ep.peerData().size(), maxSize);
  p.size = h.size;
  for (std::uint32_t seq = 0; seq < h.count; ++seq) {
    BufMsg m = p.recvMsg();
    ep.postRead(3, p.sink(), static_cast<ULONG>(p.size), m.addr, m.token);
    p.waitFor(3, "RDMA read");
    verify(p.sink(), p.size, seq, 'c', "RDMA read");
    fill(p.exposed(), p.size, seq, 's');
    ep.postWrite(4, p.exposed(), static_cast<ULONG>(p.size), m.addr, m.token);
    p.waitFor(4, "RDMA write");
    p.sendMsg(seq);
    if (verbose) fmt::print("server: seq={} read verified, write sent\n", seq);
  }
  // The client reads our last buffer, then disconnects; wait for its last message.
  (void)p.recvMsg();
}

int runClient(const PingArgs& a, const std::string& host, std::uint16_t port, std::size_t size, std::thread& srv,
              const std::string& serverError);

// --rping: rping's protocol (the other side is rdma-core's `rping`, or another `ndk ping --rping`).
// The server serves one client until it leaves (-C: the count it expects, checked at the end).
int runRping(const PingArgs& a) {
  if (a.loopback) throw CLI::ValidationError("--rping: use -s or -c ADDR");
  auto sz = ndkperf::parseSize(a.size);
  if (!sz || *sz < rping::kMinSize || *sz > rping::kMaxSize)
    throw CLI::ValidationError(fmt::format("--rping: -S SIZE must be {}..{} (rping's range)", rping::kMinSize, rping::kMaxSize));
  rping::Options o;
  o.size = static_cast<std::uint32_t>(*sz);
  o.verbose = a.verbose;
  o.firstFpduDelayMs = a.firstFpduDelayMs;
  o.timeoutMs = static_cast<int>(a.timeoutS) * 1000;
  const std::uint16_t port = static_cast<std::uint16_t>(a.port);
  if (a.server) {
    o.count = a.countSet ? a.count : 0;
    const std::string bind = a.bind.empty() ? (a.v6 ? "::" : "0.0.0.0") : a.bind;
    SOCKADDR_INET la{};
    if (!parseAddress(bind, port, &la)) throw CLI::ValidationError("bad --bind address");
    const NET_IFINDEX ifx = interfaceFor(la);
    if (!ifx) throw PerfError(fmt::format("{} is not an address of an NDK-capable interface", bind));
    NdkEndpoint ep(ifx, rping::endpointParams(rping::kMaxSize));
    ep.listen(la);
    fmt::print("ndk ping: rping server listening on {} port {} (ifindex {})\n", bind, port, ifx);
    std::fflush(stdout);
    const std::uint32_t n = rping::runServer(ep, o);
    fmt::print("ndk ping: rping server: {} iterations served and verified\n", n);
    return kExitOk;
  }
  o.count = a.count;
  SOCKADDR_INET dest{};
  if (!parseAddress(*a.client, port, &dest)) throw CLI::ValidationError(fmt::format("bad address '{}'", *a.client));
  SOCKADDR_INET src{};
  if (!sourceAddressFor(dest, &src)) throw PerfError(fmt::format("no route to {}", *a.client));
  const NET_IFINDEX ifx = interfaceFor(src);
  if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", formatAddress(src)));
  NdkEndpoint ep(ifx, rping::endpointParams(o.size));
  rping::runClient(ep, dest, o);
  fmt::print("ndk ping: rping client: {} iterations of {} bytes verified\n", o.count, o.size);
  return kExitOk;
}

int runPing(const PingArgs& a) {
  int modes = (a.client ? 1 : 0) + (a.server ? 1 : 0) + (a.loopback ? 1 : 0);
  if (modes != 1) throw CLI::ValidationError("choose exactly one of -s, -c ADDR, --loopback");
  if (a.rping) return runRping(a);
  auto sz = ndkperf::parseSize(a.size);
  if (!sz || *sz == 0 || *sz > (16u << 20)) throw CLI::ValidationError("-S SIZE: 1 .. 16M");
  const std::size_t size = *sz;
  const std::string lo = a.v6 ? "::1" : "127.0.0.1";
  const std::string host = a.client ? *a.client : lo;

  std::unique_ptr<NdkEndpoint> serverEp;
  std::uint16_t port = static_cast<std::uint16_t>(a.port);
  if (a.server || a.loopback) {
    std::string bind = a.loopback ? lo : (a.bind.empty() ? (a.v6 ? "::" : "0.0.0.0") : a.bind);
    SOCKADDR_INET la{};
    if (!parseAddress(bind, a.loopback ? 0 : port, &la)) throw CLI::ValidationError("bad --bind address");
    NET_IFINDEX ifx = interfaceFor(la);
    if (!ifx) throw PerfError(fmt::format("{} is not an address of an NDK-capable interface", bind));
    serverEp = std::make_unique<NdkEndpoint>(ifx, Ping::params(std::max<std::size_t>(size, 16u << 20)));
    port = serverEp->listen(la);
    if (a.server) {
      fmt::print("ndk ping: server listening on {} (ifindex {})\n", formatAddress(la).replace(formatAddress(la).rfind(':') + 1, std::string::npos, std::to_string(port)), ifx);
      std::fflush(stdout);
      serveOne(*serverEp, 16u << 20, a.verbose);
      fmt::print("ndk ping: server: client done\n");
      return kExitOk;
    }
  }

  std::string serverError;
  std::thread srv;
  if (a.loopback) {
    srv = std::thread([&] {
      try {
        serveOne(*serverEp, 16u << 20, a.verbose);
      } catch (const std::exception& e) {
        serverError = e.what();
      }
    });
  }
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{srv};

  try {
    return runClient(a, host, port, size, srv, serverError);
  } catch (const PerfError& e) {
    // In loopback mode the server's failure is usually the cause: report it first.
    if (srv.joinable()) srv.join();
    if (!serverError.empty()) throw PerfError(fmt::format("server: {} (client: {})", serverError, e.what()));
    throw;
  }
}

int runClient(const PingArgs& a, const std::string& host, std::uint16_t port, std::size_t size, std::thread& srv,
              const std::string& serverError) {
  SOCKADDR_INET dest{};
  if (!parseAddress(host, port, &dest)) throw CLI::ValidationError(fmt::format("bad address '{}'", host));
  SOCKADDR_INET src{};
  if (!sourceAddressFor(dest, &src)) throw PerfError(fmt::format("no route to {}", host));
  NET_IFINDEX ifx = interfaceFor(src);
  if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", formatAddress(src)));
  Ping p;
  p.ep = std::make_unique<NdkEndpoint>(ifx, Ping::params(size));
  p.size = p.layout = size;
  p.postCtlRecvs();
  Hello h{kHello, a.count, size};
  p.ep->connect(dest, &h, sizeof h);
  fmt::print("ndk ping: connected to {} (ifindex {}), {} iterations of {} bytes\n", formatAddress(dest), ifx, a.count, size);
  std::vector<double> rtts;
  for (std::uint32_t seq = 0; seq < a.count; ++seq) {
    auto t0 = Clock::now();
    fill(p.exposed(), size, seq, 'c');
    p.sendMsg(seq);
    BufMsg m = p.recvMsg();
    verify(p.exposed(), size, seq, 's', "RDMA write from the server");
    p.ep->postRead(3, p.sink(), static_cast<ULONG>(size), m.addr, m.token);
    p.waitFor(3, "RDMA read");
    verify(p.sink(), size, seq, 's', "RDMA read");
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    rtts.push_back(us);
    if (a.verbose) fmt::print("seq={} size={} send/recv, RDMA read, RDMA write verified time={:.1f} us\n", seq, size, us);
  }
  p.sendMsg(a.count);  // lets the server finish
  p.ep->disconnect();
  p.ep.reset();
  if (srv.joinable()) srv.join();
  if (!serverError.empty()) throw PerfError("server: " + serverError);
  auto [mn, mx] = std::minmax_element(rtts.begin(), rtts.end());
  double avg = 0;
  for (double r : rtts) avg += r;
  avg = rtts.empty() ? 0 : avg / double(rtts.size());
  fmt::print("ndk ping: {}/{} iterations verified (send/recv, RDMA read, RDMA write); time min/avg/max = {:.1f}/{:.1f}/{:.1f} us\n",
             rtts.size(), a.count, rtts.empty() ? 0 : *mn, avg, rtts.empty() ? 0 : *mx);
  return kExitOk;
}

}  // namespace

void addPingCommand(CLI::App& app, int* exitCode) {
  auto a = std::make_shared<PingArgs>();
  CLI::App* sub = app.add_subcommand("ping", "Connect over NDK: send/receive, RDMA read and write with data verification");
  sub->add_flag("-s,--server", a->server, "Server: serve one client");
  // rping's spelling too: `-c -a ADDR` (client of ADDR), `-s -a ADDR` (server bound to ADDR).
  sub->add_option("-c,--client", a->client, "Client: connect to the server at ADDR (or give ADDR with -a)")
      ->expected(0, 1);
  sub->add_option("-a,--address", a->address, "rping's -a: with -s the address to bind, with -c the server's");
  sub->add_flag("--loopback", a->loopback, "Server and client in this process on 127.0.0.1");
  sub->add_option("-p,--port", a->port, "NDK port (default 7174)")->check(CLI::Range(1, 65535));
  sub->add_option("--bind", a->bind, "Server: local address to listen on (default: wildcard)");
  sub->add_option("-C,--count", a->count, "Iterations (default 4)")->check(CLI::Range(1u, 1000000u));
  sub->add_option("-S,--size", a->size, "Buffer size (default 64)");
  sub->add_flag("-V,--verbose", a->verbose, "One line per iteration");
  sub->add_flag("-6", a->v6, "IPv6 (--loopback on ::1)");
  sub->add_flag("--rping", a->rping,
                "Speak rdma-core rping's protocol (peer: rping -s / rping -c); -S 23..65535, server -C = expected count");
  sub->add_option("--first-fpdu-delay", a->firstFpduDelayMs,
                  "--rping client: milliseconds to wait after connecting before the first Send (0)");
  sub->add_option("--timeout", a->timeoutS, "--rping: seconds to wait for each step (60)")->check(CLI::Range(1u, 3600u));
  sub->callback([a, sub, exitCode] {
    a->countSet = sub->count("--count") > 0;
    if (a->address) {
      if (a->client && !a->client->empty() && *a->client != *a->address) {
        fmt::print(stderr, "ndk ping: -c {} and -a {} name two servers\n", *a->client, *a->address);
        *exitCode = kExitUsage;
        return;
      }
      if (a->client) a->client = *a->address;
      else if (a->server) a->bind = *a->address;
      else {
        fmt::print(stderr, "ndk ping: -a needs -s (bind address) or -c (server address)\n");
        *exitCode = kExitUsage;
        return;
      }
    } else if (a->client && a->client->empty()) {
      fmt::print(stderr, "ndk ping: -c needs ADDR (or -a ADDR)\n");
      *exitCode = kExitUsage;
      return;
    }
    try {
      *exitCode = runPing(*a);
    } catch (const PerfError& e) {
      fmt::print(stderr, "ndk ping: {}\n", e.what());
      *exitCode = kExitFailed;
    }
  });
}

}  // namespace ndktool
