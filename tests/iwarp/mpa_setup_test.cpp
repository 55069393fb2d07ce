// The setup state machine: two instances wired back to back through their actions (no sockets).
#include <gtest/gtest.h>

#include "iwarp/fpdu.h"
#include "iwarp/mpa_setup.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;
using iwtest::hex;

namespace {

struct Side {
  Side(const Profile& p, SetupRole r) : setup(p, r) {}
  MpaSetup setup;
  bool fpdu = false;
  bool crc = false;
  Deframer rx;
  bool established = false, failed = false, rejected = false, request = false, closed = false;
  Error error = Error::None;
  std::uint32_t timer_ms = 0;
  bool timer_armed = false;
  std::vector<Segment> segs;
  std::vector<Bytes> headers;
  Error rx_error = Error::None;
  Bytes startup_sent;  // bytes sent before FPDU mode
  std::vector<Bytes> sends;
};

void deliver(Side& to, Side& from, ByteSpan bytes);

void apply(Side& self, Side& peer, const Actions& acts) {
  std::vector<Bytes> outbox;
  for (const Action& a : acts) {
    switch (a.kind) {
      case ActionKind::Send:
        self.sends.emplace_back(a.bytes.begin(), a.bytes.end());
        // Deliver after this batch is applied, as a real engine would (TCP is asynchronous).
        outbox.emplace_back(a.bytes.begin(), a.bytes.end());
        break;
      case ActionKind::ArmTimer:
        self.timer_armed = true;
        self.timer_ms = a.timer_ms;
        break;
      case ActionKind::CancelTimer: self.timer_armed = false; break;
      case ActionKind::RequestReceived: self.request = true; break;
      case ActionKind::EnterFpduMode:
        self.fpdu = true;
        self.crc = a.crc;
        self.rx.reset({a.crc, mpa::kMaxUlpdu});
        break;
      case ActionKind::Established: self.established = true; break;
      case ActionKind::Rejected: self.rejected = true; break;
      case ActionKind::Failed:
        self.failed = true;
        self.error = a.error;
        break;
      case ActionKind::Close: self.closed = true; break;
    }
  }
  for (const Bytes& b : outbox) deliver(peer, self, b);
}

void deliver(Side& to, Side& from, ByteSpan bytes) {
  const Bytes copy(bytes.begin(), bytes.end());
  ByteSpan in = copy;
  if (!to.fpdu && !in.empty()) {
    std::size_t used = 0;
    const Actions acts = to.setup.on_bytes(in, used);
    in = in.subspan(used);
    apply(to, from, acts);
  }
  if (!to.fpdu) return;
  while (!in.empty() && to.rx_error == Error::None) {
    const RxStep s = to.rx.feed(in);
    in = in.subspan(s.consumed);
    if (s.event == RxEvent::Header) {
      to.segs.push_back(to.rx.current());
      const ByteSpan h = to.rx.ddp_header_bytes();
      to.headers.emplace_back(h.begin(), h.end());
      if (to.setup.state() == SetupState::AwaitRtr) apply(to, from, to.setup.on_first_fpdu(to.rx.current()));
    } else if (s.event == RxEvent::Error) {
      to.rx_error = s.error;
    }
  }
}

struct Pair {
  Pair(const Profile& pi, const Profile& pr) : ini(pi, SetupRole::Initiator), rsp(pr, SetupRole::Responder) {}
  Side ini, rsp;
  void connect(SetupParams ip = {}, bool accept = true, SetupParams rp = {}) {
    apply(rsp, ini, rsp.setup.start(rp));
    apply(ini, rsp, ini.setup.start(ip));
    if (rsp.request && accept) apply(rsp, ini, rsp.setup.accept(rp));
  }
  // Send one FPDU from the initiator (e.g. its first Send in client/server mode).
  void initiator_send(const Bytes& payload) {
    Segmenter sg(make_send(Opcode::Send, 1, static_cast<std::uint32_t>(payload.size())), 1442);
    SegmentPlan p;
    EXPECT_TRUE(sg.next(p));
    const ByteSpan parts[] = {ByteSpan{payload}};
    Bytes w(2000);
    w.resize(frame_copy(ByteSpan{p.header.data(), p.header_len}, parts, ini.crc, w));
    deliver(rsp, ini, w);
  }
};

TerminateInfo last_terminate(const Side& s) {
  TerminateInfo t;
  EXPECT_FALSE(s.sends.empty());
  DecodedFpdu d;
  EXPECT_EQ(decode_fpdu(s.sends.back(), s.crc, d), Error::None);
  EXPECT_EQ(d.seg.opcode, Opcode::Terminate);
  EXPECT_EQ(parse_terminate(d.header, t), Error::None);
  return t;
}

}  // namespace

