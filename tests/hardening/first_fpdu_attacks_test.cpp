// Evil initiator whose FIRST FPDU (the one that ends MPA setup: the RTR in peer-to-peer mode, the
// first message in client/server mode) is hostile (issue 12). For every header field of that FPDU,
// in every setup profile the responder can run (default, siw-compatible, windows, and an MPA
// revision-1 peer): the Terminate of IWARP.md §4.4 is sent (decoded here), the pending NdkAccept
// completes promptly with an error status, the receives posted before the accept complete exactly
// once, nothing is placed, and the listener serves the next (well-behaved) client.
#include <chrono>
#include <functional>
#include <string>

#include "base/config.h"
#include "hardening_fixture.h"
#include "iwarp/mpa_frame.h"
#include "iwarp/wire.h"

namespace hardening {
namespace {

namespace mpa = openndk::iwarp::mpa;
namespace ddp = openndk::iwarp::ddp;
using openndk::iwarp::MpaFrameSpec;
using openndk::iwarp::MpaKind;
using openndk::iwarp::Opcode;
using openndk::iwarp::ReadRequestHdr;
using openndk::iwarp::RtrType;
using openndk::iwarp::rdmap_ctrl;

constexpr int kRdmap = 0, kDdp = 1, kLlp = 2;
constexpr int kNoTerminate = -1;
constexpr std::uint16_t kIrd = 4;  // what the consumer accepts with (the negotiated IRD)

// How the hostile initiator sets the connection up, and which responder profile answers.
struct Variant {
  const char* name;
  const char* profile;  // the responder's mpa_profile tunable
  std::uint8_t rev;
  bool enhanced;
  bool p2p;
  RtrType rtr;          // the one RTR form offered (p2p only)
  bool crc;
};
const Variant kVariants[] = {
    {"Default", "default", mpa::kRev2, true, true, RtrType::Write, true},
    {"SiwCompatible", "siw-compatible", mpa::kRev2, true, false, RtrType::None, false},  // siw's own initiator
    {"Windows", "windows", mpa::kRev2, true, true, RtrType::Read, true},
    {"MpaV1", "default", mpa::kRev1, false, false, RtrType::None, true},
};

Bytes requestFor(const Variant& v) {
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = v.rev;
  s.c = v.crc;
  s.enhanced = v.enhanced;
  s.v2.p2p = v.p2p;
  s.v2.write_rtr = v.p2p && v.rtr == RtrType::Write;
  s.v2.read_rtr = v.p2p && v.rtr == RtrType::Read;
  s.v2.ird = kIrd;
  s.v2.ord = kIrd;
  Bytes out(mpa::kMaxFrameLen + 16);
  out.resize(encode_mpa_frame(s, out));
  return out;
}

Bytes rtrUlpdu(RtrType t) {
  std::uint8_t u[64];
  const std::size_t n = openndk::iwarp::encode_rtr_ulpdu(t, u);
  return Bytes(u, u + n);
}

struct Expect {
  int layer = kNoTerminate;
  int etype = 0;
  int code = 0;
  bool notApplicable = false;
};
constexpr Expect term(int l, int e, int c) { return {l, e, c}; }
// In peer-to-peer mode a well-formed first FPDU that is not the announced RTR: 2/0/0x07 (docs/iwarp.md).
constexpr Expect kRtrMismatch{kLlp, 0, 0x07};

struct Context {
  const Variant& v;
  std::uint32_t rwStag;
  std::uint64_t rwVa;
};

struct Attack {
  const char* name;
  std::function<Bytes(const Context&)> wire;  // what the evil initiator writes (one TCP write)
  std::function<Expect(const Variant&)> expect;
  bool needsCrc = false;  // meaningless on a stream without CRCs
  // The payload may reach the receive it is addressed to before its CRC is checked (RFC 5041 §5.3,
  // early placement inside the allowed span); that receive completes in error.
  bool mayPlaceInReceive = false;
};

Bytes fpdu(const Bytes& u, bool crc) { return EvilPeer::frame(u, crc); }

std::vector<Attack> attacks() {
  std::vector<Attack> a;
  const auto same = [](Expect e) { return [e](const Variant&) { return e; }; };
  // In peer-to-peer mode it is not the RTR; in client/server mode it is the first message and `cs`.
  const auto rtrOr = [](Expect cs) { return [cs](const Variant& v) { return v.p2p ? kRtrMismatch : cs; }; };
  a.push_back({"RuntUlpdu", [](const Context& c) { return fpdu(Bytes{0x41, 0x43, 0, 0, 0, 0}, c.v.crc); },
               same(term(kDdp, 0, 0x00))});
  a.push_back({"BadCrc",
               [](const Context& c) {
                 Bytes f = fpdu(c.v.p2p ? rtrUlpdu(c.v.rtr) : EvilPeer::untaggedSend(1, 0, Bytes(16, 0x55)), true);
                 f.back() ^= 0x01;
                 return f;
               },
               same(term(kLlp, 0, 0x02)), true, true});
  a.push_back({"DdpVersion2Untagged",
               [](const Context& c) {
                 Bytes u = EvilPeer::untaggedSend(1, 0, Bytes(8, 1));
                 u[0] = static_cast<std::uint8_t>((u[0] & ~ddp::kCtrlDvMask) | 2);
                 return fpdu(u, c.v.crc);
               },
               same(term(kDdp, 2, 0x06))});
  a.push_back({"DdpVersion0Tagged",
               [](const Context& c) {
                 Bytes u = rtrUlpdu(RtrType::Write);  // the Write RTR form with a bad version
                 u[0] = static_cast<std::uint8_t>(u[0] & ~ddp::kCtrlDvMask);
                 return fpdu(u, c.v.crc);
               },
               same(term(kDdp, 1, 0x04))});
  for (std::uint32_t qn : {3u, 7u, 0xFFFFFFFFu}) {
    a.push_back({qn == 3 ? "SendOnQn3" : qn == 7 ? "SendOnQn7" : "SendOnQnMax",
                 [qn](const Context& c) {
                   return fpdu(EvilPeer::rawUntagged(ddp::kCtrlL | ddp::kVersion, rdmap_ctrl(Opcode::Send), qn, 1, 0,
                                                     Bytes(8, 1)),
                               c.v.crc);
                 },
                 same(term(kDdp, 2, 0x01))});
  }
  for (std::uint8_t rv : {0, 2, 3}) {
    a.push_back({rv == 0 ? "RdmapVersion0" : rv == 2 ? "RdmapVersion2" : "RdmapVersion3",
                 [rv](const Context& c) {
                   const std::uint8_t ctrl = static_cast<std::uint8_t>((rv << 6) | static_cast<std::uint8_t>(Opcode::Send));
                   return fpdu(EvilPeer::rawUntagged(ddp::kCtrlL | ddp::kVersion, ctrl, ddp::kQnSend, 1, 0, Bytes(8, 1)),
                               c.v.crc);
                 },
                 same(term(kRdmap, 2, 0x05))});
  }
  static const char* const kOpNames[] = {"Opcode8", "Opcode9", "Opcode10", "Opcode11",
                                         "Opcode12", "Opcode13", "Opcode14", "Opcode15"};
  for (std::uint8_t op = 8; op <= 15; ++op) {
    a.push_back({kOpNames[op - 8],
                 [op](const Context& c) {
                   return fpdu(EvilPeer::rawUntagged(ddp::kCtrlL | ddp::kVersion, rdmap_ctrl(static_cast<Opcode>(op)),
                                                     ddp::kQnSend, 1, 0, Bytes(8, 1)),
                               c.v.crc);
                 },
                 same(term(kRdmap, 2, 0x06))});
  }
  a.push_back({"SendMsn0", [](const Context& c) { return fpdu(EvilPeer::untaggedSend(0, 0, Bytes(16, 0x55)), c.v.crc); },
               rtrOr(term(kDdp, 2, 0x03))});
  a.push_back({"SendMsnFarAhead",
               [](const Context& c) { return fpdu(EvilPeer::untaggedSend(1000, 0, Bytes(16, 0x55)), c.v.crc); },
               rtrOr(term(kDdp, 2, 0x03))});
  a.push_back({"SendMoBeyondBuffer",
               [](const Context& c) { return fpdu(EvilPeer::untaggedSend(1, 65536, Bytes(16, 0x55)), c.v.crc); },
               rtrOr(term(kDdp, 2, 0x04))});
  a.push_back({"WriteToStag0",
               [](const Context& c) { return fpdu(EvilPeer::taggedWrite(0, 0, Bytes(16, 0x55)), c.v.crc); },
               rtrOr(term(kDdp, 1, 0x00))});
  a.push_back({"WriteToInvalidStag",
               [](const Context& c) { return fpdu(EvilPeer::taggedWrite(0x7E57AB00, c.rwVa, Bytes(16, 0x55)), c.v.crc); },
               rtrOr(term(kDdp, 1, 0x00))});
  a.push_back({"ReadRequestFloodBeyondIrd",
               [](const Context& c) {
                 Bytes all;
                 for (std::uint32_t msn = 1; msn <= kIrd + 8u; ++msn) {
                   const Bytes f = fpdu(EvilPeer::readRequest(msn, ReadRequestHdr{1, 0, 0, 1, 0}), c.v.crc);
                   all.insert(all.end(), f.begin(), f.end());
                 }
                 return all;
               },
               [](const Variant& v) {
                 // The Write RTR was announced: a Read Request is no RTR. The Read RTR (windows) is the
                 // first of them; beyond the IRD the rest is refused (RDMAP 0/2/0x07).
                 if (v.p2p && v.rtr == RtrType::Write) return kRtrMismatch;
                 return term(kRdmap, 2, 0x07);
               }});
  a.push_back({"RtrWithoutLastBit",
               [](const Context& c) {
                 Bytes u = rtrUlpdu(c.v.rtr);
                 u[0] = static_cast<std::uint8_t>(u[0] & ~ddp::kCtrlL);
                 return fpdu(u, c.v.crc);
               },
               [](const Variant& v) {
                 // An RTR is a whole message (L=1). Client/server: a first Send segment with more to
                 // come is valid.
                 return v.p2p ? kRtrMismatch : Expect{kNoTerminate, 0, 0, true};
               }});
  a.push_back({"TerminateInsteadOfRtr",
               [](const Context& c) {
                 openndk::iwarp::TerminateInfo t{};
                 t.layer = openndk::iwarp::TermLayer::Rdmap;  // 0/0/0: a consumer abort
                 std::uint8_t buf[128];
                 const std::size_t n = openndk::iwarp::encode_terminate_fpdu(t, c.v.crc, buf);
                 return Bytes(buf, buf + n);
               },
               same(Expect{kNoTerminate})});
  return a;
}

const std::vector<Attack>& allAttacks() {
  static const std::vector<Attack> a = attacks();
  return a;
}

struct TunableGuard {
  explicit TunableGuard(const char* profile) { ok = openndk::base::setTunable("mpa_profile", profile); }
  ~TunableGuard() { openndk::base::resetTunables(); }
  bool ok = true;
};

class FirstFpdu : public Hard, public ::testing::WithParamInterface<std::tuple<std::size_t, std::size_t>> {};

TEST_P(FirstFpdu, TerminateAcceptFailsListenerServesNext) {
  const Variant& v = kVariants[std::get<0>(GetParam())];
  const Attack& atk = allAttacks()[std::get<1>(GetParam())];
  if (atk.needsCrc && !v.crc) GTEST_SKIP() << "no CRC negotiated in this setup";
  TunableGuard g(v.profile);
  ASSERT_TRUE(g.ok);
  const Expect want = atk.expect(v);
  if (want.notApplicable) GTEST_SKIP() << "not a hostile first FPDU in this setup";

  // The hostile initiator: a valid Request, the consumer accepts (two receives posted before).
  EvilPeer evil;
  evil.crc = v.crc;
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  ASSERT_TRUE(evil.sendAll(requestFor(v)));
  NDK_CONNECTOR* bad = connectorFrom(evil.localPort());
  ASSERT_NE(bad, nullptr) << "no connect event";
  rw.reset();
  ASSERT_NO_FATAL_FAILURE(postReceives(2, 64));
  Req accept;
  Event badDisc;
  const NTSTATUS as = bad->Dispatch->NdkAccept(bad, qp, kIrd, kIrd, nullptr, 0, onDisconnect, &badDisc, reqDone, &accept);
  ASSERT_EQ(as, STATUS_PENDING);
  auto reply = evil.readFrame();
  ASSERT_TRUE(reply.has_value()) << "no MPA Reply";
  ASSERT_EQ((*reply)[16] & mpa::kFlagR, 0) << "rejected";

  // The hostile first FPDU, in one TCP write.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(evil.sendAll(atk.wire(Context{v, remote(mrRw), rw.va()})));
  if (want.layer == kNoTerminate) evil.shutdownWrite();  // cases that end with the stream
  const Verdict verdict = evil.collect(10s);
  EXPECT_FALSE(verdict.timedOut) << "OpenNDK kept the stream open: " << verdict.describe();
  EXPECT_FALSE(verdict.garbage) << verdict.describe();
  if (want.layer == kNoTerminate) {
    EXPECT_FALSE(verdict.terminate) << verdict.describe();
  } else {
    EXPECT_TRUE(verdict.terminate) << verdict.describe();
    EXPECT_EQ(verdict.terminates, verdict.terminate ? 1 : 0) << verdict.describe();  // IWARP.md §4.5
    EXPECT_FALSE(verdict.bytesAfterTerminate) << verdict.describe();
    EXPECT_EQ(static_cast<int>(verdict.term.layer), want.layer) << verdict.describe();
    EXPECT_EQ(verdict.term.etype, want.etype) << verdict.describe();
    EXPECT_EQ(verdict.term.code, want.code) << verdict.describe();
  }
  // The accept fails, promptly, although the peer keeps its end open (the linger after our FIN
  // bounds the wait; docs/security.md).
  const NTSTATUS s = waitReq(accept, as, 10s);
  EXPECT_NE(s, STATUS_PENDING) << "NdkAccept never completed";
  EXPECT_NE(s, STATUS_SUCCESS) << "NdkAccept succeeded on a hostile first FPDU";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  evil.closeGraceful();
  EXPECT_EQ(badDisc.value(), 0) << "a disconnect event for a connection that never was";

  // Every receive posted before the accept completes exactly once, in error; nothing was placed.
  EXPECT_NE(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
  qp->Dispatch->NdkFlush(qp);
  const auto r = waitResults(2, 10s);
  EXPECT_EQ(r.size(), 2u);
  for (const auto& e : r) {
    EXPECT_EQ(e.Type, NdkOperationTypeReceive);
    EXPECT_NE(e.Status, STATUS_SUCCESS);
  }
  qp->Dispatch->NdkFlush(qp);
  EXPECT_TRUE(drain().empty()) << "a request completed twice";
  if (!atk.mayPlaceInReceive) {
    EXPECT_TRUE(rw.spanIs(kFill)) << "bytes placed by a hostile first FPDU";
  }
  expectNoStrayWrite();
  if (HasFailure()) return;

  // The listener serves the next client (on a fresh QP: the old one belongs to the dead connector).
  closeAndWait(bad);
  {
    std::lock_guard l(incoming.mu);
    std::erase(incoming.conns, bad);
    seenEvents = incoming.conns.size();
  }
  closeAndWait(qp);
  qp = nullptr;
  ASSERT_EQ(pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 16, 16, 4, 4, 256, createDone, nullptr, &qp),
            STATUS_SUCCESS);
  expectListenerStillWorks();
}

std::string caseName(const ::testing::TestParamInfo<std::tuple<std::size_t, std::size_t>>& i) {
  return std::string(kVariants[std::get<0>(i.param)].name) + "_" + allAttacks()[std::get<1>(i.param)].name;
}

INSTANTIATE_TEST_SUITE_P(AllSetups, FirstFpdu,
                         ::testing::Combine(::testing::Range<std::size_t>(0, std::size(kVariants)),
                                            ::testing::Range<std::size_t>(0, allAttacks().size())),
                         caseName);

}  // namespace
}  // namespace hardening
