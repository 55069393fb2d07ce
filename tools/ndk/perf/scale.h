// ndk perf --loopback --connect-rate -q N: opens N connected QP pairs over loopback on one
// adapter instance (one CQ, one PD, one listener), keeping up to `window` connection
// establishments in flight, and reports connects/s, the process memory and file descriptors per
// idle connected QP, then tears everything down (NdkDisconnect, then close) and reports that rate.
// Uses the public C ABI only. Every failure is reported with the pair and the call, not thrown
// past the measurement: the result says how far it got.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include <ndk/ndk.h>

namespace ndkperf {

struct ScaleOptions {
  std::size_t pairs = 1000;     // -q
  unsigned window = 64;         // -o: connection establishments in flight
  bool ipv6 = false;
  bool progress = true;         // progress line on stderr for long phases
  int stallTimeoutMs = 60000;   // no progress for this long: stop and report
};

struct ScaleResult {
  std::size_t requested = 0;
  std::size_t created = 0;        // QP pairs (and connectors) created
  std::size_t connected = 0;      // pairs with both NdkCompleteConnect and NdkAccept completed
  std::size_t disconnected = 0;   // client NdkDisconnect completed
  double connectCpuSeconds = 0;   // user+sys of the whole process during the connect phase
  double createSeconds = 0, connectSeconds = 0, disconnectSeconds = 0, closeSeconds = 0;
  long rssBaseKb = 0, rssCreatedKb = 0, rssConnectedKb = 0, rssAfterKb = 0, rssTrimmedKb = 0;
  long fdsBase = 0, fdsConnected = 0, fdsAfter = 0;
  long threadsBase = 0, threadsConnected = 0;
  std::uint64_t nofileLimit = 0;
  std::string error;              // first failure: which pair, which call, which status
  std::string note;               // e.g. the descriptor limit is too low for the pairs asked
  double connectsPerSec() const { return connectSeconds > 0 ? double(connected) / connectSeconds : 0; }
  double bytesPerIdleQp() const {  // RSS growth from before creating to all connected, per QP (2 per pair)
    return connected ? double(rssConnectedKb - rssBaseKb) * 1024.0 / double(2 * connected) : 0;
  }
  double fdsPerPair() const { return connected ? double(fdsConnected - fdsBase) / double(connected) : 0; }
};

// Raises RLIMIT_NOFILE so that `needed` descriptors fit (soft to hard; the hard limit too when
// privileged, up to fs.nr_open). Returns the soft limit in force afterwards.
std::uint64_t raiseFileLimit(std::uint64_t needed);

ScaleResult runConnectScale(NET_IFINDEX ifx, const SOCKADDR_INET& loopback, const ScaleOptions& o);
// The same pattern over plain TCP sockets (--baseline tcp): nonblocking connects, `window` in
// flight, accepted by one listener, then closed. QPs/connectors do not exist: "per QP" figures
// are per socket (2 per pair), and RSS does not include the kernel's socket memory.
ScaleResult runTcpConnectScale(const SOCKADDR_INET& loopback, const ScaleOptions& o);

std::string renderScaleTable(const ScaleResult& r, const ScaleOptions& o, const char* transport = "OpenNDK");
nlohmann::ordered_json renderScaleJson(const ScaleResult& r, const ScaleOptions& o);

}  // namespace ndkperf
