#include "perftest_compat.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "perf/ndk_endpoint.h"

namespace ndktool::perftest {

using ndkperf::NdkCallError;
using ndkperf::NdkEndpoint;
using ndkperf::PerfError;
using ndkperf::Test;

// ---- encodings --------------------------------------------------------------------------------

namespace {
void putBe(std::uint8_t* p, std::uint64_t v, int bytes) noexcept {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i)));
}
std::uint64_t getBe(const std::uint8_t* p, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

std::array<std::uint8_t, 4> encodeU32(std::uint32_t v) noexcept {
  std::array<std::uint8_t, 4> a{};
  putBe(a.data(), v, 4);
  return a;
}
std::uint32_t decodeU32(const std::uint8_t* p) noexcept { return static_cast<std::uint32_t>(getBe(p, 4)); }
std::array<std::uint8_t, 8> encodeU64(std::uint64_t v) noexcept {
  std::array<std::uint8_t, 8> a{};
  putBe(a.data(), v, 8);
  return a;
}
std::uint64_t decodeU64(const std::uint8_t* p) noexcept { return getBe(p, 8); }
std::array<std::uint8_t, 8> encodeDouble(double v) noexcept { return encodeU64(std::bit_cast<std::uint64_t>(v)); }
double decodeDouble(const std::uint8_t* p) noexcept { return std::bit_cast<double>(decodeU64(p)); }

std::array<std::uint8_t, kDestLen> encodeDest(const Dest& d) noexcept {
  std::array<std::uint8_t, kDestLen> a{};
  putBe(&a[0], d.lid, 4);
  putBe(&a[4], d.outReads, 4);
  putBe(&a[8], d.qpn, 4);
  putBe(&a[12], d.psn, 4);
  putBe(&a[16], d.rkey, 4);
  // 20..23: the structure's padding; we send zeros
  putBe(&a[24], d.vaddr, 8);
  std::memcpy(&a[32], d.gid.data(), 16);
  putBe(&a[48], d.srqn, 4);
  putBe(&a[52], d.gidIndex, 4);
  return a;
}

Dest decodeDest(const std::uint8_t* p) noexcept {
  Dest d;
  d.lid = decodeU32(p);
  d.outReads = decodeU32(p + 4);
  d.qpn = decodeU32(p + 8);
  d.psn = decodeU32(p + 12);
  d.rkey = decodeU32(p + 16);
  d.vaddr = decodeU64(p + 24);
  std::memcpy(d.gid.data(), p + 32, 16);
  d.srqn = decodeU32(p + 48);
  d.gidIndex = decodeU32(p + 52);
  return d;
}

std::array<std::array<std::uint8_t, kFieldLen>, 5> encodeReport(const Report& r) noexcept {
  return {encodeU64(r.size), encodeU64(r.iters), encodeDouble(r.bwPeak), encodeDouble(r.bwAvg), encodeDouble(r.msgRate)};
}

Report decodeReport(const std::array<std::array<std::uint8_t, kFieldLen>, 5>& f) noexcept {
  return {decodeU64(f[0].data()), decodeU64(f[1].data()), decodeDouble(f[2].data()), decodeDouble(f[3].data()),
          decodeDouble(f[4].data())};
}

std::array<std::uint8_t, kVersionLen> encodeVersion(const std::string& v) noexcept {
  std::array<std::uint8_t, kVersionLen> a{};
  std::memcpy(a.data(), v.data(), std::min(v.size(), kVersionLen - 1));
  return a;
}

std::optional<double> parseVersion(const std::uint8_t* p, std::size_t len) noexcept {
  if (len != kVersionLen) return std::nullopt;
  std::size_t n = 0, digits = 0, dots = 0;
  while (n < len && p[n] != 0) {
    if (p[n] == '.') {
      if (++dots > 1 || digits == 0) return std::nullopt;
    } else if (p[n] >= '0' && p[n] <= '9') {
      ++digits;
    } else {
      return std::nullopt;
    }
    ++n;
  }
  if (n == len || digits == 0 || p[n - 1] == '.') return std::nullopt;  // no NUL, or empty / "6."
  for (std::size_t i = n; i < len; ++i)
    if (p[i] != 0) return std::nullopt;  // junk after the NUL
  // perftest compares the number (atof), so do we: "5.7" and "5.70" are the same version
  return std::strtod(std::string(reinterpret_cast<const char*>(p), n).c_str(), nullptr);
}

double checkVersion(const std::uint8_t* p, std::size_t len) {
  auto v = parseVersion(p, len);
  if (!v) {
    std::string shown;
    for (std::size_t i = 0; i < len && i < kVersionLen; ++i)
      shown += p[i] >= 0x20 && p[i] < 0x7f ? static_cast<char>(p[i]) : '.';
    throw PerfError(fmt::format("perftest: the peer sent a malformed version message ({} bytes: '{}')", len, shown));
  }
  if (*v < kMinPeerVersion - 1e-9)
    throw PerfError(fmt::format("perftest: the peer is perftest version {}, older than {:.2f}: not supported", *v, kMinPeerVersion));
  return *v;
}

std::uint32_t checkCycleBuffer(const std::uint8_t* p, std::size_t len) {
  const std::uint32_t v = len == 4 ? decodeU32(p) : 0;
  if (len != 4 || v == 0 || v > (64u << 20))
    throw PerfError(fmt::format("perftest: the peer sent a malformed cycle-buffer size ({} bytes, value {})", len, v));
  return v;
}

std::uint32_t checkCacheLine(const std::uint8_t* p, std::size_t len) {
  const std::uint32_t v = len == 4 ? decodeU32(p) : 0;
  if (len != 4 || v == 0 || v > 65536)
    throw PerfError(fmt::format("perftest: the peer sent a malformed cache-line size ({} bytes, value {})", len, v));
  return v;
}

int checkMtu(const std::uint8_t* p, std::size_t len) {
  if (len != 2 || p[0] < '1' || p[0] > '5' || p[1] != 0)
    throw PerfError(fmt::format("perftest: the peer sent a malformed MTU message ({} bytes)", len));
  return p[0] - '0';
}

std::uint64_t cyclicOffset(std::uint64_t i, std::uint64_t size, std::uint64_t cacheLine, std::uint64_t cycle) noexcept {
  const std::uint64_t step = size > cacheLine ? (size + cacheLine - 1) / cacheLine * cacheLine : cacheLine;
  const std::uint64_t slots = cycle / step;
  return slots <= 1 ? 0 : (i % slots) * step;
}

std::optional<std::uint32_t> creditDue(std::uint64_t rcnt, std::uint32_t rxDepth) noexcept {
  const std::uint32_t every = std::max<std::uint32_t>(1, rxDepth / 3);
  if (rcnt == 0 || ((rcnt % rxDepth) % every) != 0) return std::nullopt;
  return static_cast<std::uint32_t>(rcnt);
}

Report computeReport(std::uint64_t size, const std::vector<std::uint64_t>& posted, const std::vector<std::uint64_t>& completed) {
  Report r;
  r.size = size;
  const std::size_t n = std::min(posted.size(), completed.size());
  r.iters = n;
  if (n == 0) return r;
  const double total = static_cast<double>(completed[n - 1] - posted[0]) / 1e9;
  const double mb = 1024.0 * 1024.0;
  if (total > 0) {
    r.bwAvg = static_cast<double>(size) * static_cast<double>(n) / total / mb;
    r.msgRate = static_cast<double>(n) / total / 1e6;
  }
  // Peak: the smallest time per operation over runs i..j. Exhaustive for short runs; for long ones
  // the runs of 2^k operations from every i (n log n) are enough for a figure of merit.
  double best = 0;  // ns per operation
  auto consider = [&](std::size_t i, std::size_t j) {
    const double t = static_cast<double>(completed[j] - posted[i]) / static_cast<double>(j - i + 1);
    if (t > 0 && (best == 0 || t < best)) best = t;
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (n <= 2048) {
      for (std::size_t j = i; j < n; ++j) consider(i, j);
    } else {
      for (std::size_t w = 1; i + w - 1 < n; w *= 2) consider(i, i + w - 1);
      consider(i, n - 1);
    }
  }
  if (best > 0) r.bwPeak = static_cast<double>(size) / (best / 1e9) / mb;
  return r;
}

// ---- the connection-level exchange ------------------------------------------------------------

// The peer RDMA-Writes the credit word while the sender polls it: an acquire load here, the
// engine's memcpy there (the RDMA memory model, not a race of the provider). tests/tsan.supp names
// this function: it has external linkage (its frame keeps the qualified name; a member of a type
// in an anonymous namespace is symbolized as a bare "credit") and stays out of line.
[[gnu::noinline]] std::uint32_t loadCreditWord(const char* p) noexcept {
  std::atomic_ref<std::uint32_t> w(*reinterpret_cast<std::uint32_t*>(const_cast<char*>(p)));
  const std::uint32_t v = w.load(std::memory_order_acquire);
  return std::endian::native == std::endian::little ? v : __builtin_bswap32(v);
}

namespace {

using Clock = std::chrono::steady_clock;
std::uint64_t nowNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

const char* testTitle(Test t) { return t == Test::Send ? "Send" : t == Test::Write ? "RDMA_Write" : "RDMA_Read"; }

std::string statusText(NTSTATUS s) {
  return fmt::format("0x{:08X} ({})", static_cast<std::uint32_t>(s), ndkperf::ntStatusName(s));
}

// Control connection: every message one Send of at most kDestLen bytes into a 64-byte slot.
// Receive slots 0 and 1 stay posted (perftest keeps one); slot 2 is the send buffer.
class Control {
 public:
  static constexpr std::uint64_t kSendCtx = 2;
  static NdkEndpoint::Params params(Test t) {
    NdkEndpoint::Params p;
    p.bufBytes = 3 * 64;
    p.rqDepth = 4;
    p.iqDepth = 4;
    p.ird = p.ord = t == Test::Read ? kOutReads : 0;  // perftest: 0/0, out_reads for read tests
    p.poll = false;
    return p;
  }
  Control(std::unique_ptr<NdkEndpoint> ep, Role role, int timeoutMs) : ep_(std::move(ep)), role_(role), timeoutMs_(timeoutMs) {}
  static void postReceives(NdkEndpoint& ep) {
    for (std::uint64_t i = 0; i < 2; ++i) ep.postRecv(i, ep.buf() + 64 * i, 64);
  }
  NdkEndpoint& ep() { return *ep_; }

  void send(const std::uint8_t* p, std::size_t n, const char* what) {
    char* slot = ep_->buf() + 128;
    std::memcpy(slot, p, n);
    ep_->postSend(kSendCtx, slot, static_cast<ULONG>(n));
    for (;;) {
      NDK_RESULT_EX r = next(what);
      const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
      if (r.Status != STATUS_SUCCESS)
        throw PerfError(fmt::format("perftest: control Send ({}) completed with {}", what, statusText(r.Status)));
      if (ctx == kSendCtx) return;
      stash(r);  // a message of the next step arrived before our send completed
    }
  }
  // The next message; its length must be `n`.
  std::vector<std::uint8_t> recv(std::size_t n, const char* what) {
    NDK_RESULT_EX r{};
    if (!early_.empty()) {
      r = early_.front();
      early_.erase(early_.begin());
    } else {
      for (;;) {
        r = next(what);
        if (reinterpret_cast<std::uintptr_t>(r.RequestContext) < 2) break;
        if (r.Status != STATUS_SUCCESS)
          throw PerfError(fmt::format("perftest: control Send completed with {}", statusText(r.Status)));
      }
    }
    const auto slot = reinterpret_cast<std::uintptr_t>(r.RequestContext);
    if (r.Status != STATUS_SUCCESS)
      throw PerfError(fmt::format("perftest: the control connection failed while waiting for the {} ({}): peer gone?", what,
                                  statusText(r.Status)));
    std::vector<std::uint8_t> m(ep_->buf() + 64 * slot, ep_->buf() + 64 * slot + std::min<ULONG>(r.BytesTransferred, 64));
    ep_->postRecv(slot, ep_->buf() + 64 * slot, 64);
    if (m.size() != n)
      throw PerfError(fmt::format("perftest: expected the {} ({} bytes), the peer sent {} bytes", what, n, r.BytesTransferred));
    return m;
  }
  // One exchange: the client sends first, the server receives first.
  std::vector<std::uint8_t> xchg(const std::uint8_t* mine, std::size_t n, const char* what) {
    if (role_ == Role::Client) {
      send(mine, n, what);
      return recv(n, what);
    }
    auto theirs = recv(n, what);
    send(mine, n, what);
    return theirs;
  }
  template <std::size_t N>
  std::vector<std::uint8_t> xchg(const std::array<std::uint8_t, N>& a, const char* what) {
    return xchg(a.data(), N, what);
  }
  Dest handshake(const Dest& mine, const char* what) {
    return decodeDest(xchg(encodeDest(mine), what).data());
  }
  // The server's half of a handshake split around an action (listening before it answers).
  std::vector<std::uint8_t> recvOnly(std::size_t n, const char* what) { return recv(n, what); }

 private:
  NDK_RESULT_EX next(const char* what) {
    try {
      return ep_->next(timeoutMs_);
    } catch (const NdkCallError&) {
      throw;
    } catch (const PerfError&) {
      throw PerfError(fmt::format("perftest: timed out after {} s waiting for the {}", timeoutMs_ / 1000, what));
    }
  }
  void stash(const NDK_RESULT_EX& r) { early_.push_back(r); }

  std::unique_ptr<NdkEndpoint> ep_;
  Role role_;
  int timeoutMs_;
  std::vector<NDK_RESULT_EX> early_;
};

// Connects a fresh endpoint (prepare() posts its receives), retrying a refused connection every
// 100 ms until the deadline, as perftest's client does while the server is not listening yet.
std::unique_ptr<NdkEndpoint> connectRetrying(NET_IFINDEX ifx, const NdkEndpoint::Params& p, const SOCKADDR_INET& dest,
                                             int timeoutMs, void (*prepare)(NdkEndpoint&, void*), void* arg) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    auto ep = std::make_unique<NdkEndpoint>(ifx, p);
    prepare(*ep, arg);
    try {
      ep->connect(dest, nullptr, 0);
      return ep;
    } catch (const NdkCallError& e) {
      const bool again = e.status == STATUS_CONNECTION_REFUSED || e.status == STATUS_CONNECTION_RESET ||
                         e.status == STATUS_CONNECTION_ABORTED || e.status == STATUS_CONNECTION_DISCONNECTED;
      if (!again || Clock::now() + std::chrono::milliseconds(100) > deadline)
        throw PerfError(fmt::format("perftest: cannot connect to {}: {}", ndkperf::formatAddress(dest), e.what()));
    }
    ep.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry interval (perftest: 100 ms)
  }
}

