// Regression tests built from bytes captured in the siw interop matrix (docs/interop.md, Findings).
//
// Case interop.siw.ndk.guest-client.default.S65535_C100_crc1_p2p1 (NDK server, guest `rping -c`,
// MPA CRC on, P2P on), capture of 2026-11-21: the provider RDMA-Writes rping's buffer, then proves
// the Write with a zero-length Read Request of its own (R75 [D]). siw 6.1 answered that Read Request
// with a Read Response carrying 16 stale bytes (rping's last Send: buffer address, rkey, size),
// because a Read Request that waits in siw's inbound read queue is served with the scatter entry of
// the work request siw transmitted before (siw_activate_tx copies sge[0] only when the request had
// a length, siw_qp_sq_proc_tx then forces num_sge = 1). We answered with a Terminate (DDP tagged,
// base or bounds) and the Write completed with STATUS_CONNECTION_ABORTED after 7 of 100 pings.
// Fixed by iwarp::fit_read_response: payload on a zero-length Read Response is dropped.
#include <gtest/gtest.h>

#include <algorithm>

#include "iwarp/ddp.h"
#include "iwarp/errors.h"
#include "iwarp/fpdu.h"
#include "iwarp/profiles.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;
using iwtest::hex;

namespace {

// Our zero-length confirmation Read Request (QN 1, MSN 16, sink STag 0x10, TO 0, size 0, source
// STag 1, TO 0), CRC on.
const Bytes kOurReadRequest = hex(
    "002e 4141 00000000 00000001 00000010 00000000"
    "00000010 0000000000000000 00000000 00000001 0000000000000000"
    "627081ca");
// siw's answer: Read Response to sink STag 0x10, TO 0, with 16 bytes of payload, CRC on.
const Bytes kSiwReadResponse = hex(
    "001e c142 00000010 0000000000000000"
    "00005584 99cce4c0 7d7dce00 0000ffff"
    "69c35a43");
const Bytes kStalePayload = hex("00005584 99cce4c0 7d7dce00 0000ffff");
// The Terminate we used to send back (DDP layer, tagged buffer error, base or bounds violation).
const Bytes kOldTerminate = hex(
    "0026 4147 00000000 00000002 00000001 00000000 1101c000"
    "001e c142 00000010 0000000000000000"
    "dfbadc46");

}  // namespace

TEST(SiwInterop, ZeroLengthConfirmationReadRequestDecodes) {
  DecodedFpdu d;
  ASSERT_EQ(decode_fpdu(kOurReadRequest, true, d), Error::None);
  EXPECT_EQ(d.seg.opcode, Opcode::ReadRequest);
  EXPECT_EQ(d.seg.ddp.qn, 1u);
  EXPECT_EQ(d.seg.ddp.msn, 16u);
  EXPECT_EQ(d.seg.read.sink_stag, 0x10u);
  EXPECT_EQ(d.seg.read.size, 0u);
  EXPECT_EQ(d.seg.read.src_stag, 1u);  // never STag 0 (docs/interop.md)
  EXPECT_EQ(d.seg.read.src_to, 0u);
}

