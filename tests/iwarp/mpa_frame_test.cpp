// MPA Request/Reply frames: captured siw frames, all flags, revisions, limits, the MS-SMBD legacy
// header (both byte orders), and incremental parsing.
#include <gtest/gtest.h>

#include "iwarp/mpa_frame.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;
using iwtest::hex;

namespace {
MpaFrame parse(const Bytes& b, MpaKind kind, MpaDecodeOptions opt = {}) {
  MpaFrame f;
  const auto r = decode_mpa_frame(b, kind, opt, f);
  EXPECT_EQ(r.status, ParseStatus::Complete) << to_string(r.error);
  EXPECT_EQ(r.frame_len, b.size());
  return f;
}
Bytes encode(const MpaFrameSpec& s) {
  Bytes b(mpa::kMaxFrameLen);
  b.resize(encode_mpa_frame(s, b));
  return b;
}
}  // namespace

TEST(MpaFrame, CapturedSiwFrames) {
  const auto req = iwtest::read_file(iwtest::data_path("mpa-request.bin"));
  MpaFrame f = parse(req, MpaKind::Request);
  EXPECT_EQ(f.rev, 2);
  EXPECT_FALSE(f.c());
  EXPECT_TRUE(f.s());
  EXPECT_TRUE(f.has_v2);
  EXPECT_FALSE(f.v2.p2p);
  EXPECT_EQ(f.v2.ird, 1);
  EXPECT_EQ(f.v2.ord, 1);
  EXPECT_TRUE(f.consumer_pd.empty());
  // Re-encode identically.
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = 2;
  s.c = false;
  s.enhanced = true;
  s.v2 = f.v2;
  EXPECT_EQ(encode(s), req);

  f = parse(iwtest::read_file(iwtest::data_path("mpa-request-mpa_crc_required.bin")), MpaKind::Request);
  EXPECT_TRUE(f.c());
  f = parse(iwtest::read_file(iwtest::data_path("mpa-request-peer_to_peer.bin")), MpaKind::Request);
  EXPECT_TRUE(f.v2.p2p && f.v2.write_rtr && f.v2.read_rtr && !f.v2.send_rtr);
  EXPECT_EQ(f.v2.rtr_mask(), rtr_bit(RtrType::Write) | rtr_bit(RtrType::Read));
  f = parse(iwtest::read_file(iwtest::data_path("mpa-request-mpa_version.bin")), MpaKind::Request);
  EXPECT_EQ(f.rev, 1);
  EXPECT_FALSE(f.has_v2);
  EXPECT_EQ(f.pd_len, 0);
  f = parse(iwtest::read_file(iwtest::data_path("mpa-request-try_gso.bin")), MpaKind::Request);
  EXPECT_EQ(f.flags & mpa::kFlagResMask, 0x08);  // siw GSO bit: reserved, ignored
  EXPECT_TRUE(f.has_v2);
  const auto rep = iwtest::read_file(iwtest::data_path("mpa-reply.bin"));
  f = parse(rep, MpaKind::Reply);
  EXPECT_FALSE(f.r());
  s.kind = MpaKind::Reply;
  s.v2 = f.v2;
  EXPECT_EQ(encode(s), rep);
}

TEST(MpaFrame, FlagsAndPrivateData) {
  Bytes pd(300);
  for (std::size_t i = 0; i < pd.size(); ++i) pd[i] = static_cast<std::uint8_t>(i);
  for (int bits = 0; bits < 16; ++bits) {
    MpaFrameSpec s;
    s.kind = MpaKind::Reply;
    s.m = bits & 1;
    s.c = bits & 2;
    s.r = bits & 4;
    s.enhanced = bits & 8;
    s.v2.p2p = true;
    s.v2.read_rtr = true;
    s.v2.ird = 0x3FFF;
    s.v2.ord = 7;
    s.consumer_pd = ByteSpan{pd}.first(static_cast<std::size_t>(bits * 17));
    const Bytes b = encode(s);
    const MpaFrame f = parse(b, MpaKind::Reply);
    EXPECT_EQ(f.m(), s.m);
    EXPECT_EQ(f.c(), s.c);
    EXPECT_EQ(f.r(), s.r);
    EXPECT_EQ(f.has_v2, s.enhanced);
    EXPECT_EQ(Bytes(f.consumer_pd.begin(), f.consumer_pd.end()), Bytes(s.consumer_pd.begin(), s.consumer_pd.end()));
    if (s.enhanced) {
      EXPECT_EQ(f.v2.ird, 0x3FFF);
      EXPECT_EQ(f.v2.ord, 7);
    }
  }
  // R is never set in a Request
  MpaFrameSpec q;
  q.kind = MpaKind::Request;
  q.r = true;
  EXPECT_EQ(encode(q)[16] & mpa::kFlagR, 0);
  // 512 bytes of PD is the hard maximum
  Bytes big(509);
  q.enhanced = true;
  q.consumer_pd = big;
  Bytes out(mpa::kMaxFrameLen + 8);
  EXPECT_EQ(encode_mpa_frame(q, out), 0u);
  q.consumer_pd = ByteSpan{big}.first(508);
  EXPECT_EQ(encode_mpa_frame(q, out), mpa::kMaxFrameLen);
}

