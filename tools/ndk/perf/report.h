// ndk perf output: the text table (size, OpenNDK, TCP, ratio), JSON, CSV and the SVG plot.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "types.h"

namespace ndkperf {

struct Row {
  std::size_t size = 0;
  std::optional<Measurement> ndk, tcp;
};

struct Report {
  Options opts;
  std::string commandLine;
  std::vector<Row> rows;
  std::string ndkNote;  // why there are no NDK figures (e.g. --tcp-only)
};

std::string renderTable(const Report& r);
nlohmann::ordered_json renderJson(const Report& r);
std::string renderCsv(const Report& r);
// Bandwidth (MB/s, linear) or median latency (µs, log scale) against message size (log2 x axis),
// one series per transport that ran; returns the SVG.
std::string renderSvg(const Report& r);
nlohmann::ordered_json machineInfo();

}  // namespace ndkperf
