#include "report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <span>
#include <string_view>

namespace ndkperf {
namespace {

nlohmann::ordered_json histogramJson(const Histogram& h) {
  nlohmann::ordered_json bins = nlohmann::ordered_json::array();
  for (const HistogramBin& b : h.bins)
    bins.push_back({{"from_us", b.fromUs}, {"to_us", b.toUs}, {"count", b.count}});
  return {{"edges", h.series}, {"bins", bins}};
}

nlohmann::ordered_json measJson(const Options& o, const Measurement& m) {
  nlohmann::ordered_json j;
  j["iters"] = m.iters;
  j["seconds"] = m.seconds;
  j["mb_per_s"] = m.mbPerSec();
  j["gbit_per_s"] = m.gbitPerSec();
  j["msg_per_s"] = m.msgRate();
  if (o.mode == Mode::Lat) {
    LatStats s = summarize(m.latUs);
    j["lat_us"] = {{"min", s.min}, {"median", s.median}, {"p99", s.p99}, {"max", s.max}, {"avg", s.avg}};
    if (o.histogram) j["histogram"] = histogramJson(histogram(m.latUs));
  }
  return j;
}

std::optional<double> ratio(const Report& r, const Row& row) {
  if (!row.ndk || !row.tcp) return std::nullopt;
  double a = headline(r.opts.mode, *row.ndk), b = headline(r.opts.mode, *row.tcp);
  if (b <= 0) return std::nullopt;
  return a / b;
}

// Exactly `width` characters, right-aligned, whatever the value: fewer decimals, then
// scientific notation when the fixed form does not fit (the table's columns never drift).
std::string cell(double v, int width, int decimals) {
  for (int d = decimals; d >= 0; --d) {
    std::string t = fmt::format("{:.{}f}", v, d);
    if (static_cast<int>(t.size()) <= width) return fmt::format("{:>{}}", t, width);
  }
  for (int d = std::max(0, width - 6); d >= 0; --d) {
    std::string t = fmt::format("{:.{}e}", v, d);
    if (static_cast<int>(t.size()) <= width) return fmt::format("{:>{}}", t, width);
  }
  return std::string(static_cast<std::size_t>(width), '#');
}

std::string text(const std::string& t, int width) {
  std::string c = t.size() > static_cast<std::size_t>(width) ? t.substr(0, static_cast<std::size_t>(width)) : t;
  return fmt::format("{:>{}}", c, width);
}

// The columns of one transport's group: bandwidth MB/s, Gb/s, msg/s; latency min, median,
// p99, max (µs, RTT/2).
struct Column {
  const char* name;
  int width, decimals;
};
constexpr Column kBwColumns[] = {{"MB/s", 11, 1}, {"Gb/s", 8, 2}, {"msg/s", 11, 0}};
constexpr Column kLatColumns[] = {{"min", 9, 2}, {"median", 9, 2}, {"p99", 9, 2}, {"max", 9, 2}};
constexpr int kSizeWidth = 8, kRatioWidth = 6;
constexpr const char* kSep = " | ";

std::span<const Column> columns(Mode m) {
  if (m == Mode::Bw) return kBwColumns;
  return kLatColumns;
}

int groupWidth(Mode m) {
  int w = 0;
  for (const Column& c : columns(m)) w += c.width + 1;
  return w - 1;
}

std::string group(Mode mode, const std::optional<Measurement>& m) {
  std::string out;
  const LatStats s = m && mode == Mode::Lat ? summarize(m->latUs) : LatStats{};
  for (const Column& c : columns(mode)) {
    if (!out.empty()) out += ' ';
    if (!m) {
      out += text("-", c.width);
      continue;
    }
    double v = 0;
    std::string_view n = c.name;
    if (n == "MB/s") v = m->mbPerSec();
    else if (n == "Gb/s") v = m->gbitPerSec();
    else if (n == "msg/s") v = m->msgRate();
    else if (n == "min") v = s.min;
    else if (n == "median") v = s.median;
    else if (n == "p99") v = s.p99;
    else v = s.max;
    out += cell(v, c.width, c.decimals);
  }
  return out;
}

std::string groupHeader(Mode mode) {
  std::string out;
  for (const Column& c : columns(mode)) out += (out.empty() ? "" : " ") + text(c.name, c.width);
  return out;
}

std::string centered(const std::string& t, int width) { return fmt::format("{:^{}}", t.substr(0, std::size_t(width)), width); }

std::string histogramText(const char* transport, const Measurement& m) {
  Histogram h = histogram(m.latUs);
  std::uint64_t most = 1;
  for (const HistogramBin& b : h.bins) most = std::max(most, b.count);
  std::string out = fmt::format("# latency histogram: {}, size {}, {} samples, one-way us (RTT/2), edges {}\n", transport,
                                sizeLabel(m.size), m.latUs.size(), h.series);
  out += fmt::format("{} {} {}\n", text("from", 11), text("to", 11), text("count", 9));
  for (const HistogramBin& b : h.bins) {
    const auto bar = static_cast<std::size_t>((b.count * 40 + most - 1) / most);
    out += fmt::format("{} {} {}{}{}\n", cell(b.fromUs, 11, 2), cell(b.toUs, 11, 2), cell(double(b.count), 9, 0),
                       bar ? " " : "", std::string(bar, '#'));
  }
  return out;
}

}  // namespace

nlohmann::ordered_json machineInfo() {
  nlohmann::ordered_json j;
  utsname u{};
  ::uname(&u);
  j["nproc"] = static_cast<long>(::sysconf(_SC_NPROCESSORS_ONLN));
  j["kernel"] = fmt::format("{} {}", u.sysname, u.release);
  j["machine"] = u.machine;
  j["hostname"] = u.nodename;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) j["cpu"] = line.substr(p + 2);
      break;
    }
  }
  return j;
}

