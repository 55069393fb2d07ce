#include "iwarp/fpdu.h"

#include <algorithm>
#include <cstring>

namespace openndk::iwarp {

void Deframer::reset(DeframerConfig cfg) noexcept { *this = Deframer(cfg); }

ByteSpan Deframer::ddp_header_bytes() const noexcept {
  const std::size_t n = seg_.ddp.tagged ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
  if (hdr_have_ < mpa::kLenFieldLen + n) return {};
  return {hdr_.data() + mpa::kLenFieldLen, n};
}

RxStep Deframer::fail(Error e, std::size_t consumed) noexcept {
  state_ = RxState::Failed;
  error_ = e;
  return {RxEvent::Error, consumed, {}, 0, e};
}

void Deframer::start_payload() noexcept {
  payload_done_ = 0;
  const std::uint32_t hdr_len = static_cast<std::uint32_t>(hdr_need_ - mpa::kLenFieldLen);
  payload_total_ = ulpdu_len_ - hdr_len;
  trl_have_ = 0;
  trl_need_ = mpa::pad_len(ulpdu_len_) + mpa::kCrcLen;
  state_ = payload_total_ ? RxState::Payload : RxState::Trailer;
}

RxStep Deframer::feed(ByteSpan in) noexcept {
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case RxState::Failed:
        return {RxEvent::Error, pos, {}, 0, error_};

      case RxState::Length: {
        if (pos == in.size()) return {RxEvent::NeedMore, pos, {}, 0, Error::None};
        if (hdr_have_ == 0) {
          crc_.reset();
          pending_ = Error::None;
        }
        const std::size_t take = std::min(in.size() - pos, mpa::kLenFieldLen - hdr_have_);
        std::memcpy(&hdr_[hdr_have_], &in[pos], take);
        hdr_have_ += take;
        pos += take;
        if (hdr_have_ < mpa::kLenFieldLen) continue;
        ulpdu_len_ = load_be16(hdr_.data());
        if (ulpdu_len_ > cfg_.max_ulpdu) {
          // The length itself cannot be trusted: we cannot find the CRC, so fail at once.
          crc_.update({hdr_.data(), mpa::kLenFieldLen});
          return fail(Error::DdpMessageTooLong, pos);
        }
        // First learn the two control bytes, then the rest of the header (at most the ULPDU).
        hdr_need_ = mpa::kLenFieldLen + std::min<std::size_t>(2, ulpdu_len_);
        state_ = RxState::Header;
        continue;
      }

      case RxState::Header: {
        if (hdr_have_ < hdr_need_) {
          if (pos == in.size()) return {RxEvent::NeedMore, pos, {}, 0, Error::None};
          const std::size_t take = std::min(in.size() - pos, hdr_need_ - hdr_have_);
          std::memcpy(&hdr_[hdr_have_], &in[pos], take);
          hdr_have_ += take;
          pos += take;
          if (hdr_have_ < hdr_need_) continue;
        }
        if (hdr_need_ == mpa::kLenFieldLen + 2 && ulpdu_len_ > 2) {
          // Control bytes known: extend to the full header length of this segment type.
          const std::size_t full =
              mpa::kLenFieldLen + segment_header_len(hdr_[2], hdr_[3], ulpdu_len_);
          if (full > hdr_need_) {
            hdr_need_ = full;
            continue;
          }
        }
        crc_.update({hdr_.data(), hdr_have_});
        const ByteSpan h{hdr_.data() + mpa::kLenFieldLen, hdr_have_ - mpa::kLenFieldLen};
        const Error e = decode_segment(h, ulpdu_len_, seg_);
        start_payload();
        if (e != Error::None) {
          // Skip the rest of the FPDU first: a CRC error takes precedence over what the header says.
          pending_ = e;
          continue;
        }
        return {RxEvent::Header, pos, {}, 0, Error::None};
      }

      case RxState::Payload: {
        if (pos == in.size()) return {RxEvent::NeedMore, pos, {}, 0, Error::None};
        const std::size_t take = std::min<std::size_t>(in.size() - pos, payload_total_ - payload_done_);
        const ByteSpan chunk = in.subspan(pos, take);
        crc_.update(chunk);
        const std::uint32_t off = payload_done_;
        payload_done_ += static_cast<std::uint32_t>(take);
        pos += take;
        if (payload_done_ == payload_total_) state_ = RxState::Trailer;
        if (pending_ != Error::None) continue;  // bad header: discard silently
        return {RxEvent::Payload, pos, chunk, off, Error::None};
      }

      case RxState::Trailer: {
        if (pos == in.size()) return {RxEvent::NeedMore, pos, {}, 0, Error::None};
        const std::size_t take = std::min(in.size() - pos, trl_need_ - trl_have_);
        std::memcpy(&trl_[trl_have_], &in[pos], take);
        trl_have_ += take;
        pos += take;
        if (trl_have_ < trl_need_) continue;
        const std::size_t pad = trl_need_ - mpa::kCrcLen;
        crc_.update({trl_.data(), pad});  // pad is CRC-covered; its value is ignored (RFC 5044 §4.1)
        if (cfg_.crc && load_crc(&trl_[pad]) != crc_.value()) return fail(Error::CrcMismatch, pos);
        if (pending_ != Error::None) return fail(pending_, pos);
        hdr_have_ = 0;
        state_ = RxState::Length;
        ++fpdus_;
        return {RxEvent::End, pos, {}, 0, Error::None};
      }
    }
  }
}

