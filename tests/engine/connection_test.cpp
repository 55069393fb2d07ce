// Two Connections over 127.0.0.1 in one process: MPA setup with each profile, then Send, tagged
// Write and Read Request/Response with data verification, and Terminate on a bad STag.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "engine/connection.h"
#include "engine/event_loop.h"
#include "engine/tcp.h"
#include "iwarp/profiles.h"

using namespace openndk::engine;
using namespace std::chrono_literals;
namespace iw = openndk::iwarp;

namespace {
constexpr auto kWait = 20s;  // generous: only reached when something is broken

// A toy QP: registered regions by STag (TO = offset in the region), posted receives by MSN.
class Peer : public PlacementSink, public CompletionSink {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint32_t, MutByteSpan> regions;
  std::vector<MutByteSpan> receives;  // MSN n → receives[n - 1]
  bool requested = false, is_established = false, was_rejected = false, is_closed = false;
  iw::Negotiated neg{};
  CloseInfo close{};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> received;  // msn, length
  std::thread::id last_rx_thread;  // the thread that delivered the last receive
  std::map<std::uint64_t, TxStatus> tx_done;
  std::set<std::uint64_t> reads_done;
  std::shared_ptr<Connection> conn;

  template <class Pred>
  bool waitFor(Pred p) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, kWait, p);
  }
  void registerRegion(std::uint32_t stag, MutByteSpan mem) {
    std::lock_guard lk(mu);
    regions[stag] = mem;
  }
  void postReceive(MutByteSpan buf) {
    std::lock_guard lk(mu);
    receives.push_back(buf);
  }

  iw::Error placeTagged(iw::Opcode, std::uint32_t stag, std::uint64_t to, std::uint32_t len, MutByteSpan& dest) override {
    std::lock_guard lk(mu);
    auto it = regions.find(stag);
    if (it == regions.end()) return iw::access_error(iw::AccessKind::TaggedPlacement, iw::AccessFault::InvalidStag);
    const iw::AccessFault f = iw::check_bounds(0, it->second.size(), to, len);
    if (f != iw::AccessFault::None) return iw::access_error(iw::AccessKind::TaggedPlacement, f);
    dest = it->second.subspan(to, len);
    return iw::Error::None;
  }
  iw::Error placeUntagged(std::uint32_t msn, std::uint32_t mo, std::uint32_t len, MutByteSpan& dest) override {
    std::lock_guard lk(mu);
    if (msn == 0 || msn > receives.size()) return iw::Error::DdpNoBuffer;
    MutByteSpan buf = receives[msn - 1];
    if (std::uint64_t{mo} + len > buf.size()) return iw::Error::DdpMessageTooLong;
    dest = buf.subspan(mo, len);
    return iw::Error::None;
  }
  iw::Error readSource(const iw::ReadRequestHdr& r, ByteSpan& src) override {
    std::lock_guard lk(mu);
    auto it = regions.find(r.src_stag);
    if (it == regions.end()) return iw::access_error(iw::AccessKind::ReadSource, iw::AccessFault::InvalidStag);
    const iw::AccessFault f = iw::check_bounds(0, it->second.size(), r.src_to, r.size);
    if (f != iw::AccessFault::None) return iw::access_error(iw::AccessKind::ReadSource, f);
    src = it->second.subspan(r.src_to, r.size);
    return iw::Error::None;
  }
  iw::Error invalidate(std::uint32_t) override { return iw::Error::None; }

  void connectRequest(ByteSpan) override { set([&] { requested = true; }); }
  void established(const iw::Negotiated& n, ByteSpan) override {
    set([&] {
      is_established = true;
      neg = n;
    });
  }
  void rejected(ByteSpan) override { set([&] { was_rejected = true; }); }
  void txCompleted(std::uint64_t cookie, TxStatus s) override { set([&] { tx_done[cookie] = s; }); }
  void readCompleted(std::uint64_t cookie) override { set([&] { reads_done.insert(cookie); }); }
  void sendReceived(std::uint32_t msn, std::uint32_t len, bool, std::uint32_t, bool) override {
    set([&] {
      received.emplace_back(msn, len);
      last_rx_thread = std::this_thread::get_id();
    });
  }
  void closed(const CloseInfo& ci) override {
    set([&] {
      is_closed = true;
      close = ci;
    });
  }

 private:
  template <class F>
  void set(F f) {
    {
      std::lock_guard lk(mu);
      f();
    }
    cv.notify_all();
  }
};

