// Every test vector of IWARP.md §8, encoded by our code and compared byte for byte, then decoded.
#include <gtest/gtest.h>

#include <numeric>

#include "iwarp/crc32c.h"
#include "iwarp/fpdu.h"
#include "iwarp/mpa_frame.h"
#include "iwarp/rdmap.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;
using iwtest::hex;

namespace {
Bytes frame_ulpdu(const Bytes& ulpdu, bool crc = true) {
  Bytes out(mpa::fpdu_len(static_cast<std::uint32_t>(ulpdu.size())));
  EXPECT_EQ(frame_copy(ulpdu, crc, out), out.size());
  return out;
}
Bytes frame_segment(const SegmentPlan& p, ByteSpan payload) {
  Bytes out(mpa::fpdu_len(p.header_len + p.payload_len));
  const ByteSpan parts[] = {payload.subspan(p.payload_offset, p.payload_len)};
  EXPECT_EQ(frame_copy(ByteSpan{p.header.data(), p.header_len}, parts, true, out), out.size());
  return out;
}
DecodedFpdu decode_ok(const Bytes& b) {
  DecodedFpdu d;
  EXPECT_EQ(decode_fpdu(b, true, d), Error::None);
  EXPECT_EQ(d.fpdu_len, b.size());
  return d;
}
}  // namespace

TEST(Vectors, Crc32cCheckValue) {  // §8.1
  const std::string s = "123456789";
  const ByteSpan in{reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  EXPECT_EQ(crc32c(in), 0xE3069283u);
  std::uint8_t w[4];
  store_crc(w, crc32c(in));
  EXPECT_EQ(Bytes(w, w + 4), hex("83 92 06 e3"));
  const Bytes zeros(32, 0);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  // Incremental over any split gives the same value.
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    Crc32c c;
    c.update(in.first(cut));
    c.update(in.subspan(cut));
    EXPECT_EQ(c.value(), 0xE3069283u);
  }
}

TEST(Vectors, Rfc5044Figure5And6) {  // §8.2, §8.3 (markers on: CRC coverage includes the marker)
  Bytes f5 = hex("00 00 00 00 00 2a 41 43 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00");
  f5.resize(48, 0);
  EXPECT_EQ(crc32c(f5), 0x83992352u);
  Bytes f6 = hex("00 2a 41 43 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 14");
  f6.resize(48, 0);
  EXPECT_EQ(crc32c(f6), 0x98589284u);
}

TEST(Vectors, MpaV2RequestAndReplies) {  // §8.4
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = 2;
  s.c = true;
  s.enhanced = true;
  s.v2.p2p = true;
  s.v2.write_rtr = true;
  s.v2.ird = 1;
  s.v2.ord = 1;
  std::array<std::uint8_t, 64> buf{};
  std::size_t n = encode_mpa_frame(s, buf);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + static_cast<long>(n)),
            hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 04 80 01 80 01"));
  s.c = false;
  n = encode_mpa_frame(s, buf);
  EXPECT_EQ(buf[16], 0x10);
  s.c = true;
  s.v2.read_rtr = true;
  n = encode_mpa_frame(s, buf);
  EXPECT_EQ(Bytes(buf.begin() + 16, buf.begin() + static_cast<long>(n)), hex("50 02 00 04 80 01 c0 01"));
  // Replies
  MpaFrameSpec r = s;
  r.kind = MpaKind::Reply;
  r.v2.read_rtr = false;
  n = encode_mpa_frame(r, buf);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + static_cast<long>(n)),
            hex("4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65 50 02 00 04 80 01 80 01"));
  r.v2.write_rtr = false;
  r.v2.read_rtr = true;
  n = encode_mpa_frame(r, buf);
  EXPECT_EQ(Bytes(buf.begin() + 16, buf.begin() + static_cast<long>(n)), hex("50 02 00 04 80 01 40 01"));
  r.v2.write_rtr = true;
  r.v2.read_rtr = false;
  r.r = true;
  n = encode_mpa_frame(r, buf);
  EXPECT_EQ(Bytes(buf.begin() + 16, buf.begin() + static_cast<long>(n)), hex("70 02 00 04 80 01 80 01"));
  // and decode it back
  MpaFrame f;
  const auto p = decode_mpa_frame({buf.data(), n}, MpaKind::Reply, {}, f);
  ASSERT_EQ(p.status, ParseStatus::Complete);
  EXPECT_TRUE(f.r() && f.c() && f.has_v2 && f.v2.p2p && f.v2.write_rtr && !f.v2.read_rtr);
  EXPECT_EQ(f.v2.ird, 1);
  EXPECT_EQ(f.v2.ord, 1);
}

