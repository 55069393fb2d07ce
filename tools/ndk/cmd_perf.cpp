// ndk perf: bandwidth and latency over NDK (send / RDMA write / RDMA read), with a same-run raw
// TCP baseline (--baseline tcp). See docs/tools.md and docs/performance.md.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "common.h"
#include "control_client.h"
#include "perf/ndk_perf.h"
#include "perf/report.h"
#include "perf/scale.h"
#include "perf/tcp_baseline.h"
#include "perf/wire.h"
#include "perftest_compat.h"

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
  bool perftestNoop = false;  // -R, -F, --report_gbits (perftest spellings with nothing to do)
  std::string size = "65536";
  bool all = false;
  std::string sweep;
  std::uint64_t iters = 0;
  double duration = 0;
  unsigned qps = 1, outstanding = 16, inlineSize = 0, postList = 1;
  bool bidir = false, connectRate = false;
  bool poll = false, event = false;
  std::string progressMode, crc;
  bool v4 = false, v6 = false;
  std::string baseline;
  bool tcpOnly = false, json = false, csv = false;
  bool histogram = false;     // -H
  bool showProgress = false;  // --show-progress (else: when stderr is a terminal)
  std::string plot;
  std::string commandLine;
  bool perftest = false;  // --perftest: perftest -R's exchange (perftest_compat.h)
  unsigned timeoutS = 60;
};

[[noreturn]] void usage(const std::string& msg) { throw CLI::ValidationError(msg); }

std::vector<std::size_t> sweepSizes(std::size_t lo, std::size_t hi) {
  std::vector<std::size_t> v;
  for (std::size_t s = lo; s <= hi; s *= 2) v.push_back(s);
  return v;
}

nlohmann::json configJson(const Options& o, bool ndk, bool tcp, std::size_t maxSize) {
  return {{"ndk", ndk},         {"tcp", tcp},           {"max_size", maxSize}, {"outstanding", o.outstanding},
          {"inline", o.inlineSize}, {"poll", o.poll}, {"qps", o.qps},        {"bidir", o.bidir}};
}

// Runs f(i) for i in [0, n) on n threads (n == 1: on this thread); the first failure is rethrown
// as a PerfError after every thread ended.
template <class F>
void onThreads(std::size_t n, F&& f) {
  if (n == 1) return f(std::size_t(0));
  std::mutex mu;
  std::string first;
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      try {
        f(i);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> l(mu);
        if (first.empty()) first = e.what();
      }
    });
  for (auto& t : ts) t.join();
  if (!first.empty()) throw PerfError(first);
}

// -q / -b: one Measurement for the whole round: operations of every stream (both directions
// with -b), over the longest stream's time (the streams start together).
Measurement aggregate(const std::vector<Measurement>& parts, std::uint64_t factor) {
  Measurement m;
  for (const Measurement& p : parts) {
    m.size = p.size;
    m.iters += p.iters * factor;
    m.seconds = std::max(m.seconds, p.seconds);
  }
  return m;
}

std::string peerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char b[INET6_ADDRSTRLEN] = {};
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, b, sizeof b);
  else inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, b, sizeof b);
  return b;
}

NET_IFINDEX localInterface(const std::string& host, std::uint16_t port, SOCKADDR_INET* dest) {
  if (!parseAddress(host, port, dest)) throw PerfError(fmt::format("bad address '{}'", host));
  SOCKADDR_INET src{};
  if (!sourceAddressFor(*dest, &src)) throw PerfError(fmt::format("no route to {}", host));
  NET_IFINDEX ifx = interfaceFor(src);
  if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", formatAddress(src)));
  return ifx;
}

// Number of TCP streams of the baseline: -q streams, twice with -b (half of them reversed).
unsigned tcpStreams(const Options& o) { return o.qps * (o.bidir ? 2u : 1u); }

// The reverse direction of a TCP bandwidth stream (-b): the server streams for send/write, the
// client for read.
Test reverseTcp(Test t) { return t == Test::Read ? Test::Send : Test::Read; }

