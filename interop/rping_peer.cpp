// openndk-rping-peer: a host-side peer that speaks rping's application protocol (rdma-core
// librdmacm/examples/rping.c, as described in docs/interop.md) over our own iWARP stack: the
// engine's Connection (MPA setup + RDMAP/DDP/MPA data phase) with a tiny in-tool STag table for
// its buffers. No NDK objects are involved, so this checks src/iwarp + src/engine against a real
// peer (Linux siw) independently of the provider.
//
//   client:  openndk-rping-peer -c -a 127.0.0.1 -p 7174 -C 3 -S 64 [--crc] [--p2p] [-V]
//   server:  openndk-rping-peer -s -a 127.0.0.1 -p 17174 [-C 3] [-S 65535] [--crc] [--p2p] [-V]
//
// Exit status: 0 every iteration completed (and verified with -V), 1 protocol/data failure,
// 2 usage, 3 timeout.
#include <arpa/inet.h>
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/connection.h"
#include "engine/event_loop.h"
#include "engine/tcp.h"
#include "iwarp/errors.h"
#include "iwarp/profiles.h"

namespace iw = openndk::iwarp;
using namespace openndk::engine;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kMinSize = 23;      // rping's RPING_MIN_BUFSIZE
constexpr std::uint32_t kMaxSize = 65535;   // rping accepts up to 64 KiB - 1
constexpr std::size_t kDescLen = 16;        // struct rping_rdma_info / go-ahead message

struct Options {
  bool server = false;
  std::string addr = "127.0.0.1";
  std::uint16_t port = 7174;
  std::uint32_t count = 1;       // 0: server serves until the client disconnects
  std::uint32_t size = 64;
  bool crc = false;
  bool p2p = false;
  bool verify = false;
  bool verbose = false;
  std::uint32_t first_fpdu_delay_ms = 0;
  std::uint32_t timeout_s = 120;
  std::string profile = "siw-compatible";
};

void usage() {
  std::fprintf(stderr,
               "usage: openndk-rping-peer (-c|-s) [-a ADDR] [-p PORT] [-C COUNT] [-S SIZE] [-V] [-v]\n"
               "         [--crc] [--p2p] [--profile NAME] [--first-fpdu-delay MS] [--timeout S]\n"
               "  -c/-s     client (connects, like rping -c) or server (listens, like rping -s)\n"
               "  -C COUNT  iterations (client: default 1; server: expected count, 0 = any)\n"
               "  -S SIZE   buffer size, %u..%u (default 64)\n"
               "  --crc     request MPA CRC (C bit); --p2p: MPA v2 peer-to-peer (Write/Read RTR)\n",
               kMinSize, kMaxSize);
}

// rping's ping text for iteration i: "rdma-ping-<i>: " then printable characters starting at
// 'A' + (i mod 58), wrapping after 'z' to 'A'; the last byte is NUL.
void fillPattern(std::vector<std::uint8_t>& buf, std::uint32_t iter) {
  char head[32];
  const int n = std::snprintf(head, sizeof head, "rdma-ping-%u: ", iter);
  const std::size_t cc = std::min<std::size_t>(static_cast<std::size_t>(n), buf.size());
  std::memcpy(buf.data(), head, cc);
  int c = 'A' + static_cast<int>(iter % 58);
  for (std::size_t i = cc; i < buf.size(); ++i) {
    buf[i] = static_cast<std::uint8_t>(c);
    if (++c > 'z') c = 'A';
  }
  buf[buf.size() - 1] = 0;
}

struct Desc {
  std::uint64_t buf = 0;
  std::uint32_t rkey = 0;
  std::uint32_t size = 0;
};
void encodeDesc(const Desc& d, std::uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(d.buf >> (56 - 8 * i));
  const std::uint32_t rk = htonl(d.rkey), sz = htonl(d.size);
  std::memcpy(out + 8, &rk, 4);
  std::memcpy(out + 12, &sz, 4);
}
Desc decodeDesc(const std::uint8_t* in) {
  Desc d;
  for (int i = 0; i < 8; ++i) d.buf = (d.buf << 8) | in[i];
  std::uint32_t rk, sz;
  std::memcpy(&rk, in + 8, 4);
  std::memcpy(&sz, in + 12, 4);
  d.rkey = ntohl(rk);
  d.size = ntohl(sz);
  return d;
}