std::string renderTable(const Report& r) {
  const Mode mode = r.opts.mode;
  std::string out = fmt::format("# ndk perf: {} {} ({}), {} iterations{}{}{}{}\n", testName(r.opts.test), modeName(mode),
                                r.opts.poll ? "poll" : "event", r.opts.iters,
                                r.opts.durationS > 0 ? fmt::format(", >= {} s per size", r.opts.durationS) : "",
                                r.opts.qps > 1 ? fmt::format(", {} QPs (sum)", r.opts.qps) : "",
                                r.opts.bidir ? ", bidirectional (sum of both directions)" : "",
                                mode == Mode::Lat ? "; latency in us, one-way (RTT/2)" : "");
  const int gw = groupWidth(mode);
  std::string groups = text("", kSizeWidth) + kSep + centered("OpenNDK", gw) + kSep + centered("TCP", gw) + kSep +
                       text(mode == Mode::Lat ? "ratio" : "", kRatioWidth);
  groups.erase(groups.find_last_not_of(' ') + 1);
  out += groups + "\n";
  out += text("size", kSizeWidth) + kSep + groupHeader(mode) + kSep + groupHeader(mode) + kSep +
         text(mode == Mode::Lat ? "median" : "ratio", kRatioWidth) + "\n";
  for (const Row& row : r.rows) {
    auto q = ratio(r, row);
    out += text(sizeLabel(row.size), kSizeWidth) + kSep + group(mode, row.ndk) + kSep + group(mode, row.tcp) + kSep +
           (q ? cell(*q, kRatioWidth, 2) : text("-", kRatioWidth)) + "\n";
  }
  if (!r.ndkNote.empty()) out += fmt::format("OpenNDK: {}\n", r.ndkNote);
  if (r.opts.histogram && mode == Mode::Lat)
    for (const Row& row : r.rows)
      for (auto [name, m] : {std::pair{"OpenNDK", &row.ndk}, std::pair{"TCP", &row.tcp}})
        if (*m && !(*m)->latUs.empty()) out += "\n" + histogramText(name, **m);
  return out;
}

