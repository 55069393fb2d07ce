// The control plane, client side: asks every live OpenNDK process (its <pid>.sock in the runtime
// directory, src/host/control.h) one JSON request. A socket whose process is gone (connect gives
// ECONNREFUSED: killed, nobody unlinked it) is removed and reported, never an error.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ndktool {

struct ProcessReply {
  long pid = 0;
  std::string socket;
  nlohmann::ordered_json reply;  // the process's JSON reply; null when `error` is set
  std::string error;     // transport failure (timeout, unreadable reply...)
};

struct ControlSweep {
  std::string directory;
  std::vector<ProcessReply> processes;  // sorted by pid; this process itself is left out
  std::vector<std::string> staleRemoved;  // sockets of dead processes that were unlinked
};

// Sends `request` to every endpoint; each gets at most timeoutMs to answer.
ControlSweep askAllProcesses(const nlohmann::json& request, int timeoutMs);

// The version fields every JSON document of the tool carries.
nlohmann::ordered_json versionJson();
// `j` with the version fields first (for the documents of ndk perf, ndk test).
nlohmann::ordered_json withVersion(const nlohmann::ordered_json& j);

}  // namespace ndktool
