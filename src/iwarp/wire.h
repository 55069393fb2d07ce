// iWARP wire constants and byte-order helpers (RFC 5044 MPA, RFC 6581, RFC 5041 DDP, RFC 5040 RDMAP).
// Everything on the wire is big-endian except the MPA CRC trailer, which is the CRC32c value stored
// least-significant byte first (the iSCSI digest convention; IWARP.md §1.3, RFC 5044 §4.4 Figure 5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace openndk::iwarp {

using ByteSpan = std::span<const std::uint8_t>;
using MutByteSpan = std::span<std::uint8_t>;

// ---- byte order -------------------------------------------------------------------------------
constexpr std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((std::uint16_t{p[0]} << 8) | p[1]);
}
constexpr std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
constexpr std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
constexpr std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}
constexpr void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
constexpr void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}
constexpr void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

// ---- MPA (RFC 5044 §4, §7.1; RFC 6581 §5-6) --------------------------------------------------------
namespace mpa {
inline constexpr std::size_t kKeyLen = 16;
inline constexpr std::size_t kFrameHeaderLen = 20;  // key + flags + rev + PD_Length
inline constexpr std::array<std::uint8_t, kKeyLen> kRequestKey = {'M', 'P', 'A', ' ', 'I', 'D', ' ', 'R',
                                                                  'e', 'q', ' ', 'F', 'r', 'a', 'm', 'e'};
inline constexpr std::array<std::uint8_t, kKeyLen> kReplyKey = {'M', 'P', 'A', ' ', 'I', 'D', ' ', 'R',
                                                                'e', 'p', ' ', 'F', 'r', 'a', 'm', 'e'};
inline constexpr std::uint8_t kFlagM = 0x80;  // "I require markers from you"
inline constexpr std::uint8_t kFlagC = 0x40;  // CRC preference
inline constexpr std::uint8_t kFlagR = 0x20;  // Reply: rejected
inline constexpr std::uint8_t kFlagS = 0x10;  // RFC 6581: PD starts with the IRD/ORD block
inline constexpr std::uint8_t kFlagResMask = 0x0F;
inline constexpr std::uint8_t kRev1 = 1;
inline constexpr std::uint8_t kRev2 = 2;
// RFC 5044 §7.1.1: PD_Length > 512 is malformed. Real peers (siw, Chelsio) only take 256.
inline constexpr std::uint16_t kMaxPrivateData = 512;
inline constexpr std::uint16_t kInteropPrivateData = 256;
inline constexpr std::size_t kMaxFrameLen = kFrameHeaderLen + kMaxPrivateData;
// RFC 6581 §6 enhanced block (first 4 bytes of PD when S=1): two BE16 words.
inline constexpr std::size_t kV2BlockLen = 4;
inline constexpr std::uint16_t kV2A = 0x8000;  // IRD word: peer-to-peer
inline constexpr std::uint16_t kV2B = 0x4000;  // IRD word: zero-length Send RTR
inline constexpr std::uint16_t kV2C = 0x8000;  // ORD word: zero-length Write RTR
inline constexpr std::uint16_t kV2D = 0x4000;  // ORD word: zero-length Read RTR
inline constexpr std::uint16_t kV2IrdOrdMask = 0x3FFF;
inline constexpr std::uint16_t kIrdOrdNoNegotiation = 0x3FFF;  // RFC 6581 §9.1: ULP handles it
// [MS-SMBD] §6.1: revision-1 peers put IRD (4 bytes) and ORD (4 bytes) first in the private data.
inline constexpr std::size_t kLegacyBlockLen = 8;

// FPDU (RFC 5044 §4.1)
inline constexpr std::size_t kLenFieldLen = 2;
inline constexpr std::size_t kCrcLen = 4;
inline constexpr std::uint32_t kMaxUlpdu = 65535;   // what the length field can carry (receive limit)
inline constexpr std::uint32_t kMulpduMin = 128;    // RFC 5044 §3
inline constexpr std::uint32_t kMulpduMax = 64768;  // RFC 5044 §3: DDP never hands MPA more
constexpr std::uint32_t pad_len(std::uint32_t ulpdu_len) noexcept { return (4u - ((2u + ulpdu_len) & 3u)) & 3u; }
constexpr std::uint32_t fpdu_len(std::uint32_t ulpdu_len) noexcept {
  return static_cast<std::uint32_t>(kLenFieldLen) + ulpdu_len + pad_len(ulpdu_len) + static_cast<std::uint32_t>(kCrcLen);
}
// RFC 5044 §4.5 without markers: MULPDU = EMSS - (6 + EMSS mod 4), clamped to [128, 64768].
constexpr std::uint32_t mulpdu_from_emss(std::uint32_t emss) noexcept {
  if (emss < 6) return kMulpduMin;
  std::uint32_t m = emss - (6u + (emss % 4u));
  if (m < kMulpduMin) m = kMulpduMin;
  if (m > kMulpduMax) m = kMulpduMax;
  return m;
}
}  // namespace mpa

