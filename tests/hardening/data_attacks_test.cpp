// Evil peer against a connected OpenNDK QP (passive side): malformed FPDUs and hostile RDMA
// accesses. Expected reactions: IWARP.md §4.4 (Terminate layer/etype/code) and §5 (security
// checks); for each, the QP is in error afterwards (R81), posted receives are flushed exactly once
// (R77), ConnectionError moved (OID_NDK_STATISTICS), and no byte lands outside what was allowed
// (guard pages + canaries).
#include <chrono>

#include "hardening_fixture.h"
#include "iwarp/wire.h"

namespace hardening {
namespace {

using openndk::iwarp::Opcode;
using openndk::iwarp::ReadRequestHdr;
using openndk::iwarp::rdmap_ctrl;
namespace ddp = openndk::iwarp::ddp;

constexpr int kRdmap = 0, kDdp = 1, kLlp = 2;

class Data : public Hard {
 protected:
  void SetUp() override {
    Hard::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(acceptEvil(evil));
  }
  EvilPeer evil;
};

// ---- harness sanity: a well-behaved peer can do what it is allowed to --------------------------

TEST_F(Data, Sanity_WriteSendAndReadWithinRights) {
  postReceives(1, 64);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), rw.va() + 100, Bytes(32, 0x77))));
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(8, 0x42))));
  auto r = waitResults(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Status, STATUS_SUCCESS);
  EXPECT_EQ(rw.span[100], 0x77);
  EXPECT_EQ(rw.span[131], 0x77);
  EXPECT_EQ(rw.span[132], kFill);
  // Read back 16 bytes of the read-only region through a Read Request.
  std::memset(ro.span, 0x3C, 16);
  ReadRequestHdr rr{0x1234, 0, 16, remote(mrRo), ro.va()};
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, rr)));
  evil.shutdownWrite();
  const Verdict v = evil.collect(10s);
  EXPECT_FALSE(v.terminate) << v.describe();
  ASSERT_FALSE(v.opcodes.empty()) << v.describe();
  EXPECT_EQ(v.opcodes.back(), Opcode::ReadResponse);
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s));
  EXPECT_EQ(rw.brokenCanary(), -1);
  ro.reset();
  expectNoStrayWrite();
}

// ---- MPA framing (IWARP.md §4.4 rows 1, 4) --------------------------------------------------------

TEST_F(Data, BadCrc_Terminate_2_0_02) {
  postReceives(2);
  Bytes f = EvilPeer::frame(EvilPeer::untaggedSend(1, 0, Bytes(40, 0x55)));
  f.back() ^= 0x01;
  ASSERT_TRUE(evil.sendAll(f));
  expectTerminated(evil, kLlp, 0, 0x02, 2);
}

TEST_F(Data, TruncatedFpduThenFin_ClosesWithoutTerminate) {
  postReceives(1);
  Bytes f = EvilPeer::frame(EvilPeer::untaggedSend(1, 0, Bytes(200, 0x55)));
  f.resize(f.size() / 2);
  ASSERT_TRUE(evil.sendAll(f));
  evil.shutdownWrite();  // LLP lost: no Terminate can be sent meaningfully, just close
  const Verdict v = evil.collect(10s);
  EXPECT_FALSE(v.timedOut) << v.describe();
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s));
  EXPECT_EQ(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(waitResults(1).size(), 1u);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_TRUE(drain().empty());
  expectNoStrayWrite();
}

TEST_F(Data, LengthShorterThanHeader_Terminate_1_0_00) {
  // ULPDU_Length 6 with a valid CRC: no DDP header fits (UlpduTooShort).
  ASSERT_TRUE(evil.sendFpdu(Bytes{0x41, 0x43, 0, 0, 0, 0}));
  expectTerminated(evil, kDdp, 0, 0x00);
}

