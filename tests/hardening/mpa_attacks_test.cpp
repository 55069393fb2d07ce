// Evil peer during MPA connection setup (IWARP.md §1.5–§1.8, §5.4 "MPA startup"), against an
// OpenNDK listener (evil initiator) and an OpenNDK connector (evil responder). Refusal = the stream
// closes (with an MPA reject Reply where RFC 5044 §7.1 says so), the consumer sees no connect event
// (listener) or NdkConnect fails (connector), and the object still works afterwards.
#include <algorithm>
#include <chrono>

#include "base/config.h"
#include "hardening_fixture.h"
#include "iwarp/wire.h"

namespace hardening {
namespace {

namespace mpa = openndk::iwarp::mpa;
using openndk::iwarp::load_be16;
using openndk::iwarp::store_be16;

// ---- evil initiator against the listener ----------------------------------------------------------

class MpaListen : public Hard {
 protected:
  // Sends `bytes` (a malformed Request), then expects OpenNDK to close within `t` without ever
  // raising a connect event. Returns what OpenNDK sent before closing (maybe a reject Reply).
  Bytes expectRefused(const Bytes& bytes, bool finAfter = false, std::chrono::milliseconds t = 10s) {
    EvilPeer evil;
    EXPECT_TRUE(evil.connectTo("127.0.0.1", port));
    const int before = incoming.ev.value();
    EXPECT_TRUE(evil.sendAll(bytes));
    if (finAfter) evil.shutdownWrite();
    bool closed = false;
    Bytes got = evil.drainUntilClosed(t, &closed);
    EXPECT_TRUE(closed) << "OpenNDK kept a malformed setup open";
    EXPECT_EQ(incoming.ev.value(), before) << "a connect event for a malformed Request";
    if (got.size() >= mpa::kFrameHeaderLen) {
      // Anything sent back must be a Reply that rejects (R=1), never an FPDU or an accepting Reply.
      EXPECT_EQ(std::memcmp(got.data(), mpa::kReplyKey.data(), mpa::kKeyLen), 0);
      EXPECT_NE(got[16] & mpa::kFlagR, 0);
    }
    return got;
  }
};

TEST_F(MpaListen, BadKey_Refused) {
  Bytes r = EvilPeer::goodRequest();
  r[11] = 'X';
  expectRefused(r);
  expectListenerStillWorks();
}

TEST_F(MpaListen, ReplyKeyInsteadOfRequest_Refused) {
  expectRefused(EvilPeer::goodReply());
  expectListenerStillWorks();
}

TEST_F(MpaListen, RevisionZeroAndThree_Refused) {
  for (std::uint8_t rev : {std::uint8_t{0}, std::uint8_t{3}, std::uint8_t{0xFF}}) {
    SCOPED_TRACE(int(rev));
    Bytes r = EvilPeer::goodRequest();
    r[17] = rev;
    expectRefused(r);
  }
  expectListenerStillWorks();
}

TEST_F(MpaListen, MarkersRequested_RejectReply) {
  Bytes r = EvilPeer::goodRequest();
  r[16] |= mpa::kFlagM;
  const Bytes got = expectRefused(r);
  // IWARP.md §1.4 / docs/iwarp.md: the responder answers markers with a Reply R=1.
  ASSERT_GE(got.size(), mpa::kFrameHeaderLen);
  EXPECT_NE(got[16] & mpa::kFlagR, 0);
  expectListenerStillWorks();
}

TEST_F(MpaListen, OversizePrivateData_Refused) {
  Bytes r = EvilPeer::goodRequest();
  store_be16(r.data() + 18, 600);  // > 512 (RFC 5044 §7.1.1)
  r.resize(20 + 600, 0x41);
  expectRefused(r);
  expectListenerStillWorks();
}

TEST_F(MpaListen, MaxPdLengthFieldWithoutData_Refused) {
  Bytes r = EvilPeer::goodRequest();
  store_be16(r.data() + 18, 0xFFFF);
  expectRefused(r);
  expectListenerStillWorks();
}

TEST_F(MpaListen, TruncatedPrivateDataThenFin_Refused) {
  Bytes r = EvilPeer::goodRequest(4, 4, Bytes(100, 0x42));
  r.resize(r.size() - 50);
  expectRefused(r, true);
  expectListenerStillWorks();
}

TEST_F(MpaListen, EnhancedFlagWithoutBlock_Refused) {
  // S=1, rev 2, PD_Length 2: the 4-byte IRD/ORD block cannot be there.
  Bytes r(mpa::kRequestKey.begin(), mpa::kRequestKey.end());
  r.push_back(mpa::kFlagC | mpa::kFlagS);
  r.push_back(2);
  r.push_back(0);
  r.push_back(2);
  r.push_back(0);
  r.push_back(0);
  expectRefused(r);
  expectListenerStillWorks();
}

TEST_F(MpaListen, FpduBeforeReply_StreamDiesAndAcceptFails) {
  // Bytes after the Request before our Reply are fatal (docs/iwarp.md, siw semantics). The Request
  // itself was valid, so its connect event may already be on its way (docs/security.md): NdkAccept
  // on such a connector must fail, never establish.
  EvilPeer evil;
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  Bytes r = EvilPeer::goodRequest();
  Bytes f = EvilPeer::frame(EvilPeer::untaggedSend(1, 0, Bytes(8, 1)));
  r.insert(r.end(), f.begin(), f.end());
  ASSERT_TRUE(evil.sendAll(r));
  bool closed = false;
  const Bytes got = evil.drainUntilClosed(10s, &closed);
  EXPECT_TRUE(closed);
  if (got.size() >= mpa::kFrameHeaderLen) {
    EXPECT_NE(got[16] & mpa::kFlagR, 0) << "accepting Reply";
  }
  // Connect events come one at a time in arrival order (R103): once the good peer's event is seen,
  // the dead connection's event, if there is one, has been delivered before it.
  expectListenerStillWorks(true);
  std::vector<NDK_CONNECTOR*> strays;
  {
    std::lock_guard l(incoming.mu);
    for (NDK_CONNECTOR* c : incoming.conns)
      if (c != conn) strays.push_back(c);
  }
  EXPECT_LE(strays.size(), 1u);
  for (NDK_CONNECTOR* c : strays) {
    NDK_QP* q2 = nullptr;
    ASSERT_EQ(pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 4, 4, 1, 1, 0, createDone, nullptr, &q2), STATUS_SUCCESS);
    Req ar;
    const NTSTATUS s = waitReq(ar, c->Dispatch->NdkAccept(c, q2, 1, 1, nullptr, 0, nullptr, nullptr, reqDone, &ar));
    EXPECT_NE(s, STATUS_SUCCESS);
    EXPECT_NE(s, STATUS_PENDING);
    closeAndWait(c);
    closeAndWait(q2);
  }
  {
    std::lock_guard l(incoming.mu);
    incoming.conns.erase(std::remove_if(incoming.conns.begin(), incoming.conns.end(),
                                        [&](NDK_CONNECTOR* c) { return c != conn; }),
                         incoming.conns.end());
  }
}

TEST_F(MpaListen, HalfRequestThenReset_NoEvent) {
  EvilPeer evil;
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  Bytes r = EvilPeer::goodRequest();
  ASSERT_TRUE(evil.sendAll(r.data(), 9));
  evil.closeReset();
  expectListenerStillWorks();
  EXPECT_EQ(incoming.ev.value(), 1);  // only the good connection
}

TEST_F(MpaListen, StallMidRequest_ClosedByRequestTimer) {
  // T_request (profile default 5 s, IWARP.md §1.8) closes a peer that never completes its Request:
  // the DoS defence of RFC 5044 §7.1.2.
  Bytes r = EvilPeer::goodRequest();
  r.resize(10);
  expectRefused(r, false, 12s);
  expectListenerStillWorks();
}

// Both stalled-RTR tests: a valid MPA Request from `evil`, the consumer's connect event, the
// connector it hands over kept in `conn`.
static void requestAndTakeConnector(EvilPeer& evil, USHORT port, Incoming& incoming, NDK_CONNECTOR*& conn) {
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  ASSERT_TRUE(evil.sendAll(EvilPeer::goodRequest()));
  ASSERT_TRUE(incoming.ev.wait(1, 10s));
  std::lock_guard l(incoming.mu);
  conn = incoming.conns.back();
}

TEST_F(MpaListen, StallAfterReply_AcceptFails) {
  // The consumer accepted, the peer never sends its RTR: T_rtr (10 s) ends it; NdkAccept fails.
  EvilPeer evil;
  ASSERT_NO_FATAL_FAILURE(requestAndTakeConnector(evil, port, incoming, conn));
  const NTSTATUS as = conn->Dispatch->NdkAccept(conn, qp, 4, 4, nullptr, 0, onDisconnect, &disc, reqDone, &acceptReq);
  ASSERT_EQ(as, STATUS_PENDING);
  ASSERT_TRUE(evil.readFrame().has_value());
  const NTSTATUS s = waitReq(acceptReq, as, 20s);
  EXPECT_NE(s, STATUS_PENDING) << "NdkAccept never completed";
  EXPECT_NE(s, STATUS_SUCCESS);
  bool closed = false;
  evil.drainUntilClosed(5s, &closed);
  EXPECT_TRUE(closed);
  // The QP cannot be used (never connected): posts fail.
  EXPECT_NE(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
}

// F2 (docs/security.md, fixed): the MPA setup timers honour the tunables. establish_timeout_ms caps
// T_request and T_rtr, mpa_reply_timeout_ms is T_reply (docs/decisions.md, "Hardening").
struct TunableGuard {
  TunableGuard(std::initializer_list<std::pair<const char*, const char*>> kv) {
    for (const auto& [k, v] : kv) ok = ok && openndk::base::setTunable(k, v);
  }
  ~TunableGuard() { openndk::base::resetTunables(); }
  bool ok = true;
};

TEST_F(MpaListen, EstablishTimeoutTunableHonoured_RequestTimer) {
  TunableGuard g{{"establish_timeout_ms", "500"}, {"mpa_reply_timeout_ms", "500"}};
  ASSERT_TRUE(g.ok);
  const auto t0 = std::chrono::steady_clock::now();
  Bytes r = EvilPeer::goodRequest();
  r.resize(10);
  expectRefused(r, false, 12s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, timerBound(500ms))
      << "T_request did not follow establish_timeout_ms";
}

TEST_F(MpaListen, EstablishTimeoutTunableHonoured_RtrTimerFailsAccept) {
  TunableGuard g{{"establish_timeout_ms", "500"}};
  ASSERT_TRUE(g.ok);
  EvilPeer evil;
  ASSERT_NO_FATAL_FAILURE(requestAndTakeConnector(evil, port, incoming, conn));
  const auto t0 = std::chrono::steady_clock::now();
  const NTSTATUS as = conn->Dispatch->NdkAccept(conn, qp, 4, 4, nullptr, 0, onDisconnect, &disc, reqDone, &acceptReq);
  ASSERT_EQ(as, STATUS_PENDING);
  ASSERT_TRUE(evil.readFrame().has_value());
  const NTSTATUS s = waitReq(acceptReq, as, 20s);
  EXPECT_NE(s, STATUS_PENDING) << "NdkAccept never completed";
  EXPECT_NE(s, STATUS_SUCCESS);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, timerBound(500ms)) << "T_rtr did not follow establish_timeout_ms";
  bool closed = false;
  evil.drainUntilClosed(5s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
}

// ---- evil responder against a connector -------------------------------------------------------------

class MpaConnect : public Hard {
 protected:
  void SetUp() override {
    Hard::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(evil.listenLocal());
    ASSERT_EQ(a->Dispatch->NdkCreateConnector(a, createDone, nullptr, &conn), STATUS_SUCCESS);
    SOCKADDR_INET src = loopback4(), dst = loopback4(evil.listenPort());
    connectInline = conn->Dispatch->NdkConnect(conn, qp, reinterpret_cast<PSOCKADDR>(&src), sizeof(SOCKADDR_IN),
                                               reinterpret_cast<PSOCKADDR>(&dst), sizeof(SOCKADDR_IN), 4, 4, nullptr, 0,
                                               reqDone, &connectReq);
    ASSERT_EQ(connectInline, STATUS_PENDING);
    ASSERT_TRUE(evil.acceptOne());
    auto req = evil.readFrame();
    ASSERT_TRUE(req.has_value());
    ASSERT_EQ(std::memcmp(req->data(), mpa::kRequestKey.data(), mpa::kKeyLen), 0);
  }
  // Sends a hostile Reply; NdkConnect must fail (not hang), the stream must close.
  NTSTATUS expectConnectFails(const Bytes& reply) {
    EXPECT_TRUE(evil.sendAll(reply));
    evil.shutdownWrite();  // our FIN ends OpenNDK's linger at once (the Reply is processed first)
    const NTSTATUS s = waitReq(connectReq, connectInline, 15s);
    EXPECT_NE(s, STATUS_PENDING) << "NdkConnect never completed";
    EXPECT_NE(s, STATUS_SUCCESS);
    bool closed = false;
    evil.drainUntilClosed(10s, &closed);
    EXPECT_TRUE(closed);
    // R112: the connector is spent; the QP is usable by nobody until a new connector (posts fail).
    EXPECT_NE(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
    expectNoStrayWrite();
    return s;
  }
  EvilPeer evil;
  Req connectReq;
  NTSTATUS connectInline = STATUS_PENDING;
};

TEST_F(MpaConnect, ReplyBadKey_ConnectFails) {
  Bytes r = EvilPeer::goodReply();
  r[5] = 'x';
  expectConnectFails(r);
}

TEST_F(MpaConnect, RequestKeyAsReply_ConnectFails) { expectConnectFails(EvilPeer::goodRequest()); }

TEST_F(MpaConnect, ReplyMarkers_ConnectFails) {
  Bytes r = EvilPeer::goodReply();
  r[16] |= mpa::kFlagM;
  expectConnectFails(r);
}

TEST_F(MpaConnect, ReplyRevision3_ConnectFails) {
  Bytes r = EvilPeer::goodReply();
  r[17] = 3;
  expectConnectFails(r);
}

TEST_F(MpaConnect, ReplyRevision1ToRev2Request_ConnectFails) {
  // default profile: a rev-1 Reply to our rev-2 Request is refused (docs/iwarp.md profile table).
  openndk::iwarp::MpaFrameSpec s;
  s.kind = openndk::iwarp::MpaKind::Reply;
  s.rev = mpa::kRev1;
  Bytes r(64);
  r.resize(openndk::iwarp::encode_mpa_frame(s, r));
  expectConnectFails(r);
}

TEST_F(MpaConnect, ReplyOversizePrivateData_ConnectFails) {
  Bytes r = EvilPeer::goodReply();
  store_be16(r.data() + 18, 513);
  r.resize(20 + 513, 0x44);
  expectConnectFails(r);
}

TEST_F(MpaConnect, ReplyTruncatedThenFin_ConnectFails) {
  Bytes r = EvilPeer::goodReply(4, 4, Bytes(64, 1));
  r.resize(30);
  ASSERT_TRUE(evil.sendAll(r));
  evil.shutdownWrite();
  const NTSTATUS s = waitReq(connectReq, connectInline, 15s);
  EXPECT_NE(s, STATUS_PENDING);
  EXPECT_NE(s, STATUS_SUCCESS);
}

TEST_F(MpaConnect, RejectReply_ConnectionRefused) {
  Bytes r = EvilPeer::goodReply(4, 4, Bytes{'n', 'o'});
  r[16] |= mpa::kFlagR;
  EXPECT_EQ(expectConnectFails(r), STATUS_CONNECTION_REFUSED);
}

TEST_F(MpaConnect, ReplyWithoutP2pEcho_TerminateOrRefusal) {
  // The responder must echo A (RFC 6581): after the Reply the failure is a Terminate 2/0/0x07.
  openndk::iwarp::MpaFrameSpec s;
  s.kind = openndk::iwarp::MpaKind::Reply;
  s.enhanced = true;
  s.v2.p2p = false;
  s.v2.ird = 4;
  s.v2.ord = 4;
  Bytes r(64);
  r.resize(openndk::iwarp::encode_mpa_frame(s, r));
  ASSERT_TRUE(evil.sendAll(r));
  const NTSTATUS st = waitReq(connectReq, connectInline, 15s);
  EXPECT_NE(st, STATUS_PENDING);
  EXPECT_NE(st, STATUS_SUCCESS);
  const Verdict v = evil.collect(10s);
  EXPECT_FALSE(v.timedOut) << v.describe();
  EXPECT_TRUE(v.terminate) << v.describe();
  EXPECT_EQ(static_cast<int>(v.term.layer), 2) << v.describe();
  EXPECT_EQ(v.term.code, 0x07) << v.describe();
}

TEST_F(MpaConnect, ReplyNeverSent_ReplyTimerFailsConnect) {
  // T_reply (10 s): the connector gives up on a responder that accepted TCP and went silent.
  const NTSTATUS s = waitReq(connectReq, connectInline, 20s);
  EXPECT_NE(s, STATUS_PENDING) << "NdkConnect hangs on a silent responder";
  EXPECT_NE(s, STATUS_SUCCESS);
}

// F2: mpa_reply_timeout_ms is T_reply. Set before the fixture connects.
class MpaConnectShortReply : public MpaConnect {
 protected:
  void SetUp() override {
    ASSERT_TRUE(openndk::base::setTunable("mpa_reply_timeout_ms", "500"));
    t0 = std::chrono::steady_clock::now();
    MpaConnect::SetUp();
  }
  void TearDown() override {
    MpaConnect::TearDown();
    openndk::base::resetTunables();
  }
  std::chrono::steady_clock::time_point t0;
};

TEST_F(MpaConnectShortReply, ReplyTimeoutTunableHonoured) {
  const NTSTATUS s = waitReq(connectReq, connectInline, 20s);
  EXPECT_NE(s, STATUS_PENDING) << "NdkConnect hangs on a silent responder";
  EXPECT_NE(s, STATUS_SUCCESS);
  // T_reply 0.5 s plus the connector's close of the stream (bounded by the 2 s linger).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, timerBound(500ms, 2s))
      << "T_reply did not follow mpa_reply_timeout_ms";
}

TEST_F(MpaConnect, ConnectedThenBadCrc_TerminateAndInitiatorRequestFlushedOnce) {
  ASSERT_TRUE(evil.sendAll(EvilPeer::goodReply()));
  ASSERT_EQ(waitReq(connectReq, connectInline), STATUS_SUCCESS);
  Req cc;
  ASSERT_EQ(waitReq(cc, conn->Dispatch->NdkCompleteConnect(conn, onDisconnect, &disc, reqDone, &cc)), STATUS_SUCCESS);
  // An outstanding RDMA Read toward the evil peer (never answered), and a posted receive.
  postReceives(1);
  NDK_SGE g{};
  g.VirtualAddress = rw.span + 1024;
  g.Length = 512;
  g.MemoryRegionToken = local(mrRw);
  ASSERT_EQ(qp->Dispatch->NdkRead(qp, reinterpret_cast<PVOID>(0xEAD), &g, 1, 0x1000, 0x4242, 0), STATUS_SUCCESS);
  // Read the RTR and the Read Request off the wire (the engine sends them in order).
  std::uint8_t hdr[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(evil.recvExact(hdr, 2));
    Bytes rest(mpa::fpdu_len(load_be16(hdr)) - 2);
    ASSERT_TRUE(evil.recvExact(rest.data(), rest.size()));
  }
  Bytes f = EvilPeer::frame(EvilPeer::untaggedSend(1, 0, Bytes(8, 1)));
  f[f.size() - 2] ^= 0x80;
  ASSERT_TRUE(evil.sendAll(f));
  const Verdict v = evil.collect(10s);
  EXPECT_TRUE(v.terminate) << v.describe();
  EXPECT_EQ(static_cast<int>(v.term.layer), 2) << v.describe();
  EXPECT_EQ(v.term.code, 0x02) << v.describe();
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s));
  // The Read completes exactly once, in error; the receive comes back with the flush.
  qp->Dispatch->NdkFlush(qp);
  auto r = waitResults(2);
  ASSERT_EQ(r.size(), 2u);
  int reads = 0, recvs = 0;
  for (const auto& e : r) {
    EXPECT_NE(e.Status, STATUS_SUCCESS);
    if (e.Type == NdkOperationTypeRead) ++reads;
    if (e.Type == NdkOperationTypeReceive) ++recvs;
  }
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(recvs, 1);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);  // R81
  EXPECT_GT(stats().ConnectionError, connErrBefore);
  // The Send's 8 bytes may have been placed early into the receive (RFC 5041 §5.3); nothing else.
  for (std::size_t i = 8; i < rw.len; ++i) ASSERT_EQ(rw.span[i], kFill) << i;
  expectNoStrayWrite();
}