// ---- DDP (RFC 5041 §4) ---------------------------------------------------------------------------------
namespace ddp {
inline constexpr std::uint8_t kCtrlT = 0x80;
inline constexpr std::uint8_t kCtrlL = 0x40;
inline constexpr std::uint8_t kCtrlRsvd = 0x3C;
inline constexpr std::uint8_t kCtrlDvMask = 0x03;
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kTaggedHdrLen = 14;
inline constexpr std::size_t kUntaggedHdrLen = 18;
// Queue numbers (RFC 5040 §4.1, RFC 7306)
inline constexpr std::uint32_t kQnSend = 0;
inline constexpr std::uint32_t kQnReadRequest = 1;
inline constexpr std::uint32_t kQnTerminate = 2;
inline constexpr std::uint32_t kQnAtomicResponse = 3;  // RFC 7306 only; not accepted by us
inline constexpr std::uint32_t kQueueCount = 3;
}  // namespace ddp

// ---- RDMAP (RFC 5040 §4) ---------------------------------------------------------------------------------
namespace rdmap {
inline constexpr std::uint8_t kRvMask = 0xC0;
inline constexpr std::uint8_t kRvShift = 6;
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::uint8_t kOpcodeMask = 0x0F;
inline constexpr std::size_t kReadRequestHdrLen = 28;
inline constexpr std::size_t kTermCtrlLen = 4;
inline constexpr std::size_t kTermSegLenLen = 2;
// Terminate control word bits (RFC 5040 §4.8)
inline constexpr std::uint32_t kTermM = 0x00008000;
inline constexpr std::uint32_t kTermD = 0x00004000;
inline constexpr std::uint32_t kTermR = 0x00002000;
}  // namespace rdmap

enum class Opcode : std::uint8_t {
  Write = 0x0,
  ReadRequest = 0x1,
  ReadResponse = 0x2,
  Send = 0x3,
  SendInvalidate = 0x4,
  SendSe = 0x5,
  SendSeInvalidate = 0x6,
  Terminate = 0x7,
  // RFC 7306 (recognised only to reject them with the right Terminate)
  ImmediateData = 0x8,
  ImmediateDataSe = 0x9,
  AtomicRequest = 0xA,
  AtomicResponse = 0xB,
};

constexpr bool is_send_family(Opcode op) noexcept {
  return op == Opcode::Send || op == Opcode::SendInvalidate || op == Opcode::SendSe || op == Opcode::SendSeInvalidate;
}
constexpr bool is_tagged_opcode(Opcode op) noexcept { return op == Opcode::Write || op == Opcode::ReadResponse; }

// Largest DDP+RDMAP header we ever need to see before the payload (untagged + Terminate with an
// untagged DDP header and a Read Request header = 18 + 4 + 2 + 18 + 28).
inline constexpr std::size_t kMaxHeaderLen = ddp::kUntaggedHdrLen + rdmap::kTermCtrlLen + rdmap::kTermSegLenLen +
                                             ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen;

// RTR forms of RFC 6581 §9.2 as a bit set.
enum class RtrType : std::uint8_t { None = 0, Send = 1, Write = 2, Read = 4 };
using RtrMask = std::uint8_t;
constexpr RtrMask rtr_bit(RtrType t) noexcept { return static_cast<RtrMask>(t); }

}  // namespace openndk::iwarp
