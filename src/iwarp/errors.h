// One enum of every error the protocol library (and the data path using it) can detect, and ONE table
// that maps each of them to its Terminate layer/etype/code and the headers the Terminate carries
// (RFC 5040 §4.8 and Figure 10, RFC 5041 §7.2, RFC 5044 §8, RFC 6581 §8; IWARP.md §4.2-4.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace openndk::iwarp {

enum class Error : std::uint8_t {
  None = 0,
  // ---- MPA startup (RFC 5044 §7.1, RFC 6581) ----
  MpaBadKey,               // neither Request nor Reply key
  MpaUnexpectedKey,        // Request key where a Reply was expected (or vice versa), rule 8
  MpaBadRevision,          // revision we cannot or will not handle
  MpaPrivateDataTooLong,   // PD_Length above the configured limit (≤ 512)
  MpaEnhancedTooShort,     // S=1 but PD_Length < 4
  MpaMarkersRequested,     // peer demands markers; we never insert them
  MpaCrcRequired,          // our policy requires CRC and the peer did not set C
  MpaRejectedByPeer,       // Reply with R=1
  MpaRejectedLocally,      // consumer refused the Request
  MpaEnhancedMismatch,     // we sent S=1 and the Reply is not enhanced (and fallback not allowed)
  MpaP2pMismatch,          // Responder did not echo A=1
  MpaTrailingBytes,        // bytes after a startup frame where siw semantics forbid them
  MpaTimeout,              // T_reply / T_request / T_rtr expired
  MpaPeerClosed,           // TCP closed during setup
  MpaInsufficientIrd,      // RFC 6581 §9.1: we cannot give the IRD the responder's ORD needs
  MpaNoMatchingRtr,        // RFC 6581 §9.2: no RTR form in common
  MpaRtrMismatch,          // first FPDU is not the RTR form we announced
  MpaSetupLocalFailure,    // any other local enhanced-setup failure (RFC 6581 §8 code 5)
  MpaInvalidFrameAfterQp,  // bad Reply once a QP exists (RFC 5044 §8 code 4)
  // ---- MPA full operation (RFC 5044 §8) ----
  CrcMismatch,
  MarkerMismatch,          // never generated (we never receive markers); kept for the table
  UlpduTooShort,           // ULPDU_Length smaller than the header its control bytes announce
  LlpConnectionLost,
  // ---- DDP (RFC 5041 §7.2) ----
  DdpTaggedBadVersion,
  DdpUntaggedBadVersion,
  DdpInvalidQn,
  DdpNoBuffer,             // untagged: no posted buffer for this QN/MSN
  DdpMsnRange,             // untagged: MSN not the expected one
  DdpInvalidMo,            // untagged: MO not where the message is
  DdpMessageTooLong,       // untagged: MO + length beyond the buffer
  // ---- tagged placement (Write / Read Response sink), RFC 5041 §7.1 + IWARP.md §5.2 ----
  TaggedInvalidStag,
  TaggedStagPdMismatch,
  TaggedAccessRights,
  TaggedBounds,
  TaggedWrap,
  TaggedInvalidated,
  TaggedStagChanged,       // continuing segment of a message with another STag (siw strictness)
  TaggedToDiscontinuous,   // continuing segment whose TO does not follow
  ReadResponseUnexpected,  // Read Response with no outstanding Read
  ReadResponseMismatch,    // Read Response longer/shorter than requested or wrong sink
  // ---- RDMAP (RFC 5040 §4.8) ----
  RdmapBadVersion,
  RdmapUnexpectedOpcode,   // reserved opcode, or opcode on the wrong buffer model
  RdmapUnsupportedOpcode,  // RFC 7306 opcodes 0x8-0xB (we never negotiate them)
  RdmapReadRequestLength,  // Read Request ULPDU not exactly 46 bytes
  RdmapTerminateMalformed, // received Terminate we cannot parse
  RdmapTooManyReads,       // more inbound Read Requests than IRD
  RdmapInvalidateUnknown,  // Send with Invalidate: STag unknown / cannot be invalidated
  RdmapInvalidatePd,       // Send with Invalidate: STag of another PD
  // ---- Read Request source (RDMAP remote protection, RFC 5040 §5.2.1) ----
  ReadSrcInvalidStag,
  ReadSrcPdMismatch,
  ReadSrcAccessRights,
  ReadSrcBounds,
  ReadSrcWrap,
  ReadSrcInvalidated,
  // ---- local ----
  LocalCatastrophic,
  ConsumerTerminate,
  Count_
};