// Listener + initiator + responder on one loop.
struct Pair {
  EventLoop loop;
  Socket listener;
  Peer ini, rsp;
  // sndbuf/rcvbuf > 0: SO_SNDBUF on the initiator's socket / SO_RCVBUF on the responder's, set
  // before the connection takes them (small buffers force partial writes and EAGAIN).
  explicit Pair(const iw::Profile& profile, ProgressMode mode = ProgressMode::Blocking, bool accept = true,
                int sndbuf = 0, int rcvbuf = 0)
      : loop(0, mode, 20us) {
    Endpoint ep;
    EXPECT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
    EXPECT_EQ(listenTcp(ep, 4, listener), NetError::None);
    Endpoint bound;
    EXPECT_TRUE(localEndpoint(listener.fd(), bound));
    const iw::Profile* p = &profile;
    loop.post([this, p, rcvbuf] {
      auto wid = std::make_shared<EventLoop::WatchId>();
      *wid = loop.watch(listener.fd(), EPOLLIN, [this, p, wid, rcvbuf](std::uint32_t) {
        Socket s;
        if (acceptTcp(listener.fd(), s) != NetError::None) return;
        loop.unwatch(*wid);
        if (rcvbuf > 0) ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        ConnectionOptions o;
        o.role = iw::SetupRole::Responder;
        o.profile = p;
        auto c = Connection::create(loop, std::move(s), o, rsp, rsp);
        std::lock_guard lk(rsp.mu);
        rsp.conn = c;
      });
    });
    asyncConnect(loop, bound, 5000ms, [this, p, sndbuf](NetError e, Socket s) {
      EXPECT_EQ(e, NetError::None);
      if (e != NetError::None) return;
      if (sndbuf > 0) ::setsockopt(s.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      ConnectionOptions o;
      o.role = iw::SetupRole::Initiator;
      o.profile = p;
      o.ird = 4;
      o.ord = 4;
      o.private_data = {'h', 'i'};
      auto c = Connection::create(loop, std::move(s), o, ini, ini);
      std::lock_guard lk(ini.mu);
      ini.conn = c;
    });
    EXPECT_TRUE(rsp.waitFor([&] { return rsp.requested && rsp.conn != nullptr; }));
    if (accept)
      rsp.conn->accept(4, 4, {'o', 'k'});
    else
      rsp.conn->reject({'n', 'o'});
  }
  // Initiator established; in P2P mode the responder too (it got the RTR). In client/server mode
  // (siw-compatible) the responder is established by the initiator's first FPDU (RFC 5044 §7.1.4).
  bool established() {
    if (!ini.waitFor([&] { return ini.is_established; })) return false;
    return !ini.neg.p2p || rsp.waitFor([&] { return rsp.is_established; });
  }
  ~Pair() {
    for (Peer* p : {&ini, &rsp}) {
      std::shared_ptr<Connection> c;
      {
        std::lock_guard lk(p->mu);
        c = p->conn;
      }
      if (c) c->disconnect();
    }
    // Both sides report closed() (graceful close: FIN, the peer answers with its FIN).
    EXPECT_TRUE(ini.waitFor([&] { return ini.is_closed || ini.conn == nullptr; }));
    EXPECT_TRUE(rsp.waitFor([&] { return rsp.is_closed || rsp.conn == nullptr; }));
    loop.stop();
  }
};

// memcmp that accepts empty (possibly null) ranges.
bool same(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) { return n == 0 || std::memcmp(a, b, n) == 0; }

std::vector<std::uint8_t> randomBytes(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

struct Case {
  const iw::Profile* profile;
  ProgressMode mode;
};
std::string caseName(const ::testing::TestParamInfo<Case>& i) {
  std::string n(i.param.profile->name);
  for (char& c : n)
    if (c == '-') c = '_';
  return n + (i.param.mode == ProgressMode::Poll ? "_poll" : i.param.mode == ProgressMode::Adaptive ? "_adaptive" : "_blocking");
}

class Conn : public ::testing::TestWithParam<Case> {};
}  // namespace

TEST_P(Conn, MpaSetupThenSendWriteReadWithEverySize) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  EXPECT_EQ(p.ini.neg.crc, p.rsp.neg.crc);
  const std::size_t sizes[] = {0, 1, 4095, 4096, 65536, 4u << 20};
  std::uint32_t msn = 0;
  std::uint64_t cookie = 100;
  for (std::size_t size : sizes) {
    SCOPED_TRACE(size);
    // --- Send into a posted receive (the receive is larger than the message) ---
    const auto payload = randomBytes(size, static_cast<std::uint32_t>(size) + 1);
    std::vector<std::uint8_t> rbuf(size + 16, 0xEE);
    p.rsp.postReceive(rbuf);
    ++msn;
    TxRequest send;
    send.kind = TxRequest::Kind::Send;
    send.cookie = ++cookie;
    // Two SGEs to exercise the gather list.
    const std::size_t half = size / 2;
    send.sges = {ByteSpan(payload.data(), half), ByteSpan(payload.data() + half, size - half)};
    p.ini.conn->post(send);
    ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= msn; }));
    EXPECT_EQ(p.rsp.received.back(), std::make_pair(msn, static_cast<std::uint32_t>(size)));
    EXPECT_TRUE(same(rbuf.data(), payload.data(), size));
    EXPECT_EQ(rbuf[size], 0xEE);  // nothing beyond the message
    ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.count(send.cookie) > 0; }));
    EXPECT_EQ(p.ini.tx_done[send.cookie], TxStatus::Success);

    // --- tagged Write into a registered region at an unaligned TO, fenced by a Send ---
    const auto wdata = randomBytes(size, static_cast<std::uint32_t>(size) + 2);
    std::vector<std::uint8_t> region(size + 64, 0);
    const std::uint32_t stag = 0x1000 + msn;
    p.rsp.registerRegion(stag, region);
    TxRequest write;
    write.kind = TxRequest::Kind::Write;
    write.cookie = ++cookie;
    write.remote_stag = stag;
    write.remote_to = 7;
    write.sges = {ByteSpan(wdata)};
    p.ini.conn->post(write);
    std::vector<std::uint8_t> fence(1);
    p.rsp.postReceive(fence);
    ++msn;
    TxRequest after;
    after.kind = TxRequest::Kind::Send;
    after.cookie = ++cookie;
    p.ini.conn->post(after);  // zero-length Send: arrives after the Write is placed (ordering)
    ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= msn; }));
    EXPECT_TRUE(same(region.data() + 7, wdata.data(), size));
    EXPECT_EQ(region[6], 0);
    EXPECT_EQ(region[7 + size], 0);

    // --- Read Request answered with a Read Response ---
    const auto rdata = randomBytes(size, static_cast<std::uint32_t>(size) + 3);
    std::vector<std::uint8_t> src(rdata);
    src.insert(src.begin(), 3, 0x55);  // data at TO 3 of the source region
    std::vector<std::uint8_t> sink(size + 8, 0);
    const std::uint32_t src_stag = 0x2000 + msn, sink_stag = 0x3000 + msn;
    p.rsp.registerRegion(src_stag, src);
    p.ini.registerRegion(sink_stag, sink);
    TxRequest read;
    read.kind = TxRequest::Kind::ReadRequest;
    read.cookie = ++cookie;
    read.read = {sink_stag, 1, static_cast<std::uint32_t>(size), src_stag, 3};
    p.ini.conn->post(read);
    ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.reads_done.count(read.cookie) > 0; }));
    EXPECT_TRUE(same(sink.data() + 1, rdata.data(), size));
    EXPECT_EQ(sink[0], 0);
  }
  // Responder → initiator direction works too.
  std::vector<std::uint8_t> back(4096);
  p.ini.postReceive(back);
  const auto msg = randomBytes(3000, 9);
  TxRequest s;
  s.kind = TxRequest::Kind::Send;
  s.cookie = 1;
  s.sges = {ByteSpan(msg)};
  p.rsp.conn->post(s);
  ASSERT_TRUE(p.ini.waitFor([&] { return !p.ini.received.empty(); }));
  EXPECT_EQ(p.ini.received[0], std::make_pair(1u, 3000u));
  EXPECT_TRUE(same(back.data(), msg.data(), msg.size()));
  EXPECT_FALSE(p.ini.is_closed);
  EXPECT_FALSE(p.rsp.is_closed);
}