TEST(MpaSetup, DefaultToDefaultP2pWriteRtr) {
  Pair p(profile_default(), profile_default());
  p.connect({4, 2, {}}, true, {8, 3, {}});
  EXPECT_TRUE(p.ini.established);
  EXPECT_TRUE(p.rsp.established);
  EXPECT_TRUE(p.ini.crc && p.rsp.crc);
  // Request exactly as IWARP.md §8.4 recommends (with IRD 4 / ORD 2).
  EXPECT_EQ(p.ini.sends[0], hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 04 80 04 c0 02"));
  const Negotiated& ni = p.ini.setup.result();
  const Negotiated& nr = p.rsp.setup.result();
  EXPECT_TRUE(ni.p2p && nr.p2p);
  EXPECT_EQ(ni.rtr, RtrType::Write);
  EXPECT_EQ(nr.rtr, RtrType::Write);
  // RFC 6581 §9.1: initiator ORD ≤ responder IRD, responder ORD ≤ initiator IRD
  EXPECT_LE(ni.ord, nr.ird);
  EXPECT_LE(nr.ord, ni.ird);
  EXPECT_EQ(nr.ird, 8u);
  EXPECT_EQ(nr.ord, 3u);
  EXPECT_EQ(ni.ord, 2u);
  // The RTR is the §8.5 vector.
  EXPECT_EQ(p.ini.sends[1], hex("00 0e c1 40 00 00 00 01 00 00 00 00 00 00 00 00 eb d3 4c 5f"));
  EXPECT_FALSE(p.rsp.timer_armed);
  EXPECT_FALSE(p.ini.timer_armed);
}

TEST(MpaSetup, SiwInitiatorClientServer) {
  Pair p(profile_siw_compatible(), profile_default());
  p.connect();
  EXPECT_TRUE(p.ini.established);   // C/S: initiator is in RTS right after the Reply
  EXPECT_FALSE(p.rsp.established);  // responder waits for the first FPDU
  EXPECT_EQ(p.rsp.setup.state(), SetupState::AwaitRtr);
  EXPECT_TRUE(p.ini.crc);  // our responder asks for CRC: either C turns it on
  p.initiator_send({1, 2, 3});
  EXPECT_TRUE(p.rsp.established);
  EXPECT_EQ(p.rsp.rx_error, Error::None);
}

TEST(MpaSetup, SiwCompatibleReplyMatchesCapturedSiwReply) {
  Side rsp(profile_siw_compatible(), SetupRole::Responder);
  Side dummy(profile_default(), SetupRole::Initiator);
  apply(rsp, dummy, rsp.setup.start({}));
  EXPECT_EQ(rsp.timer_ms, 5000u);
  const Bytes req = iwtest::read_file(iwtest::data_path("mpa-request.bin"));
  std::size_t used = 0;
  const Actions a = rsp.setup.on_bytes(req, used);
  EXPECT_EQ(used, req.size());
  EXPECT_TRUE(a.has(ActionKind::RequestReceived));
  const Actions b = rsp.setup.accept({1, 1, {}});
  ASSERT_TRUE(b.find(ActionKind::Send));
  const ByteSpan reply = b.find(ActionKind::Send)->bytes;
  EXPECT_EQ(Bytes(reply.begin(), reply.end()), iwtest::read_file(iwtest::data_path("mpa-reply.bin")));
  EXPECT_FALSE(b.find(ActionKind::EnterFpduMode)->crc);
  EXPECT_FALSE(b.has(ActionKind::ArmTimer));  // siw has no RTR timer
}

TEST(MpaSetup, WindowsInitiatorReadRtr) {
  Pair p(profile_windows(), profile_default());
  p.connect({0, 0, {}});
  EXPECT_TRUE(p.ini.established && p.rsp.established);
  EXPECT_EQ(p.ini.setup.result().rtr, RtrType::Read);
  EXPECT_GE(p.ini.setup.result().ord, 1u);
  EXPECT_GE(p.rsp.setup.result().ird, 1u);
  ASSERT_FALSE(p.rsp.segs.empty());
  EXPECT_EQ(p.rsp.segs[0].opcode, Opcode::ReadRequest);
  EXPECT_EQ(p.rsp.segs[0].read.size, 0u);
}

TEST(MpaSetup, WindowsResponderPrefersRead) {
  Pair p(profile_default(), profile_windows());
  p.connect();
  EXPECT_TRUE(p.ini.established && p.rsp.established);
  EXPECT_EQ(p.rsp.setup.result().rtr, RtrType::Read);
  EXPECT_EQ(p.ini.setup.result().rtr, RtrType::Read);  // the initiator follows the Reply (softiwarp #20)
}

TEST(MpaSetup, CrcStrictRefusesPeerWithoutC) {
  Pair p(profile_siw_compatible(), profile_windows());
  p.connect();
  EXPECT_TRUE(p.rsp.failed);
  EXPECT_EQ(p.rsp.error, Error::MpaCrcRequired);
  EXPECT_TRUE(p.ini.rejected);
  EXPECT_TRUE(p.ini.closed && p.rsp.closed);
  // Initiator side strictness: a strict initiator refuses a Reply without C.
  Side ini(profile_windows(), SetupRole::Initiator);
  Side dummy(profile_default(), SetupRole::Responder);
  apply(ini, dummy, ini.setup.start({}));
  const Bytes reply = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 10 02 00 04 80 01 40 01");
  std::size_t used;
  apply(ini, dummy, ini.setup.on_bytes(reply, used));
  EXPECT_EQ(ini.error, Error::MpaCrcRequired);
}

TEST(MpaSetup, MarkersRefusedCleanly) {
  Side rsp(profile_default(), SetupRole::Responder);
  Side dummy(profile_default(), SetupRole::Initiator);
  apply(rsp, dummy, rsp.setup.start({}));
  const Bytes req = hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 d0 02 00 04 80 01 80 01");
  std::size_t used;
  const Actions a = rsp.setup.on_bytes(req, used);
  ASSERT_TRUE(a.find(ActionKind::Send));
  const ByteSpan reply = a.find(ActionKind::Send)->bytes;
  EXPECT_EQ(reply[16] & mpa::kFlagR, mpa::kFlagR);
  EXPECT_EQ(reply[16] & mpa::kFlagM, 0);
  EXPECT_EQ(a.find(ActionKind::Failed)->error, Error::MpaMarkersRequested);
  EXPECT_TRUE(a.has(ActionKind::Close));
  // Initiator receiving M=1 in a Reply: local error, no Terminate.
  Side ini(profile_default(), SetupRole::Initiator);
  apply(ini, dummy, ini.setup.start({}));
  const Bytes rep = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 d0 02 00 04 80 01 80 01");
  ini.sends.clear();
  apply(ini, dummy, ini.setup.on_bytes(rep, used));
  EXPECT_EQ(ini.error, Error::MpaMarkersRequested);
  EXPECT_TRUE(ini.sends.empty());
}

TEST(MpaSetup, Timeouts) {
  for (SetupRole role : {SetupRole::Initiator, SetupRole::Responder}) {
    MpaSetup s(profile_default(), role);
    const Actions a = s.start({});
    const Action* t = a.find(ActionKind::ArmTimer);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->timer_ms, role == SetupRole::Initiator ? 10000u : 5000u);
    const Actions b = s.on_timeout();
    EXPECT_EQ(b.find(ActionKind::Failed)->error, Error::MpaTimeout);
    EXPECT_TRUE(b.has(ActionKind::Close));
    EXPECT_EQ(s.state(), SetupState::Failed);
    EXPECT_EQ(s.on_timeout().size(), 0u);  // stale timer ignored
  }
  // RTR timer
  Pair p(profile_siw_compatible(), profile_default());
  p.connect();
  EXPECT_TRUE(p.rsp.timer_armed);
  EXPECT_EQ(p.rsp.timer_ms, 10000u);
  const Actions c = p.rsp.setup.on_timeout();
  EXPECT_EQ(c.find(ActionKind::Failed)->error, Error::MpaTimeout);
  // Peer closed
  MpaSetup s(profile_default(), SetupRole::Initiator);
  (void)s.start({});
  EXPECT_EQ(s.on_peer_closed().find(ActionKind::Failed)->error, Error::MpaPeerClosed);
}

