#include "base/config.h"

#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "base/log.h"

namespace openndk::base {
namespace {

constexpr TunableInfo kTable[] = {
    {Tunable::ProgressMode, "progress_mode", "adaptive", "", "blocking (epoll), poll (consumer's CQ poll drives progress), adaptive (spin poll_spin_us, then sleep)"},
    {Tunable::PollSpinUs, "poll_spin_us", "50", "us", "adaptive mode: how long an engine spins before it sleeps"},
    {Tunable::ConnectTimeoutMs, "connect_timeout_ms", "10000", "ms", "NdkConnect fails with STATUS_IO_TIMEOUT after this (R96)"},
    {Tunable::MpaReplyTimeoutMs, "mpa_reply_timeout_ms", "10000", "ms", "wait for the MPA Reply after sending the Request (siw uses 10 s)"},
    {Tunable::EstablishTimeoutMs, "establish_timeout_ms", "30000", "ms", "NdkAccept/NdkCompleteConnect wait for the peer (R98, R99)"},
    {Tunable::MpaProfile, "mpa_profile", "default", "", "MPA setup profile: default, siw-compatible, windows"},
    {Tunable::MpaPrivateDataMax, "mpa_private_data_max", "512", "bytes", "largest MPA private data accepted (RFC 5044 limit 512)"},
    {Tunable::TcpUserTimeoutMs, "tcp_user_timeout_ms", "20000", "ms", "TCP_USER_TIMEOUT: unacknowledged data this long means the peer is dead"},
    {Tunable::KeepaliveIdleS, "keepalive_idle_s", "10", "s", "TCP keepalive idle time and probe interval for idle connections"},
    {Tunable::NetworkDirect, "network_direct", "1", "", "*NetworkDirect keyword: NDK state of every interface at discovery (1 enabled)"},
    {Tunable::MaxCqDepth, "max_cq_depth", "65536", "entries", "NDK_ADAPTER_INFO.MaxCqDepth"},
    {Tunable::MaxQueueDepth, "max_queue_depth", "16384", "requests", "MaxInitiatorQueueDepth and MaxReceiveQueueDepth"},
    {Tunable::MaxSrqDepth, "max_srq_depth", "16384", "requests", "MaxSrqDepth"},
    {Tunable::MaxSge, "max_sge", "16", "SGEs", "MaxInitiatorRequestSge, MaxReceiveRequestSge, MaxReadRequestSge"},
    {Tunable::MaxInlineData, "max_inline_data", "1024", "bytes", "MaxInlineDataSize"},
    {Tunable::MaxTransferLength, "max_transfer_length", "1073741824", "bytes", "MaxTransferLength (one request's total length)"},
    {Tunable::MaxRegistrationSize, "max_registration_size", "1099511627776", "bytes", "MaxRegistrationSize"},
    {Tunable::MaxWindowSize, "max_window_size", "1099511627776", "bytes", "MaxWindowSize"},
    {Tunable::FrmrPageCount, "frmr_page_count", "4096", "pages", "FRMRPageCount (pages per fast registration)"},
    {Tunable::MaxReadLimit, "max_read_limit", "128", "reads", "MaxInboundReadLimit and MaxOutboundReadLimit (IRD/ORD per QP)"},
    {Tunable::MaxQpCount, "max_qp_count", "65536", "objects", "NDIS_NDK_CAPABILITIES.MaxQpCount per miniport adapter"},
    {Tunable::MaxCqCount, "max_cq_count", "65536", "objects", "MaxCqCount"},
    {Tunable::MaxPdCount, "max_pd_count", "65536", "objects", "MaxPdCount"},
    {Tunable::MaxMrCount, "max_mr_count", "262144", "objects", "MaxMrCount"},
    {Tunable::MaxMwCount, "max_mw_count", "262144", "objects", "MaxMwCount"},
    {Tunable::MaxSrqCount, "max_srq_count", "16384", "objects", "MaxSrqCount"},
    {Tunable::EnginesPerDevice, "engines_per_device", "0", "threads", "progress engines per RNIC; 0: 1 on <= 2 CPUs, else CPUs (at most 8)"},
    {Tunable::FrmrTokenRotation, "frmr_token_rotation", "0", "", "1: every NdkFastRegister gives the MR a new remote token; 0: it keeps the one it got at NdkInitializeFastRegisterMr (R126)"},
    {Tunable::PollBackoff, "poll_backoff", "5", "", "consumer CQ polls: after k empty socket attempts in a row the next 2^k-1 polls skip the socket, k <= this (this + 2 while the socket is full; 0: every poll tries; lower: less latency, more syscalls)"},
    {Tunable::PostCoalesce, "post_coalesce", "32", "requests", "a consumer posting a burst of small requests (<= 16 KiB) between two CQ polls: the first goes out at once, up to this many more wait for its next poll (or the engine, if no poll comes) and leave in one sendmsg; 0: every post transmits at once"},
};
static_assert(std::size(kTable) == static_cast<size_t>(Tunable::Count_), "one row per tunable, in enum order");

struct State {
  std::mutex mu;
  std::array<std::optional<std::string>, std::size(kTable)> overrides;
  std::array<std::optional<std::uint64_t>, std::size(kTable)> numeric;
};
State& state() {
  static State s;
  return s;
}

std::string envName(std::string_view name) {
  std::string env = "OPENNDK_";
  for (char c : name) env += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

std::optional<std::uint64_t> parseU64(std::string_view v) {
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return out;
}

bool isNumeric(const TunableInfo& t) { return !t.unit.empty(); }

// The word tunables and the words their readers accept (event_loop.cpp parseProgressMode,
// iwarp::find_profile). Others take any string.
std::span<const std::string_view> allowedWords(Tunable key) {
  static constexpr std::string_view kModes[] = {"blocking", "poll", "adaptive"};
  static constexpr std::string_view kProfiles[] = {"default", "siw-compatible", "windows"};
  if (key == Tunable::ProgressMode) return kModes;
  if (key == Tunable::MpaProfile) return kProfiles;
  return {};
}

std::string valueLocked(State& s, Tunable key) {
  const auto i = static_cast<size_t>(key);
  if (s.overrides[i]) return *s.overrides[i];
  const std::string env = envName(kTable[i].name);
  if (const char* e = std::getenv(env.c_str())) {
    if (tunableValueValid(kTable[i], e)) return e;
    // A loud fallback: once per tunable and process, then `ndk info --config` marks it.
    static std::array<std::atomic<bool>, std::size(kTable)> warned{};
    if (!warned[i].exchange(true))
      NDK_LOG_WARN("config", "{}='{}' rejected ({}): using the default '{}'", env, e,
                   isNumeric(kTable[i]) ? "not a non-negative integer" : "not one of the allowed words",
                   kTable[i].defaultValue);
  }
  return std::string(kTable[i].defaultValue);
}

}  // namespace

std::span<const TunableInfo> tunableTable() { return kTable; }

bool tunableValueValid(const TunableInfo& t, std::string_view value) {
  if (isNumeric(t)) return parseU64(value).has_value();
  const auto words = allowedWords(t.key);
  if (words.empty()) return true;
  for (std::string_view w : words)
    if (w == value) return true;
  return false;
}

std::optional<std::string> tunableRejectedEnv(Tunable key) {
  const TunableInfo& t = kTable[static_cast<size_t>(key)];
  const char* e = std::getenv(envName(t.name).c_str());
  if (!e || tunableValueValid(t, e)) return std::nullopt;
  return std::string(e);
}

const TunableInfo* findTunable(std::string_view name) {
  for (const auto& t : kTable)
    if (t.name == name) return &t;
  return nullptr;
}

std::string tunableString(Tunable key) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return valueLocked(s, key);
}

std::uint64_t tunableU64(Tunable key) {
  auto& s = state();
  const auto i = static_cast<size_t>(key);
  std::lock_guard lock(s.mu);
  if (!s.numeric[i]) s.numeric[i] = parseU64(valueLocked(s, key)).value_or(0);
  return *s.numeric[i];
}

bool setTunable(std::string_view name, std::string_view value) {
  const TunableInfo* t = findTunable(name);
  if (!t) return false;
  if (!tunableValueValid(*t, value)) return false;
  auto& s = state();
  const auto i = static_cast<size_t>(t->key);
  std::lock_guard lock(s.mu);
  s.overrides[i] = std::string(value);
  s.numeric[i].reset();
  return true;
}

void resetTunables() {
  auto& s = state();
  std::lock_guard lock(s.mu);
  for (auto& o : s.overrides) o.reset();
  for (auto& n : s.numeric) n.reset();
}

}  // namespace openndk::base
