// ndk perf: bandwidth and latency over NDK (send / RDMA write / RDMA read), with a same-run raw
// TCP baseline (--baseline tcp). See docs/tools.md and docs/performance.md.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "common.h"
#include "perf/ndk_perf.h"
#include "perf/report.h"
#include "perf/tcp_baseline.h"

namespace ndktool {
namespace {

using namespace ndkperf;
using Clock = std::chrono::steady_clock;

struct PerfArgs {
  std::optional<std::string> client;
  bool server = false, loopback = false;
  unsigned port = 18515;
  std::string bind;
  std::string test = "send";
  bool lat = false, bw = false;
  std::string size = "65536";
  bool all = false;
  std::string sweep;
  std::uint64_t iters = 0;
  double duration = 0;
  unsigned qps = 1, outstanding = 16, inlineSize = 0;
  bool poll = false, event = false;
  std::string progressMode, crc;
  bool v4 = false, v6 = false;
  std::string baseline;
  bool tcpOnly = false, json = false, csv = false;
  std::string plot;
  std::string commandLine;
};

[[noreturn]] void usage(const std::string& msg) { throw CLI::ValidationError(msg); }

std::vector<std::size_t> sweepSizes(std::size_t lo, std::size_t hi) {
  std::vector<std::size_t> v;
  for (std::size_t s = lo; s <= hi; s *= 2) v.push_back(s);
  return v;
}

nlohmann::json configJson(const Options& o, bool ndk, bool tcp, std::size_t maxSize) {
  return {{"ndk", ndk}, {"tcp", tcp}, {"max_size", maxSize}, {"outstanding", o.outstanding},
          {"inline", o.inlineSize}, {"poll", o.poll}};
}

// The server half of one session on an accepted control connection.
void serverSession(TcpSocket& ctl, const std::string& bindAddr, std::uint16_t ndkPort) {
  auto cfg = nlohmann::json::parse(ctl.recvLine(60000));
  Options o;
  o.outstanding = cfg.value("outstanding", 16u);
  o.inlineSize = cfg.value("inline", 0u);
  o.poll = cfg.value("poll", true);
  std::unique_ptr<NdkPerfServer> srv;
  if (cfg.value("ndk", false)) {
    try {
      SOCKADDR_INET la{};
      if (!parseAddress(bindAddr, ndkPort, &la)) throw PerfError(fmt::format("bad address '{}'", bindAddr));
      NET_IFINDEX ifx = interfaceFor(la);
      if (!ifx) throw PerfError(fmt::format("{} is not an address of an NDK-capable interface", bindAddr));
      srv = std::make_unique<NdkPerfServer>(ifx, la, o, cfg.value("max_size", std::size_t(65536)));
    } catch (const PerfError& e) {
      ctl.sendLine(nlohmann::json{{"error", e.what()}}.dump());
      throw;
    }
  }
  ctl.sendLine(nlohmann::json{{"ok", true}, {"ndk_port", srv ? srv->port() : 0}}.dump());
  if (srv) srv->serve(30000);
  if (cfg.value("tcp", false)) tcpServe(ctl);
}

class Progress {
 public:
  explicit Progress(bool on) : on_(on), t0_(Clock::now()) {}
  void step(const char* what, std::size_t size, std::size_t i, std::size_t n) {
    double el = std::chrono::duration<double>(Clock::now() - t0_).count();
    if (!on_ || el < 3) return;
    shown_ = true;
    fmt::print(stderr, "{}[ndk perf] {} size {} ({}/{}) {:.0f} s{}", isatty(2) ? "\r" : "", what, sizeLabel(size), i + 1,
               n, el, isatty(2) ? "   " : "\n");
    std::fflush(stderr);
  }
  ~Progress() {
    if (shown_ && isatty(2)) fmt::print(stderr, "\n");
  }

 private:
  bool on_;
  Clock::time_point t0_;
  bool shown_ = false;
};

template <class F>
Measurement measure(const Options& o, std::size_t size, F&& round) {
  Measurement m = round(size, o.iters);
  if (o.durationS > 0) {
    auto t0 = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - t0).count() < o.durationS) m.merge(round(size, o.iters));
  }
  return m;
}