enum class TermLayer : std::uint8_t { Rdmap = 0x0, Ddp = 0x1, Llp = 0x2 };

// RDMAP error types (layer 0)
inline constexpr std::uint8_t kEtypeRdmapLocalCatastrophic = 0x0;
inline constexpr std::uint8_t kEtypeRdmapRemoteProtection = 0x1;
inline constexpr std::uint8_t kEtypeRdmapRemoteOperation = 0x2;
// DDP error types (layer 1)
inline constexpr std::uint8_t kEtypeDdpLocalCatastrophic = 0x0;
inline constexpr std::uint8_t kEtypeDdpTagged = 0x1;
inline constexpr std::uint8_t kEtypeDdpUntagged = 0x2;
// LLP (layer 2): EType 0 = MPA
inline constexpr std::uint8_t kEtypeMpa = 0x0;

// What a Terminate for an error carries (RFC 5040 Figure 10, IWARP.md §4.3).
struct TermCode {
  TermLayer layer;
  std::uint8_t etype;
  std::uint8_t code;
  bool ddp_header;   // M+D: DDP segment length and the offending DDP header (if we have it)
  bool rdma_header;  // R: the offending Read Request header
  constexpr bool operator==(const TermCode&) const = default;
};

// The table. Returns nullopt for errors after which no Terminate is sent (setup-phase failures that
// close TCP with or without an MPA reject, peer-initiated rejection, lost connection).
[[nodiscard]] std::optional<TermCode> terminate_for(Error e) noexcept;
[[nodiscard]] std::string_view to_string(Error e) noexcept;
[[nodiscard]] std::string_view describe_term(TermLayer layer, std::uint8_t etype, std::uint8_t code) noexcept;

// Kinds of memory-access failure found while validating a remote access (IWARP.md §5.2), and which
// access was being validated. The data path calls access_error() and then terminate_for().
enum class AccessFault : std::uint8_t { None, InvalidStag, PdMismatch, Rights, Bounds, Wrap, Invalidated };
enum class AccessKind : std::uint8_t {
  TaggedPlacement,   // inbound RDMA Write segment / Read Response segment (DDP tagged, RFC 5041 §7.1)
  ReadSource,        // inbound Read Request's source buffer (RDMAP remote protection, RFC 5040 §5.2.1)
  RemoteInvalidate,  // Send with Invalidate (RFC 5040 §5.3)
};
[[nodiscard]] Error access_error(AccessKind kind, AccessFault fault) noexcept;

// Bounds check of IWARP.md §5.2 step 7, overflow-safe: region [base, base+len), access [to, to+n).
// Zero-length accesses are never checked (RFC 5041 §5.2) - the caller skips them.
[[nodiscard]] constexpr AccessFault check_bounds(std::uint64_t base, std::uint64_t len, std::uint64_t to,
                                                 std::uint64_t n) noexcept {
  if (n > UINT64_MAX - to) return AccessFault::Wrap;
  if (to < base || n > len || to - base > len - n) return AccessFault::Bounds;
  return AccessFault::None;
}

// Read Response segment against the sink of our Read Request (sink_len bytes): place it, drop its
// payload, or refuse it (DDP tagged base/bounds Terminate).
// Drop: a Read Request of size 0 answered with payload. RFC 5040 makes the response as long as the
// request, but Linux siw (6.1, siw_activate_tx) serves a zero-length Read Request that had to wait
// in its inbound read queue with the scatter entry of the work request it sent before (e.g. 16
// bytes of rping's last Send): the bytes are stale, harmless and there is nothing to place them in.
// Zero-length reads carry no data by definition, so the payload is read off the wire and dropped
// and the response still counts as the answer (docs/decisions.md "Interop", docs/interop.md).
enum class ReadResponseFit : std::uint8_t { Place, Drop, Refuse };
[[nodiscard]] constexpr ReadResponseFit fit_read_response(std::uint64_t sink_len, std::uint64_t to,
                                                          std::uint64_t n) noexcept {
  if (sink_len == 0) return ReadResponseFit::Drop;
  return check_bounds(0, sink_len, to, n) == AccessFault::None ? ReadResponseFit::Place : ReadResponseFit::Refuse;
}

}  // namespace openndk::iwarp