// Test connection buffer: [local: R][exposed: R][credit words: 64 B], R = max(size, cycle).
// Credit area: words 0..7 the ring our credit RDMA Writes are sent from, word 8 the one the peer
// writes its receive count into (perftest's credit_buf, the receiver's host byte order:
// little-endian on x86; we write little-endian too).
struct TestConn {
  std::unique_ptr<NdkEndpoint> ep;
  std::uint64_t region = 0;
  char* local() const { return ep->buf(); }
  char* exposed() const { return ep->buf() + region; }
  char* creditSlot(unsigned i) const { return ep->buf() + 2 * region + 4 * i; }
  char* creditIn() const { return creditSlot(8); }
  std::uint64_t addrOf(const char* p) const { return ep->bufAddr() + static_cast<std::uint64_t>(p - ep->buf()); }
  std::uint32_t credit() const { return loadCreditWord(creditIn()); }
};

struct Plan {
  Test test;
  Role role;
  std::uint64_t size, iters;
  std::uint32_t cycle = kCycleBuffer, cacheLine = kCacheLine;
  std::uint32_t rxDepth = kDefaultRxDepth, txDepth = kTxDepth;
  int timeoutMs = 60000;
  bool receiver() const { return test == Test::Send && role == Role::Server; }
};

NdkEndpoint::Params testParams(const Plan& pl, std::uint64_t region) {
  NdkEndpoint::Params p;
  p.bufBytes = 2 * region + 64;
  p.rqDepth = pl.receiver() ? pl.rxDepth + 2 : 2;
  p.iqDepth = pl.txDepth + 16;
  p.ird = p.ord = pl.test == Test::Read ? kOutReads : 0;
  p.poll = false;
  return p;
}

