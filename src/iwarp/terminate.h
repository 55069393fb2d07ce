// RDMAP Terminate message (RFC 5040 §4.8, §5.4, §7): build and parse. A Terminate is an untagged
// message on QN 2, MSN 1, MO 0 (sent once per stream), followed by the Terminate control word and,
// depending on the error class, the offending DDP segment length + DDP header and the offending Read
// Request header.
#pragma once

#include <array>
#include <cstdint>

#include "iwarp/errors.h"
#include "iwarp/rdmap.h"
#include "iwarp/wire.h"

namespace openndk::iwarp {

struct TerminateInfo {
  TermLayer layer = TermLayer::Rdmap;
  std::uint8_t etype = 0;
  std::uint8_t code = 0;
  bool m = false;  // DDP segment length valid
  bool d = false;  // DDP header included
  bool r = false;  // Read Request header included
  std::uint16_t ddp_segment_length = 0;
  std::array<std::uint8_t, ddp::kUntaggedHdrLen> ddp_header{};
  std::uint8_t ddp_header_len = 0;  // 14 (tagged) or 18 (untagged), chosen by the included T bit
  std::array<std::uint8_t, rdmap::kReadRequestHdrLen> rdma_header{};
  [[nodiscard]] std::uint32_t control_word() const noexcept;
};

// The offending segment, as the data path knows it. Any part may be empty.
struct TerminateContext {
  ByteSpan ddp_header{};          // raw DDP header bytes of the failing segment (14 or 18)
  std::uint16_t ulpdu_len = 0;    // its ULPDU_Length (we report the whole segment, IWARP.md §4.1)
  ByteSpan read_request_hdr{};    // 28 bytes of the failing Read Request (possibly updated, §4.1)
};

// Fill a TerminateInfo for an error using THE table (errors.h), including only headers that the
// table says belong and that the context provides. Returns false if the error sends no Terminate.
[[nodiscard]] bool make_terminate(Error e, const TerminateContext& ctx, TerminateInfo& out) noexcept;

// Encode the Terminate ULPDU (DDP untagged header + Terminate body) into out; returns its length
// (22..70) or 0 if out is too small.
std::size_t encode_terminate_ulpdu(const TerminateInfo& t, MutByteSpan out) noexcept;
// Encode the complete FPDU (length + ULPDU + CRC). Returns its length or 0.
std::size_t encode_terminate_fpdu(const TerminateInfo& t, bool crc, MutByteSpan out) noexcept;

// Parse the body of a received Terminate: `ulpdu` is the whole ULPDU (starting with the DDP header).
// Light validation as siw: QN 2, MSN 1, MO 0, L=1; consistent D/R lengths.
[[nodiscard]] Error parse_terminate(ByteSpan ulpdu, TerminateInfo& out) noexcept;

}  // namespace openndk::iwarp