// The server half of one session on an accepted control connection. `l` accepts the extra TCP
// streams of -q / -b (nullptr: none can be accepted).
void serverSession(TcpSocket& ctl, TcpListener* l, const std::string& bindAddr, std::uint16_t ndkPort) {
  // The first remote input of the server: parsed and bounded (qps, max_size, ...) before use.
  const wire::ServerConfig cfg = wire::parseServerConfig(ctl.recvLine(60000));
  Options o;
  o.outstanding = cfg.outstanding;
  o.inlineSize = cfg.inlineSize;
  o.poll = cfg.poll;
  o.qps = cfg.qps;
  o.bidir = cfg.bidir;
  const std::size_t maxSize = cfg.maxSize;
  std::vector<std::unique_ptr<NdkPerfServer>> srv;
  std::vector<std::uint16_t> ports;
  NET_IFINDEX ifx = 0;
  if (cfg.ndk) {
    try {
      SOCKADDR_INET la{};
      if (!parseAddress(bindAddr, ndkPort, &la)) throw PerfError(fmt::format("bad address '{}'", bindAddr));
      ifx = interfaceFor(la);
      if (!ifx) throw PerfError(fmt::format("{} is not an address of an NDK-capable interface", bindAddr));
      for (unsigned i = 0; i < o.qps; ++i) {
        SOCKADDR_INET a = la;
        if (i > 0) parseAddress(bindAddr, 0, &a);  // the first QP on PORT, the others ephemeral
        srv.push_back(std::make_unique<NdkPerfServer>(ifx, a, o, maxSize));
        ports.push_back(srv.back()->port());
      }
    } catch (const PerfError& e) {
      ctl.sendLine(nlohmann::json{{"error", e.what()}}.dump());
      throw;
    }
  }
  ctl.sendLine(nlohmann::json{{"ok", true}, {"ndk_port", ports.empty() ? 0 : ports[0]}, {"ndk_ports", ports}}.dump());
  if (!srv.empty()) {
    // -b: this side drives the reverse direction over its own connections to the client's
    // reverse listeners, one round beside each forward round.
    std::vector<std::unique_ptr<NdkPerfClient>> rev;
    std::vector<std::thread> revRound(srv.size());
    std::vector<std::string> revError(srv.size());
    if (o.bidir) {
      const auto& rports = cfg.reversePorts;
      if (rports.size() != srv.size()) throw PerfError("protocol: -b without the client's reverse ports");
      std::string peer = peerAddress(ctl.fd());
      for (std::size_t i = 0; i < srv.size(); ++i) {
        SOCKADDR_INET dest{};
        NET_IFINDEX rifx = localInterface(peer, rports[i], &dest);
        rev.push_back(std::make_unique<NdkPerfClient>(rifx, dest, o, maxSize));
      }
      for (std::size_t i = 0; i < srv.size(); ++i) {
        srv[i]->onBegin = [&, i](Test t, Mode m, std::size_t size, std::uint64_t iters) {
          revRound[i] = std::thread([&, i, t, m, size, iters] {
            try {
              rev[i]->round(t, m, size, iters);
            } catch (const std::exception& e) {
              revError[i] = e.what();
            }
          });
        };
        srv[i]->onEnd = [&, i] {
          if (revRound[i].joinable()) revRound[i].join();
          if (!revError[i].empty()) throw PerfError("reverse direction: " + revError[i]);
        };
        srv[i]->onQuit = [&, i] { rev[i]->quit(); };
      }
    }
    try {
      onThreads(srv.size(), [&](std::size_t i) { srv[i]->serve(30000); });
    } catch (...) {
      for (auto& t : revRound)
        if (t.joinable()) t.join();
      throw;
    }
  }
  if (cfg.tcp) {
    std::vector<TcpSocket> socks;
    socks.push_back(std::move(ctl));
    for (unsigned i = 1; i < tcpStreams(o); ++i) {
      if (!l) throw PerfError("protocol: extra TCP streams cannot be accepted");
      socks.push_back(l->accept(30000));
      socks.back().setNoDelay();
    }
    try {
      onThreads(socks.size(), [&](std::size_t i) { tcpServe(socks[i], maxSize); });
    } catch (...) {
      ctl = std::move(socks[0]);
      throw;
    }
    ctl = std::move(socks[0]);
  }
}

