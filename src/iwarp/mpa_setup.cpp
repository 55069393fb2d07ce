#include "iwarp/mpa_setup.h"

#include <algorithm>

#include "iwarp/fpdu.h"
#include "iwarp/terminate.h"

namespace openndk::iwarp {
namespace {
constexpr std::uint32_t kNoNeg = mpa::kIrdOrdNoNegotiation;

std::uint16_t wire14(std::uint32_t v) noexcept {
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(v, mpa::kV2IrdOrdMask));
}
}  // namespace

MpaSetup::MpaSetup(const Profile& profile, SetupRole role) noexcept
    : profile_(profile),
      role_(role),
      reader_(role == SetupRole::Initiator ? MpaKind::Reply : MpaKind::Request, MpaDecodeOptions{}) {
  reader_ = MpaFrameReader(role == SetupRole::Initiator ? MpaKind::Reply : MpaKind::Request, decode_options());
}

MpaDecodeOptions MpaSetup::decode_options() const noexcept {
  MpaDecodeOptions o;
  o.max_pd = profile_.max_pd_recv;
  o.min_rev = profile_.accept_unenhanced || profile_.rev1_fallback ? mpa::kRev1 : mpa::kRev2;
  o.max_rev = mpa::kRev2;
  o.legacy_ird_ord = profile_.legacy_ird_ord;
  return o;
}

void MpaSetup::fail(Actions& a, Error e, bool terminate) noexcept {
  // Errors after the Reply are reported to the peer with a Terminate FPDU (RFC 6581 §9.1-9.3), framed
  // with the CRC setting just negotiated (IWARP.md §1.8).
  if (terminate) {
    TerminateInfo t;
    if (make_terminate(e, {}, t)) {
      const std::size_t n = encode_terminate_fpdu(t, neg_.crc, fpdu_buf_);
      if (n) a.push({ActionKind::Send, ByteSpan{fpdu_buf_.data(), n}, 0, neg_.crc, Error::None});
    }
  }
  a.push({ActionKind::CancelTimer, {}, 0, false, Error::None});
  a.push({ActionKind::Failed, {}, 0, false, e});
  a.push({ActionKind::Close, {}, 0, false, Error::None});
  state_ = SetupState::Failed;
  error_ = e;
}

Actions MpaSetup::start(const SetupParams& p) noexcept {
  Actions a;
  if (state_ != SetupState::Idle) return a;
  params_ = p;
  if (role_ == SetupRole::Responder) {
    state_ = SetupState::AwaitRequest;
    if (profile_.t_request_ms) a.push({ActionKind::ArmTimer, {}, profile_.t_request_ms, false, Error::None});
    return a;
  }
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = profile_.rev;
  s.c = profile_.crc || profile_.crc_policy == CrcPolicy::Required;
  s.enhanced = profile_.enhanced && profile_.rev >= mpa::kRev2;
  std::uint32_t ird = std::min<std::uint32_t>(p.ird, profile_.max_ird);
  std::uint32_t ord = std::min<std::uint32_t>(p.ord, profile_.max_ord);
  if (s.enhanced) {
    sent_v2_ = true;
    sent_p2p_ = profile_.p2p;
    if (profile_.p2p && profile_.p2p_min_one) {
      // A Read RTR needs IRD/ORD ≥ 1 on both sides (RFC 6581 §9.2); siw and irdma do the same.
      ird = std::max<std::uint32_t>(ird, 1);
      ord = std::max<std::uint32_t>(ord, 1);
    }
    s.v2.p2p = profile_.p2p;
    if (profile_.p2p) s.v2.set_rtr_mask(profile_.rtr_offer);
    s.v2.ird = wire14(ird);
    s.v2.ord = wire14(ord);
  } else if (profile_.legacy_ird_ord && profile_.rev == mpa::kRev1) {
    s.legacy = true;
    s.legacy_block = {ird, ord, false};
  }
  params_.ird = ird;
  params_.ord = ord;
  s.consumer_pd = p.private_data;
  const std::size_t block = (s.enhanced ? mpa::kV2BlockLen : 0) + (s.legacy ? mpa::kLegacyBlockLen : 0);
  if (block + p.private_data.size() > profile_.max_pd_send) {
    fail(a, Error::MpaPrivateDataTooLong, false);
    return a;
  }
  const std::size_t n = encode_mpa_frame(s, frame_buf_);
  a.push({ActionKind::Send, ByteSpan{frame_buf_.data(), n}, 0, false, Error::None});
  if (profile_.t_reply_ms) a.push({ActionKind::ArmTimer, {}, profile_.t_reply_ms, false, Error::None});
  state_ = SetupState::AwaitReply;
  return a;
}

