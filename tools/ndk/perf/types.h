// ndk perf / ndk ping: shared types (test kinds, options, measurements, statistics).
// Everything in tools/ndk/perf uses the public C ABI only (ndk/ndk.h, ndk/ndk_host.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ndkperf {

enum class Test { Send, Write, Read };

// Busy-poll loops look at the clock (for their timeouts) once per this many empty polls.
constexpr unsigned kPollsPerDeadlineCheck = 1024;
enum class Mode { Lat, Bw };

const char* testName(Test t);
const char* modeName(Mode m);

// Everything a run needs; the client side decides and announces it to the server.
struct Options {
  Test test = Test::Send;
  Mode mode = Mode::Bw;
  std::vector<std::size_t> sizes{65536};
  std::uint64_t iters = 1000;
  double durationS = 0;          // -D: repeat rounds of `iters` until this many seconds per size
  unsigned outstanding = 16;     // -o: operations in flight (bw)
  unsigned inlineSize = 0;       // -I: QP InlineDataSize; sends/writes <= it use NDK_OP_FLAG_INLINE
  unsigned postList = 1;         // --post-list: bandwidth posts handed over N at a time (NDK_OP_FLAG_DEFER
                                 // on all but the last of each group, like perftest's --post_list)
  bool poll = true;              // --poll (spin) / --event (arm + notification; blocking recv for TCP)
  unsigned qps = 1;              // -q: connections (QP pairs), one thread each (bw only)
  bool bidir = false;            // -b: both directions at once (bw only); figures are the sum
  bool ipv6 = false;             // -6
  bool progress = true;          // progress line on stderr once a second after ~2 s
  bool histogram = false;        // -H: latency histogram per size and transport (lat only)
};

// Failure of the provider or of the peer; `what()` is the one line the tool prints.
struct PerfError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Latency summary in microseconds (one-way: RTT/2).
struct LatStats {
  double min = 0, median = 0, p99 = 0, max = 0, avg = 0;
};
LatStats summarize(std::vector<double> samplesUs);

// -H: latency samples counted in bins whose edges are round and grow geometrically (10 per
// decade: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8; coarser 1-2-5 or decades when that would exceed
// maxBins), from the edge at or below the smallest sample to the first edge above the largest:
// every sample is in exactly one bin [fromUs, toUs).
struct HistogramBin {
  double fromUs = 0, toUs = 0;
  std::uint64_t count = 0;
};
struct Histogram {
  std::string series;  // "10 per decade", "1-2-5" or "decades"
  std::vector<HistogramBin> bins;
};
Histogram histogram(const std::vector<double>& samplesUs, unsigned maxBins = 30);

// The smallest 1-2-5 step (1, 2, 5, 10, 20, ...) >= x > 0: axis ticks and histogram bins.
double roundStep(double x);

// One size measured by one transport.
struct Measurement {
  std::size_t size = 0;
  std::uint64_t iters = 0;       // operations completed
  double seconds = 0;            // wall time of the timed part
  std::vector<double> latUs;     // per-iteration one-way latency (lat mode)
  void merge(const Measurement& o);
  double bytesPerSec() const { return seconds > 0 ? double(size) * double(iters) / seconds : 0; }
  double mbPerSec() const { return bytesPerSec() / 1e6; }
  double gbitPerSec() const { return bytesPerSec() * 8 / 1e9; }
  double msgRate() const { return seconds > 0 ? double(iters) / seconds : 0; }
};

// The number a table shows for a measurement: MB/s for bw, median µs for lat.
double headline(Mode m, const Measurement& x);

// "64", "4K", "1M".
std::string sizeLabel(std::size_t s);
// Parses "64", "4k", "1M", "2MiB" (powers of 1024). Empty on error.
std::optional<std::size_t> parseSize(const std::string& s);

}  // namespace ndkperf
