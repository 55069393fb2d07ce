// RDMAP (RFC 5040): opcodes 0-7, Read Request header, the combined DDP+RDMAP segment decoder that the
// deframer uses, and message builders for the transmit side.
#pragma once

#include <cstdint>

#include "iwarp/ddp.h"
#include "iwarp/errors.h"
#include "iwarp/wire.h"

namespace openndk::iwarp {

// RFC 5040 §4.4: Read Request header after the untagged DDP header (28 bytes).
struct ReadRequestHdr {
  std::uint32_t sink_stag = 0;
  std::uint64_t sink_to = 0;
  std::uint32_t size = 0;  // RDMARDSZ
  std::uint32_t src_stag = 0;
  std::uint64_t src_to = 0;
  constexpr bool operator==(const ReadRequestHdr&) const = default;
};
void encode_read_request_hdr(const ReadRequestHdr& r, std::uint8_t* out28) noexcept;
[[nodiscard]] ReadRequestHdr parse_read_request_hdr(const std::uint8_t* in28) noexcept;

constexpr std::uint8_t rdmap_ctrl(Opcode op) noexcept {
  return static_cast<std::uint8_t>((rdmap::kVersion << rdmap::kRvShift) | static_cast<std::uint8_t>(op));
}

// A decoded segment: "placement is described, not performed". For a tagged segment the data path
// validates (stag, to, payload_len) and places the payload at TO; for untagged ones (qn, msn, mo).
struct Segment {
  DdpHeader ddp;
  Opcode opcode = Opcode::Send;
  std::uint8_t rdmap_version = 0;
  std::uint16_t ulpdu_len = 0;
  std::uint16_t header_len = 0;   // DDP + RDMAP headers (Terminate: the whole Terminate body)
  std::uint32_t payload_len = 0;  // ulpdu_len - header_len
  ReadRequestHdr read{};          // opcode == ReadRequest
  [[nodiscard]] bool tagged() const noexcept { return ddp.tagged; }
  [[nodiscard]] bool last() const noexcept { return ddp.last; }
  [[nodiscard]] std::uint32_t inv_stag() const noexcept { return ddp.rsvd_ulp2; }
};

// How many bytes from the start of the ULPDU the header of this segment has, given its two control
// bytes and the ULPDU length (capped at the ULPDU length). Terminates are read whole (≤ 70 bytes).
[[nodiscard]] std::size_t segment_header_len(std::uint8_t ddp_ctrl, std::uint8_t rdmap_ctrl,
                                             std::uint32_t ulpdu_len) noexcept;

// Decode and statelessly validate a segment; `hdr` holds at least segment_header_len() bytes (or
// the whole ULPDU if shorter). Errors: UlpduTooShort, Ddp*BadVersion, RdmapBadVersion,
// RdmapUnexpectedOpcode, RdmapUnsupportedOpcode, DdpInvalidQn, RdmapReadRequestLength,
// RdmapTerminateMalformed.
[[nodiscard]] Error decode_segment(ByteSpan hdr, std::uint32_t ulpdu_len, Segment& out) noexcept;

// ---- transmit-side message descriptions (feed them to Segmenter) --------------------------------------
[[nodiscard]] DdpMessage make_write(std::uint32_t stag, std::uint64_t to, std::uint32_t len) noexcept;
[[nodiscard]] DdpMessage make_read_response(std::uint32_t sink_stag, std::uint64_t sink_to, std::uint32_t len) noexcept;
// opcode: Send, SendInvalidate, SendSe or SendSeInvalidate; inv_stag only for the Invalidate forms.
[[nodiscard]] DdpMessage make_send(Opcode opcode, std::uint32_t msn, std::uint32_t len, std::uint32_t inv_stag = 0) noexcept;
// Full Read Request ULPDU (46 bytes: untagged header QN 1 + 28-byte header). Returns bytes written.
std::size_t encode_read_request(std::uint32_t msn, const ReadRequestHdr& r, MutByteSpan out) noexcept;

// RTR messages of RFC 6581 §9.2 with STag 1 / TO 0 everywhere (IWARP.md §1.6, Chelsio quirk).
inline constexpr std::uint32_t kRtrStag = 1;
// The ULPDU of the RTR (zero-length Send/Write, or zero-length Read Request). Returns its length.
std::size_t encode_rtr_ulpdu(RtrType type, MutByteSpan out) noexcept;
// Does this decoded first FPDU match the RTR form we announced?
[[nodiscard]] bool is_rtr(const Segment& s, RtrType type) noexcept;

}  // namespace openndk::iwarp
