#include "base/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace openndk::base {
namespace {

LogLevel parseLevel(const char* s) {
  if (!s) return LogLevel::Warn;
  if (!std::strcmp(s, "error")) return LogLevel::Error;
  if (!std::strcmp(s, "info")) return LogLevel::Info;
  if (!std::strcmp(s, "debug")) return LogLevel::Debug;
  if (!std::strcmp(s, "trace")) return LogLevel::Trace;
  return LogLevel::Warn;
}

std::atomic<int>& threshold() {
  static std::atomic<int> t{static_cast<int>(parseLevel(std::getenv("OPENNDK_LOG")))};
  return t;
}

std::atomic<std::uint64_t> g_lines[5];
const char* const kNames[] = {"error", "warn", "info", "debug", "trace"};

}  // namespace

LogLevel logThreshold() { return static_cast<LogLevel>(threshold().load(std::memory_order_relaxed)); }
void setLogThreshold(LogLevel level) { threshold().store(static_cast<int>(level)); }

std::uint64_t logLinesWritten(LogLevel level) { return g_lines[static_cast<int>(level)].load(); }

void logWrite(LogLevel level, std::string_view layer, std::string_view text) {
  g_lines[static_cast<int>(level)].fetch_add(1, std::memory_order_relaxed);
  if (text.empty()) return;
  // UTC wall-clock time with microseconds, so lines from several processes (and the engine's
  // threads) can be ordered and matched against a packet capture.
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long>(now.tv_nsec / 1000));
  static std::mutex mu;  // keep lines whole when threads log at once
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s openndk %s [%.*s] %.*s\n", stamp, kNames[static_cast<int>(level)],
               static_cast<int>(layer.size()), layer.data(), static_cast<int>(text.size()), text.data());
}

}  // namespace openndk::base