TEST_P(Conn, InvalidStagTerminatesWithDdpTaggedCode) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  const auto data = randomBytes(100, 5);
  TxRequest w;
  w.kind = TxRequest::Kind::Write;
  w.cookie = 7;
  w.remote_stag = 0xDEAD01;  // never registered at the responder
  w.sges = {ByteSpan(data)};
  p.ini.conn->post(w);
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.is_closed; }));
  EXPECT_EQ(p.rsp.close.error, iw::Error::TaggedInvalidStag);
  EXPECT_TRUE(p.rsp.close.terminate_sent);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  ASSERT_TRUE(p.ini.close.terminate_received);
  const iw::TerminateInfo& t = p.ini.close.peer_terminate;
  // RFC 5041 §7.2 / IWARP.md §4.3: DDP layer, tagged buffer error, invalid STag, with M and D.
  EXPECT_EQ(t.layer, iw::TermLayer::Ddp);
  EXPECT_EQ(t.etype, iw::kEtypeDdpTagged);
  EXPECT_EQ(t.code, 0x00);
  EXPECT_TRUE(t.m);
  EXPECT_TRUE(t.d);
  ASSERT_EQ(t.ddp_header_len, iw::ddp::kTaggedHdrLen);
  EXPECT_EQ(iw::load_be32(&t.ddp_header[2]), 0xDEAD01u);  // the offending STag
  // Posting on a dead stream flushes.
  TxRequest late;
  late.kind = TxRequest::Kind::Send;
  late.cookie = 8;
  p.ini.conn->post(late);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.count(8) > 0; }));
  EXPECT_EQ(p.ini.tx_done[8], TxStatus::Flushed);
  // The engine itself still works: a new pair on a new loop connects and carries data.
  Pair q(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(q.established());
}

TEST_P(Conn, SendWithoutPostedReceiveTerminatesWithNoBuffer) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  TxRequest s;
  s.kind = TxRequest::Kind::Send;
  s.cookie = 1;
  p.ini.conn->post(s);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  ASSERT_TRUE(p.ini.close.terminate_received);
  EXPECT_EQ(p.ini.close.peer_terminate.layer, iw::TermLayer::Ddp);
  EXPECT_EQ(p.ini.close.peer_terminate.etype, iw::kEtypeDdpUntagged);
  EXPECT_EQ(p.ini.close.peer_terminate.code, 0x02);
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.is_closed; }));
  EXPECT_EQ(p.rsp.close.error, iw::Error::DdpNoBuffer);
}

TEST_P(Conn, ReadOfInvalidSourceStagTerminatesWithRdmapProtection) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  std::vector<std::uint8_t> sink(64);
  p.ini.registerRegion(0x77, sink);
  TxRequest r;
  r.kind = TxRequest::Kind::ReadRequest;
  r.cookie = 3;
  r.read = {0x77, 0, 64, 0xBAD, 0};
  p.ini.conn->post(r);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  ASSERT_TRUE(p.ini.close.terminate_received);
  const iw::TerminateInfo& t = p.ini.close.peer_terminate;
  EXPECT_EQ(t.layer, iw::TermLayer::Rdmap);
  EXPECT_EQ(t.etype, iw::kEtypeRdmapRemoteProtection);
  EXPECT_EQ(t.code, 0x00);
  EXPECT_TRUE(t.r);  // the offending Read Request header is included
  // The outstanding Read is flushed, exactly once.
  EXPECT_EQ(p.ini.tx_done.count(3), 1u);
  EXPECT_EQ(p.ini.tx_done[3], TxStatus::Flushed);
  EXPECT_TRUE(p.ini.reads_done.empty());
}