Report clientSession(const std::string& host, std::uint16_t ctlPort, const Options& o, bool ndk, bool tcp) {
  Report rep;
  rep.opts = o;
  for (std::size_t s : o.sizes) rep.rows.push_back(Row{s, std::nullopt, std::nullopt});
  std::size_t maxSize = *std::max_element(o.sizes.begin(), o.sizes.end());
  TcpSocket ctl = tcpConnect(host, ctlPort);
  ctl.sendLine(configJson(o, ndk, tcp, maxSize).dump());
  auto reply = nlohmann::json::parse(ctl.recvLine(60000));
  if (reply.contains("error")) throw PerfError(reply["error"].get<std::string>());
  Progress progress(o.progress);
  if (ndk) {
    SOCKADDR_INET dest{};
    if (!parseAddress(host, reply.value("ndk_port", std::uint16_t(0)), &dest))
      throw PerfError(fmt::format("bad address '{}'", host));
    SOCKADDR_INET src{};
    if (!sourceAddressFor(dest, &src)) throw PerfError(fmt::format("no route to {}", host));
    NET_IFINDEX ifx = interfaceFor(src);
    if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", formatAddress(src)));
    NdkPerfClient cl(ifx, dest, o, maxSize);
    for (std::size_t i = 0; i < rep.rows.size(); ++i) {
      progress.step("OpenNDK", rep.rows[i].size, i, rep.rows.size());
      rep.rows[i].ndk = measure(o, rep.rows[i].size, [&](std::size_t s, std::uint64_t n) { return cl.round(o.test, o.mode, s, n); });
    }
    cl.quit();
  }
  if (tcp) {
    for (std::size_t i = 0; i < rep.rows.size(); ++i) {
      progress.step("TCP", rep.rows[i].size, i, rep.rows.size());
      rep.rows[i].tcp = measure(o, rep.rows[i].size,
                                [&](std::size_t s, std::uint64_t n) { return tcpRound(ctl, o.test, o.mode, s, n, o.poll); });
    }
    tcpQuit(ctl);
  }
  return rep;
}

int runPerf(PerfArgs& a) {
  int modes = (a.client ? 1 : 0) + (a.server ? 1 : 0) + (a.loopback ? 1 : 0);
  if (modes != 1) usage("choose exactly one of --server, -c ADDR, --loopback");
  if (a.lat && a.bw) usage("--lat and --bw are exclusive");
  if (a.poll && a.event) usage("--poll and --event are exclusive");
  if (a.v4 && a.v6) usage("-4 and -6 are exclusive");
  if (a.qps != 1) usage("-q: only 1 QP per run is implemented");
  if (!a.baseline.empty() && a.baseline != "tcp") usage("--baseline: only 'tcp' is known");
  if (a.tcpOnly && a.baseline.empty()) a.baseline = "tcp";
  Options o;
  o.test = a.test == "write" ? Test::Write : a.test == "read" ? Test::Read : Test::Send;
  o.mode = a.lat ? Mode::Lat : Mode::Bw;
  o.iters = a.iters ? a.iters : (o.mode == Mode::Lat ? 1000 : 1000);
  o.durationS = a.duration;
  o.outstanding = a.outstanding;
  o.inlineSize = a.inlineSize;
  o.poll = !a.event;
  o.ipv6 = a.v6;
  o.progress = !a.json && !a.csv;
  if (a.all) {
    o.sizes = sweepSizes(2, 8u << 20);
  } else if (!a.sweep.empty()) {
    auto c = a.sweep.find(':');
    auto lo = parseSize(a.sweep.substr(0, c)), hi = c == std::string::npos ? std::nullopt : parseSize(a.sweep.substr(c + 1));
    if (!lo || !hi || *lo == 0 || *lo > *hi) usage("--sweep MIN:MAX, e.g. 64:1M");
    o.sizes = sweepSizes(*lo, *hi);
  } else {
    auto s = parseSize(a.size);
    if (!s || *s == 0) usage("-s SIZE: a positive size such as 4096, 64K, 1M");
    o.sizes = {*s};
  }
  for (std::size_t s : o.sizes)
    if (s > (64u << 20)) usage("-s: at most 64M");
  if (o.test != Test::Send && o.mode == Mode::Lat) {
    // RDMA write latency polls memory; --event applies to send and read.
  }
  // Tunables the provider reads from the environment (ndk_host.h has no setter).
  if (!a.progressMode.empty()) ::setenv("OPENNDK_PROGRESS_MODE", a.progressMode.c_str(), 1);
  if (!a.crc.empty()) ::setenv("OPENNDK_MPA_PROFILE", a.crc == "on" ? "default" : "siw-compatible", 1);

  const bool ndk = !a.tcpOnly;
  const bool tcp = a.baseline == "tcp";
  const std::string any = a.v6 ? "::" : "0.0.0.0";
  const std::string lo = a.v6 ? "::1" : "127.0.0.1";

  if (a.server) {
    std::string bind = a.bind.empty() ? any : a.bind;
    TcpListener l(bind, static_cast<std::uint16_t>(a.port + 1));
    fmt::print("ndk perf: server: control/TCP on port {}, NDK on port {}; waiting for one client\n", a.port + 1, a.port);
    std::fflush(stdout);
    TcpSocket ctl = l.accept(600000);
    serverSession(ctl, bind, static_cast<std::uint16_t>(a.port));
    fmt::print("ndk perf: server: session done\n");
    return kExitOk;
  }

  Report rep;
  if (a.loopback) {
    TcpListener l(lo, 0);
    std::string serverError;
    std::thread srv([&] {
      try {
        TcpSocket ctl = l.accept(60000);
        serverSession(ctl, lo, 0);
      } catch (const std::exception& e) {
        serverError = e.what();
      }
    });
    try {
      rep = clientSession(lo, l.port(), o, ndk, tcp);
    } catch (...) {
      srv.join();
      throw;
    }
    srv.join();
    if (!serverError.empty()) throw PerfError("server: " + serverError);
  } else {
    rep = clientSession(*a.client, static_cast<std::uint16_t>(a.port + 1), o, ndk, tcp);
  }
  rep.commandLine = a.commandLine;
  if (!ndk) rep.ndkNote = "not run (--tcp-only)";
  if (a.json) fmt::print("{}\n", renderJson(rep).dump(2));
  else if (a.csv) fmt::print("{}", renderCsv(rep));
  else fmt::print("{}", renderTable(rep));
  if (!a.plot.empty()) {
    std::ofstream f(a.plot);
    f << renderSvg(rep);
    if (!f) throw PerfError(fmt::format("cannot write {}", a.plot));
  }
  return kExitOk;
}

}  // namespace