TEST(MpaSetup, TrailingBytes) {
  // Responder: bytes after the Request before our Reply are fatal (siw semantics).
  Side rsp(profile_default(), SetupRole::Responder);
  Side dummy(profile_default(), SetupRole::Initiator);
  apply(rsp, dummy, rsp.setup.start({}));
  Bytes req = iwtest::read_file(iwtest::data_path("mpa-request.bin"));
  req.push_back(0);
  std::size_t used;
  Actions a = rsp.setup.on_bytes(req, used);
  EXPECT_EQ(used, req.size() - 1);
  EXPECT_TRUE(a.has(ActionKind::RequestReceived));
  a = rsp.setup.on_bytes(ByteSpan{req}.last(1), used);
  EXPECT_EQ(a.find(ActionKind::Failed)->error, Error::MpaTrailingBytes);
  // Initiator: an FPDU right behind the Reply is left for the Deframer.
  Side ini(profile_siw_compatible(), SetupRole::Initiator);
  apply(ini, dummy, ini.setup.start({}));
  Bytes rep = iwtest::read_file(iwtest::data_path("mpa-reply.bin"));
  const Bytes fpdu = hex("00 17 41 43 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 68 65 6c 6c 6f 00 00 00 00 00 00 00");
  const std::size_t rep_len = rep.size();
  rep.insert(rep.end(), fpdu.begin(), fpdu.end());
  a = ini.setup.on_bytes(rep, used);
  EXPECT_EQ(used, rep_len);
  EXPECT_TRUE(a.has(ActionKind::Established));
  Deframer d({a.find(ActionKind::EnterFpduMode)->crc, mpa::kMaxUlpdu});
  const RxStep st = d.feed(ByteSpan{rep}.subspan(used));
  EXPECT_EQ(st.event, RxEvent::Header);
  EXPECT_EQ(d.current().payload_len, 5u);
}

