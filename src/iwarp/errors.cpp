#include "iwarp/errors.h"

#include <array>

namespace openndk::iwarp {
namespace {

struct Row {
  Error error;
  std::string_view name;
  bool terminates;
  TermCode code;
};

constexpr TermCode kNoTerm{TermLayer::Llp, 0, 0, false, false};
constexpr TermCode mpa(std::uint8_t c) { return {TermLayer::Llp, kEtypeMpa, c, false, false}; }
constexpr TermCode ddp_t(std::uint8_t c, bool hdr = true) { return {TermLayer::Ddp, kEtypeDdpTagged, c, hdr, false}; }
constexpr TermCode ddp_u(std::uint8_t c, bool hdr = true) { return {TermLayer::Ddp, kEtypeDdpUntagged, c, hdr, false}; }
constexpr TermCode rd_prot(std::uint8_t c, bool rr) { return {TermLayer::Rdmap, kEtypeRdmapRemoteProtection, c, true, rr}; }
constexpr TermCode rd_op(std::uint8_t c, bool hdr) { return {TermLayer::Rdmap, kEtypeRdmapRemoteOperation, c, hdr, false}; }

// THE table. Rows are in enum order (checked at compile time below).
// Sources: IWARP.md §4.4 (our mapping, siw noted), RFC 5040 §4.8, RFC 5041 §7.2, RFC 5044 §8, RFC 6581 §8.
constexpr std::array<Row, static_cast<std::size_t>(Error::Count_)> kTable{{
    {Error::None, "none", false, kNoTerm},
    // Startup: frames are not FPDUs yet, so failures close TCP (with an MPA reject where applicable).
    {Error::MpaBadKey, "mpa: bad key", false, kNoTerm},
    {Error::MpaUnexpectedKey, "mpa: unexpected key", false, kNoTerm},
    {Error::MpaBadRevision, "mpa: unsupported revision", false, kNoTerm},
    {Error::MpaPrivateDataTooLong, "mpa: private data too long", false, kNoTerm},
    {Error::MpaEnhancedTooShort, "mpa: S=1 with PD_Length < 4", false, kNoTerm},
    {Error::MpaMarkersRequested, "mpa: peer requires markers", false, kNoTerm},
    {Error::MpaCrcRequired, "mpa: peer does not use CRC (strict policy)", false, kNoTerm},
    {Error::MpaRejectedByPeer, "mpa: rejected by peer", false, kNoTerm},
    {Error::MpaRejectedLocally, "mpa: rejected by consumer", false, kNoTerm},
    {Error::MpaEnhancedMismatch, "mpa: reply not enhanced", false, kNoTerm},
    // After the Reply the initiator is in FPDU mode: RFC 6581 §9 failures are Terminates.
    {Error::MpaP2pMismatch, "mpa: responder did not echo peer-to-peer", true, mpa(0x07)},
    {Error::MpaTrailingBytes, "mpa: bytes after startup frame", false, kNoTerm},
    {Error::MpaTimeout, "mpa: setup timed out", false, kNoTerm},
    {Error::MpaPeerClosed, "mpa: peer closed during setup", false, kNoTerm},
    {Error::MpaInsufficientIrd, "mpa: insufficient IRD", true, mpa(0x06)},
    {Error::MpaNoMatchingRtr, "mpa: no matching RTR option", true, mpa(0x07)},
    {Error::MpaRtrMismatch, "mpa: first FPDU is not the announced RTR", true, mpa(0x07)},
    {Error::MpaSetupLocalFailure, "mpa: local failure in enhanced setup", true, mpa(0x05)},
    {Error::MpaInvalidFrameAfterQp, "mpa: invalid request/reply frame", true, mpa(0x04)},
    {Error::CrcMismatch, "mpa: CRC mismatch", true, mpa(0x02)},
    {Error::MarkerMismatch, "mpa: marker/length mismatch", true, mpa(0x03)},
    // A length too short for the announced header: the FPDU cannot be parsed as DDP; report it as a
    // DDP local catastrophic error without headers (RFC 5041 §7.2 layer 1 etype 0).
    {Error::UlpduTooShort, "ddp: ULPDU shorter than its header", true,
     {TermLayer::Ddp, kEtypeDdpLocalCatastrophic, 0x00, false, false}},
    {Error::LlpConnectionLost, "mpa: connection lost", false, mpa(0x01)},
    // DDP (bad version: layout unknown, so no header)
    {Error::DdpTaggedBadVersion, "ddp: invalid DDP version (tagged)", true, ddp_t(0x04, false)},
    {Error::DdpUntaggedBadVersion, "ddp: invalid DDP version (untagged)", true, ddp_u(0x06, false)},
    {Error::DdpInvalidQn, "ddp: invalid QN", true, ddp_u(0x01)},
    {Error::DdpNoBuffer, "ddp: no buffer for MSN", true, ddp_u(0x02)},
    {Error::DdpMsnRange, "ddp: MSN out of range", true, ddp_u(0x03)},
    {Error::DdpInvalidMo, "ddp: invalid MO", true, ddp_u(0x04)},
    {Error::DdpMessageTooLong, "ddp: message too long for buffer", true, ddp_u(0x05)},
    // Tagged placement: DDP tagged-buffer errors. DDP has no access-rights code: 1/1/0x00 as siw.
    {Error::TaggedInvalidStag, "tagged: invalid STag", true, ddp_t(0x00)},
    {Error::TaggedStagPdMismatch, "tagged: STag not associated with stream", true, ddp_t(0x02)},
    {Error::TaggedAccessRights, "tagged: access rights", true, ddp_t(0x00)},
    {Error::TaggedBounds, "tagged: base or bounds", true, ddp_t(0x01)},
    {Error::TaggedWrap, "tagged: TO wrap", true, ddp_t(0x03)},
    {Error::TaggedInvalidated, "tagged: STag invalidated", true, ddp_t(0x00)},
    {Error::TaggedStagChanged, "tagged: STag changed within message", true, ddp_t(0x00)},
    {Error::TaggedToDiscontinuous, "tagged: TO not contiguous", true, ddp_t(0x01)},
    {Error::ReadResponseUnexpected, "rdmap: unexpected Read Response", true, ddp_t(0x00)},
    {Error::ReadResponseMismatch, "rdmap: Read Response does not match request", true, ddp_t(0x01)},
    // RDMAP remote operation (bad version/opcode: header layout unknown, no header)
    {Error::RdmapBadVersion, "rdmap: invalid RDMAP version", true, rd_op(0x05, false)},
    {Error::RdmapUnexpectedOpcode, "rdmap: unexpected opcode", true, rd_op(0x06, false)},
    {Error::RdmapUnsupportedOpcode, "rdmap: RFC 7306 opcode not negotiated", true, rd_op(0x06, false)},
    {Error::RdmapReadRequestLength, "rdmap: malformed Read Request", true, rd_op(0x07, true)},
    {Error::RdmapTerminateMalformed, "rdmap: malformed Terminate", true, rd_op(0x07, true)},
    {Error::RdmapTooManyReads, "rdmap: inbound reads exceed IRD", true, rd_op(0x07, true)},
    {Error::RdmapInvalidateUnknown, "rdmap: STag cannot be invalidated", true, rd_op(0x09, true)},
    {Error::RdmapInvalidatePd, "rdmap: STag of another PD cannot be invalidated", true, rd_prot(0x09, false)},
    // Read Request source: RDMAP remote protection + the Read Request header.
    {Error::ReadSrcInvalidStag, "read source: invalid STag", true, rd_prot(0x00, true)},
    {Error::ReadSrcPdMismatch, "read source: STag not associated with stream", true, rd_prot(0x03, true)},
    {Error::ReadSrcAccessRights, "read source: access rights", true, rd_prot(0x02, true)},
    {Error::ReadSrcBounds, "read source: base or bounds", true, rd_prot(0x01, true)},
    {Error::ReadSrcWrap, "read source: TO wrap", true, rd_prot(0x04, true)},
    {Error::ReadSrcInvalidated, "read source: STag invalidated", true, rd_prot(0x00, true)},
    {Error::LocalCatastrophic, "local catastrophic error", true,
     {TermLayer::Rdmap, kEtypeRdmapLocalCatastrophic, 0x00, false, false}},
    // siw sends 0/0/0xFF when the consumer moves the QP to error (IWARP.md §4.4).
    {Error::ConsumerTerminate, "terminated by consumer", true,
     {TermLayer::Rdmap, kEtypeRdmapLocalCatastrophic, 0xFF, false, false}},
}};

constexpr bool table_in_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<std::size_t>(kTable[i].error) != i) return false;
  return true;
}
static_assert(table_in_order(), "Terminate table rows must follow enum Error order");

}  // namespace

