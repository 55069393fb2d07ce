// Fuzzes the control plane's request parser (src/host/control_protocol.h): any byte string gives
// either a well-formed Request or a ParseError whose error reply is valid JSON; never a crash,
// an exception or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "host/control_protocol.h"

using namespace openndk::host::control;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parseRequest(text);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    const std::string reply = errorReply(e->message);
    const auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j["ok"] != false) std::abort();
    return 0;
  }
  const Request& r = std::get<Request>(parsed);
  if (r.command == Command::SetState && (r.ifIndex == 0 || r.timeoutMs > kMaxSetStateTimeoutMs)) std::abort();
  return 0;
}
