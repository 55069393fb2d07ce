// Connection-setup profiles: every behavioural difference between peers we interoperate with is a
// value in this struct, never a branch elsewhere (IWARP.md §1.6, §1.8, §6).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "iwarp/wire.h"

namespace openndk::iwarp {

enum class CrcPolicy : std::uint8_t {
  Negotiate,  // RFC 5044 §4.4: CRC on iff either side set C
  Required,   // "strict": refuse a peer whose frame lacks C (siw mpa_crc_required, Windows)
};

struct Profile {
  std::string_view name;
  // -- what we send --
  std::uint8_t rev = mpa::kRev2;    // revision of our Request
  bool enhanced = true;             // S=1 + RFC 6581 block (rev 2 only)
  bool crc = true;                  // C flag in our Request/Reply
  CrcPolicy crc_policy = CrcPolicy::Negotiate;
  bool p2p = true;                  // A=1 in our Request
  RtrMask rtr_offer = 0;            // RTR forms our Request offers (when p2p)
  // Preference order: initiator picks the first one the Reply allows; responder the first one the
  // Request offered (and that we accept).
  std::array<RtrType, 3> rtr_preference{RtrType::Write, RtrType::Read, RtrType::Send};
  RtrMask rtr_accept = 0;           // forms we accept as responder
  // -- what we accept --
  bool accept_unenhanced = true;    // rev 1 (or rev 2 with S=0) Requests
  bool rev1_fallback = false;       // initiator: accept a rev-1 Reply to our rev-2 Request
  bool legacy_ird_ord = false;      // [MS-SMBD] §6.1 IRD/ORD header on revision-1 frames
  std::uint16_t max_pd_send = mpa::kInteropPrivateData;  // total PD_Length we send (≤ 256 for siw/Chelsio)
  std::uint16_t max_pd_recv = mpa::kMaxPrivateData;      // PD_Length we accept (≤ 512)
  // -- timers (milliseconds, 0 = no timer) --
  std::uint32_t t_reply_ms = 10000;   // siw MPAREQ_TIMEOUT
  std::uint32_t t_request_ms = 5000;  // siw MPAREP_TIMEOUT
  std::uint32_t t_rtr_ms = 10000;
  // -- IRD/ORD --
  std::uint16_t max_ird = 128;  // SIW_MAX_IRD_QP
  std::uint16_t max_ord = 128;
  bool p2p_min_one = true;      // in P2P mode raise IRD/ORD to ≥ 1 (siw, irdma)
  // RFC 6581 §9.1 leaves a choice when our IRD is below the peer's ORD: raise our IRD to cover it
  // (siw's relaxed behaviour) or keep it and let the peer lower its ORD. NDK's R82/R83 need the
  // latter (effective limits are minima of both consumers' requests), so only siw-compatible raises.
  bool raise_ird_to_peer_ord = true;
  // -- initiator pacing --
  // Hold our first FPDU (the RTR, or the first message without P2P) this long after the MPA Reply
  // arrived (0 = send at once). Linux siw 6.1's passive side sends its Reply before it hooks its
  // receive handler to the socket (siw_accept: siw_send_mpareqrep, then siw_qp_socket_assoc or the
  // RTR upcalls); bytes that land in between stay unread until more bytes arrive, and a peer that
  // then waits for an answer (rping) hangs. docs/interop.md "Findings", docs/decisions.md "Interop".
  std::uint32_t first_fpdu_delay_ms = 0;
};

[[nodiscard]] const Profile& profile_default() noexcept;
[[nodiscard]] const Profile& profile_siw_compatible() noexcept;
[[nodiscard]] const Profile& profile_windows() noexcept;
[[nodiscard]] std::span<const Profile* const> all_profiles() noexcept;
// "default", "siw-compatible", "windows"; nullptr if unknown.
[[nodiscard]] const Profile* find_profile(std::string_view name) noexcept;

}  // namespace openndk::iwarp