TEST_F(Data, LengthThatLies_LongerThanDataThenReset) {
  // Announces 60000 bytes, delivers 100, then RST: the stream dies, nothing is placed.
  postReceives(1, 256);
  Bytes u = EvilPeer::taggedWrite(remote(mrRw), rw.va(), Bytes(100, 0x99));
  Bytes f(2 + u.size());
  openndk::iwarp::store_be16(f.data(), 60000);
  std::memcpy(f.data() + 2, u.data(), u.size());
  ASSERT_TRUE(evil.sendAll(f));
  evil.closeReset();
  EXPECT_TRUE(disc.wait(1, 15s));
  EXPECT_EQ(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(waitResults(1).size(), 1u);
  // The Write's STag/TO/length (60000 - 14 > span) fail the bounds check before any byte lands.
  EXPECT_TRUE(rw.spanIs(kFill));
  expectNoStrayWrite();
}

TEST_F(Data, RstMidFpdu_NoCrashNoStrayWrite) {
  postReceives(2, 4096);
  Bytes f = EvilPeer::frame(EvilPeer::taggedWrite(remote(mrRw), rw.va() + 8, Bytes(4000, 0x66)));
  f.resize(1500);
  ASSERT_TRUE(evil.sendAll(f));
  evil.closeReset();
  EXPECT_TRUE(disc.wait(1, 15s));
  EXPECT_EQ(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_EQ(waitResults(2).size(), 2u);
  qp->Dispatch->NdkFlush(qp);
  EXPECT_TRUE(drain().empty());
  // Early placement inside the allowed span is legal (RFC 5041 §5.3); outside it nothing.
  expectNoStrayWrite();
}

// ---- DDP header (IWARP.md §4.4 rows 5, 11–14) -------------------------------------------------------

TEST_F(Data, DdpTaggedBadVersion_Terminate_1_1_04) {
  Bytes u = EvilPeer::taggedWrite(remote(mrRw), rw.va(), Bytes(8, 1));
  u[0] = static_cast<std::uint8_t>((u[0] & ~ddp::kCtrlDvMask) | 2);
  ASSERT_TRUE(evil.sendFpdu(u));
  expectTerminated(evil, kDdp, 1, 0x04);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, DdpUntaggedBadVersion_Terminate_1_2_06) {
  postReceives(1);
  Bytes u = EvilPeer::untaggedSend(1, 0, Bytes(8, 1));
  u[0] = static_cast<std::uint8_t>((u[0] & ~ddp::kCtrlDvMask) | 0);
  ASSERT_TRUE(evil.sendFpdu(u));
  expectTerminated(evil, kDdp, 2, 0x06, 1);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, RdmapBadVersion_Terminate_0_2_05) {
  postReceives(1);
  Bytes u = EvilPeer::untaggedSend(1, 0, Bytes(8, 1));
  u[1] = static_cast<std::uint8_t>((2u << 6) | static_cast<std::uint8_t>(Opcode::Send));
  ASSERT_TRUE(evil.sendFpdu(u));
  expectTerminated(evil, kRdmap, 2, 0x05, 1);
}

TEST_F(Data, InvalidQn_Terminate_1_2_01) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::rawUntagged(ddp::kCtrlL | ddp::kVersion, rdmap_ctrl(Opcode::Send), 9, 1, 0, Bytes(8, 1))));
  expectTerminated(evil, kDdp, 2, 0x01, 1);
}

TEST_F(Data, MsnOutOfRange_Terminate_1_2_03) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(7, 0, Bytes(8, 1))));
  expectTerminated(evil, kDdp, 2, 0x03, 1);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, InvalidMo_Terminate_1_2_04) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 100, Bytes(8, 1))));
  expectTerminated(evil, kDdp, 2, 0x04, 1);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, SendWithoutReceive_Terminate_1_2_02) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(8, 1))));
  expectTerminated(evil, kDdp, 2, 0x02);
}

TEST_F(Data, SendLongerThanReceive_Terminate_1_2_05) {
  postReceives(1, 16);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(64, 1))));
  // The receive itself completes with STATUS_BUFFER_OVERFLOW (docs/decisions.md "Data path").
  expectTerminated(evil, kDdp, 2, 0x05, 1);
  EXPECT_EQ(rw.span[16], kFill);
}

// ---- tagged placement (IWARP.md §5.2) ---------------------------------------------------------------

TEST_F(Data, WriteInvalidStag_Terminate_1_1_00) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(0xDEAD0000u | (remote(mrRw) & 0xFF), rw.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x00);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, WriteWrongKey_Terminate_1_1_00) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw) ^ 0x5Au, rw.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x00);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, WritePrivilegedToken_Terminate_1_1_00) {
  UINT32 priv = 0;
  pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd, &priv);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(priv, rw.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x00);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, WriteOtherPd_Terminate_1_1_02) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrOther), other.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x02);
  EXPECT_TRUE(other.spanIs(kFill));
}

TEST_F(Data, WriteWithoutRemoteWrite_Terminate_1_1_00) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRo), ro.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x00);
  EXPECT_TRUE(ro.spanIs(kFill));
}

TEST_F(Data, WriteOnePastEnd_Terminate_1_1_01) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), rw.va() + kSpan - 8, Bytes(9, 1))));
  expectTerminated(evil, kDdp, 1, 0x01);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, WriteBelowBase_Terminate_1_1_01) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), rw.va() - 4, Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x01);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, WriteWrappingTo_Terminate_1_1_03) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), ~std::uint64_t{0} - 3, Bytes(16, 1))));
  expectTerminated(evil, kDdp, 1, 0x03);
  EXPECT_TRUE(rw.spanIs(kFill));
}

