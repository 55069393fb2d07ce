#include "iwarp/rdmap.h"

#include <algorithm>

namespace openndk::iwarp {

void encode_read_request_hdr(const ReadRequestHdr& r, std::uint8_t* o) noexcept {
  store_be32(o + 0, r.sink_stag);
  store_be64(o + 4, r.sink_to);
  store_be32(o + 12, r.size);
  store_be32(o + 16, r.src_stag);
  store_be64(o + 20, r.src_to);
}

ReadRequestHdr parse_read_request_hdr(const std::uint8_t* i) noexcept {
  return {load_be32(i), load_be64(i + 4), load_be32(i + 12), load_be32(i + 16), load_be64(i + 20)};
}

namespace {
constexpr std::size_t kTermMaxLen = ddp::kUntaggedHdrLen + rdmap::kTermCtrlLen + rdmap::kTermSegLenLen +
                                    ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen;
static_assert(kTermMaxLen == kMaxHeaderLen);
}  // namespace

std::size_t segment_header_len(std::uint8_t ddp_ctrl, std::uint8_t rctrl, std::uint32_t ulpdu_len) noexcept {
  std::size_t n;
  if (ddp_ctrl & ddp::kCtrlT) {
    n = ddp::kTaggedHdrLen;
  } else {
    const auto op = static_cast<Opcode>(rctrl & rdmap::kOpcodeMask);
    if (op == Opcode::ReadRequest)
      n = ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen;
    else if (op == Opcode::Terminate)
      n = kTermMaxLen;  // read the whole Terminate body (≤ 70 bytes) as header
    else
      n = ddp::kUntaggedHdrLen;
  }
  return std::min<std::size_t>(n, ulpdu_len);
}

Error decode_segment(ByteSpan hdr, std::uint32_t ulpdu_len, Segment& s) noexcept {
  s = Segment{};
  s.ulpdu_len = static_cast<std::uint16_t>(ulpdu_len);
  if (ulpdu_len < 2 || hdr.size() < 2) return Error::UlpduTooShort;
  const std::uint8_t dctrl = hdr[0];
  const bool tagged = (dctrl & ddp::kCtrlT) != 0;
  // RFC 5041 §7.2: a DDP version we do not know means we cannot trust the layout at all.
  if ((dctrl & ddp::kCtrlDvMask) != ddp::kVersion)
    return tagged ? Error::DdpTaggedBadVersion : Error::DdpUntaggedBadVersion;
  const std::size_t ddp_len = tagged ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
  if (ulpdu_len < ddp_len || hdr.size() < ddp_len) return Error::UlpduTooShort;
  (void)parse_ddp_header(hdr, s.ddp);
  const std::uint8_t rctrl = s.ddp.rsvd_ulp;
  s.rdmap_version = static_cast<std::uint8_t>((rctrl & rdmap::kRvMask) >> rdmap::kRvShift);
  if (s.rdmap_version != rdmap::kVersion) return Error::RdmapBadVersion;  // RFC 5040 §4.8: 0/2/0x05
  const std::uint8_t opv = rctrl & rdmap::kOpcodeMask;
  s.opcode = static_cast<Opcode>(opv);
  // RFC 7306 opcodes: we never negotiate them, siw answers 0/2/0x06 as well.
  if (opv >= 0x8 && opv <= 0xB) return Error::RdmapUnsupportedOpcode;
  if (opv > 0xB) return Error::RdmapUnexpectedOpcode;
  if (tagged != is_tagged_opcode(s.opcode)) return Error::RdmapUnexpectedOpcode;  // wrong buffer model
  std::size_t hlen = ddp_len;
  if (!tagged) {
    // RFC 5040 §4.1 / §5: each untagged opcode has its queue.
    std::uint32_t want_qn = ddp::kQnSend;
    if (s.opcode == Opcode::ReadRequest) want_qn = ddp::kQnReadRequest;
    if (s.opcode == Opcode::Terminate) want_qn = ddp::kQnTerminate;
    if (s.ddp.qn != want_qn) return Error::DdpInvalidQn;
    if (s.opcode == Opcode::ReadRequest) {
      // Always exactly 46 bytes: 18 + 28, no payload (RFC 5040 §4.4; siw: -EPROTO otherwise).
      if (ulpdu_len != ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen) return Error::RdmapReadRequestLength;
      if (hdr.size() < ulpdu_len) return Error::UlpduTooShort;
      s.read = parse_read_request_hdr(&hdr[ddp::kUntaggedHdrLen]);
      hlen = ulpdu_len;
    } else if (s.opcode == Opcode::Terminate) {
      if (ulpdu_len < ddp::kUntaggedHdrLen + rdmap::kTermCtrlLen || ulpdu_len > kTermMaxLen)
        return Error::RdmapTerminateMalformed;
      if (hdr.size() < ulpdu_len) return Error::UlpduTooShort;
      hlen = ulpdu_len;
    }
  }
  s.header_len = static_cast<std::uint16_t>(hlen);
  s.payload_len = ulpdu_len - static_cast<std::uint32_t>(hlen);
  return Error::None;
}

DdpMessage make_write(std::uint32_t stag, std::uint64_t to, std::uint32_t len) noexcept {
  DdpMessage m;
  m.tagged = true;
  m.rdmap_ctrl = rdmap_ctrl(Opcode::Write);
  m.stag = stag;
  m.to = to;
  m.length = len;
  return m;
}

DdpMessage make_read_response(std::uint32_t sink_stag, std::uint64_t sink_to, std::uint32_t len) noexcept {
  DdpMessage m = make_write(sink_stag, sink_to, len);
  m.rdmap_ctrl = rdmap_ctrl(Opcode::ReadResponse);
  return m;
}

DdpMessage make_send(Opcode op, std::uint32_t msn, std::uint32_t len, std::uint32_t inv_stag) noexcept {
  DdpMessage m;
  m.tagged = false;
  m.rdmap_ctrl = rdmap_ctrl(op);
  m.qn = ddp::kQnSend;
  m.msn = msn;
  m.length = len;
  // RFC 5040 §4.3: the Invalidate STag field is 0 unless the opcode is an Invalidate form.
  m.inv_stag = (op == Opcode::SendInvalidate || op == Opcode::SendSeInvalidate) ? inv_stag : 0;
  return m;
}

std::size_t encode_read_request(std::uint32_t msn, const ReadRequestHdr& r, MutByteSpan out) noexcept {
  constexpr std::size_t n = ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen;
  if (out.size() < n) return 0;
  DdpHeader h;
  h.tagged = false;
  h.last = true;
  h.version = ddp::kVersion;
  h.rsvd_ulp = rdmap_ctrl(Opcode::ReadRequest);
  h.qn = ddp::kQnReadRequest;
  h.msn = msn;
  h.mo = 0;
  encode_ddp_header(h, out);
  encode_read_request_hdr(r, &out[ddp::kUntaggedHdrLen]);
  return n;
}

std::size_t encode_rtr_ulpdu(RtrType type, MutByteSpan out) noexcept {
  switch (type) {
    case RtrType::Write: {
      DdpHeader h;
      h.tagged = true;
      h.last = true;
      h.version = ddp::kVersion;
      h.rsvd_ulp = rdmap_ctrl(Opcode::Write);
      h.stag = kRtrStag;
      h.to = 0;
      return encode_ddp_header(h, out);
    }
    case RtrType::Read:
      // First Read Request on QN 1: MSN 1, size 0, all STags 1 (IWARP.md §8.6).
      return encode_read_request(1, ReadRequestHdr{kRtrStag, 0, 0, kRtrStag, 0}, out);
    case RtrType::Send: {
      DdpHeader h;
      h.tagged = false;
      h.last = true;
      h.version = ddp::kVersion;
      h.rsvd_ulp = rdmap_ctrl(Opcode::Send);
      h.qn = ddp::kQnSend;
      h.msn = 1;
      return encode_ddp_header(h, out);
    }
    case RtrType::None: break;
  }
  return 0;
}

bool is_rtr(const Segment& s, RtrType type) noexcept {
  switch (type) {
    case RtrType::Write: return s.opcode == Opcode::Write && s.payload_len == 0 && s.last();
    case RtrType::Read: return s.opcode == Opcode::ReadRequest && s.read.size == 0 && s.last();
    case RtrType::Send: return s.opcode == Opcode::Send && s.payload_len == 0 && s.last();
    case RtrType::None: break;
  }
  return false;
}

}  // namespace openndk::iwarp