void addPerfCommand(CLI::App& app, int* exitCode, const std::string& commandLine) {
  auto a = std::make_shared<PerfArgs>();
  a->commandLine = commandLine;
  CLI::App* sub = app.add_subcommand("perf", "Bandwidth and latency benchmarks over NDK, with a raw-TCP baseline");
  sub->add_flag("--server", a->server, "Server mode: wait for one client (NDK on PORT, control/TCP on PORT+1)");
  sub->add_option("-c,--client", a->client, "Client mode: connect to the server at ADDR");
  sub->add_flag("--loopback", a->loopback, "Server and client in this process on 127.0.0.1 (::1 with -6)");
  sub->add_option("-p,--port", a->port, "NDK port (control/TCP baseline: PORT+1)")->check(CLI::Range(1, 65534));
  sub->add_option("--bind", a->bind, "Server: local address to listen on (default: wildcard)");
  sub->add_option("-t,--test", a->test, "send | write | read")->check(CLI::IsMember({"send", "write", "read"}));
  sub->add_flag("--lat", a->lat, "Latency (ping-pong, one-way = RTT/2)");
  sub->add_flag("--bw", a->bw, "Bandwidth (default)");
  sub->add_option("-s,--size", a->size, "Message size (e.g. 4096, 64K, 1M)");
  sub->add_flag("-a,--all", a->all, "Sweep 2 B .. 8 MiB, powers of two");
  sub->add_option("--sweep", a->sweep, "Sweep MIN:MAX, powers of two (e.g. 64:1M)");
  sub->add_option("-n,--iters", a->iters, "Iterations per size (default 1000)")->check(CLI::Range(1ull, 1ull << 40));
  sub->add_option("-D,--duration", a->duration, "Repeat each size for at least SECONDS")->check(CLI::Range(0.0, 3600.0));
  sub->add_option("-q,--qps", a->qps, "Queue pairs (only 1 implemented)")->check(CLI::Range(1u, 1024u));
  sub->add_option("-o,--outstanding", a->outstanding, "Operations in flight for bandwidth")->check(CLI::Range(1u, 4096u));
  sub->add_option("-I,--inline", a->inlineSize, "Inline size: sends/writes up to it use NDK_OP_FLAG_INLINE")
      ->check(CLI::Range(0u, 1u << 20));
  sub->add_flag("--poll", a->poll, "Busy-poll the CQ (TCP: recv with MSG_DONTWAIT) (default)");
  sub->add_flag("--event", a->event, "Arm the CQ and sleep until notified (TCP: blocking recv)");
  sub->add_option("--progress-mode", a->progressMode, "Provider progress mode (OPENNDK_PROGRESS_MODE)")
      ->check(CLI::IsMember({"blocking", "poll", "adaptive"}));
  sub->add_option("--crc", a->crc, "MPA CRC: on (profile default) or off (siw-compatible)")->check(CLI::IsMember({"on", "off"}));
  sub->add_flag("-4", a->v4, "IPv4 (default)");
  sub->add_flag("-6", a->v6, "IPv6");
  sub->add_option("--baseline", a->baseline, "tcp: run the same pattern over plain TCP and print ratios");
  sub->add_flag("--tcp-only", a->tcpOnly, "Run only the TCP baseline (no NDK)");
  auto* j = sub->add_flag("--json", a->json, "Machine-readable JSON");
  sub->add_flag("--csv", a->csv, "Machine-readable CSV")->excludes(j);
  sub->add_option("--plot", a->plot, "Write an SVG plot (bandwidth and latency against size) to FILE");
  sub->callback([a, exitCode] {
    try {
      *exitCode = runPerf(*a);
    } catch (const PerfError& e) {
      fmt::print(stderr, "ndk perf: {}\n", e.what());
      *exitCode = kExitFailed;
    }
  });
}

}  // namespace ndktool