// The peer's "QP": STag table (TO = virtual address, like a verbs MR), one 16-byte receive posted
// at a time (rping posts exactly one), completions turned into a queue the main thread waits on.
class RpingQp : public PlacementSink, public CompletionSink {
 public:
  struct Region {
    std::uint8_t* base;
    std::size_t len;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint32_t, Region> stags;
  std::deque<std::vector<std::uint8_t>> recvs;  // recvs[k] holds the message with MSN k + 1
  std::uint32_t posted = 0;                     // receives posted so far (MSNs 1..posted)
  std::deque<std::uint32_t> arrived;            // MSNs of completed receives, in order
  std::map<std::uint64_t, bool> tx_done;        // cookie -> success
  std::map<std::uint64_t, bool> read_done;
  bool connect_req = false, est = false, rej = false, closed_flag = false;
  iw::Negotiated neg{};
  CloseInfo close{};
  std::string error;  // first local error (bogus message etc.)

  void addStag(std::uint32_t stag, std::vector<std::uint8_t>& mem) {
    std::lock_guard lk(mu);
    stags[stag] = Region{mem.data(), mem.size()};
  }
  void postRecv() {
    std::lock_guard lk(mu);
    recvs.emplace_back(kDescLen);
    ++posted;
  }

  iw::Error placeTagged(iw::Opcode, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                        MutByteSpan& dest) override {
    std::lock_guard lk(mu);
    auto it = stags.find(stag);
    if (it == stags.end()) return iw::access_error(iw::AccessKind::TaggedPlacement, iw::AccessFault::InvalidStag);
    const auto base = reinterpret_cast<std::uintptr_t>(it->second.base);
    const iw::AccessFault f = iw::check_bounds(base, it->second.len, to, len);
    if (f != iw::AccessFault::None) return iw::access_error(iw::AccessKind::TaggedPlacement, f);
    dest = MutByteSpan(it->second.base + (to - base), len);
    return iw::Error::None;
  }
  iw::Error placeUntagged(std::uint32_t msn, std::uint32_t mo, std::uint32_t len, MutByteSpan& dest) override {
    std::lock_guard lk(mu);
    if (msn == 0 || msn > posted) return iw::Error::DdpNoBuffer;
    auto& b = recvs[msn - 1];
    if (std::uint64_t{mo} + len > b.size()) return iw::Error::DdpMessageTooLong;
    dest = MutByteSpan(b.data() + mo, len);
    return iw::Error::None;
  }
  iw::Error readSource(const iw::ReadRequestHdr& r, ByteSpan& src) override {
    std::lock_guard lk(mu);
    auto it = stags.find(r.src_stag);
    if (it == stags.end()) return iw::access_error(iw::AccessKind::ReadSource, iw::AccessFault::InvalidStag);
    const auto base = reinterpret_cast<std::uintptr_t>(it->second.base);
    const iw::AccessFault f = iw::check_bounds(base, it->second.len, r.src_to, r.size);
    if (f != iw::AccessFault::None) return iw::access_error(iw::AccessKind::ReadSource, f);
    src = ByteSpan(it->second.base + (r.src_to - base), r.size);
    return iw::Error::None;
  }
  iw::Error invalidate(std::uint32_t) override { return iw::Error::None; }

  void connectRequest(ByteSpan) override { set([&] { connect_req = true; }); }
  void established(const iw::Negotiated& n, ByteSpan) override {
    set([&] {
      est = true;
      neg = n;
    });
  }
  void rejected(ByteSpan) override { set([&] { rej = true; }); }
  void txCompleted(std::uint64_t cookie, TxStatus s) override { set([&] { tx_done[cookie] = s == TxStatus::Success; }); }
  void readCompleted(std::uint64_t cookie) override { set([&] { read_done[cookie] = true; }); }
  void sendReceived(std::uint32_t msn, std::uint32_t len, bool, std::uint32_t, bool) override {
    set([&] {
      if (len != kDescLen && error.empty()) error = "bogus data: receive of " + std::to_string(len) + " bytes";
      arrived.push_back(msn);
    });
  }
  void closed(const CloseInfo& ci) override {
    set([&] {
      closed_flag = true;
      close = ci;
      // completions still outstanding are flushed by the engine before closed()
    });
  }

  template <class Pred>
  bool waitFor(std::chrono::seconds t, Pred p) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, p);
  }

 private:
  template <class F>
  void set(F f) {
    // Notify under the lock: once the waiter sees the state it may destroy this object (~Runner),
    // so the engine thread must not touch cv after releasing mu (TSan: cond destroy vs broadcast).
    std::lock_guard lk(mu);
    f();
    cv.notify_all();
  }
};

