#include "types.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <numeric>

namespace ndkperf {

const char* testName(Test t) {
  switch (t) {
    case Test::Send: return "send";
    case Test::Write: return "write";
    case Test::Read: return "read";
  }
  return "?";
}

const char* modeName(Mode m) { return m == Mode::Lat ? "lat" : "bw"; }

LatStats summarize(std::vector<double> v) {
  LatStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    std::size_t i = static_cast<std::size_t>(std::ceil(q * double(v.size()))) ;
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
  };
  s.min = v.front();
  s.max = v.back();
  s.median = at(0.5);
  s.p99 = at(0.99);
  s.avg = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  return s;
}

void Measurement::merge(const Measurement& o) {
  size = o.size;
  iters += o.iters;
  seconds += o.seconds;
  latUs.insert(latUs.end(), o.latUs.begin(), o.latUs.end());
}

double headline(Mode m, const Measurement& x) { return m == Mode::Bw ? x.mbPerSec() : summarize(x.latUs).median; }

std::string sizeLabel(std::size_t s) {
  if (s >= (1u << 20) && s % (1u << 20) == 0) return fmt::format("{}M", s >> 20);
  if (s >= 1024 && s % 1024 == 0) return fmt::format("{}K", s >> 10);
  return fmt::format("{}", s);
}

std::optional<std::size_t> parseSize(const std::string& in) {
  if (in.empty() || !std::isdigit(static_cast<unsigned char>(in[0]))) return std::nullopt;
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(in, &pos);
  } catch (...) {
    return std::nullopt;
  }
  std::string suf = in.substr(pos);
  for (auto& c : suf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (suf == "" || suf == "b") return v;
  if (suf == "k" || suf == "kb" || suf == "kib") return v << 10;
  if (suf == "m" || suf == "mb" || suf == "mib") return v << 20;
  return std::nullopt;
}

}  // namespace ndkperf
