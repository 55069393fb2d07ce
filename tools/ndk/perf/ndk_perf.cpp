#include "ndk_perf.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <fmt/format.h>

#include "wire.h"

namespace ndkperf {
namespace {

using Clock = std::chrono::steady_clock;
using namespace wire;  // Ctl, PeerInfo, their magics and CtlKind
constexpr unsigned kCtrlRing = 16;
constexpr std::size_t kCtrlSlot = 64;
enum CtxKind : std::uint64_t { kRecv = 1, kData = 2, kCtrl = 3 };
constexpr std::uint64_t ctx(CtxKind k, std::uint64_t i) { return (std::uint64_t(k) << 32) | i; }


std::uint8_t tagOf(std::uint64_t i) { return static_cast<std::uint8_t>(i % 255 + 1); }

}  // namespace

NdkLayout NdkLayout::forRun(std::size_t maxSize, unsigned outstanding) {
  NdkLayout l;
  l.slot = (std::max<std::size_t>(maxSize, sizeof(Ctl)) + 63) / 64 * 64;
  // Keep a side's buffer near 64 MiB for the large sizes of -a.
  unsigned cap = static_cast<unsigned>(std::max<std::size_t>(2, (std::size_t(32) << 20) / l.slot));
  l.recvSlots = std::min(64u, std::max(4u, cap));
  l.sendSlots = std::min(std::max(1u, outstanding), std::max(1u, cap));
  return l;
}

std::size_t NdkLayout::bytes() const { return slot * (1 + recvSlots + sendSlots) + kCtrlRing * kCtrlSlot; }

// One end of a perf connection.
class NdkSide {
 public:
  NdkSide(NET_IFINDEX ifx, const Options& o, std::size_t maxSize)
      : o_(o), l_(NdkLayout::forRun(maxSize, o.outstanding)), ep_(ifx, params()) {}

  NdkEndpoint::Params params() const {
    NdkEndpoint::Params p;
    p.bufBytes = l_.bytes();
    p.rqDepth = l_.recvSlots;
    p.iqDepth = l_.sendSlots + kCtrlRing + 4;
    p.inlineSize = o_.inlineSize;
    p.ird = p.ord = std::max(1u, std::min(o_.outstanding, 16u));
    p.poll = o_.poll;
    return p;
  }

  char* target() { return ep_.buf(); }
  char* recvSlot(unsigned i) { return ep_.buf() + l_.slot * (1 + i); }
  char* sendSlot(unsigned i) { return ep_.buf() + l_.slot * (1 + l_.recvSlots + i); }
  char* ctrlSlot(unsigned i) { return ep_.buf() + l_.slot * (1 + l_.recvSlots + l_.sendSlots) + kCtrlSlot * i; }

  PeerInfo myInfo() {
    return PeerInfo{kPeerMagic, ep_.remoteToken(), ep_.bufAddr(), l_.slot, l_.recvSlots, 0};
  }
  void takePeer() {
    const auto& d = ep_.peerData();
    peer_ = wire::parsePeerInfo(d.data(), d.size());
    credits_ = peer_.recvSlots;
  }
  void postAllReceives() {
    for (unsigned i = 0; i < l_.recvSlots; ++i) ep_.postRecv(ctx(kRecv, i), recvSlot(i), static_cast<ULONG>(l_.slot));
  }

  // Processes one completion (blocking) or all available ones (non-blocking).
  void pump(bool block) {
    NDK_RESULT_EX r{};
    if (block) {
      r = ep_.next();
      handle(r);
    }
    while (ep_.tryNext(&r)) handle(r);
  }

  void handle(const NDK_RESULT_EX& r) {
    auto c = reinterpret_cast<std::uintptr_t>(r.RequestContext);
    auto kind = c >> 32;
    auto idx = static_cast<unsigned>(c & 0xffffffffu);
    if (r.Status != STATUS_SUCCESS) {
      const char* what = kind == kRecv ? "receive" : kind == kCtrl ? "control send" : "data operation";
      throw PerfError(fmt::format("provider: {} completed with 0x{:08X} ({})", what, static_cast<std::uint32_t>(r.Status),
                                  ntStatusName(r.Status)));
    }
    if (kind == kData) {
      --iqData_;
      ++dataDone_;
    } else if (kind == kCtrl) {
      --iqCtrl_;
    } else if (kind == kRecv) {
      const char* p = recvSlot(idx);
      const std::optional<Ctl> ctl = wire::parseCtl(p, r.BytesTransferred, l_.slot);
      ep_.postRecv(ctx(kRecv, idx), recvSlot(idx), static_cast<ULONG>(l_.slot));
      if (ctl) {
        const Ctl& m = *ctl;
        if (m.kind == kCredit || m.kind == kReady || m.kind == kAck) credits_ += m.credits;
        if (m.kind != kCredit) ctls_.push_back(m);
      } else {
        ++dataRecv_;
        onData();
      }
      if (creditsBack_) {
        if (++uncredited_ >= std::max(1u, l_.recvSlots / 4)) sendCtl(kCredit);
      }
    }
  }