TEST_P(Conn, GracefulDisconnectClosesBothSidesAndFlushesUnsentWork) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  std::vector<std::uint8_t> rbuf(16);
  p.rsp.postReceive(rbuf);
  TxRequest s;
  s.kind = TxRequest::Kind::Send;
  s.cookie = 11;
  p.ini.conn->post(s);
  p.ini.conn->disconnect();
  TxRequest late = s;
  late.cookie = 12;
  p.ini.conn->post(late);  // after disconnect: flushed, never sent
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.is_closed; }));
  EXPECT_EQ(p.ini.tx_done[11], TxStatus::Success);  // queued before disconnect: sent first
  EXPECT_EQ(p.ini.tx_done[12], TxStatus::Flushed);
  EXPECT_EQ(p.ini.close.error, iw::Error::None);
  EXPECT_FALSE(p.ini.close.terminate_sent);
  EXPECT_EQ(p.rsp.received.size(), 1u);                    // the Send arrived before the FIN
  EXPECT_EQ(p.rsp.close.error, iw::Error::LlpConnectionLost);
  EXPECT_EQ(p.rsp.close.net, NetError::Closed);
  EXPECT_FALSE(p.rsp.close.terminate_sent);  // RFC 5040: no Terminate for a lost LLP
}

TEST_P(Conn, RejectedByResponder) {
  Pair p(*GetParam().profile, GetParam().mode, /*accept=*/false);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  EXPECT_TRUE(p.ini.was_rejected);
  EXPECT_FALSE(p.ini.is_established);
  EXPECT_EQ(p.ini.close.error, iw::Error::MpaRejectedByPeer);
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.is_closed; }));
  EXPECT_FALSE(p.rsp.is_established);
}

// Queues one Send per message (cookie base + index; two SGEs: the halves) in the connection's
// progress context, then transmits them together. `msgs` must outlive the transfer.
static void queueSendsInTwoSges(EventLoop& loop, std::shared_ptr<Connection> c, const std::vector<std::vector<std::uint8_t>>& msgs,
                         std::uint64_t cookieBase) {
  loop.post([&msgs, c, cookieBase] {
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      TxRequest r;
      r.kind = TxRequest::Kind::Send;
      r.cookie = cookieBase + i;
      const std::size_t h = msgs[i].size() / 2;
      r.sges = {ByteSpan(msgs[i].data(), h), ByteSpan(msgs[i].data() + h, msgs[i].size() - h)};
      c->enqueueInContext(std::move(r));
    }
    c->transmit();
  });
}

// Issue 12: an idle connected QP costs little memory. After the MPA exchange (and the RTR) a
// connection holds no receive buffer and a transmit record per setup frame, not a full batch; once
// it carries data it keeps its buffers (no allocation per receive in steady state).
TEST_P(Conn, IdleConnectionHoldsNoReceiveBufferUntilItCarriesData) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  auto held = [&p](const std::shared_ptr<Connection>& c) {
    std::promise<std::size_t> bytes;
    EXPECT_TRUE(p.loop.post([&bytes, c] { bytes.set_value(c->heldBufferBytes()); }));
    return bytes.get_future().get();
  };
  const std::size_t idleIni = held(p.ini.conn), idleRsp = held(p.rsp.conn);
  EXPECT_LT(idleIni, 2048u) << "initiator";
  EXPECT_LT(idleRsp, 2048u) << "responder";
  // Data: 16 Sends of 1 KiB (more than the 4 KiB after which the buffer is kept).
  constexpr std::size_t kN = 16;
  std::vector<std::vector<std::uint8_t>> msgs, rbufs;
  for (std::size_t i = 0; i < kN; ++i) {
    msgs.push_back(randomBytes(1024, static_cast<std::uint32_t>(i) + 3));
    rbufs.emplace_back(1024, 0);
  }
  for (auto& b : rbufs) p.rsp.postReceive(b);
  queueSendsInTwoSges(p.loop, p.ini.conn, msgs, 500);
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= kN; }));
  for (std::size_t i = 0; i < kN; ++i) EXPECT_TRUE(same(rbufs[i].data(), msgs[i].data(), 1024)) << i;
  EXPECT_GE(held(p.rsp.conn), 8u * 1024) << "a receiving connection keeps its buffer";
}

// MULPDU follows TCP's MSS as it grows (RFC 5044 §4.5): Linux bounds the MSS to half the largest
// window the peer has offered, so the first look, at the first message, finds 32 KiB on loopback;
// once the window opened (a few MiB later) a 1 MiB Write goes out in FPDUs of the loopback MSS
// (~64 KiB: 17 FPDUs), not in the 33 of the first value. Data intact throughout.
TEST_P(Conn, LargeWritesFollowTheMssTcpGrowsTo) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kSize = 1024 * 1024;
  std::vector<std::uint8_t> region(kSize, 0);
  p.rsp.registerRegion(0x6000, region);
  std::uint64_t cookie = 0, fpdus_last = 0;
  for (std::uint32_t i = 0; i < 6; ++i) {
    const auto data = randomBytes(kSize, 100 + i);
    const Connection::IoStats before = p.ini.conn->ioStats();
    TxRequest write;
    write.kind = TxRequest::Kind::Write;
    write.cookie = ++cookie;
    write.remote_stag = 0x6000;
    write.sges = {ByteSpan(data)};
    p.ini.conn->post(write);
    std::vector<std::uint8_t> fence(1);
    p.rsp.postReceive(fence);
    TxRequest after;
    after.kind = TxRequest::Kind::Send;
    after.cookie = ++cookie;
    p.ini.conn->post(after);  // arrives after the Write is placed
    ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() > i; }));
    ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.count(after.cookie) > 0; }));
    EXPECT_TRUE(same(region.data(), data.data(), kSize)) << i;
    fpdus_last = p.ini.conn->ioStats().fpdus_sent - before.fpdus_sent - 1;  // the Write's, without the Send
  }
  EXPECT_LE(fpdus_last, kSize / 40000 + 1) << "the last 1 MiB Write still uses the first, window-bounded MSS";
  EXPECT_FALSE(p.ini.is_closed);
}