std::string closeText(const CloseInfo& c) {
  std::string s = "error=" + std::string(iw::to_string(c.error)) + " net=" + std::string(to_string(c.net));
  if (c.terminate_received)
    s += " peer-terminate=" + std::string(iw::describe_term(c.peer_terminate.layer, c.peer_terminate.etype,
                                                           c.peer_terminate.code));
  if (c.terminate_sent) s += " terminate-sent";
  return s;
}

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o), loop_(0, ProgressMode::Blocking, 0us) {
    const iw::Profile* base = iw::find_profile(o.profile);
    if (base == nullptr) base = &iw::profile_siw_compatible();
    profile_ = *base;
    profile_.crc = o.crc;
    profile_.p2p = o.p2p;
  }

  int run() { return o_.server ? runServer() : runClient(); }

 private:
  int fail(const std::string& why, int rc = 1) {
    std::fprintf(stderr, "rping-peer: FAIL: %s\n", why.c_str());
    if (conn_) conn_->disconnect(true);
    qp_.waitFor(5s, [&] { return qp_.closed_flag; });
    return rc;
  }
  bool waitOrTimeout(const char* what, auto pred) {
    bool ok = false;
    qp_.waitFor(std::chrono::seconds(o_.timeout_s), [&] {
      ok = pred();
      return ok || qp_.closed_flag || !qp_.error.empty();
    });
    if (ok) return true;
    std::lock_guard lk(qp_.mu);
    if (!qp_.error.empty()) why_ = qp_.error;
    else if (qp_.closed_flag) why_ = std::string("connection closed while waiting for ") + what + " (" + closeText(qp_.close) + ")";
    else why_ = std::string("timeout waiting for ") + what;
    return false;
  }
  void logEst() {
    std::lock_guard lk(qp_.mu);
    std::fprintf(stderr, "rping-peer: established: rev %u crc %d p2p %d rtr %d ird %u ord %u\n", qp_.neg.rev,
                 qp_.neg.crc, qp_.neg.p2p, static_cast<int>(qp_.neg.rtr), qp_.neg.ird, qp_.neg.ord);
  }
  void post(TxRequest::Kind k, std::uint64_t cookie, std::vector<ByteSpan> sges, std::uint32_t stag = 0,
            std::uint64_t to = 0, iw::ReadRequestHdr rr = {}) {
    TxRequest r;
    r.kind = k;
    r.cookie = cookie;
    r.sges.assign(sges.begin(), sges.end());
    r.remote_stag = stag;
    r.remote_to = to;
    r.read = rr;
    conn_->post(std::move(r));
  }
  bool nextRecv(std::vector<std::uint8_t>& out) {
    const std::size_t want = consumed_ + 1;
    if (!waitOrTimeout("a Send from the peer", [&] { return qp_.arrived.size() >= want; })) return false;
    std::lock_guard lk(qp_.mu);
    out = qp_.recvs[qp_.arrived[consumed_] - 1];
    ++consumed_;
    return true;
  }

  int runClient() {
    Endpoint ep;
    if (!Endpoint::parse(o_.addr, o_.port, ep)) return fail("bad address " + o_.addr, 2);
    std::vector<std::uint8_t> start(o_.size), sink(o_.size);
    const std::uint32_t kStart = 0x1a2b3c00, kSink = 0x1a2b3d00;
    qp_.addStag(kStart, start);
    qp_.addStag(kSink, sink);
    qp_.postRecv();  // rping posts its receive before connecting

    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    NetError cerr = NetError::None;
    asyncConnect(loop_, ep, 5000ms, [&](NetError e, Socket s) {
      if (e == NetError::None) {
        ConnectionOptions co;
        co.role = iw::SetupRole::Initiator;
        co.profile = &profile_;
        co.ird = 1;
        co.ord = 1;
        conn_ = Connection::create(loop_, std::move(s), co, qp_, qp_);
      }
      std::lock_guard lk(m);
      cerr = e;
      done = true;
      cv.notify_all();
    });
    {
      std::unique_lock lk(m);
      if (!cv.wait_for(lk, 10s, [&] { return done; })) return fail("TCP connect timed out", 3);
    }
    if (cerr != NetError::None) return fail("TCP connect: " + std::string(to_string(cerr)));
    if (!waitOrTimeout("MPA Reply", [&] { return qp_.est || qp_.rej; })) return fail(why_);
    if (qp_.rej) return fail("MPA rejected by the peer");
    logEst();
    // siw (6.1) as passive side sends its Reply before it hooks the socket to the QP: an FPDU
    // sent right behind the Reply can sit unprocessed (docs/interop.md). Optional delay.
    if (o_.first_fpdu_delay_ms) {
      std::unique_lock lk(m);
      cv.wait_for(lk, std::chrono::milliseconds(o_.first_fpdu_delay_ms), [] { return false; });
    }

    std::uint8_t desc[kDescLen];
    std::uint64_t cookie = 1;
    for (std::uint32_t i = 0; i < o_.count; ++i) {
      fillPattern(start, i);
      std::fill(sink.begin(), sink.end(), 0);
      // 1. advertise the source buffer; the server Reads it
      encodeDesc({reinterpret_cast<std::uintptr_t>(start.data()), kStart, o_.size}, desc);
      qp_.postRecv();
      post(TxRequest::Kind::Send, cookie++, {ByteSpan(desc, kDescLen)});
      std::vector<std::uint8_t> msg;
      if (!nextRecv(msg)) return fail("iteration " + std::to_string(i) + ": " + why_);
      // 2. advertise the sink buffer; the server Writes it
      encodeDesc({reinterpret_cast<std::uintptr_t>(sink.data()), kSink, o_.size}, desc);
      qp_.postRecv();
      post(TxRequest::Kind::Send, cookie++, {ByteSpan(desc, kDescLen)});
      if (!nextRecv(msg)) return fail("iteration " + std::to_string(i) + ": " + why_);
      if (o_.verify && start != sink) return fail("iteration " + std::to_string(i) + ": data mismatch");
      if (o_.verbose) std::printf("ping data: %s\n", reinterpret_cast<const char*>(sink.data()));
    }
    // the sends are complete once handed to TCP; wait for them before closing
    const std::uint64_t last = cookie - 1;
    if (!waitOrTimeout("send completions", [&] { return qp_.tx_done.size() >= last; }))
      return fail(why_);
    conn_->disconnect(false);
    if (!qp_.waitFor(std::chrono::seconds(o_.timeout_s), [&] { return qp_.closed_flag; }))
      return fail("timeout waiting for close", 3);
    std::fprintf(stderr, "rping-peer: client done, %u iterations, close: %s\n", o_.count, closeText(qp_.close).c_str());
    if (qp_.close.terminate_received || qp_.close.terminate_sent) return fail("terminate on close");
    std::printf("rping-peer: PASS client %u iterations size %u\n", o_.count, o_.size);
    return 0;
  }

  int runServer() {
    Endpoint ep;
    if (!Endpoint::parse(o_.addr, o_.port, ep)) return fail("bad address " + o_.addr, 2);
    Socket listener;
    const NetError le = listenTcp(ep, 4, listener);
    if (le != NetError::None) return fail("listen: " + std::string(to_string(le)), 1);
    std::vector<std::uint8_t> buf(kMaxSize + 1), expect;
    const std::uint32_t kBuf = 0x2c3d4e00;
    qp_.addStag(kBuf, buf);
    qp_.postRecv();
    std::printf("rping-peer: listening on %s\n", ep.toString().c_str());
    std::fflush(stdout);

    std::mutex m;
    std::condition_variable cv;
    loop_.post([&] {
      auto wid = std::make_shared<EventLoop::WatchId>();
      *wid = loop_.watch(listener.fd(), EPOLLIN, [&, wid](std::uint32_t) {
        Socket s;
        if (acceptTcp(listener.fd(), s) != NetError::None) return;
        loop_.unwatch(*wid);
        ConnectionOptions co;
        co.role = iw::SetupRole::Responder;
        co.profile = &profile_;
        co.ird = 1;
        co.ord = 1;
        std::lock_guard lk(m);
        conn_ = Connection::create(loop_, std::move(s), co, qp_, qp_);
        cv.notify_all();
      });
    });
    {
      std::unique_lock lk(m);
      if (!cv.wait_for(lk, std::chrono::seconds(o_.timeout_s), [&] { return conn_ != nullptr; }))
        return fail("no connection arrived", 3);
    }
    if (!waitOrTimeout("MPA Request", [&] { return qp_.connect_req; })) return fail(why_);
    conn_->accept(1, 1, {});
    if (!waitOrTimeout("establishment", [&] { return qp_.est; })) return fail(why_);
    logEst();

    static const std::uint8_t zeros[kDescLen] = {};
    std::uint64_t cookie = 1;
    std::uint32_t iter = 0;
    for (;;) {
      std::vector<std::uint8_t> msg;
      // wait for the next source descriptor, or the client's disconnect (normal end)
      qp_.waitFor(std::chrono::seconds(o_.timeout_s), [&] {
        return qp_.arrived.size() > consumed_ || qp_.closed_flag || !qp_.error.empty();
      });
      {
        std::lock_guard lk(qp_.mu);
        if (!qp_.error.empty()) return fail(qp_.error);
        if (qp_.arrived.size() <= consumed_) break;  // closed (or timeout, checked below)
      }
      if (!nextRecv(msg)) return fail(why_);
      qp_.postRecv();
      const Desc src = decodeDesc(msg.data());
      if (src.size > buf.size() - 1 || src.size < 1)
        return fail("iteration " + std::to_string(iter) + ": bad advertised size " + std::to_string(src.size));
      std::fill(buf.begin(), buf.end(), 0);
      iw::ReadRequestHdr rr{kBuf, reinterpret_cast<std::uintptr_t>(buf.data()), src.size, src.rkey, src.buf};
      const std::uint64_t rc = cookie++;
      post(TxRequest::Kind::ReadRequest, rc, {}, 0, 0, rr);
      if (!waitOrTimeout("Read Response", [&] { return qp_.read_done.count(rc) != 0; })) return fail(why_);
      if (o_.verify) {
        expect.assign(src.size, 0);
        fillPattern(expect, iter);
        if (!std::equal(expect.begin(), expect.end(), buf.begin()))
          return fail("iteration " + std::to_string(iter) + ": read data differs from rping's pattern");
      }
      if (o_.verbose) std::printf("server ping data: %s\n", reinterpret_cast<const char*>(buf.data()));
      post(TxRequest::Kind::Send, cookie++, {ByteSpan(zeros, kDescLen)});
      if (!nextRecv(msg)) return fail(why_);
      qp_.postRecv();
      const Desc dst = decodeDesc(msg.data());
      const std::size_t wlen = std::strlen(reinterpret_cast<const char*>(buf.data())) + 1;
      if (wlen > dst.size) return fail("iteration " + std::to_string(iter) + ": sink too small");
      const std::uint64_t wc = cookie++;
      post(TxRequest::Kind::Write, wc, {ByteSpan(buf.data(), wlen)}, dst.rkey, dst.buf);
      if (!waitOrTimeout("Write completion", [&] { return qp_.tx_done.count(wc) != 0; })) return fail(why_);
      post(TxRequest::Kind::Send, cookie++, {ByteSpan(zeros, kDescLen)});
      ++iter;
    }
    if (!qp_.waitFor(5s, [&] { return qp_.closed_flag; })) return fail("timeout waiting for the client", 3);
    std::fprintf(stderr, "rping-peer: server done, %u iterations, close: %s\n", iter, closeText(qp_.close).c_str());
    if (qp_.close.terminate_received || qp_.close.terminate_sent) return fail("terminate on close");
    if (o_.count != 0 && iter != o_.count)
      return fail("expected " + std::to_string(o_.count) + " iterations, got " + std::to_string(iter));
    std::printf("rping-peer: PASS server %u iterations\n", iter);
    return 0;
  }

  Options o_;
  EventLoop loop_;
  iw::Profile profile_{};
  RpingQp qp_;
  std::shared_ptr<Connection> conn_;
  std::size_t consumed_ = 0;
  std::string why_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool mode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-c") { o.server = false; mode = true; }
    else if (a == "-s") { o.server = true; mode = true; }
    else if (a == "-a") o.addr = val();
    else if (a == "-p") o.port = static_cast<std::uint16_t>(std::atoi(val()));
    else if (a == "-C") o.count = static_cast<std::uint32_t>(std::strtoul(val(), nullptr, 0));
    else if (a == "-S") o.size = static_cast<std::uint32_t>(std::strtoul(val(), nullptr, 0));
    else if (a == "-V") o.verify = true;
    else if (a == "-v") o.verbose = true;
    else if (a == "--crc") o.crc = true;
    else if (a == "--no-crc") o.crc = false;
    else if (a == "--p2p") o.p2p = true;
    else if (a == "--no-p2p") o.p2p = false;
    else if (a == "--profile") o.profile = val();
    else if (a == "--first-fpdu-delay") o.first_fpdu_delay_ms = static_cast<std::uint32_t>(std::atoi(val()));
    else if (a == "--timeout") o.timeout_s = static_cast<std::uint32_t>(std::atoi(val()));
    else {
      usage();
      return 2;
    }
  }
  if (!mode || o.size < kMinSize || o.size > kMaxSize || iw::find_profile(o.profile) == nullptr) {
    usage();
    return 2;
  }
  Runner r(o);
  return r.run();
}