TEST(MpaSetup, RtrMismatchTerminates) {
  Pair p(profile_default(), profile_default());
  // Drive manually so the initiator sends a Send instead of the Write RTR.
  apply(p.rsp, p.ini, p.rsp.setup.start({}));
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.enhanced = true;
  s.v2.p2p = true;
  s.v2.write_rtr = true;
  s.v2.ird = s.v2.ord = 1;
  Bytes req(64);
  req.resize(encode_mpa_frame(s, req));
  p.ini.fpdu = true;  // pretend initiator
  p.ini.crc = true;
  deliver(p.rsp, p.ini, req);
  apply(p.rsp, p.ini, p.rsp.setup.accept({}));
  p.ini.sends.clear();
  p.initiator_send({9});
  EXPECT_TRUE(p.rsp.failed);
  EXPECT_EQ(p.rsp.error, Error::MpaRtrMismatch);
  const TerminateInfo t = last_terminate(p.rsp);
  EXPECT_EQ(t.layer, TermLayer::Llp);
  EXPECT_EQ(t.code, 0x07);
}

TEST(MpaSetup, NoMatchingRtrAndInsufficientIrd) {
  Side dummy(profile_default(), SetupRole::Responder);
  {
    Side ini(profile_windows(), SetupRole::Initiator);  // offers Read only
    apply(ini, dummy, ini.setup.start({}));
    const Bytes rep = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 50 02 00 04 80 01 80 01");  // Write RTR
    std::size_t used;
    apply(ini, dummy, ini.setup.on_bytes(rep, used));
    EXPECT_EQ(ini.error, Error::MpaNoMatchingRtr);
    const TerminateInfo t = last_terminate(ini);
    EXPECT_EQ(t.code, 0x07);
  }
  {
    Side ini(profile_default(), SetupRole::Initiator);
    apply(ini, dummy, ini.setup.start({}));
    // responder ORD 200 > our max IRD 128
    const Bytes rep = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 50 02 00 04 80 01 80 c8");
    std::size_t used;
    apply(ini, dummy, ini.setup.on_bytes(rep, used));
    EXPECT_EQ(ini.error, Error::MpaInsufficientIrd);
    EXPECT_EQ(last_terminate(ini).code, 0x06);
  }
  {
    Side ini(profile_default(), SetupRole::Initiator);
    apply(ini, dummy, ini.setup.start({}));
    const Bytes rep = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 50 02 00 04 00 01 00 01");  // A=0
    std::size_t used;
    apply(ini, dummy, ini.setup.on_bytes(rep, used));
    EXPECT_EQ(ini.error, Error::MpaP2pMismatch);
    EXPECT_EQ(last_terminate(ini).code, 0x07);
  }
  {
    Side ini(profile_default(), SetupRole::Initiator);
    apply(ini, dummy, ini.setup.start({}));
    const Bytes rep = hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 40 01 00 00");  // rev 1 reply
    std::size_t used;
    apply(ini, dummy, ini.setup.on_bytes(rep, used));
    EXPECT_EQ(ini.error, Error::MpaEnhancedMismatch);
  }
}

