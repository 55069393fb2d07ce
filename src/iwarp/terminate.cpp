#include "iwarp/terminate.h"

#include <algorithm>
#include <cstring>

#include "iwarp/fpdu.h"

namespace openndk::iwarp {

std::uint32_t TerminateInfo::control_word() const noexcept {
  return (std::uint32_t{static_cast<std::uint8_t>(layer)} << 28) | (std::uint32_t{etype & 0x0Fu} << 24) |
         (std::uint32_t{code} << 16) | (m ? rdmap::kTermM : 0) | (d ? rdmap::kTermD : 0) | (r ? rdmap::kTermR : 0);
}

bool make_terminate(Error e, const TerminateContext& ctx, TerminateInfo& t) noexcept {
  const auto tc = terminate_for(e);
  if (!tc) return false;
  t = TerminateInfo{};
  t.layer = tc->layer;
  t.etype = tc->etype;
  t.code = tc->code;
  if (tc->ddp_header && ctx.ddp_header.size() >= ddp::kTaggedHdrLen) {
    const bool tagged = (ctx.ddp_header[0] & ddp::kCtrlT) != 0;
    const std::size_t n = tagged ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
    if (ctx.ddp_header.size() >= n) {
      std::memcpy(t.ddp_header.data(), ctx.ddp_header.data(), n);
      t.ddp_header_len = static_cast<std::uint8_t>(n);
      t.d = true;
      t.m = true;
      t.ddp_segment_length = ctx.ulpdu_len;
    }
  }
  // R only together with D: the RFC 5040 §4.8 layout puts the RDMA header after the DDP header.
  if (tc->rdma_header && t.d && ctx.read_request_hdr.size() >= rdmap::kReadRequestHdrLen) {
    std::memcpy(t.rdma_header.data(), ctx.read_request_hdr.data(), rdmap::kReadRequestHdrLen);
    t.r = true;
  }
  return true;
}

std::size_t encode_terminate_ulpdu(const TerminateInfo& t, MutByteSpan out) noexcept {
  std::size_t n = ddp::kUntaggedHdrLen + rdmap::kTermCtrlLen;
  if (t.d) n += rdmap::kTermSegLenLen + t.ddp_header_len;
  if (t.r) n += rdmap::kReadRequestHdrLen;
  if (out.size() < n || (t.d && t.ddp_header_len != ddp::kTaggedHdrLen && t.ddp_header_len != ddp::kUntaggedHdrLen))
    return 0;
  DdpHeader h;
  h.tagged = false;
  h.last = true;
  h.version = ddp::kVersion;
  h.rsvd_ulp = rdmap_ctrl(Opcode::Terminate);
  h.qn = ddp::kQnTerminate;
  h.msn = 1;  // a stream carries one Terminate only (IWARP.md §2.5)
  h.mo = 0;
  std::size_t at = encode_ddp_header(h, out);
  store_be32(&out[at], t.control_word());
  at += rdmap::kTermCtrlLen;
  if (t.d) {
    store_be16(&out[at], t.ddp_segment_length);
    at += rdmap::kTermSegLenLen;
    std::memcpy(&out[at], t.ddp_header.data(), t.ddp_header_len);
    at += t.ddp_header_len;
  }
  if (t.r) {
    std::memcpy(&out[at], t.rdma_header.data(), rdmap::kReadRequestHdrLen);
    at += rdmap::kReadRequestHdrLen;
  }
  return at;
}

std::size_t encode_terminate_fpdu(const TerminateInfo& t, bool crc, MutByteSpan out) noexcept {
  std::array<std::uint8_t, kMaxHeaderLen> u{};
  const std::size_t n = encode_terminate_ulpdu(t, u);
  if (n == 0) return 0;
  return frame_copy(ByteSpan{u.data(), n}, crc, out);
}

Error parse_terminate(ByteSpan u, TerminateInfo& t) noexcept {
  t = TerminateInfo{};
  DdpHeader h;
  if (!parse_ddp_header(u, h) || h.tagged || u.size() < ddp::kUntaggedHdrLen + rdmap::kTermCtrlLen)
    return Error::RdmapTerminateMalformed;
  if ((h.rsvd_ulp & rdmap::kOpcodeMask) != static_cast<std::uint8_t>(Opcode::Terminate))
    return Error::RdmapTerminateMalformed;
  if (h.qn != ddp::kQnTerminate) return Error::DdpInvalidQn;
  if (h.msn != 1) return Error::DdpMsnRange;
  if (h.mo != 0 || !h.last) return Error::DdpInvalidMo;
  std::size_t at = ddp::kUntaggedHdrLen;
  const std::uint32_t cw = load_be32(&u[at]);
  at += rdmap::kTermCtrlLen;
  t.layer = static_cast<TermLayer>(cw >> 28);
  t.etype = static_cast<std::uint8_t>((cw >> 24) & 0x0F);
  t.code = static_cast<std::uint8_t>(cw >> 16);
  t.m = (cw & rdmap::kTermM) != 0;
  t.d = (cw & rdmap::kTermD) != 0;
  t.r = (cw & rdmap::kTermR) != 0;
  if (cw >> 28 > static_cast<std::uint32_t>(TermLayer::Llp)) return Error::RdmapTerminateMalformed;
  if (t.d) {
    if (u.size() < at + rdmap::kTermSegLenLen + ddp::kTaggedHdrLen) return Error::RdmapTerminateMalformed;
    t.ddp_segment_length = load_be16(&u[at]);
    at += rdmap::kTermSegLenLen;
    // The included header's own T bit tells its length (better than guessing from EType, which is
    // what Wireshark does).
    const std::size_t n = (u[at] & ddp::kCtrlT) ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
    if (u.size() < at + n) return Error::RdmapTerminateMalformed;
    std::memcpy(t.ddp_header.data(), &u[at], n);
    t.ddp_header_len = static_cast<std::uint8_t>(n);
    at += n;
  }
  if (t.r) {
    if (u.size() < at + rdmap::kReadRequestHdrLen) return Error::RdmapTerminateMalformed;
    std::memcpy(t.rdma_header.data(), &u[at], rdmap::kReadRequestHdrLen);
    at += rdmap::kReadRequestHdrLen;
  }
  if (at != u.size()) return Error::RdmapTerminateMalformed;  // trailing bytes: layout mismatch
  return Error::None;
}

}  // namespace openndk::iwarp