// The captured frame is a well-formed Read Response with a good CRC: nothing below RDMAP can
// refuse it; only the length check against our zero-length sink did.
TEST(SiwInterop, StaleReadResponseIsWellFormed) {
  DecodedFpdu d;
  ASSERT_EQ(decode_fpdu(kSiwReadResponse, true, d), Error::None);
  EXPECT_EQ(d.seg.opcode, Opcode::ReadResponse);
  EXPECT_TRUE(d.seg.tagged());
  EXPECT_TRUE(d.seg.last());
  EXPECT_EQ(d.seg.ddp.stag, 0x10u);
  EXPECT_EQ(d.seg.ddp.to, 0u);
  EXPECT_EQ(d.seg.payload_len, 16u);
  EXPECT_EQ(Bytes(d.payload.begin(), d.payload.end()), kStalePayload);

  // Streaming, one byte at a time, as the engine sees it: header, payload, End (good CRC), and the
  // DDP receive state accepts the tagged segment.
  Deframer df({true, mpa::kMaxUlpdu});
  DdpRxState ddp;
  Bytes payload;
  bool ended = false;
  for (std::size_t i = 0; i < kSiwReadResponse.size(); ++i) {
    ByteSpan in(&kSiwReadResponse[i], 1);
    while (!in.empty()) {
      const RxStep s = df.feed(in);
      in = in.subspan(s.consumed);
      ASSERT_NE(s.event, RxEvent::Error) << static_cast<int>(s.error);
      if (s.event == RxEvent::Header) {
        EXPECT_EQ(ddp.on_tagged(df.current().ddp, df.current().payload_len), Error::None);
      }
      if (s.event == RxEvent::Payload) payload.insert(payload.end(), s.payload.begin(), s.payload.end());
      if (s.event == RxEvent::End) ended = true;
      if (s.consumed == 0) break;
    }
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(payload, kStalePayload);
}

// The fix: a Read Response for a zero-length sink is accepted and its payload dropped (R75 [D]:
// the response still proves the Writes before it); real sinks keep the bounds check.
TEST(SiwInterop, FitReadResponseDropsPayloadOfZeroLengthRead) {
  DecodedFpdu d;
  ASSERT_EQ(decode_fpdu(kSiwReadResponse, true, d), Error::None);
  EXPECT_EQ(fit_read_response(0, d.seg.ddp.to, d.seg.payload_len), ReadResponseFit::Drop);
  EXPECT_EQ(fit_read_response(0, 0, 0), ReadResponseFit::Drop);           // the normal zero-length answer
  EXPECT_EQ(fit_read_response(0, 1000, 65535), ReadResponseFit::Drop);    // siw's stale sge can be any Read/Send size
  EXPECT_EQ(fit_read_response(16, 0, 16), ReadResponseFit::Place);
  EXPECT_EQ(fit_read_response(64, 48, 16), ReadResponseFit::Place);
  EXPECT_EQ(fit_read_response(8, 0, 16), ReadResponseFit::Refuse);        // longer than a real sink
  EXPECT_EQ(fit_read_response(16, 8, 16), ReadResponseFit::Refuse);       // beyond its end
  EXPECT_EQ(fit_read_response(16, UINT64_MAX, 2), ReadResponseFit::Refuse);  // wrap
}

// What the provider answered before the fix: a DDP tagged base-or-bounds Terminate quoting siw's
// header. Kept decodable so that a regression shows up as this exact frame in a capture.
TEST(SiwInterop, OldTerminateWasTaggedBoundsError) {
  DecodedFpdu d;
  ASSERT_EQ(decode_fpdu(kOldTerminate, true, d), Error::None);
  ASSERT_EQ(d.seg.opcode, Opcode::Terminate);
  const Bytes ulpdu(kOldTerminate.begin() + 2, kOldTerminate.begin() + 2 + d.seg.ulpdu_len);
  TerminateInfo t;
  ASSERT_EQ(parse_terminate(ulpdu, t), Error::None);
  EXPECT_EQ(t.layer, TermLayer::Ddp);
  EXPECT_EQ(t.etype, 1u);  // tagged buffer error
  EXPECT_EQ(t.code, 1u);   // base or bounds violation
  EXPECT_TRUE(t.m);
  EXPECT_TRUE(t.d);
  EXPECT_EQ(t.ddp_segment_length, 0x1eu);
  EXPECT_TRUE(std::equal(t.ddp_header.begin(), t.ddp_header.begin() + t.ddp_header_len, kSiwReadResponse.begin() + 2));
}

// First-FPDU pacing (docs/decisions.md "Interop"): only the siw-compatible profile paces its first
// FPDU as initiator (siw 6.1 passive-side race); default and windows send at once.
TEST(SiwInterop, FirstFpduPacingOnlyInSiwCompatibleProfile) {
  EXPECT_EQ(profile_siw_compatible().first_fpdu_delay_ms, 500u);
  EXPECT_EQ(profile_default().first_fpdu_delay_ms, 0u);
  EXPECT_EQ(profile_windows().first_fpdu_delay_ms, 0u);
}