// A full socket is not asked again for an EAGAIN: a sendmsg that stops short ends the attempt
// (the socket is full), and work posted while the connection is Blocked waits for EPOLLOUT or a
// poll's retry instead of making a system call per post. Everything still arrives, in order.
TEST_P(Conn, FullSocketIsNotAskedAgainUntilItHasRoom) {
  // A small send buffer and the receiver's default one (a tiny receive window would only slow TCP
  // down to its persist timer): 1 MiB cannot fit.
  Pair p(*GetParam().profile, GetParam().mode, true, /*sndbuf=*/4096);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kSize = 1024 * 1024, kSends = 5;
  const auto data = randomBytes(kSize, 5);
  std::vector<std::uint8_t> region(kSize, 0);
  p.rsp.registerRegion(0x7000, region);
  // A first Send through, so that the profile's pacing of the first FPDU (siw-compatible) is over.
  std::vector<std::uint8_t> hello_buf(1);
  p.rsp.postReceive(hello_buf);
  TxRequest hello;
  hello.kind = TxRequest::Kind::Send;
  hello.cookie = 100;
  p.ini.conn->post(hello);
  ASSERT_TRUE(p.rsp.waitFor([&] { return !p.rsp.received.empty(); }));
  std::vector<std::vector<std::uint8_t>> rbufs(kSends, std::vector<std::uint8_t>(16, 0));
  for (auto& b : rbufs) p.rsp.postReceive(b);
  const std::vector<std::uint8_t> msg(16, 0x3C);
  std::promise<std::pair<std::uint64_t, std::uint64_t>> calls;
  // One task of the loop both connections share: the responder cannot drain meanwhile.
  ASSERT_TRUE(p.loop.post([&] {
    const std::shared_ptr<Connection>& c = p.ini.conn;
    const std::uint64_t c0 = c->ioStats().sendmsg_calls;
    TxRequest write;
    write.kind = TxRequest::Kind::Write;
    write.cookie = 1;
    write.remote_stag = 0x7000;
    write.sges = {ByteSpan(data)};
    c->enqueueInContext(std::move(write));
    c->transmit();  // 1 MiB into a few KiB of socket buffers: one short sendmsg, then Blocked
    const std::uint64_t c1 = c->ioStats().sendmsg_calls;
    for (std::size_t i = 0; i < kSends; ++i) {
      TxRequest send;
      send.kind = TxRequest::Kind::Send;
      send.cookie = 10 + i;
      send.sges = {ByteSpan(msg)};
      c->enqueueInContext(std::move(send));
      c->transmit();
    }
    calls.set_value({c1 - c0, c->ioStats().sendmsg_calls - c1});
  }));
  const auto [writeCalls, whileBlocked] = calls.get_future().get();
  EXPECT_EQ(writeCalls, 1u) << "a short sendmsg means a full socket: no second call for an EAGAIN";
  EXPECT_EQ(whileBlocked, 0u) << "posts while Blocked made system calls";
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= kSends + 1; }));
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.size() >= kSends + 2; }));
  EXPECT_TRUE(same(region.data(), data.data(), kSize));
  for (std::size_t i = 0; i < kSends; ++i) {
    EXPECT_EQ(p.rsp.received[i + 1], std::make_pair(static_cast<std::uint32_t>(i + 2), 16u));
    EXPECT_TRUE(same(rbufs[i].data(), msg.data(), 16)) << i;
    EXPECT_EQ(p.ini.tx_done[10 + i], TxStatus::Success);
  }
  EXPECT_EQ(p.ini.tx_done[1], TxStatus::Success);
}

// Post coalescing (Connection::transmitPosted): while a consumer polls, the first post since its
// last poll goes out at once and the rest of a burst of small posts waits for the next poll — or,
// if no poll comes, for the engine's — and leaves in one sendmsg. Blocking mode (nobody polls)
// transmits every post at once. Everything arrives, in order, and completes once.
TEST_P(Conn, PostsOfABurstLeaveTogetherEvenIfTheConsumerDoesNotPoll) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kSends = 10;
  std::vector<std::uint8_t> hello_buf(1);
  p.rsp.postReceive(hello_buf);
  TxRequest hello;
  hello.kind = TxRequest::Kind::Send;
  hello.cookie = 100;
  p.ini.conn->post(hello);  // the profile's pacing of the first FPDU (siw-compatible) is over after it
  ASSERT_TRUE(p.rsp.waitFor([&] { return !p.rsp.received.empty(); }));
  std::vector<std::vector<std::uint8_t>> rbufs(kSends, std::vector<std::uint8_t>(8, 0));
  for (auto& b : rbufs) p.rsp.postReceive(b);
  std::vector<std::vector<std::uint8_t>> msgs;
  for (std::size_t i = 0; i < kSends; ++i) msgs.emplace_back(8, static_cast<std::uint8_t>(0x40 + i));
  struct Counts {
    std::uint64_t first, rest, held;
  };
  std::promise<Counts> counts;
  const std::uint64_t before = p.ini.conn->ioStats().sendmsg_calls;
  ASSERT_TRUE(p.loop.post([&] {
    const std::shared_ptr<Connection>& c = p.ini.conn;
    const std::uint64_t c0 = c->ioStats().sendmsg_calls, h0 = c->ioStats().posts_held;
    std::uint64_t c1 = 0;
    for (std::size_t i = 0; i < kSends; ++i) {
      // The mark stays fresh however slowly this runs (sanitizers): a consumer's polls refresh it,
      // reading the clock on one poll in 16 (inside the context a poll only does that).
      for (int k = 0; k < 16; ++k) p.loop.consumerPoll();
      TxRequest send;
      send.kind = TxRequest::Kind::Send;
      send.cookie = 10 + i;
      send.sges = {ByteSpan(msgs[i])};
      c->enqueueInContext(std::move(send));
      c->transmitPosted();
      if (i == 0) c1 = c->ioStats().sendmsg_calls;
    }
    counts.set_value({c1 - c0, c->ioStats().sendmsg_calls - c1, c->ioStats().posts_held - h0});
  }));
  const Counts n = counts.get_future().get();
  EXPECT_EQ(n.first, 1u) << "the first post of a burst goes out at once";
  const bool coalesced = GetParam().mode != ProgressMode::Blocking;
  // Nobody polls from here on: the engine's poll (requestPoll) sends what was held.
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= kSends + 1; }));
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.size() >= kSends + 1; }));
  const std::uint64_t total = p.ini.conn->ioStats().sendmsg_calls - before;
  if (coalesced) {
    // Normally all 9 wait and the burst takes 2 calls. A thread descheduled for longer than the
    // consumers' quiet time (a loaded sanitizer run) lets the mark go stale, and a post goes out on
    // its own then; without coalescing every post is a call of its own.
    EXPECT_GE(n.held, 1u) << "nothing of the burst was held";
    EXPECT_LT(total, kSends) << "one sendmsg per post";
    if (n.held == kSends - 1) {
      EXPECT_EQ(n.rest, 0u);
      EXPECT_EQ(total, 2u);
    }
  } else {
    EXPECT_EQ(n.held, 0u);
    EXPECT_EQ(n.rest, kSends - 1);
    EXPECT_EQ(total, kSends);
  }
  for (std::size_t i = 0; i < kSends; ++i) {
    EXPECT_EQ(p.rsp.received[i + 1], std::make_pair(static_cast<std::uint32_t>(i + 2), 8u));
    EXPECT_TRUE(same(rbufs[i].data(), msgs[i].data(), 8)) << i;
    EXPECT_EQ(p.ini.tx_done[10 + i], TxStatus::Success);
  }
}