// R75 (amended 2026-12-07): Writes complete once handed to TCP, and the provider puts nothing on the
// wire to learn whether they were placed. Against a responder that never answers anything, four
// Writes complete with STATUS_SUCCESS, and what reaches the peer is the RTR and exactly those four
// Write FPDUs: no Read Request of the provider's own. When the peer then refuses (a Terminate
// naming a tagged-buffer error) while a Read is outstanding, the Read — the first request not
// completed yet — reports STATUS_ACCESS_VIOLATION and a Send behind it STATUS_CONNECTION_ABORTED,
// each exactly once, in posting order; the disconnect event follows.
TEST_F(MpaConnect, R75_WritesCompleteOnHandOffWithoutProviderReads) {
  ASSERT_TRUE(evil.sendAll(EvilPeer::goodReply()));
  ASSERT_EQ(waitReq(connectReq, connectInline), STATUS_SUCCESS);
  Req cc;
  ASSERT_EQ(waitReq(cc, conn->Dispatch->NdkCompleteConnect(conn, onDisconnect, &disc, reqDone, &cc)), STATUS_SUCCESS);
  NDK_SGE g{};
  g.VirtualAddress = rw.span;
  g.Length = 256;
  g.MemoryRegionToken = local(mrRw);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(qp->Dispatch->NdkWrite(qp, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(0x100 + i)), &g, 1,
                                     0x2000, 0x4242, 0),
              STATUS_SUCCESS);
  auto w = waitResults(4);
  ASSERT_EQ(w.size(), 4u) << "Writes waited for the peer (R75 amended: complete on hand-off)";
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w[i].Status, STATUS_SUCCESS);
    EXPECT_EQ(w[i].Type, NdkOperationTypeWrite);
    EXPECT_EQ(w[i].RequestContext, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(0x100 + i)));
  }
  // The wire: the RTR (a zero-length Write), then the four Writes; nothing else may follow.
  std::vector<iwarp::Opcode> ops;
  std::uint8_t hdr[2];
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(evil.recvExact(hdr, 2));
    Bytes rest(mpa::fpdu_len(load_be16(hdr)) - 2);
    ASSERT_TRUE(evil.recvExact(rest.data(), rest.size()));
    ops.push_back(static_cast<iwarp::Opcode>(rest[1] & 0x0f));  // RDMAP control: opcode in the low bits
  }
  for (iwarp::Opcode op : ops) EXPECT_EQ(op, iwarp::Opcode::Write);
  // An outstanding Read and a Send behind it, then the peer's Terminate (DDP tagged: invalid STag).
  NDK_SGE sink = g;
  sink.VirtualAddress = rw.span + 1024;
  ASSERT_EQ(qp->Dispatch->NdkRead(qp, reinterpret_cast<PVOID>(0x200), &sink, 1, 0x1000, 0x4242, 0), STATUS_SUCCESS);
  ASSERT_TRUE(evil.recvExact(hdr, 2));
  Bytes rr(mpa::fpdu_len(load_be16(hdr)) - 2);
  ASSERT_TRUE(evil.recvExact(rr.data(), rr.size()));
  EXPECT_EQ(static_cast<iwarp::Opcode>(rr[1] & 0x0f), iwarp::Opcode::ReadRequest);
  ASSERT_EQ(qp->Dispatch->NdkSend(qp, reinterpret_cast<PVOID>(0x300), &g, 1, 0), STATUS_SUCCESS);
  iwarp::TerminateInfo t{};
  t.layer = iwarp::TermLayer::Ddp;
  t.etype = iwarp::kEtypeDdpTagged;
  t.code = 0x00;  // invalid STag
  std::uint8_t term[128];
  const std::size_t n = iwarp::encode_terminate_fpdu(t, true, term);
  ASSERT_GT(n, 0u);
  ASSERT_TRUE(evil.sendAll(term, n));
  EXPECT_TRUE(disc.wait(1, 15s));
  auto r = waitResults(2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].RequestContext, reinterpret_cast<PVOID>(0x200));
  EXPECT_EQ(r[0].Status, STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(r[1].RequestContext, reinterpret_cast<PVOID>(0x300));
  EXPECT_EQ(r[1].Status, STATUS_CONNECTION_ABORTED);
  EXPECT_TRUE(drain().empty()) << "a request completed twice";
  evil.closeGraceful();
}
}  // namespace
}  // namespace hardening