TEST_F(Data, SecondSegmentOutOfBounds_Terminate_1_1_01) {
  // §5.2 step 8: every segment is checked, not only the first.
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), rw.va() + kSpan - 16, Bytes(16, 2), false)));
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(remote(mrRw), rw.va() + kSpan, Bytes(16, 3))));
  expectTerminated(evil, kDdp, 1, 0x01);
  EXPECT_EQ(rw.span[kSpan - 1], 2);  // the first segment was legal
}

TEST_F(Data, WriteAfterDeregister_Terminate_1_1_00) {
  const UINT32 stag = remote(mrWo);
  Req r;
  ASSERT_EQ(waitReq(r, mrWo->Dispatch->NdkDeregisterMr(mrWo, reqDone, &r)), STATUS_SUCCESS);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::taggedWrite(stag, wo.va(), Bytes(8, 1))));
  expectTerminated(evil, kDdp, 1, 0x00);
  EXPECT_TRUE(wo.spanIs(kFill));
}

TEST_F(Data, UnsolicitedReadResponse_Terminate_1_1_00) {
  Bytes u = EvilPeer::taggedWrite(1, 0, Bytes(8, 1));
  u[1] = rdmap_ctrl(Opcode::ReadResponse);
  ASSERT_TRUE(evil.sendFpdu(u));
  expectTerminated(evil, kDdp, 1, 0x00);
}

// ---- Read Requests (IWARP.md §4.4 "Read Request source", §5.3) --------------------------------------

TEST_F(Data, ReadInvalidStag_Terminate_0_1_00) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, {0x1234, 0, 16, remote(mrRo) ^ 0x77u, ro.va()})));
  expectTerminated(evil, kRdmap, 1, 0x00);
}

TEST_F(Data, ReadWithoutRemoteRead_Terminate_0_1_02) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, {0x1234, 0, 16, remote(mrWo), wo.va()})));
  expectTerminated(evil, kRdmap, 1, 0x02);
}

TEST_F(Data, ReadOtherPd_Terminate_0_1_03) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, {0x1234, 0, 16, remote(mrOther), other.va()})));
  expectTerminated(evil, kRdmap, 1, 0x03);
}

TEST_F(Data, ReadBeyondEnd_Terminate_0_1_01) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, {0x1234, 0, 64, remote(mrRo), ro.va() + kSpan - 32})));
  expectTerminated(evil, kRdmap, 1, 0x01);
}

TEST_F(Data, ReadWrapping_Terminate_0_1_04) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(1, {0x1234, 0, 64, remote(mrRo), ~std::uint64_t{0} - 8})));
  expectTerminated(evil, kRdmap, 1, 0x04);
}

TEST_F(Data, ReadBadMsn_Terminate_1_2_03) {
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::readRequest(5, {0x1234, 0, 16, remote(mrRo), ro.va()})));
  expectTerminated(evil, kDdp, 2, 0x03);
}

// F1 (docs/security.md, fixed): inbound IRD is enforced. RFC 5040 §8.1.1(11) and IWARP.md §4.4 want
// Terminate 0/2/0x07 once a peer has more Read Requests outstanding than the negotiated IRD (4 here).
// A Read Response counts against the IRD until it is entirely handed to TCP, so the test makes the
// responses back up deterministically: the evil peer does not read while it sends 2048 requests of
// 8 KiB (16 MiB of responses, far more than OpenNDK's largest send buffer, tcp_wmem max 4 MiB, plus
// our receive window, which does not grow while we do not read). Only then does it read (the
// responses that fit, then exactly one Terminate). All requests go out in one write so they arrive
// back to back. (Shrinking SO_RCVBUF is not needed and makes loopback crawl: window < MSS.)
// This also found an engine bug: after the failure the engine kept parsing input behind it and a
// second failure dropped the queued Terminate, leaving the stream open (fixed in engine::Connection).
TEST_F(Data, ReadsBeyondIrd_Terminate_0_2_07) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Under the sanitizers the engine parses so slowly that each Read Response is handed to TCP
  // before the next request is parsed, the IRD is never exceeded and the stream just stalls until
  // the peer reads (seen in the clean-clone ASan run of 2026-11-21): the check is exercised by the
  // release suite only, until the test can make the responses back up independently of speed.
  GTEST_SKIP() << "IRD overflow depends on parse speed outrunning transmit; release build only";
#endif
  Bytes all;
  for (std::uint32_t i = 1; i <= 2048; ++i) {
    const Bytes f = EvilPeer::frame(EvilPeer::readRequest(i, {0x1000 + i, 0, 8192, remote(mrRo), ro.va()}), evil.crc);
    all.insert(all.end(), f.begin(), f.end());
  }
  // OpenNDK stops reading at the Terminate, so the tail of this write may not be consumed: whether
  // sendAll reports it all written does not matter.
  (void)evil.sendAll(all);
  expectTerminated(evil, kRdmap, 2, 0x07);
}