// A post after an answer came in is not held: request/response traffic (post, poll until the
// answer is there, post again) pays no wait for coalescing, even with no poll in between.
TEST_P(Conn, ARequestAfterItsAnswerGoesOutAtOnce) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kRounds = 6;
  std::vector<std::vector<std::uint8_t>> ibufs(kRounds, std::vector<std::uint8_t>(8, 0));
  std::vector<std::vector<std::uint8_t>> rbufs(kRounds, std::vector<std::uint8_t>(8, 0));
  for (auto& b : rbufs) p.rsp.postReceive(b);
  for (auto& b : ibufs) p.ini.postReceive(b);
  const std::vector<std::uint8_t> msg(8, 0x5E);
  auto sendFrom = [&](Peer& peer, std::uint64_t cookie) {
    std::promise<std::uint64_t> calls;
    EXPECT_TRUE(p.loop.post([&] {
      const std::shared_ptr<Connection>& c = peer.conn;
      p.loop.consumerPoll();  // the mark only (inside the context): consumers poll this domain
      const std::uint64_t c0 = c->ioStats().sendmsg_calls;
      TxRequest send;
      send.kind = TxRequest::Kind::Send;
      send.cookie = cookie;
      send.sges = {ByteSpan(msg)};
      c->enqueueInContext(std::move(send));
      c->transmitPosted();
      calls.set_value(c->ioStats().sendmsg_calls - c0);
    }));
    return calls.get_future().get();
  };
  for (std::size_t r = 0; r < kRounds; ++r) {
    const std::uint64_t asked = sendFrom(p.ini, r);
    // Round 0 may be paced (siw-compatible holds the first FPDU); from then on each goes at once.
    if (r > 0) {
      EXPECT_EQ(asked, 1u) << "request " << r;
    }
    ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= r + 1; }));
    EXPECT_EQ(sendFrom(p.rsp, 100 + r), 1u) << "answer " << r;
    ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.received.size() >= r + 1; }));
  }
  EXPECT_EQ(p.ini.conn->ioStats().posts_held, 0u);
  EXPECT_EQ(p.rsp.conn->ioStats().posts_held, 0u);
}

// A consumer poll that received a message with a read that came back short (the socket is empty
// now) makes the very next poll skip the socket: a request/response consumer polls once more right
// after taking the completion, before it answers, and that receive attempt would be an EAGAIN on
// every round trip's path. (Rounds where the engine read the message instead prove nothing and are
// retried.)
TEST_P(Conn, APollRightAfterAReadThatEmptiedTheSocketDoesNotAskItAgain) {
  if (GetParam().mode == ProgressMode::Blocking) GTEST_SKIP() << "consumer polls do nothing in blocking mode";
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr int kRounds = 40;
  std::vector<std::vector<std::uint8_t>> rbufs(kRounds, std::vector<std::uint8_t>(8, 0));
  for (auto& b : rbufs) p.rsp.postReceive(b);
  const std::vector<std::uint8_t> msg(8, 0x6B);
  const auto me = std::this_thread::get_id();
  int checked = 0, asked_again = 0;
  for (int round = 0; round < kRounds && checked < 5; ++round) {
    std::size_t before;
    {
      std::lock_guard lk(p.rsp.mu);
      before = p.rsp.received.size();
    }
    TxRequest send;
    send.kind = TxRequest::Kind::Send;
    send.cookie = static_cast<std::uint64_t>(round);
    send.sges = {ByteSpan(msg)};
    p.ini.conn->post(send);
    bool by_this_poll = false;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    for (;;) {
      p.loop.consumerPoll();
      std::lock_guard lk(p.rsp.mu);
      if (p.rsp.received.size() > before) {
        by_this_poll = p.rsp.last_rx_thread == me;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
    }
    ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() > before; }));
    if (!by_this_poll) continue;  // the engine thread read it
    const std::uint64_t calls = p.rsp.conn->ioStats().recv_calls;
    p.loop.consumerPoll();
    // Counted, not asserted per round: the engine may have seen the socket readable before this
    // thread's read and dispatch it just now (a slow sanitizer run lets the poll mark go stale);
    // without the skip every round asks again.
    if (p.rsp.conn->ioStats().recv_calls != calls) ++asked_again;
    ++checked;
  }
  ASSERT_GE(checked, 1) << "no round was received by a consumer poll";
  EXPECT_LE(asked_again * 3, checked) << asked_again << " of " << checked << " polls asked the emptied socket again";
}