TEST(Vectors, RtrZeroLengthWrite) {  // §8.5
  std::array<std::uint8_t, kMaxHeaderLen> u{};
  const std::size_t n = encode_rtr_ulpdu(RtrType::Write, u);
  const Bytes f = frame_ulpdu(Bytes(u.begin(), u.begin() + static_cast<long>(n)));
  EXPECT_EQ(f, hex("00 0e c1 40 00 00 00 01 00 00 00 00 00 00 00 00 eb d3 4c 5f"));
  EXPECT_EQ(crc32c(ByteSpan{f}.first(16)), 0x5F4CD3EBu);
  const auto d = decode_ok(f);
  EXPECT_TRUE(is_rtr(d.seg, RtrType::Write));
  EXPECT_EQ(d.seg.ddp.stag, 1u);
}

TEST(Vectors, RtrWithoutLastBitIsNoRtr) {  // issue 12: an RTR is a whole message (L=1)
  for (RtrType t : {RtrType::Write, RtrType::Read}) {
    std::array<std::uint8_t, kMaxHeaderLen> u{};
    const std::size_t n = encode_rtr_ulpdu(t, u);
    u[0] = static_cast<std::uint8_t>(u[0] & ~ddp::kCtrlL);
    const auto d = decode_ok(frame_ulpdu(Bytes(u.begin(), u.begin() + static_cast<long>(n))));
    EXPECT_FALSE(is_rtr(d.seg, t)) << static_cast<int>(t);
  }
}

TEST(Vectors, RtrZeroLengthRead) {  // §8.6
  std::array<std::uint8_t, kMaxHeaderLen> u{};
  std::size_t n = encode_rtr_ulpdu(RtrType::Read, u);
  Bytes f = frame_ulpdu(Bytes(u.begin(), u.begin() + static_cast<long>(n)));
  EXPECT_EQ(f, hex("00 2e 41 41 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00"
                   "00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01"
                   "00 00 00 00 00 00 00 00 27 db d7 e7"));
  auto d = decode_ok(f);
  EXPECT_TRUE(is_rtr(d.seg, RtrType::Read));
  // siw variant: SinkSTag 0
  n = encode_read_request(1, ReadRequestHdr{0, 0, 0, 1, 0}, u);
  f = frame_ulpdu(Bytes(u.begin(), u.begin() + static_cast<long>(n)));
  EXPECT_EQ(Bytes(f.end() - 4, f.end()), hex("ba 10 e3 c9"));
  // its zero-length Read Response
  Segmenter sg(make_read_response(1, 0, 0), 1442);
  SegmentPlan p;
  ASSERT_TRUE(sg.next(p));
  EXPECT_TRUE(p.last);
  EXPECT_EQ(frame_segment(p, {}), hex("00 0e c1 42 00 00 00 01 00 00 00 00 00 00 00 00 21 a3 e8 3e"));
  EXPECT_FALSE(sg.next(p));
}

TEST(Vectors, SendHelloWithPadding) {  // §8.7
  const Bytes payload = {'h', 'e', 'l', 'l', 'o'};
  Segmenter sg(make_send(Opcode::Send, 1, 5), 1442);
  SegmentPlan p;
  ASSERT_TRUE(sg.next(p));
  const Bytes f = frame_segment(p, payload);
  EXPECT_EQ(f, hex("00 17 41 43 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00"
                   "68 65 6c 6c 6f 00 00 00 b9 90 b1 0c"));
  const auto d = decode_ok(f);
  EXPECT_EQ(d.seg.opcode, Opcode::Send);
  EXPECT_EQ(d.seg.ddp.msn, 1u);
  EXPECT_EQ(Bytes(d.payload.begin(), d.payload.end()), payload);
}