  virtual void onData() {}
  virtual ~NdkSide() = default;

  void waitCredit() {
    while (credits_ == 0) pump(true);
    --credits_;
  }

  void sendCtl(std::uint32_t kind, Test t = Test::Send, Mode m = Mode::Lat, std::uint64_t size = 0,
               std::uint64_t iters = 0) {
    while (iqCtrl_ >= kCtrlRing) pump(true);
    if (spendCredits_) waitCredit();
    Ctl c{kCtlMagic, kind, static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(m), size, iters, 0};
    if (creditsBack_) {
      c.credits = uncredited_;
      uncredited_ = 0;
    }
    char* slot = ctrlSlot(ctrlNext_);
    ctrlNext_ = (ctrlNext_ + 1) % kCtrlRing;
    std::memcpy(slot, &c, sizeof c);
    ++iqCtrl_;
    ep_.postSend(ctx(kCtrl, 0), slot, sizeof c);
  }

  Ctl waitCtl(std::uint32_t kind) {
    while (ctls_.empty()) pump(true);
    Ctl m = ctls_.front();
    ctls_.pop_front();
    if (kind && m.kind != kind) throw PerfError(fmt::format("protocol: expected control message {}, got {}", kind, m.kind));
    return m;
  }

  // Spins until the byte at target[off] equals tag, reaping completions meanwhile.
  void waitTag(std::size_t off, std::uint8_t tag) {
    std::atomic_ref<char> b(target()[off]);
    auto deadline = Clock::now() + std::chrono::seconds(20);
    for (unsigned spins = 1; static_cast<std::uint8_t>(b.load(std::memory_order_acquire)) != tag; ++spins) {
      pump(false);
      // The clock only now and then (NdkEndpoint::next): the baseline's spin reads none.
      if (spins % kPollsPerDeadlineCheck == 0 && Clock::now() > deadline)
        throw PerfError("timed out waiting for an RDMA write to land");
    }
  }

