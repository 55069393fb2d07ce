// The control plane's request language (docs/tools.md "The control plane"): one JSON object per
// connection, one JSON reply. Pure (no sockets, no host): the server calls it, fuzz/host fuzzes it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace openndk::host::control {

// Requests longer than this are refused unparsed (a status request is ~30 bytes).
inline constexpr std::size_t kMaxRequestBytes = 4096;
// set_state waits at most this long for the PnP event, whatever the request asks.
inline constexpr std::uint32_t kMaxSetStateTimeoutMs = 120000;

enum class Command { Status, SetState, Version };

struct Request {
  Command command = Command::Status;
  std::uint32_t ifIndex = 0;  // set_state
  bool enabled = true;        // set_state
  std::uint32_t timeoutMs = 30000;  // set_state: wait for the state change
};

struct ParseError {
  std::string message;
};

// {"command":"status"} | {"command":"version"} |
// {"command":"set_state","ifindex":N,"enabled":true|false[,"timeout_ms":N]}.
// Never throws; anything else is a ParseError naming what is wrong.
std::variant<Request, ParseError> parseRequest(std::string_view text);

// {"ok":false,"error":message,"openndk_version":...} as one line with '\n'.
std::string errorReply(std::string_view message);

}  // namespace openndk::host::control