Actions MpaSetup::on_bytes(ByteSpan in, std::size_t& consumed) noexcept {
  Actions a;
  consumed = 0;
  if (in.empty()) return a;
  switch (state_) {
    case SetupState::AwaitReply:
    case SetupState::AwaitRequest: {
      const auto r = reader_.feed(in);
      consumed = r.consumed;
      if (r.status == ParseStatus::Error) {
        // Malformed frames get no Reply at all: close (RFC 5044 §7.1.2, IWARP.md §1.7).
        fail(a, r.error, false);
      } else if (r.status == ParseStatus::Complete) {
        if (state_ == SetupState::AwaitReply)
          on_reply(a);
        else
          on_request(a);
      }
      return a;
    }
    case SetupState::AwaitConsumer:
      // siw semantics: the initiator must not send before our Reply; bytes now are a protocol
      // violation (siw_recv_mpa_rr) - drop the connection.
      consumed = in.size();
      fail(a, Error::MpaTrailingBytes, false);
      return a;
    default:
      return a;  // after EnterFpduMode bytes belong to the Deframer; nothing consumed
  }
}

void MpaSetup::on_reply(Actions& a) noexcept {
  const MpaFrame& f = reader_.frame();
  neg_.peer_sent_crc = f.c();
  neg_.rev = f.rev;
  if (f.r()) {
    a.push({ActionKind::CancelTimer, {}, 0, false, Error::None});
    a.push({ActionKind::Rejected, {}, 0, false, Error::MpaRejectedByPeer});
    a.push({ActionKind::Close, {}, 0, false, Error::None});
    state_ = SetupState::Failed;
    error_ = Error::MpaRejectedByPeer;
    return;
  }
  // We never insert markers (IWARP.md §1.4): abort with a local error, as siw.
  if (f.m()) return fail(a, Error::MpaMarkersRequested, false);
  if (profile_.crc_policy == CrcPolicy::Required && !f.c()) return fail(a, Error::MpaCrcRequired, false);
  if (sent_v2_ && !f.has_v2 && !(profile_.rev1_fallback && f.rev == mpa::kRev1))
    return fail(a, Error::MpaEnhancedMismatch, false);
  neg_.crc = f.c() || profile_.crc || profile_.crc_policy == CrcPolicy::Required;  // RFC 5044 §4.4
  // From here the initiator is in full operation: failures are Terminates.
  a.push({ActionKind::EnterFpduMode, {}, 0, neg_.crc, Error::None});
  std::uint32_t ird = params_.ird, ord = params_.ord;
  std::uint32_t peer_ird = kNoNeg, peer_ord = kNoNeg;
  if (f.has_v2) {
    neg_.enhanced = true;
    peer_ird = f.v2.ird;
    peer_ord = f.v2.ord;
  } else if (f.has_legacy) {
    neg_.legacy_ird_ord = true;
    neg_.legacy_little_endian = f.legacy.little_endian;
    peer_ird = f.legacy.ird;
    peer_ord = f.legacy.ord;
  }
  // RFC 6581 §9.1: IRD ≥ responder ORD, ORD ≤ responder IRD; 0x3FFF = leave ours unchanged.
  if (peer_ord != kNoNeg) {
    if (peer_ord > profile_.max_ird) return fail(a, Error::MpaInsufficientIrd, true);
    if (profile_.raise_ird_to_peer_ord) ird = std::max(ird, peer_ord);
  }
  if (peer_ird != kNoNeg) ord = std::min(ord, peer_ird);
  neg_.ird = ird;
  neg_.ord = ord;
  neg_.peer_ird = peer_ird;
  neg_.peer_ord = peer_ord;
  if (f.has_v2 && sent_p2p_) {
    if (!f.v2.p2p) return fail(a, Error::MpaP2pMismatch, true);  // responder MUST echo A
    neg_.p2p = true;
    const RtrMask allowed = profile_.rtr_offer & f.v2.rtr_mask();
    for (RtrType t : profile_.rtr_preference) {
      if (!(allowed & rtr_bit(t))) continue;
      neg_.rtr = t;
      break;
    }
    if (neg_.rtr == RtrType::None) return fail(a, Error::MpaNoMatchingRtr, true);
    // The RTR is our first and only FPDU before Established (RFC 6581 §9.2).
    std::array<std::uint8_t, kMaxHeaderLen> u{};
    const std::size_t ulen = encode_rtr_ulpdu(neg_.rtr, u);
    const std::size_t n = frame_copy(ByteSpan{u.data(), ulen}, neg_.crc, fpdu_buf_);
    a.push({ActionKind::Send, ByteSpan{fpdu_buf_.data(), n}, 0, neg_.crc, Error::None});
  }
  a.push({ActionKind::CancelTimer, {}, 0, false, Error::None});
  a.push({ActionKind::Established, {}, 0, neg_.crc, Error::None});
  state_ = SetupState::Established;
}