// Receives of a send test (receiver only), all into the local region: posted before connecting.
void postTestReceives(NdkEndpoint& ep, void* arg) {
  const auto* pl = static_cast<const Plan*>(arg);
  if (!pl->receiver()) return;
  const std::uint64_t n = std::min<std::uint64_t>(pl->rxDepth, pl->iters);
  for (std::uint64_t i = 0; i < n; ++i) ep.postRecv(i, ep.buf(), static_cast<ULONG>(pl->size));
}

// The measured run of the client: Sends, RDMA Writes or RDMA Reads, txDepth in flight.
Report runSender(TestConn& t, const Plan& pl, const Dest& peer) {
  NdkEndpoint& ep = *t.ep;
  std::uint64_t window = std::min<std::uint64_t>(pl.txDepth, pl.iters);
  if (pl.test == Test::Read) window = std::min<std::uint64_t>(window, std::max<ULONG>(1, ep.effectiveOrd()));
  std::vector<std::uint64_t> posted(pl.iters), completed(pl.iters);
  std::uint64_t scnt = 0, ccnt = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(pl.timeoutMs);
  while (ccnt < pl.iters) {
    while (scnt < pl.iters && scnt - ccnt < window) {
      // Send over iWARP: no more than rx_depth - 1 beyond the receiver's last reported count
      if (pl.test == Test::Send && scnt + 1 - t.credit() >= pl.rxDepth) break;
      const std::uint64_t off = cyclicOffset(scnt, pl.size, pl.cacheLine, pl.cycle);
      posted[scnt] = nowNs();
      const ULONG len = static_cast<ULONG>(pl.size);
      if (pl.test == Test::Send) ep.postSend(scnt, t.local(), len);
      else if (pl.test == Test::Write) ep.postWrite(scnt, t.local(), len, peer.vaddr + off, peer.rkey);
      else ep.postRead(scnt, t.local(), len, peer.vaddr + off, peer.rkey);
      ++scnt;
      deadline = Clock::now() + std::chrono::milliseconds(pl.timeoutMs);
    }
    NDK_RESULT_EX r{};
    if (ep.tryNext(&r)) {
      const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
      if (r.Status != STATUS_SUCCESS)
        throw PerfError(fmt::format("perftest: {} #{} completed with {}", testTitle(pl.test), ctx, statusText(r.Status)));
      if (ctx != ccnt) throw PerfError(fmt::format("perftest: completion #{} arrived out of order (expected #{})", ctx, ccnt));
      completed[ccnt++] = nowNs();
      deadline = Clock::now() + std::chrono::milliseconds(pl.timeoutMs);
      continue;
    }
    if (Clock::now() > deadline)
      throw PerfError(fmt::format("perftest: no progress for {} s ({} of {} {}s completed{})", pl.timeoutMs / 1000, ccnt, pl.iters,
                                  testTitle(pl.test), pl.test == Test::Send ? fmt::format(", receiver credit {}", t.credit()) : ""));
    // nothing completed yet: let the provider and the peer run (bounded by the deadline above)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return computeReport(pl.size, posted, completed);
}

// The receiver of a send test: iters receives (reposted up to iters in total), a credit RDMA
// Write of the receive count whenever perftest's receiver would send one.
Report runReceiver(TestConn& t, const Plan& pl, const Dest& peer, std::uint64_t startNs) {
  NdkEndpoint& ep = *t.ep;
  constexpr std::uint64_t kCreditCtx = 1ull << 62;
  std::uint64_t postedRecv = std::min<std::uint64_t>(pl.rxDepth, pl.iters), rcnt = 0, creditsOut = 0, creditsDone = 0;
  std::uint64_t lastNs = startNs;
  while (rcnt < pl.iters || creditsDone < creditsOut) {
    NDK_RESULT_EX r{};
    try {
      r = ep.next(pl.timeoutMs);
    } catch (const NdkCallError&) {
      throw;
    } catch (const PerfError&) {
      throw PerfError(fmt::format("perftest: timed out after {} s: {} of {} Sends received", pl.timeoutMs / 1000, rcnt, pl.iters));
    }
    const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
    if (r.Status != STATUS_SUCCESS)
      throw PerfError(fmt::format("perftest: {} completed with {} after {} of {} Sends", ctx >= kCreditCtx ? "credit RDMA Write" : "receive",
                                  statusText(r.Status), rcnt, pl.iters));
    if (ctx >= kCreditCtx) {
      ++creditsDone;
      continue;
    }
    if (r.BytesTransferred != pl.size)
      throw PerfError(fmt::format("perftest: Send #{} carried {} bytes, expected {} (-s must match the peer's)", rcnt,
                                  r.BytesTransferred, pl.size));
    ++rcnt;
    lastNs = nowNs();
    if (postedRecv < pl.iters) ep.postRecv(postedRecv++, t.local(), static_cast<ULONG>(pl.size));
    if (auto c = creditDue(rcnt, pl.rxDepth)) {
      while (creditsOut - creditsDone >= 8) {  // the source ring holds 8 counts
        NDK_RESULT_EX w = ep.next(pl.timeoutMs);
        const auto wctx = reinterpret_cast<std::uintptr_t>(w.RequestContext);
        if (w.Status != STATUS_SUCCESS || wctx < kCreditCtx)
          throw PerfError(fmt::format("perftest: unexpected completion {} while waiting for a credit write", statusText(w.Status)));
        ++creditsDone;
      }
      char* slot = t.creditSlot(static_cast<unsigned>(creditsOut % 8));
      const std::uint32_t le = std::endian::native == std::endian::little ? *c : __builtin_bswap32(*c);
      std::memcpy(slot, &le, 4);
      ep.postWrite(kCreditCtx + creditsOut++, slot, 4, peer.vaddr, peer.rkey);
    }
  }
  Report rep;
  rep.size = pl.size;
  rep.iters = rcnt;
  const double s = static_cast<double>(lastNs - startNs) / 1e9;
  if (s > 0) {
    rep.bwAvg = rep.bwPeak = static_cast<double>(pl.size * rcnt) / s / (1024.0 * 1024.0);
    rep.msgRate = static_cast<double>(rcnt) / s / 1e6;
  }
  return rep;
}

void printReport(const char* title, const Report& r) {
  const std::string line(87, '-');
  fmt::print("{}\n{}\n #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n", line, title);
  fmt::print(" {:<10} {:<14} {:<18.2f} {:<20.2f} {:.6f}\n{}\n", r.size, r.iters, r.bwPeak, r.bwAvg, r.msgRate, line);
  std::fflush(stdout);
}

std::array<std::uint8_t, 16> gidOf(const SOCKADDR_INET& a) {
  std::array<std::uint8_t, 16> g{};
  if (a.si_family == AF_INET) {  // IPv4-mapped IPv6, as an RoCE/iWARP GID of an IPv4 address
    g[10] = g[11] = 0xff;
    std::memcpy(&g[12], &a.Ipv4.sin_addr, 4);
  } else {
    std::memcpy(g.data(), &a.Ipv6.sin6_addr, 16);
  }
  return g;
}

}  // namespace

