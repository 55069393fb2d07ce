// DDP/RDMAP decode validation and the reassembly state.
#include <gtest/gtest.h>

#include "iwarp/ddp.h"
#include "iwarp/errors.h"
#include "iwarp/rdmap.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;

namespace {
Error decode(const Bytes& ulpdu, Segment& s) {
  const std::size_t hl = ulpdu.size() >= 2 ? segment_header_len(ulpdu[0], ulpdu[1], static_cast<std::uint32_t>(ulpdu.size())) : ulpdu.size();
  return decode_segment(ByteSpan{ulpdu}.first(hl), static_cast<std::uint32_t>(ulpdu.size()), s);
}
Bytes untagged(std::uint8_t ddp_ctrl, std::uint8_t rctrl, std::uint32_t qn, std::uint32_t msn, std::size_t extra = 0) {
  Bytes b(18 + extra, 0);
  b[0] = ddp_ctrl;
  b[1] = rctrl;
  store_be32(&b[6], qn);
  store_be32(&b[10], msn);
  return b;
}
}  // namespace

TEST(DdpRdmap, AllOpcodesDecode) {
  Segment s;
  for (Opcode op : {Opcode::Send, Opcode::SendInvalidate, Opcode::SendSe, Opcode::SendSeInvalidate}) {
    ASSERT_EQ(decode(untagged(0x41, rdmap_ctrl(op), 0, 1, 10), s), Error::None);
    EXPECT_EQ(s.opcode, op);
    EXPECT_EQ(s.payload_len, 10u);
  }
  Bytes w(14 + 5, 0);
  w[0] = 0xC1;
  w[1] = rdmap_ctrl(Opcode::Write);
  ASSERT_EQ(decode(w, s), Error::None);
  EXPECT_EQ(s.payload_len, 5u);
  w[1] = rdmap_ctrl(Opcode::ReadResponse);
  ASSERT_EQ(decode(w, s), Error::None);
  EXPECT_EQ(s.opcode, Opcode::ReadResponse);
  ASSERT_EQ(decode(untagged(0x41, rdmap_ctrl(Opcode::ReadRequest), 1, 1, 28), s), Error::None);
  EXPECT_EQ(s.payload_len, 0u);
  ASSERT_EQ(decode(untagged(0x41, rdmap_ctrl(Opcode::Terminate), 2, 1, 4), s), Error::None);
}

TEST(DdpRdmap, RejectionsMapToTheRightError) {
  Segment s;
  // RFC 7306 opcodes and reserved opcodes
  for (std::uint8_t op = 8; op <= 0xB; ++op)
    EXPECT_EQ(decode(untagged(0x41, static_cast<std::uint8_t>(0x40 | op), 0, 1, 8), s), Error::RdmapUnsupportedOpcode);
  for (std::uint8_t op = 0xC; op <= 0xF; ++op)
    EXPECT_EQ(decode(untagged(0x41, static_cast<std::uint8_t>(0x40 | op), 0, 1), s), Error::RdmapUnexpectedOpcode);
  // tagged opcode on untagged model and vice versa
  EXPECT_EQ(decode(untagged(0x41, rdmap_ctrl(Opcode::Write), 0, 1), s), Error::RdmapUnexpectedOpcode);
  Bytes t(14, 0);
  t[0] = 0xC1;
  t[1] = rdmap_ctrl(Opcode::Send);
  EXPECT_EQ(decode(t, s), Error::RdmapUnexpectedOpcode);
  // versions
  t[0] = 0xC2;
  EXPECT_EQ(decode(t, s), Error::DdpTaggedBadVersion);
  EXPECT_EQ(decode(untagged(0x40, 0x43, 0, 1), s), Error::DdpUntaggedBadVersion);
  EXPECT_EQ(decode(untagged(0x41, 0x03, 0, 1), s), Error::RdmapBadVersion);
  // QN
  EXPECT_EQ(decode(untagged(0x41, 0x43, 1, 1), s), Error::DdpInvalidQn);
  EXPECT_EQ(decode(untagged(0x41, 0x41, 0, 1, 28), s), Error::DdpInvalidQn);
  EXPECT_EQ(decode(untagged(0x41, 0x47, 0, 1, 4), s), Error::DdpInvalidQn);
  // Read Request length
  EXPECT_EQ(decode(untagged(0x41, 0x41, 1, 1, 29), s), Error::RdmapReadRequestLength);
  EXPECT_EQ(decode(untagged(0x41, 0x41, 1, 1, 20), s), Error::RdmapReadRequestLength);
  // Terminate too short / too long
  EXPECT_EQ(decode(untagged(0x41, 0x47, 2, 1, 2), s), Error::RdmapTerminateMalformed);
  EXPECT_EQ(decode(untagged(0x41, 0x47, 2, 1, 60), s), Error::RdmapTerminateMalformed);
  // Too short for the header
  EXPECT_EQ(decode(Bytes{0x41, 0x43, 0, 0}, s), Error::UlpduTooShort);
}