nlohmann::ordered_json renderJson(const Report& r) {
  nlohmann::ordered_json j;
  j["command"] = r.commandLine;
  j["machine"] = machineInfo();
  j["test"] = testName(r.opts.test);
  j["mode"] = modeName(r.opts.mode);
  j["completion"] = r.opts.poll ? "poll" : "event";
  j["iters"] = r.opts.iters;
  j["duration_s"] = r.opts.durationS;
  j["outstanding"] = r.opts.outstanding;
  j["inline"] = r.opts.inlineSize;
  j["qps"] = r.opts.qps;
  j["bidir"] = r.opts.bidir;
  j["histogram"] = r.opts.histogram;
  j["units"] = {{"bw", "MB/s (1e6 bytes/s), Gb/s, msg/s"}, {"lat", "microseconds, one-way (RTT/2)"}};
  if (!r.ndkNote.empty()) j["ndk_note"] = r.ndkNote;
  j["results"] = nlohmann::ordered_json::array();
  for (const Row& row : r.rows) {
    nlohmann::ordered_json e;
    e["size"] = row.size;
    e["ndk"] = row.ndk ? measJson(r.opts, *row.ndk) : nlohmann::ordered_json();
    e["tcp"] = row.tcp ? measJson(r.opts, *row.tcp) : nlohmann::ordered_json();
    auto q = ratio(r, row);
    e["ratio"] = q ? nlohmann::ordered_json(*q) : nlohmann::ordered_json();
    j["results"].push_back(e);
  }
  return j;
}

std::string renderCsv(const Report& r) {
  std::string out = "transport,test,mode,size,iters,seconds,mb_per_s,gbit_per_s,msg_per_s,lat_min_us,lat_median_us,lat_p99_us,lat_max_us\n";
  for (const Row& row : r.rows) {
    for (auto [name, m] : {std::pair{"ndk", &row.ndk}, std::pair{"tcp", &row.tcp}}) {
      if (!*m) continue;
      const Measurement& x = **m;
      LatStats s = summarize(x.latUs);
      out += fmt::format("{},{},{},{},{},{:.6f},{:.3f},{:.4f},{:.1f},{:.3f},{:.3f},{:.3f},{:.3f}\n", name,
                         testName(r.opts.test), modeName(r.opts.mode), x.size, x.iters, x.seconds, x.mbPerSec(),
                         x.gbitPerSec(), x.msgRate(), s.min, s.median, s.p99, s.max);
    }
  }
  return out;
}

