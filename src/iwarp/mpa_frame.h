// MPA Request / Reply frames (RFC 5044 §7.1.1, RFC 6581 §5-6), encode and decode, plus the legacy
// IRD/ORD header of [MS-SMBD] §6.1: Windows iWARP peers that speak revision 1 put IRD (4 bytes) and
// ORD (4 bytes), network order, as the first 8 bytes of private data. Some peers send them
// little-endian; we accept that and flag it.
#pragma once

#include <array>
#include <cstdint>

#include "iwarp/errors.h"
#include "iwarp/wire.h"

namespace openndk::iwarp {

enum class MpaKind : std::uint8_t { Request, Reply };

// RFC 6581 §6 enhanced-setup block.
struct MpaV2Block {
  bool p2p = false;         // A
  bool send_rtr = false;    // B
  bool write_rtr = false;   // C
  bool read_rtr = false;    // D
  std::uint16_t ird = 0;    // 14 bits
  std::uint16_t ord = 0;    // 14 bits
  [[nodiscard]] RtrMask rtr_mask() const noexcept {
    return static_cast<RtrMask>((send_rtr ? rtr_bit(RtrType::Send) : 0) | (write_rtr ? rtr_bit(RtrType::Write) : 0) |
                                (read_rtr ? rtr_bit(RtrType::Read) : 0));
  }
  void set_rtr_mask(RtrMask m) noexcept {
    send_rtr = (m & rtr_bit(RtrType::Send)) != 0;
    write_rtr = (m & rtr_bit(RtrType::Write)) != 0;
    read_rtr = (m & rtr_bit(RtrType::Read)) != 0;
  }
};

// [MS-SMBD] §6.1 block.
struct MpaLegacyBlock {
  std::uint32_t ird = 0;
  std::uint32_t ord = 0;
  bool little_endian = false;  // decoded from a peer that byte-swapped the fields
};

struct MpaFrame {
  MpaKind kind = MpaKind::Request;
  std::uint8_t flags = 0;  // raw byte 16
  std::uint8_t rev = 0;
  std::uint16_t pd_len = 0;
  bool has_v2 = false;     // rev ≥ 2 and S=1 and PD ≥ 4
  MpaV2Block v2{};
  bool has_legacy = false; // decoded only when asked (see MpaDecodeOptions)
  MpaLegacyBlock legacy{};
  ByteSpan private_data{};  // all private data (view into the decoded bytes)
  ByteSpan consumer_pd{};   // private data after the v2/legacy block
  [[nodiscard]] bool m() const noexcept { return flags & mpa::kFlagM; }
  [[nodiscard]] bool c() const noexcept { return flags & mpa::kFlagC; }
  [[nodiscard]] bool r() const noexcept { return flags & mpa::kFlagR; }
  [[nodiscard]] bool s() const noexcept { return flags & mpa::kFlagS; }
};

struct MpaDecodeOptions {
  std::uint16_t max_pd = mpa::kMaxPrivateData;  // configurable, never above 512
  std::uint8_t max_rev = mpa::kRev2;
  std::uint8_t min_rev = mpa::kRev1;
  bool legacy_ird_ord = false;  // interpret the first 8 PD bytes of a non-enhanced frame per MS-SMBD
};

enum class ParseStatus : std::uint8_t { Complete, NeedMore, Error };

struct MpaParse {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t frame_len = 0;  // 20 + PD_Length once known
  Error error = Error::None;
};

// Decode a frame at the start of `bytes`. Never reads past `bytes` or past 20 + PD_Length; reports
// NeedMore when incomplete. Validation per RFC 5044 §7.1.2: key (and expected kind), revision,
// PD_Length ≤ max_pd, S=1 needs PD ≥ 4 (for rev ≥ 2).
[[nodiscard]] MpaParse decode_mpa_frame(ByteSpan bytes, MpaKind expected, const MpaDecodeOptions& opt,
                                        MpaFrame& out) noexcept;

// Legacy block heuristics: network order is the rule; a value that is zero or implausibly large
// (> 0xFFFF) in network order but plausible byte-swapped marks a little-endian peer.
[[nodiscard]] MpaLegacyBlock decode_legacy_block(const std::uint8_t* p8) noexcept;

struct MpaFrameSpec {
  MpaKind kind = MpaKind::Request;
  std::uint8_t rev = mpa::kRev2;
  bool m = false;
  bool c = true;
  bool r = false;
  bool enhanced = false;  // S=1 + v2 block (rev 2 only)
  MpaV2Block v2{};
  bool legacy = false;    // prepend the MS-SMBD block (IRD, ORD, network order)
  MpaLegacyBlock legacy_block{};
  ByteSpan consumer_pd{};
};

// Encode; returns the frame length, or 0 if out is too small or PD would exceed 512.
std::size_t encode_mpa_frame(const MpaFrameSpec& spec, MutByteSpan out) noexcept;

// Incremental reader for the startup phase: collects exactly one frame from arbitrary TCP reads and
// never consumes a byte beyond it (RFC 5044 §7.1.2: the bytes after belong to the FPDU stream).
class MpaFrameReader {
 public:
  MpaFrameReader(MpaKind expected, const MpaDecodeOptions& opt) noexcept : expected_(expected), opt_(opt) {}
  struct Result {
    ParseStatus status;
    std::size_t consumed;
    Error error;
  };
  [[nodiscard]] Result feed(ByteSpan in) noexcept;
  // Valid after Complete; views point into the reader's own buffer.
  [[nodiscard]] const MpaFrame& frame() const noexcept { return frame_; }
  [[nodiscard]] ByteSpan raw() const noexcept { return {buf_.data(), have_}; }

 private:
  MpaKind expected_;
  MpaDecodeOptions opt_;
  std::array<std::uint8_t, mpa::kMaxFrameLen> buf_{};
  std::size_t have_ = 0;
  MpaFrame frame_{};
  ParseStatus status_ = ParseStatus::NeedMore;
  Error error_ = Error::None;
};

}  // namespace openndk::iwarp