// ---- Send with Invalidate (IWARP.md §3.6, §4.4) ----------------------------------------------------

TEST_F(Data, SendInvalidateUnknownStag_Terminate_0_2_09) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(8, 1), true, Opcode::SendInvalidate, 0xBAD00042u)));
  expectTerminated(evil, kRdmap, 2, 0x09, 1);
}

TEST_F(Data, SendInvalidateOtherPd_Terminate_0_1_09) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(8, 1), true, Opcode::SendInvalidate, remote(mrOther))));
  expectTerminated(evil, kRdmap, 1, 0x09, 1);
  // The other PD's region is still registered and usable.
  EXPECT_NE(remote(mrOther), 0u);
}

TEST_F(Data, SendInvalidateNonFastMr_Terminate_0_2_09) {
  // A normally registered MR cannot be invalidated remotely (only fast-register MRs and MWs).
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(8, 1), true, Opcode::SendSeInvalidate, remote(mrRw))));
  expectTerminated(evil, kRdmap, 2, 0x09, 1);
}

// ---- opcodes (IWARP.md §4.4 "Unknown / unsupported opcode") -----------------------------------------

class Opcodes : public Data, public ::testing::WithParamInterface<int> {};
TEST_P(Opcodes, UnknownOrRfc7306_Terminate_0_2_06) {
  postReceives(1);
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::rawUntagged(ddp::kCtrlL | ddp::kVersion,
                                                  static_cast<std::uint8_t>((1u << 6) | GetParam()), 0, 1, 0,
                                                  Bytes(28, 0))));
  expectTerminated(evil, kRdmap, 2, 0x06, 1);
  EXPECT_TRUE(rw.spanIs(kFill));
}
INSTANTIATE_TEST_SUITE_P(Hardening, Opcodes, ::testing::Values(0x8, 0x9, 0xA, 0xB, 0xC, 0xF),
                         [](const auto& i) { return "op" + std::to_string(i.param); });

// ---- peer Terminate, floods ------------------------------------------------------------------------

TEST_F(Data, PeerTerminate_ClosesWithoutTerminateBack) {
  openndk::iwarp::TerminateInfo t;
  ASSERT_TRUE(openndk::iwarp::make_terminate(openndk::iwarp::Error::LocalCatastrophic, {}, t));
  std::uint8_t buf[96];
  const std::size_t n = openndk::iwarp::encode_terminate_fpdu(t, true, buf);
  ASSERT_GT(n, 0u);
  postReceives(1);
  ASSERT_TRUE(evil.sendAll(buf, n));
  expectTerminated(evil, -1, 0, 0, 1);  // RFC 5040 §5.4: no Terminate answers a Terminate
}

TEST_F(Data, FloodOfTinyFpdus_BoundedAndStillServing) {
  // 50 000 zero-length Writes (valid per RFC 5041 §5.2: never validated) in ~1 MB, then a Send:
  // the engine works through them and the Send still completes. "Bounded" is liveness, not
  // speed: the bound is generous (a stuck or livelocked engine never completes the Send; a slow
  // machine or a sanitizer build still does); the time taken is recorded, not asserted.
  postReceives(1, 64);
  Bytes one = EvilPeer::frame(EvilPeer::taggedWrite(0x0BADBAD0u, 0xFFFFFFFFFFFFull, {}));
  Bytes all;
  all.reserve(one.size() * 50000);
  for (int i = 0; i < 50000; ++i) all.insert(all.end(), one.begin(), one.end());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(evil.sendAll(all));
  ASSERT_TRUE(evil.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(4, 0xEF))));
  auto r = waitResults(1, 45s);  // within the test's 60 s ctest timeout
  ASSERT_EQ(r.size(), 1u) << "the Send behind the flood never completed";
  EXPECT_EQ(r[0].Status, STATUS_SUCCESS);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("flood_seconds", std::to_string(took));
  EXPECT_EQ(rw.span[0], 0xEF);
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s));
  expectNoStrayWrite();
}

TEST_F(Data, FloodOfTinySendsWithoutReceives_OneTerminate) {
  Bytes all;
  for (std::uint32_t i = 1; i <= 5000; ++i) {
    Bytes f = EvilPeer::frame(EvilPeer::untaggedSend(i, 0, {}));
    all.insert(all.end(), f.begin(), f.end());
  }
  (void)evil.sendAll(all);  // may fail half-way once OpenNDK closes: fine
  expectTerminated(evil, kDdp, 2, 0x02);
}

}  // namespace
}  // namespace hardening
