#include "iwarp/profiles.h"

namespace openndk::iwarp {
namespace {

constexpr RtrMask kWriteRead = rtr_bit(RtrType::Write) | rtr_bit(RtrType::Read);

// default: RFC 6581 with CRC requested; P2P offering Write and Read RTR (interoperates with siw,
// Chelsio and irdma, IWARP.md §1.6 "Our policy").
constexpr Profile kDefault{
    .name = "default",
    .rev = mpa::kRev2,
    .enhanced = true,
    .crc = true,
    .crc_policy = CrcPolicy::Negotiate,
    .p2p = true,
    .rtr_offer = kWriteRead,
    .rtr_preference = {RtrType::Write, RtrType::Read, RtrType::Send},
    .rtr_accept = kWriteRead,
    .accept_unenhanced = true,
    .rev1_fallback = false,
    .legacy_ird_ord = false,
    .max_pd_send = mpa::kInteropPrivateData,
    .max_pd_recv = mpa::kMaxPrivateData,
    .t_reply_ms = 10000,
    .t_request_ms = 5000,
    .t_rtr_ms = 10000,
    .max_ird = 128,
    .max_ord = 128,
    .p2p_min_one = true,
    .raise_ird_to_peer_ord = false,
    .first_fpdu_delay_ms = 0,
};

// siw-compatible: what Linux siw does with its built-in defaults (IWARP.md §6): rev 2 + S, C not
// requested but honoured, client/server as initiator, P2P honoured as responder preferring Write,
// PD ≤ 256 both ways, no RTR timer; as initiator it paces its first FPDU (siw's passive-side race).
constexpr Profile kSiw{
    .name = "siw-compatible",
    .rev = mpa::kRev2,
    .enhanced = true,
    .crc = false,
    .crc_policy = CrcPolicy::Negotiate,
    .p2p = false,
    .rtr_offer = kWriteRead,
    .rtr_preference = {RtrType::Write, RtrType::Read, RtrType::Send},
    .rtr_accept = kWriteRead,
    .accept_unenhanced = true,
    .rev1_fallback = false,
    .legacy_ird_ord = false,
    .max_pd_send = mpa::kInteropPrivateData,
    .max_pd_recv = mpa::kInteropPrivateData,
    .t_reply_ms = 10000,
    .t_request_ms = 5000,
    .t_rtr_ms = 0,
    .max_ird = 128,
    .max_ord = 128,
    .p2p_min_one = true,
    .raise_ird_to_peer_ord = true,
    .first_fpdu_delay_ms = 500,  // siw 6.1 passive-side race (profiles.h); 500 ms never lost one
};

// windows: CRC strict, P2P with the zero-length Read RTR, and revision-1 peers using the [MS-SMBD]
// §6.1 IRD/ORD header accepted (Windows SMB Direct over iWARP).
constexpr Profile kWindows{
    .name = "windows",
    .rev = mpa::kRev2,
    .enhanced = true,
    .crc = true,
    .crc_policy = CrcPolicy::Required,
    .p2p = true,
    .rtr_offer = rtr_bit(RtrType::Read),
    .rtr_preference = {RtrType::Read, RtrType::Write, RtrType::Send},
    .rtr_accept = kWriteRead,
    .accept_unenhanced = true,
    .rev1_fallback = true,
    .legacy_ird_ord = true,
    .max_pd_send = mpa::kInteropPrivateData,
    .max_pd_recv = mpa::kMaxPrivateData,
    .t_reply_ms = 10000,
    .t_request_ms = 5000,
    .t_rtr_ms = 10000,
    .max_ird = 128,
    .max_ord = 128,
    .p2p_min_one = true,
    .raise_ird_to_peer_ord = false,
    .first_fpdu_delay_ms = 0,
};

constexpr std::array<const Profile*, 3> kAll{&kDefault, &kSiw, &kWindows};

}  // namespace

const Profile& profile_default() noexcept { return kDefault; }
const Profile& profile_siw_compatible() noexcept { return kSiw; }
const Profile& profile_windows() noexcept { return kWindows; }
std::span<const Profile* const> all_profiles() noexcept { return kAll; }

const Profile* find_profile(std::string_view name) noexcept {
  for (const Profile* p : kAll)
    if (p->name == name) return p;
  return nullptr;
}

}  // namespace openndk::iwarp