TEST(MpaFrame, Validation) {
  MpaFrame f;
  Bytes b = hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 04 80 01 80 01");
  EXPECT_EQ(decode_mpa_frame(b, MpaKind::Reply, {}, f).error, Error::MpaUnexpectedKey);
  Bytes bad = b;
  bad[3] = 'x';
  EXPECT_EQ(decode_mpa_frame(bad, MpaKind::Request, {}, f).error, Error::MpaBadKey);
  // bad key is detected from the first wrong byte, before 20 bytes arrive
  EXPECT_EQ(decode_mpa_frame(ByteSpan{bad}.first(4), MpaKind::Request, {}, f).status, ParseStatus::Error);
  EXPECT_EQ(decode_mpa_frame(ByteSpan{b}.first(4), MpaKind::Request, {}, f).status, ParseStatus::NeedMore);
  Bytes rev = b;
  rev[17] = 3;
  EXPECT_EQ(decode_mpa_frame(rev, MpaKind::Request, {}, f).error, Error::MpaBadRevision);
  rev[17] = 0;
  EXPECT_EQ(decode_mpa_frame(rev, MpaKind::Request, {}, f).error, Error::MpaBadRevision);
  Bytes s_short = hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 02 80 01");
  EXPECT_EQ(decode_mpa_frame(s_short, MpaKind::Request, {}, f).error, Error::MpaEnhancedTooShort);
  Bytes longpd = b;
  store_be16(&longpd[18], 513);
  EXPECT_EQ(decode_mpa_frame(longpd, MpaKind::Request, {}, f).error, Error::MpaPrivateDataTooLong);
  store_be16(&longpd[18], 257);
  MpaDecodeOptions o;
  o.max_pd = 256;  // toward siw/unknown peers
  EXPECT_EQ(decode_mpa_frame(longpd, MpaKind::Request, o, f).error, Error::MpaPrivateDataTooLong);
  EXPECT_EQ(decode_mpa_frame(longpd, MpaKind::Request, {}, f).status, ParseStatus::NeedMore);
}

TEST(MpaFrame, LegacyIrdOrdBothByteOrders) {
  // [MS-SMBD] §6.1: rev 1, IRD and ORD as the first 8 bytes of private data, network order.
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = 1;
  s.legacy = true;
  s.legacy_block = {16, 8, false};
  const Bytes extra = {1, 2, 3};
  s.consumer_pd = extra;
  Bytes b = encode(s);
  EXPECT_EQ(Bytes(b.begin() + 16, b.begin() + 28), hex("40 01 00 0b 00 00 00 10 00 00 00 08"));
  MpaDecodeOptions o;
  o.legacy_ird_ord = true;
  MpaFrame f = parse(b, MpaKind::Request, o);
  EXPECT_TRUE(f.has_legacy);
  EXPECT_FALSE(f.legacy.little_endian);
  EXPECT_EQ(f.legacy.ird, 16u);
  EXPECT_EQ(f.legacy.ord, 8u);
  EXPECT_EQ(Bytes(f.consumer_pd.begin(), f.consumer_pd.end()), extra);
  // Little-endian variant: accepted and flagged.
  const Bytes le = hex("10 00 00 00 08 00 00 00");
  std::copy(le.begin(), le.end(), b.begin() + 20);
  f = parse(b, MpaKind::Request, o);
  EXPECT_TRUE(f.legacy.little_endian);
  EXPECT_EQ(f.legacy.ird, 16u);
  EXPECT_EQ(f.legacy.ord, 8u);
  // Without the option the bytes stay consumer private data.
  f = parse(b, MpaKind::Request);
  EXPECT_FALSE(f.has_legacy);
  EXPECT_EQ(f.consumer_pd.size(), 11u);
  // Heuristic edge cases
  const Bytes both = hex("00 00 00 01 00 00 00 01");
  EXPECT_FALSE(decode_legacy_block(both.data()).little_endian);
  const Bytes garbage = hex("ff ff ff ff ff ff ff ff");
  EXPECT_FALSE(decode_legacy_block(garbage.data()).little_endian);
}

TEST(MpaFrame, ReaderNeverConsumesPastTheFrame) {
  MpaFrameSpec s;
  s.kind = MpaKind::Reply;
  s.enhanced = true;
  const Bytes pd(37, 0xEE);
  s.consumer_pd = pd;
  Bytes b = encode(s);
  const std::size_t frame_len = b.size();
  b.insert(b.end(), {0x00, 0x0e, 0xc1, 0x40});  // an FPDU right behind the Reply (siw responder)
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{20}, b.size()}) {
    MpaFrameReader r(MpaKind::Reply, {});
    std::size_t pos = 0;
    MpaFrameReader::Result res{ParseStatus::NeedMore, 0, Error::None};
    while (pos < b.size() && res.status == ParseStatus::NeedMore) {
      res = r.feed(ByteSpan{b}.subspan(pos, std::min(chunk, b.size() - pos)));
      pos += res.consumed;
    }
    EXPECT_EQ(res.status, ParseStatus::Complete);
    EXPECT_EQ(pos, frame_len) << chunk;
    EXPECT_EQ(r.frame().consumer_pd.size(), 37u);
    EXPECT_EQ(r.feed(b).consumed, 0u);  // done: consumes nothing more
  }
}