void MpaSetup::send_reject(Actions& a, ByteSpan pd) noexcept {
  const MpaFrame& f = reader_.frame();
  MpaFrameSpec s;
  s.kind = MpaKind::Reply;
  s.rev = f.rev;
  s.r = true;
  s.c = profile_.crc || f.c();
  s.enhanced = f.has_v2;
  if (f.has_v2) {
    // Carry our IRD/ORD so the initiator sees what would have been acceptable (IWARP.md §1.7).
    s.v2.p2p = f.v2.p2p;
    s.v2.ird = wire14(std::min<std::uint32_t>(params_.ird, profile_.max_ird));
    s.v2.ord = wire14(std::min<std::uint32_t>(params_.ord, profile_.max_ord));
  }
  const std::size_t room = profile_.max_pd_send - (f.has_v2 ? mpa::kV2BlockLen : 0);
  s.consumer_pd = pd.first(std::min(pd.size(), room));
  const std::size_t n = encode_mpa_frame(s, frame_buf_);
  if (n) a.push({ActionKind::Send, ByteSpan{frame_buf_.data(), n}, 0, false, Error::None});
}

void MpaSetup::on_request(Actions& a) noexcept {
  const MpaFrame& f = reader_.frame();
  neg_.peer_sent_crc = f.c();
  neg_.rev = f.rev;
  if (!f.has_v2 && !profile_.accept_unenhanced) return fail(a, Error::MpaBadRevision, false);
  // siw: a Request that demands markers or lacks a required CRC gets a Reply with R=1.
  if (f.m()) {
    send_reject(a, {});
    return fail(a, Error::MpaMarkersRequested, false);
  }
  if (profile_.crc_policy == CrcPolicy::Required && !f.c()) {
    send_reject(a, {});
    return fail(a, Error::MpaCrcRequired, false);
  }
  a.push({ActionKind::CancelTimer, {}, 0, false, Error::None});
  a.push({ActionKind::RequestReceived, {}, 0, false, Error::None});
  state_ = SetupState::AwaitConsumer;
}