TEST(MpaSetup, RejectByConsumerAndByPeer) {
  Pair p(profile_default(), profile_default());
  p.connect({}, false);
  EXPECT_TRUE(p.rsp.request);
  const Bytes why = {'n', 'o'};
  apply(p.rsp, p.ini, p.rsp.setup.reject(why));
  EXPECT_EQ(p.rsp.error, Error::MpaRejectedLocally);
  EXPECT_TRUE(p.ini.rejected);
  const auto pd = p.ini.setup.peer().consumer_pd;
  EXPECT_EQ(Bytes(pd.begin(), pd.end()), why);
  EXPECT_TRUE(p.ini.setup.peer().has_v2);  // reject of an enhanced Request is enhanced
}

TEST(MpaSetup, LegacyIrdOrdWindowsRev1) {
  // A Windows-style rev-1 Request with the MS-SMBD header, little-endian variant.
  Side rsp(profile_windows(), SetupRole::Responder);
  Side dummy(profile_default(), SetupRole::Initiator);
  apply(rsp, dummy, rsp.setup.start({}));
  const Bytes req = hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 40 01 00 08 10 00 00 00 08 00 00 00");
  std::size_t used;
  Actions a = rsp.setup.on_bytes(req, used);
  ASSERT_TRUE(a.has(ActionKind::RequestReceived));
  EXPECT_TRUE(rsp.setup.peer().has_legacy);
  EXPECT_TRUE(rsp.setup.peer().legacy.little_endian);
  a = rsp.setup.accept({32, 4, {}});
  const ByteSpan reply = a.find(ActionKind::Send)->bytes;
  // Reply: rev 1, C, legacy header in network order: IRD = max(32, peer ORD 8) = 32, ORD = min(4, 16) = 4.
  EXPECT_EQ(Bytes(reply.begin() + 16, reply.end()), hex("40 01 00 08 00 00 00 20 00 00 00 04"));
  EXPECT_TRUE(rsp.setup.result().legacy_ird_ord);
  EXPECT_TRUE(rsp.setup.result().legacy_little_endian);
  // Windows initiator accepts a rev-1 Reply to its rev-2 Request (fallback) and reads the header.
  Side ini(profile_windows(), SetupRole::Initiator);
  apply(ini, dummy, ini.setup.start({8, 8, {}}));
  a = ini.setup.on_bytes(reply, used);
  EXPECT_TRUE(a.has(ActionKind::Established));
  EXPECT_EQ(ini.setup.result().ord, 8u);   // min(8, peer IRD 32)
  EXPECT_EQ(ini.setup.result().ird, 8u);   // max(8, peer ORD 4)
  // default profile does not parse the legacy header and refuses unenhanced replies.
  Side ini2(profile_default(), SetupRole::Initiator);
  apply(ini2, dummy, ini2.setup.start({}));
  a = ini2.setup.on_bytes(reply, used);
  EXPECT_EQ(a.find(ActionKind::Failed)->error, Error::MpaEnhancedMismatch);
}

