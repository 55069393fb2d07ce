// MPA FPDU framing and streaming deframing (RFC 5044 §4-6), no markers (we never ask for them and
// refuse peers that do, IWARP.md §1.4).
//
// RX: Deframer is a byte-stream state machine. It accepts any TCP segmentation (1 byte at a time
// gives the same events as one big buffer). It reports the decoded header first, then the payload,
// then the end of the FPDU with the CRC verdict, so the engine can place payload bytes directly into
// registered memory: either it takes the payload views that feed() returns, or it receives the
// payload itself straight into the destination and reports it with payload_placed(), which CRCs the
// bytes where they landed. Placement before the CRC verdict is allowed (RFC 5041 §5.3: placement may
// happen early, delivery may not); a CRC failure kills the stream before anything is delivered.
//
// TX: Framer builds the MPA pieces around a DDP segment without touching the payload: the 2-byte
// length + DDP/RDMAP header ("head") and pad + CRC ("tail"), ready for writev(head, payload..., tail).
#pragma once

#include <array>
#include <cstdint>

#include "iwarp/crc32c.h"
#include "iwarp/errors.h"
#include "iwarp/rdmap.h"
#include "iwarp/wire.h"

namespace openndk::iwarp {

enum class RxState : std::uint8_t { Length, Header, Payload, Trailer, Failed };
enum class RxEvent : std::uint8_t {
  NeedMore,  // all input consumed, nothing to report
  Header,    // a segment header was decoded: current() is valid; payload follows
  Payload,   // a chunk of payload: RxStep::payload views the input, at payload offset RxStep::offset
  End,       // the FPDU is complete and its CRC (if enabled) is good: deliver / act on it now
  Error,     // RxStep::error; the deframer stays failed (RFC 5044 §8: deliver nothing more)
};

struct RxStep {
  RxEvent event = RxEvent::NeedMore;
  std::size_t consumed = 0;  // input bytes used by this step
  ByteSpan payload{};        // Payload: bytes inside the input
  std::uint32_t offset = 0;  // Payload: offset of payload[0] within the segment payload
  Error error = Error::None;
};

struct DeframerConfig {
  bool crc = true;                          // negotiated (C in either startup frame)
  std::uint32_t max_ulpdu = mpa::kMaxUlpdu;  // receive limit; siw accepts anything up to 65535
};

class Deframer {
 public:
  explicit Deframer(DeframerConfig cfg = {}) noexcept : cfg_(cfg) {}
  void reset(DeframerConfig cfg) noexcept;

  // Consume input until the next event (or until the input is exhausted: NeedMore). Call in a loop,
  // advancing the input by step.consumed each time.
  [[nodiscard]] RxStep feed(ByteSpan in) noexcept;

  // Direct placement: in the Payload state the engine may receive up to payload_remaining() bytes
  // itself (e.g. recv() straight into the target buffer) and report them here; the CRC is computed
  // over the bytes where they landed. Returns false (and changes nothing) if more than remaining.
  [[nodiscard]] bool payload_placed(ByteSpan placed) noexcept;

  [[nodiscard]] RxState state() const noexcept { return state_; }
  [[nodiscard]] const Segment& current() const noexcept { return seg_; }
  // Raw DDP header bytes of the current segment (for the "offending header" of a Terminate).
  [[nodiscard]] ByteSpan ddp_header_bytes() const noexcept;
  [[nodiscard]] std::uint32_t ulpdu_len() const noexcept { return ulpdu_len_; }
  [[nodiscard]] std::uint32_t payload_remaining() const noexcept { return payload_total_ - payload_done_; }
  [[nodiscard]] std::uint32_t payload_offset() const noexcept { return payload_done_; }
  [[nodiscard]] Error error() const noexcept { return error_; }
  [[nodiscard]] std::uint64_t fpdus() const noexcept { return fpdus_; }

 private:
  RxStep fail(Error e, std::size_t consumed) noexcept;
  void start_payload() noexcept;

  DeframerConfig cfg_;
  RxState state_ = RxState::Length;
  Crc32c crc_;
  std::array<std::uint8_t, mpa::kLenFieldLen + kMaxHeaderLen> hdr_{};  // length + header bytes
  std::size_t hdr_have_ = 0;
  std::size_t hdr_need_ = 0;  // total bytes of hdr_ wanted (2 + header)
  std::array<std::uint8_t, 3 + mpa::kCrcLen> trl_{};
  std::size_t trl_have_ = 0;
  std::size_t trl_need_ = 0;
  std::uint32_t ulpdu_len_ = 0;
  std::uint32_t payload_total_ = 0;
  std::uint32_t payload_done_ = 0;
  Error pending_ = Error::None;  // header error, reported once the CRC has been checked
  Error error_ = Error::None;
  Segment seg_{};
  std::uint64_t fpdus_ = 0;
};

// ---- TX -------------------------------------------------------------------------------------------
struct TxFpdu {
  std::array<std::uint8_t, mpa::kLenFieldLen + kMaxHeaderLen> head{};
  std::uint16_t head_len = 0;
  std::array<std::uint8_t, 3 + mpa::kCrcLen> tail{};
  std::uint8_t tail_len = 0;
  std::uint32_t total_len = 0;  // head + payload + tail: bytes on the wire
  [[nodiscard]] ByteSpan head_bytes() const noexcept { return {head.data(), head_len}; }
  [[nodiscard]] ByteSpan tail_bytes() const noexcept { return {tail.data(), tail_len}; }
};

// Frame one DDP segment: `header` = DDP (+RDMAP) header bytes, `payload` = gather list. With crc off
// the CRC field is zero (what siw sends). Errors: UlpduTooShort if the header is empty or too long,
// DdpMessageTooLong if the ULPDU exceeds 65535.
[[nodiscard]] Error frame_gather(ByteSpan header, std::span<const ByteSpan> payload, bool crc, TxFpdu& out) noexcept;
// Same, into one contiguous buffer; returns bytes written or 0 if `out` is too small / invalid.
std::size_t frame_copy(ByteSpan header, std::span<const ByteSpan> payload, bool crc, MutByteSpan out) noexcept;
inline std::size_t frame_copy(ByteSpan ulpdu, bool crc, MutByteSpan out) noexcept {
  return frame_copy(ulpdu, {}, crc, out);
}

// One-shot decode of a complete FPDU in memory (captures, tests, tools). Returns the first error.
struct DecodedFpdu {
  Segment seg;
  ByteSpan header;   // DDP + RDMAP header bytes
  ByteSpan payload;
  std::uint32_t wire_crc = 0;
  std::uint32_t fpdu_len = 0;
};
[[nodiscard]] Error decode_fpdu(ByteSpan fpdu, bool crc, DecodedFpdu& out) noexcept;

}  // namespace openndk::iwarp