std::optional<TermCode> terminate_for(Error e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  if (i >= kTable.size() || !kTable[i].terminates) return std::nullopt;
  return kTable[i].code;
}

std::string_view to_string(Error e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < kTable.size() ? kTable[i].name : std::string_view{"unknown error"};
}

Error access_error(AccessKind kind, AccessFault fault) noexcept {
  if (fault == AccessFault::None) return Error::None;
  switch (kind) {
    case AccessKind::TaggedPlacement:
      switch (fault) {
        case AccessFault::InvalidStag: return Error::TaggedInvalidStag;
        case AccessFault::PdMismatch: return Error::TaggedStagPdMismatch;
        case AccessFault::Rights: return Error::TaggedAccessRights;
        case AccessFault::Bounds: return Error::TaggedBounds;
        case AccessFault::Wrap: return Error::TaggedWrap;
        case AccessFault::Invalidated: return Error::TaggedInvalidated;
        case AccessFault::None: break;
      }
      break;
    case AccessKind::ReadSource:
      switch (fault) {
        case AccessFault::InvalidStag: return Error::ReadSrcInvalidStag;
        case AccessFault::PdMismatch: return Error::ReadSrcPdMismatch;
        case AccessFault::Rights: return Error::ReadSrcAccessRights;
        case AccessFault::Bounds: return Error::ReadSrcBounds;
        case AccessFault::Wrap: return Error::ReadSrcWrap;
        case AccessFault::Invalidated: return Error::ReadSrcInvalidated;
        case AccessFault::None: break;
      }
      break;
    case AccessKind::RemoteInvalidate:
      // siw: PD mismatch -> 0/1/0x09, anything else -> 0/2/0x09 (an already invalid STag is accepted
      // by siw; the data path decides whether to call us for that case).
      return fault == AccessFault::PdMismatch ? Error::RdmapInvalidatePd : Error::RdmapInvalidateUnknown;
  }
  return Error::LocalCatastrophic;
}