TEST(MpaSetup, NoNegotiationValue3fff) {
  Side rsp(profile_default(), SetupRole::Responder);
  Side dummy(profile_default(), SetupRole::Initiator);
  apply(rsp, dummy, rsp.setup.start({}));
  const Bytes req = hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 04 bf ff 7f ff");
  std::size_t used;
  (void)rsp.setup.on_bytes(req, used);
  const Actions a = rsp.setup.accept({5, 6, {}});
  const ByteSpan reply = a.find(ActionKind::Send)->bytes;
  // P2P echoed; Read chosen (the only form offered); both values echoed 0x3FFF.
  EXPECT_EQ(Bytes(reply.begin() + 20, reply.end()), hex("bf ff 7f ff"));
  EXPECT_EQ(rsp.setup.result().ird, 5u);
  EXPECT_EQ(rsp.setup.result().ord, 6u);
}

TEST(MpaSetup, PrivateDataLimits) {
  MpaSetup s(profile_default(), SetupRole::Initiator);
  const Bytes pd(253);  // 253 + 4 > 256
  const Actions a = s.start({1, 1, pd});
  EXPECT_EQ(a.find(ActionKind::Failed)->error, Error::MpaPrivateDataTooLong);
  MpaSetup ok(profile_default(), SetupRole::Initiator);
  const Actions b = ok.start({1, 1, ByteSpan{pd}.first(252)});
  EXPECT_EQ(b.find(ActionKind::Send)->bytes.size(), 20u + 256u);
  // siw-compatible responder refuses PD > 256 (siw closes without Reply)
  MpaSetup r(profile_siw_compatible(), SetupRole::Responder);
  (void)r.start({});
  Bytes req = iwtest::read_file(iwtest::data_path("mpa-request.bin"));
  store_be16(&req[18], 300);
  std::size_t used;
  const Actions c = r.on_bytes(req, used);
  EXPECT_EQ(c.find(ActionKind::Failed)->error, Error::MpaPrivateDataTooLong);
  EXPECT_FALSE(c.has(ActionKind::Send));
}

TEST(MpaSetup, ProfilesAreData) {
  EXPECT_EQ(all_profiles().size(), 3u);
  EXPECT_EQ(find_profile("default"), &profile_default());
  EXPECT_EQ(find_profile("siw-compatible"), &profile_siw_compatible());
  EXPECT_EQ(find_profile("windows"), &profile_windows());
  EXPECT_EQ(find_profile("nope"), nullptr);
  // Every pair of profiles either connects or fails with a specific error - never hangs.
  for (const Profile* a : all_profiles())
    for (const Profile* b : all_profiles()) {
      Pair p(*a, *b);
      p.connect();
      if (p.rsp.setup.state() == SetupState::AwaitRtr) p.initiator_send({1});
      const bool ok = p.ini.established && p.rsp.established;
      EXPECT_TRUE(ok || p.ini.failed || p.rsp.failed || p.ini.rejected) << a->name << " -> " << b->name;
      if (ok) {
        EXPECT_EQ(p.ini.crc, p.rsp.crc);
      }
    }
}

// NDKPI R82/R83: the effective limits are minima of both consumers' requests, so the default and
// windows profiles never raise their IRD to the peer's ORD (siw-compatible keeps siw's relaxed
// raise). Initiator ORD 2 against a responder IRD 1 → the initiator's ORD becomes 1.
TEST(MpaSetup, DefaultProfileKeepsIrdBelowPeerOrd) {
  for (const Profile* prof : {&profile_default(), &profile_windows()}) {
    Pair p(*prof, *prof);
    p.connect({8, 2, {}}, true, {1, 6, {}});
    ASSERT_TRUE(p.ini.established && p.rsp.established) << prof->name;
    const Negotiated& ni = p.ini.setup.result();
    const Negotiated& nr = p.rsp.setup.result();
    EXPECT_EQ(nr.ird, 1u) << prof->name;  // not raised to the initiator's ORD 2
    EXPECT_EQ(ni.ord, 1u) << prof->name;  // lowered to the responder's IRD
    EXPECT_EQ(nr.ord, 6u) << prof->name;  // ≤ initiator IRD 8
  }
  Pair siw(profile_siw_compatible(), profile_siw_compatible());
  siw.connect({8, 2, {}}, true, {1, 6, {}});
  ASSERT_TRUE(siw.ini.established);  // client/server mode: the responder waits for the first FPDU
  EXPECT_EQ(siw.rsp.setup.result().ird, 2u);  // siw's relaxed raise, decided when it replied
}