TEST(Vectors, ReadRequest4096) {  // §8.8
  std::array<std::uint8_t, kMaxHeaderLen> u{};
  const ReadRequestHdr rr{0x1234, 0x1000, 4096, 0xABCD0001, 0x00007F0000001000ull};
  const std::size_t n = encode_read_request(1, rr, u);
  const Bytes f = frame_ulpdu(Bytes(u.begin(), u.begin() + static_cast<long>(n)));
  EXPECT_EQ(f, hex("00 2e 41 41 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00"
                   "00 00 12 34 00 00 00 00 00 00 10 00 00 00 10 00 ab cd 00 01"
                   "00 00 7f 00 00 00 10 00 60 5c 8d 2e"));
  const auto d = decode_ok(f);
  EXPECT_EQ(d.seg.opcode, Opcode::ReadRequest);
  EXPECT_EQ(d.seg.read, rr);
}

TEST(Vectors, SendWithInvalidatePing) {  // §8.9
  const Bytes payload = {'p', 'i', 'n', 'g'};
  Segmenter sg(make_send(Opcode::SendInvalidate, 2, 4, 0x12345678), 1442);
  SegmentPlan p;
  ASSERT_TRUE(sg.next(p));
  const Bytes f = frame_segment(p, payload);
  EXPECT_EQ(f, hex("00 16 41 44 12 34 56 78 00 00 00 00 00 00 00 02 00 00 00 00 70 69 6e 67 3e 72 53 ce"));
  const auto d = decode_ok(f);
  EXPECT_EQ(d.seg.inv_stag(), 0x12345678u);
}

TEST(Vectors, TerminateInvalidStag) {  // §8.10
  // The offending segment: 16-byte Write to STag 0xDEADBE00, TO 0x2000.
  DdpHeader h;
  h.tagged = true;
  h.last = true;
  h.version = 1;
  h.rsvd_ulp = rdmap_ctrl(Opcode::Write);
  h.stag = 0xDEADBE00;
  h.to = 0x2000;
  std::array<std::uint8_t, 18> raw{};
  encode_ddp_header(h, raw);
  TerminateInfo t;
  ASSERT_TRUE(make_terminate(Error::TaggedInvalidStag, {ByteSpan{raw.data(), 14}, 30, {}}, t));
  EXPECT_EQ(t.control_word(), 0x1100C000u);
  std::array<std::uint8_t, 128> out{};
  const std::size_t n = encode_terminate_fpdu(t, true, out);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<long>(n)),
            hex("00 26 41 47 00 00 00 00 00 00 00 02 00 00 00 01 00 00 00 00"
                "11 00 c0 00 00 1e c1 40 de ad be 00 00 00 00 00 00 00 20 00"
                "69 05 b3 27"));
  const auto d = decode_ok(Bytes(out.begin(), out.begin() + static_cast<long>(n)));
  EXPECT_EQ(d.seg.opcode, Opcode::Terminate);
  TerminateInfo back;
  ASSERT_EQ(parse_terminate(ByteSpan{out}.subspan(2, 38), back), Error::None);
  EXPECT_EQ(back.layer, TermLayer::Ddp);
  EXPECT_EQ(back.etype, 1);
  EXPECT_EQ(back.code, 0);
  EXPECT_EQ(back.ddp_segment_length, 30);
  EXPECT_EQ(back.ddp_header_len, 14);
}

TEST(Vectors, Send2048SplitForEmss1448) {  // §8.11
  EXPECT_EQ(mpa::mulpdu_from_emss(1448), 1442u);
  Bytes payload(2048);
  std::iota(payload.begin(), payload.end(), std::uint8_t{0});
  Segmenter sg(make_send(Opcode::Send, 1, 2048), mpa::mulpdu_from_emss(1448));
  EXPECT_EQ(sg.segment_count(), 2u);
  SegmentPlan p;
  ASSERT_TRUE(sg.next(p));
  Bytes f = frame_segment(p, payload);
  EXPECT_EQ(f.size(), 1448u);
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 4), hex("05 a2 01 43"));
  EXPECT_EQ(Bytes(f.end() - 4, f.end()), hex("36 6f 6c d8"));
  EXPECT_EQ(p.payload_len, 1424u);
  ASSERT_TRUE(sg.next(p));
  f = frame_segment(p, payload);
  EXPECT_EQ(f.size(), 648u);
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 4), hex("02 82 41 43"));
  EXPECT_EQ(Bytes(f.begin() + 16, f.begin() + 20), hex("00 00 05 90"));
  EXPECT_EQ(Bytes(f.end() - 4, f.end()), hex("94 8e 4f 1f"));
  EXPECT_FALSE(sg.next(p));
}