std::string_view describe_term(TermLayer layer, std::uint8_t etype, std::uint8_t code) noexcept {
  switch (layer) {
    case TermLayer::Rdmap:
      if (etype == kEtypeRdmapLocalCatastrophic) return "RDMAP local catastrophic";
      if (etype == kEtypeRdmapRemoteProtection) {
        switch (code) {
          case 0x00: return "RDMAP protection: invalid STag";
          case 0x01: return "RDMAP protection: base or bounds violation";
          case 0x02: return "RDMAP protection: access rights violation";
          case 0x03: return "RDMAP protection: STag not associated with RDMAP stream";
          case 0x04: return "RDMAP protection: TO wrap";
          case 0x09: return "RDMAP protection: STag cannot be invalidated";
          case 0xFF: return "RDMAP protection: unspecified";
          default: return "RDMAP protection: unknown code";
        }
      }
      if (etype == kEtypeRdmapRemoteOperation) {
        switch (code) {
          case 0x05: return "RDMAP operation: invalid RDMAP version";
          case 0x06: return "RDMAP operation: unexpected opcode";
          case 0x07: return "RDMAP operation: catastrophic, localized to stream";
          case 0x08: return "RDMAP operation: catastrophic, global";
          case 0x09: return "RDMAP operation: STag cannot be invalidated";
          case 0xFF: return "RDMAP operation: unspecified";
          default: return "RDMAP operation: unknown code";
        }
      }
      return "RDMAP: unknown error type";
    case TermLayer::Ddp:
      if (etype == kEtypeDdpLocalCatastrophic) return "DDP local catastrophic";
      if (etype == kEtypeDdpTagged) {
        switch (code) {
          case 0x00: return "DDP tagged: invalid STag";
          case 0x01: return "DDP tagged: base or bounds violation";
          case 0x02: return "DDP tagged: STag not associated with DDP stream";
          case 0x03: return "DDP tagged: TO wrap";
          case 0x04: return "DDP tagged: invalid DDP version";
          default: return "DDP tagged: unknown code";
        }
      }
      if (etype == kEtypeDdpUntagged) {
        switch (code) {
          case 0x01: return "DDP untagged: invalid QN";
          case 0x02: return "DDP untagged: invalid MSN, no buffer";
          case 0x03: return "DDP untagged: invalid MSN, range";
          case 0x04: return "DDP untagged: invalid MO";
          case 0x05: return "DDP untagged: message too long";
          case 0x06: return "DDP untagged: invalid DDP version";
          default: return "DDP untagged: unknown code";
        }
      }
      return "DDP: unknown error type";
    case TermLayer::Llp:
      if (etype != kEtypeMpa) return "LLP: unknown error type";
      switch (code) {
        case 0x01: return "MPA: TCP connection lost";
        case 0x02: return "MPA: CRC mismatch";
        case 0x03: return "MPA: marker mismatch";
        case 0x04: return "MPA: invalid request/reply frame";
        case 0x05: return "MPA: local catastrophic (enhanced setup)";
        case 0x06: return "MPA: insufficient IRD";
        case 0x07: return "MPA: no matching RTR option";
        default: return "MPA: unknown code";
      }
  }
  return "unknown layer";
}

}  // namespace openndk::iwarp