namespace {

// One series of the plot: a transport that measured at least one size.
struct Series {
  const char* name;
  const char* color;
  std::vector<std::pair<std::size_t, double>> points;  // (size, value)
};

// Ticks of a y axis: linear (0 and 1-2-5 steps up to >= max) or log (1-2-5 times powers of
// ten spanning [min, max]); `lo`/`hi` are the axis ends in the axis's own units.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  double pos(double v) const {  // 0 (bottom) .. 1 (top)
    if (log) return (std::log10(std::max(v, 1e-12)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

Axis linearAxis(double max) {
  Axis a;
  const double step = roundStep((max > 0 ? max : 1) / 5);
  a.hi = std::ceil((max > 0 ? max : 1) / step) * step;
  for (int k = 0; double(k) * step <= a.hi * (1 + 1e-9); ++k) a.ticks.push_back(double(k) * step);
  return a;
}

Axis logAxis(double min, double max) {
  Axis a;
  a.log = true;
  if (!(min > 0)) min = max > 0 ? max : 1;
  if (!(max > 0)) max = min;
  a.lo = std::pow(10.0, std::floor(std::log10(min)));
  a.hi = std::pow(10.0, std::ceil(std::log10(max)));
  if (a.hi <= a.lo) a.hi = a.lo * 10;
  // 1-2-5 ticks while the axis spans few decades, powers of ten only beyond.
  const bool dense = std::log10(a.hi / a.lo) <= 3;
  for (double p = a.lo; p <= a.hi * (1 + 1e-9); p *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if ((m == 1.0 || dense) && p * m <= a.hi * (1 + 1e-9)) a.ticks.push_back(p * m);
  return a;
}

std::string tickLabel(double v) {
  if (v == 0) return "0";
  if (v >= 1e6) return fmt::format("{:g}", v);
  if (v >= 1) return fmt::format("{:.0f}", v);
  return fmt::format("{:g}", v);
}

}  // namespace

// One panel: bandwidth (MB/s, linear y) for a bandwidth run, median latency (µs, log y) for a
// latency run; log2 x axis (message size). Only transports that ran are drawn and in the legend.
std::string renderSvg(const Report& r) {
  const bool bw = r.opts.mode == Mode::Bw;
  std::vector<Series> series;
  for (int t = 0; t < 2; ++t) {
    Series s{t == 0 ? "OpenNDK" : "TCP", t == 0 ? "#1f77b4" : "#d62728", {}};
    for (const Row& row : r.rows) {
      const auto& m = t == 0 ? row.ndk : row.tcp;
      if (m && (bw || !m->latUs.empty())) s.points.emplace_back(row.size, bw ? m->mbPerSec() : summarize(m->latUs).median);
    }
    if (!s.points.empty()) series.push_back(std::move(s));
  }
  std::string who;
  for (const Series& s : series) who += (who.empty() ? "" : " vs ") + std::string(s.name);
  // Margins leave room for the tick labels (left), the size labels and axis title (bottom).
  const int W = 640, H = 420, left = 90, right = 30, top = 60, bottom = 70, PW = W - left - right, PH = H - top - bottom;
  const int x0 = left, y0 = top + PH;
  std::string s = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">ndk perf {} {}{}{}</text>\n",
      W, H, W, H, W / 2, testName(r.opts.test), modeName(r.opts.mode), who.empty() ? "" : ": ", who);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n", x0 + PW / 2, top - 12,
                   bw ? "Bandwidth" : "Latency (median, one-way = RTT/2)");
  if (series.empty()) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no measurements</text>\n</svg>\n", W / 2, H / 2);
    return s;
  }
  std::size_t minS = SIZE_MAX, maxS = 0;
  double vmin = HUGE_VAL, vmax = 0;
  for (const Series& se : series)
    for (auto [size, v] : se.points) {
      minS = std::min(minS, size), maxS = std::max(maxS, size);
      if (v > 0) vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
  double lx0 = std::log2(double(minS)), lx1 = std::log2(double(maxS));
  if (lx1 - lx0 < 1) lx0 -= 0.5, lx1 = lx0 + 1;  // one size: in the middle
  auto xAt = [&](std::size_t size) { return x0 + static_cast<int>(std::lround(PW * (std::log2(double(size)) - lx0) / (lx1 - lx0))); };
  const Axis ay = bw ? linearAxis(vmax) : logAxis(vmin, vmax);
  auto yAt = [&](double v) { return y0 - static_cast<int>(std::lround(PH * std::clamp(ay.pos(v), 0.0, 1.0))); };
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", x0, y0, x0 + PW, y0);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", x0, y0, x0, top);
  for (double v : ay.ticks) {
    const int y = yAt(v);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>\n", x0, y, x0 + PW, y);
    s += fmt::format("<text class=\"ytick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", x0 - 6, y + 4, tickLabel(v));
  }
  // Size labels: every size while they fit (about 36 px each), else every k-th.
  std::vector<std::size_t> sizes;
  for (const Row& row : r.rows) sizes.push_back(row.size);
  const std::size_t every = std::max<std::size_t>(1, (sizes.size() * 36 + PW - 1) / PW);
  for (std::size_t i = 0; i < sizes.size(); i += every)
    s += fmt::format("<text class=\"xtick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", xAt(sizes[i]), y0 + 18,
                     sizeLabel(sizes[i]));
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">message size (bytes, log scale)</text>\n", x0 + PW / 2,
                   y0 + 44);
  const std::string yTitle = bw ? "MB/s" : "us (log scale)";
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 {} {})\">{}</text>\n", 20,
                   top + PH / 2, 20, top + PH / 2, yTitle);
  for (std::size_t t = 0; t < series.size(); ++t) {
    std::string pts;
    for (auto [size, v] : series[t].points) {
      const int x = xAt(size), y = yAt(v);
      pts += fmt::format("{},{} ", x, y);
      s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"/>\n", x, y, series[t].color);
    }
    s += fmt::format("<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts,
                     series[t].color);
    const int ly = top + 12 + 16 * static_cast<int>(t);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/>\n", x0 + 10, ly - 4, series[t].color);
    s += fmt::format("<text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>\n", x0 + 28, ly, series[t].name);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace ndkperf