// The progress line of a long run (issue: "progress on any run longer than ~2 s"): a thread
// wakes once a second and, from 2 s on, prints the step being measured and the time so far on
// stderr (overwritten in place on a terminal, one line per second otherwise).
class Progress {
 public:
  explicit Progress(bool on) : t0_(Clock::now()), tty_(::isatty(2) == 1) {
    if (on) ticker_ = std::thread([this] { run(); });
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    if (shown_ && tty_) fmt::print(stderr, "\n");
  }
  void step(const char* what, std::size_t size, std::size_t i, std::size_t n) {
    std::lock_guard<std::mutex> l(mu_);
    step_ = fmt::format("{} size {} ({}/{})", what, sizeLabel(size), i + 1, n);
    stepT0_ = Clock::now();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> l(mu_);
    while (!cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; })) {
      const auto now = Clock::now();
      const double el = std::chrono::duration<double>(now - t0_).count();
      if (el < 2 || step_.empty()) continue;
      shown_ = true;
      fmt::print(stderr, "{}ndk perf: {}, {:.0f} s on this size, {:.0f} s in all{}", tty_ ? "\r" : "", step_,
                 std::chrono::duration<double>(now - stepT0_).count(), el, tty_ ? "   " : "\n");
      std::fflush(stderr);
    }
  }

  const Clock::time_point t0_;
  const bool tty_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, shown_ = false;
  std::string step_;
  Clock::time_point stepT0_;
  std::thread ticker_;
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
  const std::uint64_t factor = o.bidir ? 2 : 1;
  TcpSocket ctl = tcpConnect(host, ctlPort);
  auto cfg = configJson(o, ndk, tcp, maxSize);
  // -b: the server drives the reverse direction into listeners of this side.
  std::vector<std::unique_ptr<NdkPerfServer>> rev;
  if (ndk && o.bidir) {
    SOCKADDR_INET dest{}, src{};
    NET_IFINDEX ifx = localInterface(host, 0, &dest);
    sourceAddressFor(dest, &src);
    std::vector<std::uint16_t> ports;
    for (unsigned i = 0; i < o.qps; ++i) {
      rev.push_back(std::make_unique<NdkPerfServer>(ifx, src, o, maxSize));
      ports.push_back(rev.back()->port());
    }
    cfg["reverse_ports"] = ports;
  }
  ctl.sendLine(cfg.dump());
  // The peer's first answer: a JSON object from an ndk perf server, anything else is refused
  // with a message (never an uncaught parse error).
  nlohmann::json reply = nlohmann::json::parse(ctl.recvLine(60000), nullptr, false);
  if (!reply.is_object())
    throw PerfError(fmt::format("{}:{} did not answer with ndk perf's control protocol (is it `ndk perf --server`?)", host,
                                ctlPort));
  if (reply.contains("error")) throw PerfError(reply["error"].get<std::string>());
  Progress progress(o.progress);
  if (ndk) {
    auto ports = reply.value("ndk_ports", std::vector<std::uint16_t>{});
    if (ports.empty()) ports.push_back(reply.value("ndk_port", std::uint16_t(0)));
    if (ports.size() != o.qps) throw PerfError("protocol: the server opened a different number of QPs");
    std::vector<std::string> revError(rev.size());
    std::vector<std::thread> revServe;
    for (std::size_t i = 0; i < rev.size(); ++i)
      revServe.emplace_back([&, i] {
        try {
          rev[i]->serve(60000);
        } catch (const std::exception& e) {
          revError[i] = e.what();
        }
      });
    try {
      std::vector<std::unique_ptr<NdkPerfClient>> cl;
      for (std::uint16_t port : ports) {
        SOCKADDR_INET dest{};
        NET_IFINDEX ifx = localInterface(host, port, &dest);
        cl.push_back(std::make_unique<NdkPerfClient>(ifx, dest, o, maxSize));
      }
      for (std::size_t i = 0; i < rep.rows.size(); ++i) {
        progress.step("OpenNDK", rep.rows[i].size, i, rep.rows.size());
        rep.rows[i].ndk = measure(o, rep.rows[i].size, [&](std::size_t s, std::uint64_t n) {
          if (cl.size() == 1 && !o.bidir) return cl[0]->round(o.test, o.mode, s, n);
          std::vector<Measurement> parts(cl.size());
          onThreads(cl.size(), [&](std::size_t k) { parts[k] = cl[k]->round(o.test, o.mode, s, n); });
          return aggregate(parts, factor);
        });
      }
      for (auto& c : cl) c->quit();
    } catch (...) {
      for (auto& t : revServe) t.join();
      throw;
    }
    for (auto& t : revServe) t.join();
    for (const auto& e : revError)
      if (!e.empty()) throw PerfError("reverse direction: " + e);
  }
  if (tcp) {
    std::vector<TcpSocket> socks;
    socks.push_back(std::move(ctl));
    for (unsigned i = 1; i < tcpStreams(o); ++i) {
      socks.push_back(tcpConnect(host, ctlPort));
      socks.back().setNoDelay();
    }
    for (std::size_t i = 0; i < rep.rows.size(); ++i) {
      progress.step("TCP", rep.rows[i].size, i, rep.rows.size());
      rep.rows[i].tcp = measure(o, rep.rows[i].size, [&](std::size_t s, std::uint64_t n) {
        if (socks.size() == 1) return tcpRound(socks[0], o.test, o.mode, s, n, o.poll);
        std::vector<Measurement> parts(socks.size());
        onThreads(socks.size(), [&](std::size_t k) {
          Test t = k < o.qps ? o.test : reverseTcp(o.test);
          parts[k] = tcpRound(socks[k], t, o.mode, s, n, o.poll);
        });
        return aggregate(parts, 1);
      });
    }
    for (auto& sk : socks) tcpQuit(sk);
  }
  return rep;
}