bool Deframer::payload_placed(ByteSpan placed) noexcept {
  if (state_ != RxState::Payload || placed.size() > payload_total_ - payload_done_) return false;
  crc_.update(placed);
  payload_done_ += static_cast<std::uint32_t>(placed.size());
  if (payload_done_ == payload_total_) state_ = RxState::Trailer;
  return true;
}

Error frame_gather(ByteSpan header, std::span<const ByteSpan> payload, bool crc, TxFpdu& out) noexcept {
  if (header.empty() || header.size() > kMaxHeaderLen) return Error::UlpduTooShort;
  std::uint64_t plen = 0;
  for (const ByteSpan& s : payload) plen += s.size();
  const std::uint64_t ulpdu = header.size() + plen;
  if (ulpdu > mpa::kMaxUlpdu) return Error::DdpMessageTooLong;
  const auto u = static_cast<std::uint32_t>(ulpdu);
  store_be16(out.head.data(), static_cast<std::uint16_t>(u));
  std::memcpy(out.head.data() + mpa::kLenFieldLen, header.data(), header.size());
  out.head_len = static_cast<std::uint16_t>(mpa::kLenFieldLen + header.size());
  const std::uint32_t pad = mpa::pad_len(u);
  std::memset(out.tail.data(), 0, pad);  // RFC 5044 §4.1: pad MUST be zero
  std::uint32_t value = 0;
  if (crc) {
    Crc32c c;
    c.update(out.head_bytes());
    for (const ByteSpan& s : payload) c.update(s);
    c.update({out.tail.data(), pad});
    value = c.value();
  }
  store_crc(out.tail.data() + pad, value);  // zero when CRC is off, as siw does
  out.tail_len = static_cast<std::uint8_t>(pad + mpa::kCrcLen);
  out.total_len = mpa::fpdu_len(u);
  return Error::None;
}

std::size_t frame_copy(ByteSpan header, std::span<const ByteSpan> payload, bool crc, MutByteSpan out) noexcept {
  TxFpdu f;
  if (frame_gather(header, payload, crc, f) != Error::None || out.size() < f.total_len) return 0;
  std::size_t at = 0;
  std::memcpy(out.data(), f.head.data(), f.head_len);
  at += f.head_len;
  for (const ByteSpan& s : payload) {
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
    at += s.size();
  }
  std::memcpy(out.data() + at, f.tail.data(), f.tail_len);
  return at + f.tail_len;
}

Error decode_fpdu(ByteSpan fpdu, bool crc, DecodedFpdu& out) noexcept {
  out = DecodedFpdu{};
  if (fpdu.size() < mpa::kLenFieldLen) return Error::UlpduTooShort;
  const std::uint32_t u = load_be16(fpdu.data());
  const std::uint32_t total = mpa::fpdu_len(u);
  if (fpdu.size() < total) return Error::UlpduTooShort;
  out.fpdu_len = total;
  const std::uint32_t pad = mpa::pad_len(u);
  out.wire_crc = load_crc(&fpdu[mpa::kLenFieldLen + u + pad]);
  if (crc && out.wire_crc != crc32c(fpdu.first(mpa::kLenFieldLen + u + pad))) return Error::CrcMismatch;
  const ByteSpan ulpdu = fpdu.subspan(mpa::kLenFieldLen, u);
  const std::size_t hl = ulpdu.size() >= 2 ? segment_header_len(ulpdu[0], ulpdu[1], u) : ulpdu.size();
  const Error e = decode_segment(ulpdu.first(hl), u, out.seg);
  if (e != Error::None) return e;
  out.header = ulpdu.first(out.seg.header_len);
  out.payload = ulpdu.subspan(out.seg.header_len);
  return Error::None;
}

}  // namespace openndk::iwarp