// A connection that only answers Reads (it never queued a work request of its own) batches its
// Read Response FPDUs as a sending one does: the transmit records are sized for full batches once
// the connection carries data, whoever started it.
TEST_P(Conn, ReadResponsesOfAConnectionThatNeverSentAreBatched) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kSize = 2 * 1024 * 1024;
  const auto data = randomBytes(kSize, 77);
  std::vector<std::uint8_t> src(data), sink(kSize, 0);
  p.rsp.registerRegion(0x4000, src);
  p.ini.registerRegion(0x5000, sink);
  const Connection::IoStats before = p.rsp.conn->ioStats();
  TxRequest read;
  read.kind = TxRequest::Kind::ReadRequest;
  read.cookie = 42;
  read.read = {0x5000, 0, static_cast<std::uint32_t>(kSize), 0x4000, 0};
  p.ini.conn->post(read);
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.reads_done.count(42) > 0; }));
  EXPECT_TRUE(same(sink.data(), data.data(), kSize));
  const Connection::IoStats after = p.rsp.conn->ioStats();
  const std::uint64_t fpdus = after.fpdus_sent - before.fpdus_sent, calls = after.sendmsg_calls - before.sendmsg_calls;
  EXPECT_GE(fpdus, kSize / iw::mpa::kMulpduMax);
  // 2 MiB in ~65 FPDUs: 64 per batch (1 MiB at most) → a handful of calls; one per FPDU before.
  EXPECT_LE(calls * 2, fpdus) << fpdus << " FPDUs in " << calls << " sendmsg calls";
}

// Transmit batching (docs/engine.md "Transmit"): requests queued together leave in far fewer
// sendmsg calls than FPDUs, every FPDU whole, in order, data intact.
TEST_P(Conn, BurstOfSmallSendsIsBatchedIntoFewSendmsgCalls) {
  Pair p(*GetParam().profile, GetParam().mode);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kN = 300;
  std::vector<std::vector<std::uint8_t>> msgs, rbufs;
  for (std::size_t i = 0; i < kN; ++i) {
    msgs.push_back(randomBytes(1 + (i * 37) % 300, static_cast<std::uint32_t>(i) + 11));
    rbufs.emplace_back(msgs.back().size() + 4, 0xEE);
  }
  for (auto& b : rbufs) p.rsp.postReceive(b);
  const Connection::IoStats before = p.ini.conn->ioStats();
  queueSendsInTwoSges(p.loop, p.ini.conn, msgs, 1000);
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= kN; }));
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.size() >= kN; }));
  const Connection::IoStats after = p.ini.conn->ioStats();
  for (std::size_t i = 0; i < kN; ++i) {
    EXPECT_EQ(p.rsp.received[i], std::make_pair(static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(msgs[i].size())));
    EXPECT_TRUE(same(rbufs[i].data(), msgs[i].data(), msgs[i].size())) << i;
    EXPECT_EQ(rbufs[i][msgs[i].size()], 0xEE) << i;
    EXPECT_EQ(p.ini.tx_done[1000 + i], TxStatus::Success);
  }
  EXPECT_EQ(after.fpdus_sent - before.fpdus_sent, kN);
  // 300 FPDUs of ≤ 330 bytes: 64 per batch → 5 calls when the socket takes everything at once.
  EXPECT_LT(after.sendmsg_calls - before.sendmsg_calls, kN / 8);
  EXPECT_LT(p.rsp.conn->ioStats().recv_calls, kN / 4);  // several FPDUs per receive call too
  EXPECT_FALSE(p.ini.is_closed);
  EXPECT_FALSE(p.rsp.is_closed);
}