// --loopback --connect-rate -q N: N connected QP pairs on one adapter (perf/scale.h).
int runConnectRate(const PerfArgs& a) {
  if (!a.loopback) usage("--connect-rate runs over --loopback only");
  if (a.lat || a.histogram || a.tcpOnly || a.all || !a.sweep.empty() || a.bidir || a.csv || !a.plot.empty())
    usage("--connect-rate takes only -q, -o, -4/-6, --baseline tcp, --progress-mode, --crc and --json");
  if (!a.baseline.empty() && a.baseline != "tcp") usage("--baseline: only 'tcp' is known");
  if (a.v4 && a.v6) usage("-4 and -6 are exclusive");
  if (!a.progressMode.empty()) ::setenv("OPENNDK_PROGRESS_MODE", a.progressMode.c_str(), 1);
  if (!a.crc.empty()) ::setenv("OPENNDK_MPA_PROFILE", a.crc == "on" ? "default" : "siw-compatible", 1);
  ScaleOptions so;
  so.pairs = a.qps;
  so.window = a.outstanding;
  so.ipv6 = a.v6;
  so.progress = !a.json;
  SOCKADDR_INET lo{};
  parseAddress(a.v6 ? "::1" : "127.0.0.1", 0, &lo);
  NET_IFINDEX ifx = interfaceFor(lo);
  if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", a.v6 ? "::1" : "127.0.0.1"));
  ScaleResult r = runConnectScale(ifx, lo, so);
  std::optional<ScaleResult> tcp;
  if (a.baseline == "tcp") tcp = runTcpConnectScale(lo, so);
  if (a.json) {
    auto j = renderScaleJson(r, so);
    if (tcp) {
      j["tcp"] = renderScaleJson(*tcp, so);
      j["ratio_connects_per_s"] = tcp->connectsPerSec() > 0 ? r.connectsPerSec() / tcp->connectsPerSec() : 0.0;
    }
    fmt::print("{}\n", withVersion(j).dump(2));
  } else {
    fmt::print("{}", renderScaleTable(r, so));
    if (tcp) {
      fmt::print("{}", renderScaleTable(*tcp, so, "plain TCP sockets (--baseline tcp; per QP = per socket)"));
      if (tcp->connectsPerSec() > 0)
        fmt::print("ratio OpenNDK / TCP: connects/s {:.2f}, CPU per connection {:.2f}\n",
                   r.connectsPerSec() / tcp->connectsPerSec(),
                   tcp->connectCpuSeconds > 0 && r.connected && tcp->connected
                       ? (r.connectCpuSeconds / double(r.connected)) / (tcp->connectCpuSeconds / double(tcp->connected))
                       : 0.0);
    }
  }
  if (tcp && !tcp->error.empty()) fmt::print(stderr, "ndk perf: connect-rate: tcp baseline: {}\n", tcp->error);
  if (!r.error.empty()) {
    fmt::print(stderr, "ndk perf: connect-rate: {}\n", r.error);
    return kExitFailed;
  }
  return kExitOk;
}

