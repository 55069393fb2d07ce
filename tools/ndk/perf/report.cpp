#include "report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>

namespace ndkperf {
namespace {

nlohmann::ordered_json measJson(Mode mode, const Measurement& m) {
  nlohmann::ordered_json j;
  j["iters"] = m.iters;
  j["seconds"] = m.seconds;
  j["mb_per_s"] = m.mbPerSec();
  j["gbit_per_s"] = m.gbitPerSec();
  j["msg_per_s"] = m.msgRate();
  if (mode == Mode::Lat) {
    LatStats s = summarize(m.latUs);
    j["lat_us"] = {{"min", s.min}, {"median", s.median}, {"p99", s.p99}, {"max", s.max}, {"avg", s.avg}};
  }
  return j;
}

std::optional<double> ratio(const Report& r, const Row& row) {
  if (!row.ndk || !row.tcp) return std::nullopt;
  double a = headline(r.opts.mode, *row.ndk), b = headline(r.opts.mode, *row.tcp);
  if (b <= 0) return std::nullopt;
  return a / b;
}

std::string fig(Mode mode, const std::optional<Measurement>& m) {
  if (!m) return "-";
  if (mode == Mode::Bw) return fmt::format("{:.1f} MB/s {:.2f} Gb/s {:.0f} msg/s", m->mbPerSec(), m->gbitPerSec(), m->msgRate());
  LatStats s = summarize(m->latUs);
  return fmt::format("{:.2f}/{:.2f}/{:.2f}/{:.2f}", s.min, s.median, s.p99, s.max);
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
  std::string out = fmt::format("# ndk perf: {} {} ({}), {} iterations{}{}{}\n", testName(r.opts.test), modeName(mode),
                                r.opts.poll ? "poll" : "event", r.opts.iters,
                                r.opts.durationS > 0 ? fmt::format(", >= {} s per size", r.opts.durationS) : "",
                                r.opts.qps > 1 ? fmt::format(", {} QPs (sum)", r.opts.qps) : "",
                                r.opts.bidir ? ", bidirectional (sum of both directions)" : "");
  if (mode == Mode::Bw)
    out += fmt::format("{:>8}  {:>42}  {:>42}  {:>6}\n", "size", "OpenNDK", "TCP", "ratio");
  else
    out += fmt::format("{:>8}  {:>30}  {:>30}  {:>6}\n{:>8}  {:>30}  {:>30}  {:>6}\n", "size", "OpenNDK (us, RTT/2)",
                       "TCP (us, RTT/2)", "ratio", "", "min/median/p99/max", "min/median/p99/max", "median");
  for (const Row& row : r.rows) {
    auto q = ratio(r, row);
    std::string rs = q ? fmt::format("{:.2f}", *q) : "-";
    if (mode == Mode::Bw)
      out += fmt::format("{:>8}  {:>42}  {:>42}  {:>6}\n", sizeLabel(row.size), fig(mode, row.ndk), fig(mode, row.tcp), rs);
    else
      out += fmt::format("{:>8}  {:>30}  {:>30}  {:>6}\n", sizeLabel(row.size), fig(mode, row.ndk), fig(mode, row.tcp), rs);
  }
  if (!r.ndkNote.empty()) out += fmt::format("OpenNDK: {}\n", r.ndkNote);
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
  j["units"] = {{"bw", "MB/s (1e6 bytes/s), Gb/s, msg/s"}, {"lat", "microseconds, one-way (RTT/2)"}};
  if (!r.ndkNote.empty()) j["ndk_note"] = r.ndkNote;
  j["results"] = nlohmann::ordered_json::array();
  for (const Row& row : r.rows) {
    nlohmann::ordered_json e;
    e["size"] = row.size;
    e["ndk"] = row.ndk ? measJson(r.opts.mode, *row.ndk) : nlohmann::ordered_json();
    e["tcp"] = row.tcp ? measJson(r.opts.mode, *row.tcp) : nlohmann::ordered_json();
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

// Two panels side by side: bandwidth (MB/s) and median latency (µs), log2 x axis (message size),
// linear y axis from 0; one series per transport, a legend in each panel.
std::string renderSvg(const Report& r) {
  const int W = 960, H = 400, PW = 400, PH = 280, top = 60, left0 = 70, gap = 480;
  std::string s = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">ndk perf {} {}: OpenNDK vs TCP</text>\n",
      W, H, W, H, W / 2, testName(r.opts.test), modeName(r.opts.mode));
  std::size_t minS = SIZE_MAX, maxS = 0;
  for (const Row& row : r.rows) minS = std::min(minS, row.size), maxS = std::max(maxS, row.size);
  if (r.rows.empty()) minS = 1, maxS = 2;
  double lx0 = std::log2(double(minS)), lx1 = std::log2(double(maxS));
  if (lx1 - lx0 < 1) lx1 = lx0 + 1;
  struct Panel {
    const char* title;
    const char* unit;
    bool bw;
  };
  const Panel panels[] = {{"Bandwidth", "MB/s", true}, {"Latency (median, RTT/2)", "us", false}};
  const char* colors[] = {"#1f77b4", "#d62728"};
  for (int p = 0; p < 2; ++p) {
    const int x0 = left0 + p * gap, y0 = top + PH;
    double ymax = 0;
    auto val = [&](const Measurement& m) { return panels[p].bw ? m.mbPerSec() : summarize(m.latUs).median; };
    for (const Row& row : r.rows) {
      if (row.ndk) ymax = std::max(ymax, val(*row.ndk));
      if (row.tcp) ymax = std::max(ymax, val(*row.tcp));
    }
    if (ymax <= 0) ymax = 1;
    ymax *= 1.1;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n", x0 + PW / 2, top - 10,
                     panels[p].title);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", x0, y0, x0 + PW, y0);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", x0, y0, x0, top);
    for (int k = 0; k <= 4; ++k) {
      double v = ymax * k / 4;
      int y = y0 - static_cast<int>(PH * k / 4);
      s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>\n", x0, y, x0 + PW, y);
      s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>\n", x0 - 4, y + 4, v);
    }
    for (const Row& row : r.rows) {
      int x = x0 + static_cast<int>(PW * (std::log2(double(row.size)) - lx0) / (lx1 - lx0));
      s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, y0 + 16, sizeLabel(row.size));
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">message size (bytes, log scale)</text>\n", x0 + PW / 2,
                     y0 + 36);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 {} {})\">{}</text>\n", x0 - 50,
                     top + PH / 2, x0 - 50, top + PH / 2, panels[p].unit);
    for (int t = 0; t < 2; ++t) {
      std::string pts;
      for (const Row& row : r.rows) {
        const auto& m = t == 0 ? row.ndk : row.tcp;
        if (!m) continue;
        int x = x0 + static_cast<int>(PW * (std::log2(double(row.size)) - lx0) / (lx1 - lx0));
        int y = y0 - static_cast<int>(PH * val(*m) / ymax);
        pts += fmt::format("{},{} ", x, y);
        s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"/>\n", x, y, colors[t]);
      }
      if (!pts.empty())
        s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, colors[t]);
      int ly = top + 10 + 16 * t;
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/>\n", x0 + 10, ly - 4, colors[t]);
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", x0 + 28, ly, t == 0 ? "OpenNDK" : "TCP");
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace ndkperf
