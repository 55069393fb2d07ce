#include "iwarp/ddp.h"

#include <algorithm>

namespace openndk::iwarp {

bool parse_ddp_header(ByteSpan u, DdpHeader& h) noexcept {
  if (u.size() < 2) return false;
  const std::uint8_t c = u[0];
  h.tagged = (c & ddp::kCtrlT) != 0;
  h.last = (c & ddp::kCtrlL) != 0;
  h.version = c & ddp::kCtrlDvMask;
  h.rsvd_ulp = u[1];
  if (h.tagged) {
    if (u.size() < ddp::kTaggedHdrLen) return false;
    h.stag = load_be32(&u[2]);
    h.to = load_be64(&u[6]);
    h.rsvd_ulp2 = h.qn = h.msn = h.mo = 0;
  } else {
    if (u.size() < ddp::kUntaggedHdrLen) return false;
    h.rsvd_ulp2 = load_be32(&u[2]);
    h.qn = load_be32(&u[6]);
    h.msn = load_be32(&u[10]);
    h.mo = load_be32(&u[14]);
    h.stag = 0;
    h.to = 0;
  }
  return true;
}

std::size_t encode_ddp_header(const DdpHeader& h, MutByteSpan o) noexcept {
  const std::size_t n = h.length();
  if (o.size() < n) return 0;
  o[0] = static_cast<std::uint8_t>((h.tagged ? ddp::kCtrlT : 0) | (h.last ? ddp::kCtrlL : 0) |
                                   (h.version & ddp::kCtrlDvMask));
  o[1] = h.rsvd_ulp;
  if (h.tagged) {
    store_be32(&o[2], h.stag);
    store_be64(&o[6], h.to);
  } else {
    store_be32(&o[2], h.rsvd_ulp2);
    store_be32(&o[6], h.qn);
    store_be32(&o[10], h.msn);
    store_be32(&o[14], h.mo);
  }
  return n;
}

Segmenter::Segmenter(const DdpMessage& msg, std::uint32_t mulpdu) noexcept : msg_(msg) {
  const std::uint32_t hdr = msg.tagged ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
  // MULPDU is the ULPDU limit (RFC 5044 §4.5): header + payload ≤ MULPDU. Clamp to the RFC range.
  const std::uint32_t m = std::clamp(mulpdu, mpa::kMulpduMin, mpa::kMulpduMax);
  max_payload_ = m - hdr;
}

std::uint32_t Segmenter::segment_count() const noexcept {
  return msg_.length == 0 ? 1u : (msg_.length + max_payload_ - 1) / max_payload_;
}

bool Segmenter::next(SegmentPlan& p) noexcept {
  if (done_) return false;
  const std::uint32_t remaining = msg_.length - offset_;
  const std::uint32_t n = std::min(remaining, max_payload_);
  p.payload_offset = offset_;
  p.payload_len = n;
  p.last = (n == remaining);
  DdpHeader h;
  h.tagged = msg_.tagged;
  h.last = p.last;
  h.version = ddp::kVersion;
  h.rsvd_ulp = msg_.rdmap_ctrl;
  if (msg_.tagged) {
    h.stag = msg_.stag;
    h.to = msg_.to + offset_;  // RFC 5041 §5.2: TO advances by bytes already sent
  } else {
    h.rsvd_ulp2 = msg_.inv_stag;
    h.qn = msg_.qn;
    h.msn = msg_.msn;
    h.mo = offset_;  // MO = offset of this segment's first payload byte
  }
  p.header_len = static_cast<std::uint8_t>(encode_ddp_header(h, p.header));
  offset_ += n;
  if (p.last) done_ = true;
  return true;
}

std::size_t slice_sges(std::span<const ByteSpan> sges, std::uint64_t offset, std::uint64_t len,
                       std::span<ByteSpan> out) noexcept {
  std::size_t used = 0;
  for (const ByteSpan& s : sges) {
    if (len == 0) break;
    if (offset >= s.size()) {
      offset -= s.size();
      continue;
    }
    const std::uint64_t take = std::min<std::uint64_t>(s.size() - offset, len);
    if (used == out.size()) return 0;
    out[used++] = s.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(take));
    len -= take;
    offset = 0;
  }
  return len == 0 ? used : 0;
}

Error DdpRxState::on_untagged(const DdpHeader& h, std::uint32_t payload_len) noexcept {
  if (h.qn >= ddp::kQueueCount) return Error::DdpInvalidQn;  // RFC 5041 §7.1 check 1
  Queue& q = q_[h.qn];
  if (!q.in_message) {
    // A new message must carry the next MSN (siw: exact match) and start at MO 0.
    if (h.msn != q.next_msn) return Error::DdpMsnRange;
    if (h.mo != 0) return Error::DdpInvalidMo;
    q.cur_msn = h.msn;
    q.next_mo = 0;
  } else {
    // Never two interleaved messages on one queue: a continuing segment repeats the MSN.
    if (h.msn != q.cur_msn) return Error::DdpMsnRange;
    if (h.mo != q.next_mo) return Error::DdpInvalidMo;
  }
  if (payload_len > UINT32_MAX - q.next_mo) return Error::DdpMessageTooLong;  // message must be < 2^32
  if (h.qn == ddp::kQnReadRequest) {
    if (reads_outstanding_ >= ird_) return Error::RdmapTooManyReads;
    ++reads_outstanding_;
  }
  q.next_mo += payload_len;
  if (h.last) {
    q.in_message = false;
    q.next_msn = q.cur_msn + 1;  // wraps 0xFFFFFFFF -> 0 (RFC 5041 §5.1)
  } else {
    q.in_message = true;
  }
  return Error::None;
}

Error DdpRxState::on_tagged(const DdpHeader& h, std::uint32_t payload_len) noexcept {
  if (tagged_in_) {
    if (h.stag != tagged_stag_) return Error::TaggedStagChanged;
    if (h.to != tagged_next_to_) return Error::TaggedToDiscontinuous;
  }
  if (payload_len != 0 && payload_len > UINT64_MAX - h.to) return Error::TaggedWrap;
  tagged_in_ = !h.last;
  tagged_stag_ = h.stag;
  tagged_next_to_ = h.to + payload_len;
  return Error::None;
}

}  // namespace openndk::iwarp