// Batches cut by partial writes (4 KiB send buffer; a tiny receive buffer too would only slow TCP
// down to its persist timer: window below the MSS): Sends and Writes of mixed sizes, several
// FPDUs each, arrive whole, in posting order, each completed exactly once with Success.
TEST_P(Conn, BatchedTransmitSurvivesPartialWritesWithSmallSocketBuffers) {
  Pair p(*GetParam().profile, GetParam().mode, true, /*sndbuf=*/4096);
  ASSERT_TRUE(p.established());
  const std::size_t sizes[] = {1, 70000, 3, 4096, 200000, 0, 65535, 17, 131072, 9};
  constexpr int kRounds = 3;
  std::vector<std::vector<std::uint8_t>> msgs, rbufs, regions;
  for (int r = 0; r < kRounds; ++r)
    for (std::size_t sz : sizes) {
      msgs.push_back(randomBytes(sz, static_cast<std::uint32_t>(msgs.size()) + 77));
      rbufs.emplace_back(sz + 4, 0xEE);
      regions.emplace_back(sz + 8, 0);
    }
  for (auto& b : rbufs) p.rsp.postReceive(b);
  for (std::size_t i = 0; i < regions.size(); ++i) p.rsp.registerRegion(0x5000 + static_cast<std::uint32_t>(i), regions[i]);
  std::shared_ptr<Connection> c = p.ini.conn;
  p.loop.post([&msgs, c] {
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      TxRequest w;  // a Write, then a Send of the same bytes behind it
      w.kind = TxRequest::Kind::Write;
      w.cookie = 2 * i + 1;
      w.remote_stag = 0x5000 + static_cast<std::uint32_t>(i);
      w.remote_to = 3;
      w.sges = {ByteSpan(msgs[i])};
      c->enqueueInContext(std::move(w));
      TxRequest s;
      s.kind = TxRequest::Kind::Send;
      s.cookie = 2 * i + 2;
      s.sges = {ByteSpan(msgs[i])};
      c->enqueueInContext(std::move(s));
    }
    c->transmit();
  });
  const std::size_t n = msgs.size();
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.received.size() >= n; }))
      << p.rsp.received.size() << " received, " << p.ini.tx_done.size() << " completed, closed " << p.ini.is_closed
      << p.rsp.is_closed << " sendmsg " << p.ini.conn->ioStats().sendmsg_calls;
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.tx_done.size() >= 2 * n; }));
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(p.rsp.received[i], std::make_pair(static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(msgs[i].size())));
    EXPECT_TRUE(same(rbufs[i].data(), msgs[i].data(), msgs[i].size()));
    // The Write was placed before the Send behind it was delivered (ordering).
    EXPECT_TRUE(same(regions[i].data() + 3, msgs[i].data(), msgs[i].size()));
    EXPECT_EQ(regions[i][2], 0);
    EXPECT_EQ(regions[i][3 + msgs[i].size()], 0);
  }
  for (std::uint64_t k = 1; k <= 2 * n; ++k) EXPECT_EQ(p.ini.tx_done[k], TxStatus::Success) << k;
  EXPECT_FALSE(p.ini.is_closed);
  EXPECT_FALSE(p.rsp.is_closed);
}

// A local failure while a batch is partly written: the FPDU on the wire completes, nothing behind
// it goes out, the Terminate follows it; every request is reported exactly once, a prefix with
// Success and the rest Flushed; the peer sees whole messages in order, then the Terminate.
TEST_P(Conn, TerminateInTheMiddleOfABatchKeepsFpdusWholeAndFlushesTheRest) {
  Pair p(*GetParam().profile, GetParam().mode, true, /*sndbuf=*/4096);
  ASSERT_TRUE(p.established());
  constexpr std::size_t kN = 64;
  std::vector<std::vector<std::uint8_t>> msgs, rbufs;
  for (std::size_t i = 0; i < kN; ++i) {
    msgs.push_back(randomBytes(50000 + i, static_cast<std::uint32_t>(i) + 5));
    rbufs.emplace_back(msgs.back().size(), 0);
  }
  for (auto& b : rbufs) p.rsp.postReceive(b);
  std::shared_ptr<Connection> c = p.ini.conn;
  std::shared_ptr<Connection> r = p.rsp.conn;
  const auto bad = randomBytes(10, 1);
  p.loop.post([&msgs, &bad, c, r] {
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      TxRequest s;
      s.kind = TxRequest::Kind::Send;
      s.cookie = 1 + i;
      s.sges = {ByteSpan(msgs[i])};
      c->enqueueInContext(std::move(s));
    }
    c->transmit();  // blocks on the 4 KiB buffers after a few FPDUs
    // The responder writes to an STag the initiator never registered: the initiator fails
    // (TaggedInvalidStag) while its batch is partly out.
    TxRequest w;
    w.kind = TxRequest::Kind::Write;
    w.cookie = 99;
    w.remote_stag = 0xBAD0;
    w.sges = {ByteSpan(bad)};
    r->post(std::move(w));
  });
  ASSERT_TRUE(p.ini.waitFor([&] { return p.ini.is_closed; }));
  ASSERT_TRUE(p.rsp.waitFor([&] { return p.rsp.is_closed; }));
  EXPECT_EQ(p.ini.close.error, iw::Error::TaggedInvalidStag);
  EXPECT_TRUE(p.ini.close.terminate_sent);
  // The responder got whole messages, then the Terminate: no framing or CRC error.
  EXPECT_TRUE(p.rsp.close.terminate_received);
  EXPECT_EQ(p.rsp.close.peer_terminate.layer, iw::TermLayer::Ddp);
  EXPECT_EQ(p.rsp.close.peer_terminate.etype, iw::kEtypeDdpTagged);
  std::size_t ok = 0;
  bool flushed = false;
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(p.ini.tx_done.count(1 + i), 1u) << i;
    if (p.ini.tx_done[1 + i] == TxStatus::Success) {
      EXPECT_FALSE(flushed) << "Success after Flushed at " << i;
      ++ok;
    } else {
      flushed = true;
    }
  }
  EXPECT_LT(ok, kN);  // the failure came before the last Send was in the kernel
  ASSERT_LE(p.rsp.received.size(), ok);
  for (std::size_t i = 0; i < p.rsp.received.size(); ++i) {
    EXPECT_EQ(p.rsp.received[i].first, i + 1);
    EXPECT_TRUE(same(rbufs[i].data(), msgs[i].data(), msgs[i].size())) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Engine, Conn,
                         ::testing::Values(Case{&iw::profile_default(), ProgressMode::Blocking},
                                           Case{&iw::profile_siw_compatible(), ProgressMode::Blocking},
                                           Case{&iw::profile_windows(), ProgressMode::Blocking},
                                           Case{&iw::profile_default(), ProgressMode::Adaptive},
                                           Case{&iw::profile_windows(), ProgressMode::Poll}),
                         caseName);
