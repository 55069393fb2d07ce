// Leveled logging for every layer. One line per event, prefixed with the level and the layer,
// written to stderr. The threshold comes from OPENNDK_LOG (error|warn|info|debug|trace; default warn).
#pragma once
#include <fmt/format.h>
#include <atomic>
#include <string_view>

namespace openndk::base {

enum class LogLevel : int { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

LogLevel logThreshold();
void setLogThreshold(LogLevel level);
void logWrite(LogLevel level, std::string_view layer, std::string_view text);
// Lines written since start, per level: tests assert that a bad input produced its log line
// without scraping stderr.
std::uint64_t logLinesWritten(LogLevel level);

template <class... Args>
void log(LogLevel level, std::string_view layer, fmt::format_string<Args...> f, Args&&... args) {
  if (static_cast<int>(level) > static_cast<int>(logThreshold())) {
    logWrite(level, layer, {});  // counted, not printed
    return;
  }
  logWrite(level, layer, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace openndk::base

#define NDK_LOG_ERROR(layer, ...) ::openndk::base::log(::openndk::base::LogLevel::Error, layer, __VA_ARGS__)
#define NDK_LOG_WARN(layer, ...) ::openndk::base::log(::openndk::base::LogLevel::Warn, layer, __VA_ARGS__)
#define NDK_LOG_INFO(layer, ...) ::openndk::base::log(::openndk::base::LogLevel::Info, layer, __VA_ARGS__)
#define NDK_LOG_DEBUG(layer, ...) ::openndk::base::log(::openndk::base::LogLevel::Debug, layer, __VA_ARGS__)
