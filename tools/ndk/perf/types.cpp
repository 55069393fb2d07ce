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

double roundStep(double x) {
  if (!(x > 0) || !std::isfinite(x)) return 1;
  double p = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

Histogram histogram(const std::vector<double>& samples, unsigned maxBins) {
  Histogram h;
  if (samples.empty()) return h;
  const auto [lo, hi] = std::minmax_element(samples.begin(), samples.end());
  // Latency has a long tail: bins grow geometrically, with round edges (so one outlier does not
  // squeeze everything else into a single bin). The finest edge series that keeps the number of
  // bins within maxBins: 10 edges per decade (ratio ~1.25), then 1-2-5, then powers of ten.
  static const std::vector<double> kSeries[] = {
      {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8}, {1, 2, 5}, {1}};
  const double min = std::max(*lo, 1e-3), max = std::max(*hi, min);
  const double decade = std::pow(10.0, std::floor(std::log10(min)));  // <= min
  for (const auto& series : kSeries) {
    std::vector<double> edges;  // from the decade at or below min to the first edge above max
    for (double d = decade; edges.empty() || edges.back() <= max; d *= 10)
      for (double m : series)
        if (edges.empty() || edges.back() <= max) edges.push_back(m * d);
    while (edges.size() > 2 && edges[1] <= min) edges.erase(edges.begin());  // the first bin holds min
    if (edges.size() - 1 <= maxBins || &series == &kSeries[2]) {
      h.series = series.size() == 10 ? "10 per decade" : series.size() == 3 ? "1-2-5" : "decades";
      for (std::size_t i = 0; i + 1 < edges.size(); ++i) h.bins.push_back({edges[i], edges[i + 1], 0});
      break;
    }
  }
  for (double v : samples) {
    auto it = std::upper_bound(h.bins.begin(), h.bins.end(), v, [](double x, const HistogramBin& b) { return x < b.toUs; });
    ++(it == h.bins.end() ? h.bins.back() : *it).count;
  }
  return h;
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