TEST(DdpRdmap, RxStateUntaggedSequencing) {
  DdpRxState st;
  DdpHeader h;
  h.qn = 0;
  h.msn = 1;
  h.mo = 0;
  h.last = false;
  EXPECT_EQ(st.on_untagged(h, 100), Error::None);
  h.mo = 100;
  h.last = true;
  EXPECT_EQ(st.on_untagged(h, 50), Error::None);
  EXPECT_EQ(st.queue(0).next_msn, 2u);
  h.msn = 3;
  h.mo = 0;
  EXPECT_EQ(st.on_untagged(h, 1), Error::DdpMsnRange);
  h.msn = 2;
  h.mo = 4;
  EXPECT_EQ(st.on_untagged(h, 1), Error::DdpInvalidMo);
  h.mo = 0;
  h.last = false;
  EXPECT_EQ(st.on_untagged(h, 10), Error::None);
  h.mo = 11;
  EXPECT_EQ(st.on_untagged(h, 10), Error::DdpInvalidMo);
  h.qn = 5;
  EXPECT_EQ(st.on_untagged(h, 10), Error::DdpInvalidQn);
  // Read Requests on QN 1 have their own MSN, starting at 1
  DdpHeader r;
  r.qn = 1;
  r.msn = 1;
  r.last = true;
  EXPECT_EQ(st.on_untagged(r, 0), Error::None);
}

TEST(DdpRdmap, RxStateTaggedContinuity) {
  DdpRxState st;
  DdpHeader h;
  h.tagged = true;
  h.stag = 7;
  h.to = 1000;
  h.last = false;
  EXPECT_EQ(st.on_tagged(h, 100), Error::None);
  h.to = 1100;
  h.stag = 8;
  EXPECT_EQ(st.on_tagged(h, 100), Error::TaggedStagChanged);
  h.stag = 7;
  h.to = 1101;
  EXPECT_EQ(st.on_tagged(h, 100), Error::TaggedToDiscontinuous);
  h.to = 1100;
  h.last = true;
  EXPECT_EQ(st.on_tagged(h, 100), Error::None);
  EXPECT_FALSE(st.tagged_in_progress());
  h.to = UINT64_MAX - 10;
  EXPECT_EQ(st.on_tagged(h, 100), Error::TaggedWrap);
}

TEST(DdpRdmap, SegmenterTaggedAdvancesTo) {
  Segmenter sg(make_write(0xAB, 0x1000, 3000), 1000);
  SegmentPlan p;
  std::uint64_t to = 0x1000;
  std::uint32_t total = 0;
  int n = 0;
  while (sg.next(p)) {
    DdpHeader h;
    ASSERT_TRUE(parse_ddp_header(ByteSpan{p.header.data(), p.header_len}, h));
    EXPECT_EQ(h.to, to);
    EXPECT_EQ(h.stag, 0xABu);
    EXPECT_EQ(h.last, p.last);
    EXPECT_LE(p.payload_len, 1000u - 14u);
    to += p.payload_len;
    total += p.payload_len;
    ++n;
  }
  EXPECT_EQ(total, 3000u);
  EXPECT_EQ(n, 4);
  Segmenter z(make_send(Opcode::SendSe, 9, 0), 1442);
  ASSERT_TRUE(z.next(p));
  EXPECT_TRUE(p.last);
  EXPECT_EQ(p.payload_len, 0u);
  EXPECT_FALSE(z.next(p));
}

TEST(DdpRdmap, InboundReadsLimitedByIrd) {
  DdpRxState st;
  st.set_ird(2);
  DdpHeader r;
  r.qn = 1;
  r.last = true;
  for (std::uint32_t msn = 1; msn <= 2; ++msn) {
    r.msn = msn;
    EXPECT_EQ(st.on_untagged(r, 0), Error::None);
  }
  r.msn = 3;
  EXPECT_EQ(st.on_untagged(r, 0), Error::RdmapTooManyReads);
  st.read_response_done();
  EXPECT_EQ(st.on_untagged(r, 0), Error::None);
  EXPECT_EQ(st.reads_outstanding(), 2u);
  EXPECT_EQ(terminate_for(Error::RdmapTooManyReads)->code, 0x07);
}
