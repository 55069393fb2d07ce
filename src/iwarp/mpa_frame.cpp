#include "iwarp/mpa_frame.h"

#include <algorithm>
#include <cstring>

namespace openndk::iwarp {

MpaLegacyBlock decode_legacy_block(const std::uint8_t* p) noexcept {
  MpaLegacyBlock b;
  const std::uint32_t be_ird = load_be32(p), be_ord = load_be32(p + 4);
  const std::uint32_t le_ird = load_le32(p), le_ord = load_le32(p + 4);
  auto plausible = [](std::uint32_t v) { return v >= 1 && v <= 0xFFFF; };
  // [MS-SMBD] §6.1 says both values are > 0. Real depths are small; a byte-swapped small number is
  // ≥ 0x01000000 in network order. Prefer network order whenever it is plausible.
  if (!(plausible(be_ird) && plausible(be_ord)) && plausible(le_ird) && plausible(le_ord)) {
    b.ird = le_ird;
    b.ord = le_ord;
    b.little_endian = true;
  } else {
    b.ird = be_ird;
    b.ord = be_ord;
  }
  return b;
}

MpaParse decode_mpa_frame(ByteSpan in, MpaKind expected, const MpaDecodeOptions& opt, MpaFrame& f) noexcept {
  MpaParse res;
  // Check the key as soon as its bytes arrive, so garbage is refused without waiting for 20 bytes.
  const std::size_t key_have = std::min(in.size(), mpa::kKeyLen);
  const bool is_req = std::memcmp(in.data(), mpa::kRequestKey.data(), key_have) == 0;
  const bool is_rep = std::memcmp(in.data(), mpa::kReplyKey.data(), key_have) == 0;
  if (!is_req && !is_rep) return {ParseStatus::Error, 0, Error::MpaBadKey};
  if (in.size() < mpa::kFrameHeaderLen) return res;
  const MpaKind kind = is_req ? MpaKind::Request : MpaKind::Reply;
  if (kind != expected) return {ParseStatus::Error, 0, Error::MpaUnexpectedKey};  // RFC 5044 §7.1.2 rule 8
  f = MpaFrame{};
  f.kind = kind;
  f.flags = in[16];
  f.rev = in[17];
  f.pd_len = load_be16(&in[18]);
  res.frame_len = mpa::kFrameHeaderLen + f.pd_len;
  if (f.rev < opt.min_rev || f.rev > opt.max_rev) return {ParseStatus::Error, res.frame_len, Error::MpaBadRevision};
  const std::uint16_t limit = std::min<std::uint16_t>(opt.max_pd, mpa::kMaxPrivateData);
  if (f.pd_len > limit) return {ParseStatus::Error, res.frame_len, Error::MpaPrivateDataTooLong};
  if (in.size() < res.frame_len) return res;
  f.private_data = in.subspan(mpa::kFrameHeaderLen, f.pd_len);
  f.consumer_pd = f.private_data;
  if (f.rev >= mpa::kRev2 && f.s()) {
    // RFC 6581 §5: S=1 means the PD starts with the 4-byte block; siw rejects shorter PD.
    if (f.pd_len < mpa::kV2BlockLen) return {ParseStatus::Error, res.frame_len, Error::MpaEnhancedTooShort};
    const std::uint16_t w0 = load_be16(&f.private_data[0]), w1 = load_be16(&f.private_data[2]);
    f.has_v2 = true;
    f.v2.p2p = w0 & mpa::kV2A;
    f.v2.send_rtr = w0 & mpa::kV2B;
    f.v2.ird = w0 & mpa::kV2IrdOrdMask;
    f.v2.write_rtr = w1 & mpa::kV2C;
    f.v2.read_rtr = w1 & mpa::kV2D;
    f.v2.ord = w1 & mpa::kV2IrdOrdMask;
    f.consumer_pd = f.private_data.subspan(mpa::kV2BlockLen);
  } else if (opt.legacy_ird_ord && f.pd_len >= mpa::kLegacyBlockLen) {
    f.has_legacy = true;
    f.legacy = decode_legacy_block(f.private_data.data());
    f.consumer_pd = f.private_data.subspan(mpa::kLegacyBlockLen);
  }
  res.status = ParseStatus::Complete;
  return res;
}

std::size_t encode_mpa_frame(const MpaFrameSpec& s, MutByteSpan out) noexcept {
  const bool v2 = s.enhanced && s.rev >= mpa::kRev2;
  const std::size_t pd = (v2 ? mpa::kV2BlockLen : 0) + (s.legacy ? mpa::kLegacyBlockLen : 0) + s.consumer_pd.size();
  if (pd > mpa::kMaxPrivateData || out.size() < mpa::kFrameHeaderLen + pd) return 0;
  const auto& key = s.kind == MpaKind::Request ? mpa::kRequestKey : mpa::kReplyKey;
  std::memcpy(out.data(), key.data(), key.size());
  // Reserved bits are always 0 (siw's GSO bit stays off, IWARP.md §1.5). R only in Replies.
  out[16] = static_cast<std::uint8_t>((s.m ? mpa::kFlagM : 0) | (s.c ? mpa::kFlagC : 0) |
                                      (s.r && s.kind == MpaKind::Reply ? mpa::kFlagR : 0) | (v2 ? mpa::kFlagS : 0));
  out[17] = s.rev;
  store_be16(&out[18], static_cast<std::uint16_t>(pd));
  std::size_t at = mpa::kFrameHeaderLen;
  if (v2) {
    const std::uint16_t w0 = static_cast<std::uint16_t>((s.v2.p2p ? mpa::kV2A : 0) | (s.v2.send_rtr ? mpa::kV2B : 0) |
                                                        (s.v2.ird & mpa::kV2IrdOrdMask));
    const std::uint16_t w1 = static_cast<std::uint16_t>((s.v2.write_rtr ? mpa::kV2C : 0) |
                                                        (s.v2.read_rtr ? mpa::kV2D : 0) | (s.v2.ord & mpa::kV2IrdOrdMask));
    store_be16(&out[at], w0);
    store_be16(&out[at + 2], w1);
    at += mpa::kV2BlockLen;
  }
  if (s.legacy) {
    store_be32(&out[at], s.legacy_block.ird);  // [MS-SMBD] §6.1: we always send network order
    store_be32(&out[at + 4], s.legacy_block.ord);
    at += mpa::kLegacyBlockLen;
  }
  if (!s.consumer_pd.empty()) std::memcpy(&out[at], s.consumer_pd.data(), s.consumer_pd.size());
  return at + s.consumer_pd.size();
}

MpaFrameReader::Result MpaFrameReader::feed(ByteSpan in) noexcept {
  if (status_ != ParseStatus::NeedMore) return {status_, 0, error_};
  // Take only what the frame can still need: the header first, then exactly PD_Length bytes.
  std::size_t want = mpa::kFrameHeaderLen;
  if (have_ >= mpa::kFrameHeaderLen) want = mpa::kFrameHeaderLen + load_be16(&buf_[18]);
  std::size_t consumed = 0;
  for (;;) {
    const std::size_t take = std::min(in.size() - consumed, want - have_);
    std::memcpy(&buf_[have_], in.data() + consumed, take);
    have_ += take;
    consumed += take;
    const MpaParse p = decode_mpa_frame({buf_.data(), have_}, expected_, opt_, frame_);
    if (p.status == ParseStatus::Error) {
      status_ = ParseStatus::Error;
      error_ = p.error;
      return {status_, consumed, error_};
    }
    if (p.status == ParseStatus::Complete) {
      status_ = ParseStatus::Complete;
      return {status_, consumed, Error::None};
    }
    if (p.frame_len > want) {  // header complete: now we know how much PD to take (≤ 512, checked)
      want = p.frame_len;
      continue;
    }
    return {ParseStatus::NeedMore, consumed, Error::None};
  }
}

}  // namespace openndk::iwarp
