#include "host/control_protocol.h"

#include <nlohmann/json.hpp>

#include "host/version.h"

namespace openndk::host::control {

std::variant<Request, ParseError> parseRequest(std::string_view text) {
  if (text.size() > kMaxRequestBytes) return ParseError{"request longer than 4096 bytes"};
  // parse(..., allow_exceptions=false): malformed JSON gives a discarded value, never a throw.
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return ParseError{"request is not valid JSON"};
  if (!j.is_object()) return ParseError{"request is not a JSON object"};
  auto cmd = j.find("command");
  if (cmd == j.end() || !cmd->is_string()) return ParseError{"request has no string \"command\""};
  const std::string& name = cmd->get_ref<const std::string&>();
  Request r;
  if (name == "status") {
    r.command = Command::Status;
    return r;
  }
  if (name == "version") {
    r.command = Command::Version;
    return r;
  }
  if (name != "set_state") return ParseError{"unknown command \"" + name.substr(0, 64) + "\""};
  r.command = Command::SetState;
  auto ifx = j.find("ifindex");
  if (ifx == j.end() || !ifx->is_number_unsigned() || ifx->get<std::uint64_t>() == 0 ||
      ifx->get<std::uint64_t>() > 0xFFFFFFFFu)
    return ParseError{"set_state needs \"ifindex\": a positive 32-bit integer"};
  r.ifIndex = static_cast<std::uint32_t>(ifx->get<std::uint64_t>());
  auto en = j.find("enabled");
  if (en == j.end() || !en->is_boolean()) return ParseError{"set_state needs \"enabled\": true or false"};
  r.enabled = en->get<bool>();
  if (auto t = j.find("timeout_ms"); t != j.end()) {
    if (!t->is_number_unsigned()) return ParseError{"\"timeout_ms\" must be a non-negative integer"};
    const std::uint64_t v = t->get<std::uint64_t>();
    r.timeoutMs = static_cast<std::uint32_t>(v > kMaxSetStateTimeoutMs ? kMaxSetStateTimeoutMs : v);
  }
  return r;
}

std::string errorReply(std::string_view message) {
  nlohmann::ordered_json j{{"ok", false}, {"error", std::string(message)}, {"openndk_version", versionString()}};
  // error_handler replace: a message quoting invalid UTF-8 from the request still serializes.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace openndk::host::control