int runPerf(PerfArgs& a) {
  int modes = (a.client ? 1 : 0) + (a.server ? 1 : 0) + (a.loopback ? 1 : 0);
  if (a.perftest)
    return perftest::runCli({a.client, a.server, a.loopback, a.port, a.bind, a.test, a.size, a.iters, a.qps, a.v6, a.timeoutS,
                             {{"--lat", a.lat}, {"-a", a.all}, {"--sweep", !a.sweep.empty()}, {"-D", a.duration > 0}, {"-b", a.bidir},
                              {"--connect-rate", a.connectRate}, {"-o", a.outstanding != 16}, {"-I", a.inlineSize != 0},
                              {"--event", a.event}, {"--baseline", !a.baseline.empty()}, {"--tcp-only", a.tcpOnly},
                              {"--json", a.json}, {"--csv", a.csv}, {"--plot", !a.plot.empty()}, {"-H", a.histogram},
                              {"--show-progress", a.showProgress}}});
  if (modes != 1) usage("choose exactly one of --server, -c ADDR, --loopback");
  if (a.lat && a.bw) usage("--lat and --bw are exclusive");
  if (a.poll && a.event) usage("--poll and --event are exclusive");
  if (a.v4 && a.v6) usage("-4 and -6 are exclusive");
  if (a.connectRate) return runConnectRate(a);
  if (a.qps > 64) usage("-q: at most 64 connections for bandwidth (one thread each); --connect-rate takes more");
  if ((a.qps > 1 || a.bidir) && a.lat) usage("-q > 1 and -b apply to bandwidth tests (as in perftest), not --lat");
  if (!a.baseline.empty() && a.baseline != "tcp") usage("--baseline: only 'tcp' is known");
  if (a.tcpOnly && a.baseline.empty()) a.baseline = "tcp";
  Options o;
  o.test = a.test == "write" ? Test::Write : a.test == "read" ? Test::Read : Test::Send;
  o.mode = a.lat ? Mode::Lat : Mode::Bw;
  o.iters = a.iters ? a.iters : (o.mode == Mode::Lat ? 1000 : 1000);
  o.durationS = a.duration;
  o.outstanding = a.outstanding;
  o.inlineSize = a.inlineSize;
  o.postList = a.postList;
  o.poll = !a.event;
  o.ipv6 = a.v6;
  o.qps = a.qps;
  o.bidir = a.bidir;
  o.progress = a.showProgress || ::isatty(2) == 1;
  o.histogram = a.histogram;
  if (a.histogram && !a.lat) usage("-H (latency histogram) applies to --lat");
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
    serverSession(ctl, &l, bind, static_cast<std::uint16_t>(a.port));
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
        serverSession(ctl, &l, lo, 0);
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
  if (a.json) fmt::print("{}\n", withVersion(renderJson(rep)).dump(2));
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
  sub->add_option("-q,--qps", a->qps, "Connections (QP pairs): bandwidth streams (<= 64), or pairs for --connect-rate")
      ->check(CLI::Range(1u, 1000000u));
  sub->add_flag("-b,--bidirectional", a->bidir, "Both directions at once (bandwidth; figures are the sum, as in perftest)");
  sub->add_flag("--connect-rate", a->connectRate,
                "With --loopback: open -q N connected QP pairs (-o in flight), report connects/s and memory per idle QP");
  sub->add_option("-o,--outstanding", a->outstanding, "Operations in flight for bandwidth (--connect-rate: connects)")->check(CLI::Range(1u, 4096u));
  sub->add_option("--post-list", a->postList,
                  "Bandwidth: hand posts over N at a time (NDK_OP_FLAG_DEFER on all but the last; perftest's --post_list)")
      ->check(CLI::Range(1u, 4096u));
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
  sub->add_flag("--perftest", a->perftest, "Speak perftest -R's protocol (peer: ib_send_bw/ib_write_bw/ib_read_bw -R)");
  sub->add_option("--timeout", a->timeoutS, "--perftest: seconds to wait for each step (60)")->check(CLI::Range(1u, 3600u));
  // perftest's habits, accepted so that its command lines work: -R (rdma_cm: OpenNDK always
  // connects through NDK's connector, its CM), -F (do not fail on CPU frequency warnings: ndk perf
  // never checks), --report_gbits (Gb/s: always printed beside MB/s).
  sub->add_flag("-R,--rdma_cm", a->perftestNoop, "perftest's -R: no-op (ndk perf always connects through NDK's CM)");
  sub->add_flag("-F,--CPU-freq", a->perftestNoop, "perftest's -F: no-op (ndk perf does not check the CPU frequency)");
  sub->add_flag("--report_gbits", a->perftestNoop, "perftest's --report_gbits: no-op (Gb/s is always printed)");
  sub->add_flag("-H,--report-histogram", a->histogram,
                "With --lat: a latency histogram per size and transport (JSON: \"histogram\" in each figure)");
  sub->add_flag("--show-progress", a->showProgress,
                "A progress line on stderr once a second from 2 s on (default: only when stderr is a terminal)");
  sub->add_option("--plot", a->plot, "Write an SVG plot (bandwidth and latency against size) to FILE");
  sub->callback([a, exitCode] {
    try {
      *exitCode = runPerf(*a);
    } catch (const PerfError& e) {
      fmt::print(stderr, "ndk perf: {}\n", e.what());
      *exitCode = kExitFailed;
    } catch (const nlohmann::json::exception& e) {  // a field of the peer's answer of the wrong type
      fmt::print(stderr, "ndk perf: protocol: malformed answer from the peer ({})\n", e.what());
      *exitCode = kExitFailed;
    }
  });
}

}  // namespace ndktool
