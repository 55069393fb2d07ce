// The one table of tunables (progress mode, timeouts, MPA profile, limits). Every value is read in
// one place: the built-in default, overridden by the environment variable OPENNDK_<NAME> (upper
// case), overridden by setTunable() (tests, tools). `ndk info --config` prints the table.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace openndk::base {

enum class Tunable : int {
  ProgressMode,          // "blocking" | "poll" | "adaptive"
  PollSpinUs,            // adaptive mode: spin this long before sleeping
  ConnectTimeoutMs,      // R96: NdkConnect gives up with STATUS_IO_TIMEOUT
  MpaReplyTimeoutMs,     // MPA Request sent, Reply not yet seen
  EstablishTimeoutMs,    // NdkAccept / NdkCompleteConnect wait for the other side (R98, R99)
  MpaProfile,            // "default" | "siw-compatible" | "windows"
  MpaPrivateDataMax,     // largest MPA private data accepted from a peer (RFC 5044: 512)
  TcpUserTimeoutMs,      // dead-peer detection: TCP_USER_TIMEOUT
  KeepaliveIdleS,        // dead-peer detection: TCP keepalive idle/interval
  NetworkDirect,         // *NetworkDirect keyword default for every interface: 1 enabled, 0 disabled
  MaxCqDepth,
  MaxQueueDepth,         // MaxInitiatorQueueDepth and MaxReceiveQueueDepth
  MaxSrqDepth,
  MaxSge,                // MaxInitiatorRequestSge, MaxReceiveRequestSge, MaxReadRequestSge
  MaxInlineData,
  MaxTransferLength,
  MaxRegistrationSize,
  MaxWindowSize,
  FrmrPageCount,
  MaxReadLimit,          // MaxInboundReadLimit and MaxOutboundReadLimit per QP
  MaxQpCount,            // per miniport adapter (R155)
  MaxCqCount,
  MaxPdCount,
  MaxMrCount,
  MaxMwCount,
  MaxSrqCount,
  EnginesPerDevice,      // progress engines (threads) per RNIC; 0: automatic (1 on <= 2 CPUs)
  FrmrTokenRotation,     // 1: a new remote token per NdkFastRegister (R126 amended: 0, kept)
  PollBackoff,           // consumer CQ polls: back-off exponent of the socket attempts
  PostCoalesce,          // small posts held for the consumer's next CQ poll while it posts a burst
  Count_
};

struct TunableInfo {
  Tunable key;
  std::string_view name;        // snake_case; env var is OPENNDK_<NAME>
  std::string_view defaultValue;
  std::string_view unit;
  std::string_view description;
};

std::span<const TunableInfo> tunableTable();
const TunableInfo* findTunable(std::string_view name);

// Current value; numeric getters parse once and cache.
std::string tunableString(Tunable key);
std::uint64_t tunableU64(Tunable key);
// The environment value OPENNDK_<NAME> that was refused (not a number for a numeric tunable, not
// one of the allowed words for progress_mode / mpa_profile): the default is in force instead, and
// tunableString() returns that default. std::nullopt when the environment value is in force or unset.
std::optional<std::string> tunableRejectedEnv(Tunable key);
// Whether `value` is acceptable for the tunable (numeric: a decimal u64; word lists: one of them).
bool tunableValueValid(const TunableInfo& t, std::string_view value);
// Override (tools, tests). Returns false for an unknown name or a value that does not parse.
bool setTunable(std::string_view name, std::string_view value);
void resetTunables();

}  // namespace openndk::base