void run(const Options& o) {
  Plan pl{o.test, o.role, o.size, o.iters};
  pl.timeoutMs = o.timeoutMs;
  pl.rxDepth = static_cast<std::uint32_t>(std::min<std::uint64_t>(kDefaultRxDepth, o.iters));
  pl.txDepth = static_cast<std::uint32_t>(std::min<std::uint64_t>(kTxDepth, o.iters));
  const bool client = o.role == Role::Client;

  // ---- control connection
  SOCKADDR_INET addr{}, local{};
  if (!ndkperf::parseAddress(o.address, o.port, &addr) || addr.si_family != AF_INET)
    throw CLI::ValidationError(fmt::format("--perftest: '{}' is not an IPv4 address (perftest -R is IPv4 only)", o.address));
  if (client) {
    if (!ndkperf::sourceAddressFor(addr, &local)) throw PerfError(fmt::format("no route to {}", o.address));
  } else {
    local = addr;
  }
  const NET_IFINDEX ifx = ndkperf::interfaceFor(local);
  if (!ifx) throw PerfError(fmt::format("no NDK-capable interface owns {}", ndkperf::formatAddress(local)));
  std::unique_ptr<NdkEndpoint> cep;
  if (client) {
    cep = connectRetrying(ifx, Control::params(o.test), addr, o.timeoutMs, [](NdkEndpoint& e, void*) { Control::postReceives(e); },
                          nullptr);
  } else {
    cep = std::make_unique<NdkEndpoint>(ifx, Control::params(o.test));
    cep->listen(addr);
    fmt::print("ndk perf --perftest: {} BW server listening on {} (perftest -R peer; ifindex {})\n", testTitle(o.test),
               ndkperf::formatAddress(addr), ifx);
    std::fflush(stdout);
    Control::postReceives(*cep);
    // The listener stays: NDK keeps the port held while this connection lives (R113), so the test
    // connection comes through it too (perftest's server listens anew on the port it freed).
    cep->acceptOne(nullptr, 0, o.timeoutMs);
  }
  Control ctl(std::move(cep), o.role, o.timeoutMs);

  auto peerVersion = ctl.xchg(encodeVersion(o.version), "version");
  const double version = checkVersion(peerVersion.data(), peerVersion.size());
  auto peerCycle = ctl.xchg(encodeU32(kCycleBuffer), "cycle-buffer size");
  pl.cycle = std::max(kCycleBuffer, checkCycleBuffer(peerCycle.data(), peerCycle.size()));
  auto peerLine = ctl.xchg(encodeU32(kCacheLine), "cache-line size");
  pl.cacheLine = std::max(kCacheLine, checkCacheLine(peerLine.data(), peerLine.size()));
  const std::array<std::uint8_t, 2> mtu{'5', 0};  // IBV_MTU_4096: perftest keeps the smaller one
  auto peerMtu = ctl.xchg(mtu, "MTU");
  (void)checkMtu(peerMtu.data(), peerMtu.size());

  // ---- test connection, between two all-zero syncs (the server listens before it answers)
  const Dest zero{};
  const std::uint64_t region = std::max<std::uint64_t>(o.size, pl.cycle);
  TestConn t;
  if (client) {
    ctl.handshake(zero, "pre-connection sync");
    t.ep = connectRetrying(ifx, testParams(pl, region), addr, o.timeoutMs, postTestReceives, &pl);
  } else {
    auto m = ctl.recvOnly(kDestLen, "pre-connection sync");
    (void)m;
    t.ep = std::make_unique<NdkEndpoint>(ctl.ep(), testParams(pl, region));  // same adapter as the listener
    if (pl.receiver() && t.ep->info().MaxReceiveQueueDepth < pl.rxDepth + 2)
      throw PerfError(fmt::format("perftest: the adapter's receive queue depth {} is below perftest's rx depth {}",
                                  t.ep->info().MaxReceiveQueueDepth, pl.rxDepth));
    postTestReceives(*t.ep, &pl);
    ctl.send(encodeDest(zero).data(), kDestLen, "pre-connection sync");
    // NdkAccept completes when the initiator's first FPDU arrives (R99); a siw initiator sends
    // none before the syncs that follow on the control connection: finish it later.
    t.ep->acceptFrom(ctl.ep(), nullptr, 0, o.timeoutMs, false);
  }
  t.region = region;
  ctl.handshake(zero, "post-connection sync");

  // ---- QP descriptions: a send test names its credit word, write/read the exposed region
  Dest mine;
  mine.outReads = o.test == Test::Read ? std::max<ULONG>(1, t.ep->effectiveOrd()) : 1;
  mine.qpn = 1;
  mine.rkey = t.ep->remoteToken();
  mine.vaddr = o.test == Test::Send ? t.addrOf(t.creditIn()) : t.addrOf(t.exposed());
  mine.gid = gidOf(local);
  const Dest peer = ctl.handshake(mine, "QP description");
  if (peer.rkey == 0 && peer.vaddr == 0 && (o.test == Test::Send ? o.role == Role::Server : client))
    throw PerfError("perftest: the peer's QP description has no buffer (rkey and vaddr are 0)");
  // then, all with the same content: write/read: the copy perftest prints as "remote" and the
  // post-RTR sync; send: a sync, that copy, and the sync once the receiver's receives are posted
  if (o.test == Test::Send) ctl.handshake(mine, "post-connect sync");
  ctl.handshake(mine, "QP description (second copy)");
  ctl.handshake(mine, o.test == Test::Send ? "pre-run sync" : "post-RTR sync");
  const std::uint64_t startNs = nowNs();

  const std::string title = fmt::format(" {} BW test (ndk perf --perftest, {} against perftest {}), cycle buffer {}, tx depth {}{}",
                                        testTitle(o.test), client ? "client" : "server", version, pl.cycle, pl.txDepth,
                                        o.test == Test::Send ? fmt::format(", rx depth {}", pl.rxDepth) : "");
  if (o.test == Test::Send) {
    if (!client) t.ep->finishAccept(o.timeoutMs);  // the first Send completes it
    const Report r = client ? runSender(t, pl, peer) : runReceiver(t, pl, peer, startNs);
    printReport(title.c_str(), r);
  } else if (client) {
    const Report r = runSender(t, pl, peer);
    printReport(title.c_str(), r);
    ctl.handshake(mine, "end-of-test sync");
    const auto f = encodeReport(r);
    for (std::size_t i = 0; i < f.size(); ++i) ctl.xchg(f[i], "report");
  } else {
    // the server posts nothing; it waits for the client's end sync, then takes its report
    ctl.handshake(mine, "end-of-test sync (the client's run)");
    t.ep->finishAccept(o.timeoutMs);  // completed by the client's first RDMA Write / Read Request
    std::array<std::array<std::uint8_t, kFieldLen>, 5> theirs{};
    Report echo;  // ours: size and iterations, no bandwidth (the server does not measure)
    echo.size = o.size;
    echo.iters = o.iters;
    const auto f = encodeReport(echo);
    for (std::size_t i = 0; i < f.size(); ++i) {
      auto m = ctl.xchg(f[i], "report");
      std::copy(m.begin(), m.end(), theirs[i].begin());
    }
    const Report r = decodeReport(theirs);
    printReport((title + " - the client's report").c_str(), r);
    if (r.size != o.size || r.iters != o.iters)
      fmt::print(stderr, "ndk perf --perftest: note: the client ran {} x {} bytes, this server was told {} x {}\n", r.iters, r.size,
                 o.iters, o.size);
  }
  ctl.handshake(mine, "closing sync");
  // Teardown, test connection first (as perftest's client). siw completes a Send only after its
  // bytes left, and a FIN arriving before that completion fails it: a perftest peer whose closing
  // sync we just received would then report "Bad wc status 2" and exit 1. So we let the peer close
  // the control connection first, bounded: the server waits up to 5 s on both connections (the
  // client closes them), the client up to 2 s on the control connection (perftest's server closes
  // once its Send completed; another ndk perf server waits for us, hence the shorter bound).
  for (NdkEndpoint* e : {t.ep.get(), &ctl.ep()}) {
    const int waitMs = !client ? 5000 : e == &ctl.ep() ? 2000 : 0;
    const auto until = Clock::now() + std::chrono::milliseconds(std::min(o.timeoutMs, waitMs));
    while (!e->peerDisconnected() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    try {
      e->disconnect();
    } catch (const PerfError&) {
      // the peer closed first: the provider may answer STATUS_CONNECTION_INVALID
    }
  }
}

int runCli(const CliArgs& a) {
  for (const auto& [name, given] : a.others)
    if (given) throw CLI::ValidationError(fmt::format("--perftest does not take {} (it takes -t, -s, -n, -p, -c/--server/--bind, -q 1, --timeout)", name));
  if (a.loopback) throw CLI::ValidationError("--perftest: use --server or -c ADDR (no --loopback)");
  if ((a.client ? 1 : 0) + (a.server ? 1 : 0) != 1) throw CLI::ValidationError("--perftest: choose one of --server, -c ADDR");
  if (a.qps != 1) throw CLI::ValidationError("--perftest: only -q 1 (one QP) is supported");
  if (a.v6) throw CLI::ValidationError("--perftest: perftest -R is IPv4 only (no -6)");
  Options o;
  o.test = a.test == "write" ? Test::Write : a.test == "read" ? Test::Read : Test::Send;
  o.role = a.server ? Role::Server : Role::Client;
  o.address = a.server ? (a.bind.empty() ? "0.0.0.0" : a.bind) : *a.client;
  o.port = static_cast<std::uint16_t>(a.port);
  auto s = ndkperf::parseSize(a.size);
  if (!s || *s == 0 || *s > (1u << 30)) throw CLI::ValidationError("--perftest: -s SIZE must be 1 .. 1G");
  o.size = *s;
  o.iters = a.iters ? a.iters : 5000;
  if (o.iters > (1ull << 32)) throw CLI::ValidationError("--perftest: -n is at most 2^32 (perftest's credit counter)");
  o.timeoutMs = static_cast<int>(a.timeoutS) * 1000;
  if (const char* v = std::getenv("NDK_PERFTEST_VERSION")) o.version = v;  // test hook: announce another version
  run(o);
  return 0;
}

}  // namespace ndktool::perftest