Actions MpaSetup::accept(const SetupParams& p) noexcept {
  Actions a;
  if (state_ != SetupState::AwaitConsumer) return a;
  params_ = p;
  const MpaFrame& f = reader_.frame();
  MpaFrameSpec s;
  s.kind = MpaKind::Reply;
  s.rev = f.rev;  // RFC 6581 §10: an unenhanced Request gets an unenhanced Reply
  neg_.crc = f.c() || profile_.crc;
  s.c = neg_.crc;
  std::uint32_t ird = std::min<std::uint32_t>(p.ird, profile_.max_ird);
  std::uint32_t ord = std::min<std::uint32_t>(p.ord, profile_.max_ord);
  std::uint32_t peer_ird = kNoNeg, peer_ord = kNoNeg;
  if (f.has_v2) {
    peer_ird = f.v2.ird;
    peer_ord = f.v2.ord;
    neg_.enhanced = true;
  } else if (f.has_legacy) {
    peer_ird = f.legacy.ird;
    peer_ord = f.legacy.ord;
    neg_.legacy_ird_ord = true;
    neg_.legacy_little_endian = f.legacy.little_endian;
  }
  if (f.has_v2 && f.v2.p2p) {
    // Echo A (softiwarp #18) and announce exactly one RTR form (PR #17): the first of our
    // preferences the initiator offered, else our first acceptable one (B-only -> C, as siw).
    neg_.p2p = true;
    const RtrMask offered = f.v2.rtr_mask() & profile_.rtr_accept;
    for (RtrType t : profile_.rtr_preference)
      if (offered & rtr_bit(t)) {
        neg_.rtr = t;
        break;
      }
    if (neg_.rtr == RtrType::None)
      for (RtrType t : profile_.rtr_preference)
        if (profile_.rtr_accept & rtr_bit(t)) {
          neg_.rtr = t;
          break;
        }
    if (profile_.p2p_min_one) {
      ird = std::max<std::uint32_t>(ird, 1);
      ord = std::max<std::uint32_t>(ord, 1);
    }
    if (neg_.rtr == RtrType::Read) ird = std::max<std::uint32_t>(ird, 1);  // RFC 6581 §9.1
  }
  // RFC 6581 §9.1 (siw "relaxed"): ORD ≤ initiator IRD, IRD ≥ initiator ORD (capped by max_ird).
  // 0x3FFF from the peer: leave ours unchanged and echo 0x3FFF.
  std::uint32_t wire_ird = ird, wire_ord = ord;
  if (peer_ord != kNoNeg) {
    if (profile_.raise_ird_to_peer_ord) ird = std::min<std::uint32_t>(std::max(ird, peer_ord), profile_.max_ird);
    wire_ird = ird;
  } else if (f.has_v2) {
    wire_ird = kNoNeg;
  }
  if (peer_ird != kNoNeg) {
    ord = std::min(ord, peer_ird);
    wire_ord = ord;
  } else if (f.has_v2) {
    wire_ord = kNoNeg;
  }
  neg_.ird = ird;
  neg_.ord = ord;
  neg_.peer_ird = peer_ird;
  neg_.peer_ord = peer_ord;
  if (f.has_v2) {
    s.enhanced = true;
    s.v2.p2p = neg_.p2p;
    if (neg_.p2p) s.v2.set_rtr_mask(rtr_bit(neg_.rtr));
    s.v2.ird = wire14(wire_ird);
    s.v2.ord = wire14(wire_ord);
  } else if (f.has_legacy) {
    s.legacy = true;
    s.legacy_block = {ird, ord, false};
  }
  const std::size_t block = (s.enhanced ? mpa::kV2BlockLen : 0) + (s.legacy ? mpa::kLegacyBlockLen : 0);
  if (block + p.private_data.size() > profile_.max_pd_send) {
    send_reject(a, {});
    fail(a, Error::MpaPrivateDataTooLong, false);
    return a;
  }
  s.consumer_pd = p.private_data;
  const std::size_t n = encode_mpa_frame(s, frame_buf_);
  // FPDU mode first: the initiator may answer the Reply with its RTR at once.
  a.push({ActionKind::EnterFpduMode, {}, 0, neg_.crc, Error::None});
  a.push({ActionKind::Send, ByteSpan{frame_buf_.data(), n}, 0, false, Error::None});
  // RFC 5044 §7.1: the responder sends no FPDU before it has received one (the RTR in P2P mode).
  if (profile_.t_rtr_ms) a.push({ActionKind::ArmTimer, {}, profile_.t_rtr_ms, false, Error::None});
  state_ = SetupState::AwaitRtr;
  return a;
}

Actions MpaSetup::reject(ByteSpan pd) noexcept {
  Actions a;
  if (state_ != SetupState::AwaitConsumer) return a;
  send_reject(a, pd);
  fail(a, Error::MpaRejectedLocally, false);
  return a;
}

Actions MpaSetup::on_first_fpdu(const Segment& seg) noexcept {
  Actions a;
  if (state_ != SetupState::AwaitRtr) return a;
  if (neg_.p2p && !is_rtr(seg, neg_.rtr)) {
    // A Terminate in place of the RTR is never answered with one (IWARP.md §4.5).
    fail(a, Error::MpaRtrMismatch, seg.opcode != Opcode::Terminate);
    return a;
  }
  a.push({ActionKind::CancelTimer, {}, 0, false, Error::None});
  a.push({ActionKind::Established, {}, 0, neg_.crc, Error::None});
  state_ = SetupState::Established;
  return a;
}

Actions MpaSetup::on_timeout() noexcept {
  Actions a;
  switch (state_) {
    case SetupState::AwaitReply:
    case SetupState::AwaitRequest:
    case SetupState::AwaitRtr:
      fail(a, Error::MpaTimeout, false);
      break;
    default:
      break;  // stale timer
  }
  return a;
}

Actions MpaSetup::on_peer_closed() noexcept {
  Actions a;
  if (state_ != SetupState::Established && state_ != SetupState::Failed) fail(a, Error::MpaPeerClosed, false);
  return a;
}

}  // namespace openndk::iwarp
