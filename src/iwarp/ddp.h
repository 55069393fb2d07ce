// DDP (RFC 5041): tagged and untagged segment headers, segmentation of a message into MULPDU-sized
// segments, and per-queue reassembly/continuity state for the receive side.
#pragma once

#include <array>
#include <cstdint>

#include "iwarp/errors.h"
#include "iwarp/wire.h"

namespace openndk::iwarp {

// Decoded DDP header (RFC 5041 §4.2-4.4). The RDMAP control byte travels in RsvdULP[0:7] and the
// Invalidate STag in RsvdULP[8:39] of untagged headers; we expose them raw here.
struct DdpHeader {
  bool tagged = false;
  bool last = false;
  std::uint8_t version = 0;
  std::uint8_t rsvd_ulp = 0;    // = RDMAP control byte
  std::uint32_t stag = 0;       // tagged
  std::uint64_t to = 0;         // tagged
  std::uint32_t rsvd_ulp2 = 0;  // untagged: Invalidate STag (RDMAP)
  std::uint32_t qn = 0;         // untagged
  std::uint32_t msn = 0;        // untagged
  std::uint32_t mo = 0;         // untagged
  [[nodiscard]] constexpr std::size_t length() const noexcept {
    return tagged ? ddp::kTaggedHdrLen : ddp::kUntaggedHdrLen;
  }
};

// Parse the DDP header at the start of a ULPDU. Needs 14 (tagged) or 18 (untagged) bytes; does not
// validate the version (callers map that to the right Terminate). Returns false if too short.
[[nodiscard]] bool parse_ddp_header(ByteSpan ulpdu, DdpHeader& out) noexcept;
// Encode into out (≥ 14/18 bytes); returns bytes written.
std::size_t encode_ddp_header(const DdpHeader& h, MutByteSpan out) noexcept;

// ---- TX segmentation (RFC 5041 §5.2, IWARP.md §2.6) ----------------------------------------------------
// Describes one DDP message to send. Tagged: stag/to. Untagged: qn/msn/inv_stag.
struct DdpMessage {
  bool tagged = false;
  std::uint8_t rdmap_ctrl = 0;  // RDMAP control byte (version + opcode)
  std::uint32_t stag = 0;
  std::uint64_t to = 0;
  std::uint32_t inv_stag = 0;
  std::uint32_t qn = 0;
  std::uint32_t msn = 0;
  std::uint32_t length = 0;     // payload bytes of the whole message
};

// One planned segment: its DDP header bytes and which bytes of the message payload it carries.
struct SegmentPlan {
  std::array<std::uint8_t, ddp::kUntaggedHdrLen> header{};
  std::uint8_t header_len = 0;
  std::uint32_t payload_offset = 0;  // offset in the message
  std::uint32_t payload_len = 0;
  bool last = false;
};

// Yields the segments of one message; each ULPDU (header + payload) ≤ mulpdu. A zero-length message
// is exactly one segment with L=1. No allocation, no copying of payload.
class Segmenter {
 public:
  Segmenter(const DdpMessage& msg, std::uint32_t mulpdu) noexcept;
  [[nodiscard]] bool next(SegmentPlan& plan) noexcept;
  [[nodiscard]] std::uint32_t segment_count() const noexcept;

 private:
  DdpMessage msg_;
  std::uint32_t max_payload_;
  std::uint32_t offset_ = 0;
  bool done_ = false;
};

// Gather helper: the part [offset, offset+len) of a message scattered over sges, as spans written
// to out. Returns the number of spans used, or 0 if out is too small / the range exceeds the SGEs.
std::size_t slice_sges(std::span<const ByteSpan> sges, std::uint64_t offset, std::uint64_t len,
                       std::span<ByteSpan> out) noexcept;

// ---- RX reassembly state (RFC 5041 §5.3-5.4, §7.1; siw's strict in-order rules, IWARP.md §2.7) ----
// Per queue: expected MSN, whether a message is in progress, expected MO. For tagged messages: the
// STag/TO a continuing segment must repeat. MSNs start at 1 (RFC 5041 §5.1, IWARP.md §2.5).
class DdpRxState {
 public:
  struct Queue {
    std::uint32_t next_msn = 1;
    std::uint32_t cur_msn = 0;
    std::uint32_t next_mo = 0;
    bool in_message = false;
  };
  // Validate and account for one segment whose header was decoded; payload_len = ULPDU - headers.
  [[nodiscard]] Error on_untagged(const DdpHeader& h, std::uint32_t payload_len) noexcept;
  [[nodiscard]] Error on_tagged(const DdpHeader& h, std::uint32_t payload_len) noexcept;
  [[nodiscard]] const Queue& queue(std::uint32_t qn) const noexcept { return q_[qn < ddp::kQueueCount ? qn : 0]; }
  [[nodiscard]] bool tagged_in_progress() const noexcept { return tagged_in_; }
  // Inbound Read Requests (QN 1) beyond the negotiated IRD are a peer error (RFC 5040 §8.1.1(11),
  // siw Terminate 0/2/0x07). The data path calls read_response_done() when a response is complete.
  void set_ird(std::uint32_t ird) noexcept { ird_ = ird; }
  void read_response_done() noexcept {
    if (reads_outstanding_) --reads_outstanding_;
  }
  [[nodiscard]] std::uint32_t reads_outstanding() const noexcept { return reads_outstanding_; }

 private:
  std::array<Queue, ddp::kQueueCount> q_{};
  bool tagged_in_ = false;
  std::uint32_t tagged_stag_ = 0;
  std::uint64_t tagged_next_to_ = 0;
  std::uint32_t ird_ = UINT32_MAX;
  std::uint32_t reads_outstanding_ = 0;
};

}  // namespace openndk::iwarp