  const Options o_;
  const NdkLayout l_;
  NdkEndpoint ep_;
  PeerInfo peer_{};
  std::deque<Ctl> ctls_;
  std::uint64_t credits_ = 0;
  bool spendCredits_ = false;  // client: every send consumes a server receive
  bool creditsBack_ = false;   // server: return consumed receives
  std::uint64_t uncredited_ = 0;
  unsigned iqData_ = 0, iqCtrl_ = 0, ctrlNext_ = 0;
  std::uint64_t dataDone_ = 0, dataRecv_ = 0;
};

// ---- client ---------------------------------------------------------------------------------

NdkPerfClient::NdkPerfClient(NET_IFINDEX ifx, const SOCKADDR_INET& dest, const Options& o, std::size_t maxSize)
    : s_(std::make_unique<NdkSide>(ifx, o, maxSize)) {
  s_->spendCredits_ = true;
  s_->postAllReceives();
  PeerInfo me = s_->myInfo();
  s_->ep_.connect(dest, &me, sizeof me);
  s_->takePeer();
}

NdkPerfClient::~NdkPerfClient() = default;

Measurement NdkPerfClient::round(Test t, Mode m, std::size_t size, std::uint64_t iters) {
  NdkSide& s = *s_;
  s.sendCtl(kBegin, t, m, size, iters);
  s.waitCtl(kReady);
  Measurement out;
  out.size = size;
  out.iters = iters;
  const auto len = static_cast<ULONG>(size);
  std::memset(s.sendSlot(0), 0xA5, size);
  if (m == Mode::Lat) {
    s.target()[size - 1] = 0;
    out.latUs.reserve(iters);
    auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < iters; ++i) {
      auto a = Clock::now();
      if (t == Test::Send) {
        std::uint64_t want = s.dataRecv_ + 1;
        s.waitCredit();
        ++s.iqData_;
        s.ep_.postSend(ctx(kData, 0), s.sendSlot(0), len);
        while (s.dataRecv_ < want) s.pump(true);
      } else if (t == Test::Write) {
        s.sendSlot(0)[size - 1] = static_cast<char>(tagOf(i));
        ++s.iqData_;
        s.ep_.postWrite(ctx(kData, 0), s.sendSlot(0), len, s.peer_.addr, s.peer_.token);
        s.waitTag(size - 1, tagOf(i));
      } else {
        std::uint64_t want = s.dataDone_ + 1;
        ++s.iqData_;
        s.ep_.postRead(ctx(kData, 0), s.sendSlot(0), len, s.peer_.addr, s.peer_.token);
        while (s.dataDone_ < want) s.pump(true);
      }
      out.latUs.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count() / 2);
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    while (s.iqData_) s.pump(true);
    s.sendCtl(kEnd);
    s.waitCtl(kAck);
    return out;
  }
  unsigned window = std::min<unsigned>(std::max(1u, s.o_.outstanding), s.l_.sendSlots);
  if (t == Test::Read) window = std::min<unsigned>(window, std::max<ULONG>(1, s.ep_.effectiveOrd()));
  auto t0 = Clock::now();
  std::uint64_t posted = 0;
  std::uint64_t doneBase = s.dataDone_;
  unsigned next = 0;
  const unsigned postList = std::max(1u, s.o_.postList);
  unsigned inGroup = 0;  // posts of the current --post-list group handed over with DEFER
  while (s.dataDone_ - doneBase < iters) {
    while (posted < iters && s.iqData_ < window) {
      char* p = s.sendSlot(next);
      next = (next + 1) % s.l_.sendSlots;
      if (t == Test::Send && s.credits_ == 0) break;
      // DEFER unless this post ends its group, or the loop cannot post another one right after it
      // (a deferred request must be followed by a plain one, R59–R61).
      const bool more = posted + 1 < iters && s.iqData_ + 1 < window && (t != Test::Send || s.credits_ > 1);
      const bool defer = ++inGroup < postList && more;
      if (!defer) inGroup = 0;
      const ULONG flags = defer ? NDK_OP_FLAG_DEFER : 0;
      ++s.iqData_;
      if (t == Test::Send) {
        --s.credits_;
        s.ep_.postSend(ctx(kData, 0), p, len, flags);
      } else if (t == Test::Write) {
        s.ep_.postWrite(ctx(kData, 0), p, len, s.peer_.addr, s.peer_.token, flags);
      } else {
        s.ep_.postRead(ctx(kData, 0), p, len, s.peer_.addr, s.peer_.token, flags);
      }
      ++posted;
    }
    s.pump(true);
  }
  // The server acknowledges after everything sent before END was received/placed.
  s.sendCtl(kEnd);
  s.waitCtl(kAck);
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

void NdkPerfClient::quit() {
  s_->sendCtl(kQuit);
  s_->waitCtl(kAck);
  s_->ep_.disconnect();
}

// ---- server ---------------------------------------------------------------------------------

namespace {
class ServerSide : public NdkSide {
 public:
  using NdkSide::NdkSide;
  bool echo = false;
  std::size_t echoSize = 0;
  void onData() override {
    if (!echo) return;
    while (iqData_ >= l_.sendSlots) pump(true);
    ++iqData_;
    ep_.postSend(ctx(kData, 0), sendSlot(0), static_cast<ULONG>(echoSize));
  }
};
}  // namespace

NdkPerfServer::NdkPerfServer(NET_IFINDEX ifx, const SOCKADDR_INET& listenAddr, const Options& o, std::size_t maxSize)
    : s_(std::make_unique<ServerSide>(ifx, o, maxSize)) {
  s_->creditsBack_ = true;
  port_ = s_->ep_.listen(listenAddr);
}

NdkPerfServer::~NdkPerfServer() = default;

void NdkPerfServer::serve(int acceptTimeoutMs) {
  auto& s = static_cast<ServerSide&>(*s_);
  s.postAllReceives();
  PeerInfo me = s.myInfo();
  s.ep_.acceptOne(&me, sizeof me, acceptTimeoutMs);
  s.takePeer();
  for (;;) {
    Ctl c = s.waitCtl(0);
    if (c.kind == kQuit) {
      if (onQuit) onQuit();
      s.sendCtl(kAck);
      while (s.iqCtrl_ || s.iqData_) s.pump(true);
      return;
    }
    if (c.kind == kEnd) {
      if (onEnd) onEnd();
      s.echo = false;
      while (s.iqData_) s.pump(true);
      s.sendCtl(kAck);
      continue;
    }
    if (c.kind != kBegin) throw PerfError(fmt::format("protocol: unexpected control message {}", c.kind));
    const auto t = static_cast<Test>(c.test);
    const auto m = static_cast<Mode>(c.mode);
    const std::size_t size = static_cast<std::size_t>(c.size);
    if (size == 0 || size > s.l_.slot) throw PerfError("protocol: size beyond the announced maximum");
    std::memset(s.sendSlot(0), 0x5A, size);
    s.target()[size - 1] = 0;
    s.echo = (m == Mode::Lat && t == Test::Send);
    s.echoSize = size;
    if (onBegin) onBegin(t, m, size, c.iters);
    s.sendCtl(kReady);
    if (m == Mode::Lat && t == Test::Write) {
      for (std::uint64_t i = 0; i < c.iters; ++i) {
        s.waitTag(size - 1, tagOf(i));
        s.sendSlot(0)[size - 1] = static_cast<char>(tagOf(i));
        while (s.iqData_ >= s.l_.sendSlots) s.pump(true);
        ++s.iqData_;
        s.ep_.postWrite(ctx(kData, 0), s.sendSlot(0), static_cast<ULONG>(size), s.peer_.addr, s.peer_.token);
      }
    }
  }
}

}  // namespace ndkperf
