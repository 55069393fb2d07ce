// Framing + CRC of 4 KiB / 64 KiB FPDUs (gather framer) and deframing + CRC check (streaming
// deframer), each beside the raw ISA-L CRC32c over the same bytes, measured in the same run. At the
// end the overhead ratio is printed: (framing - raw CRC) / raw CRC; target ≤ 10 % at 64 KiB.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "iwarp/crc32c.h"
#include "iwarp/fpdu.h"
#include "iwarp/rdmap.h"

using namespace openndk::iwarp;

namespace {

// A 64 KiB payload does not fit one FPDU (ULPDU ≤ 65535); the largest legal tagged FPDU carries
// MULPDU_max - 14 = 64754 bytes, which is what "64 KiB FPDU" means here.
std::uint32_t payload_for(std::int64_t size) {
  return static_cast<std::uint32_t>(std::min<std::int64_t>(size, mpa::kMulpduMax - ddp::kTaggedHdrLen));
}

std::vector<std::uint8_t> make_payload(std::uint32_t n) {
  std::vector<std::uint8_t> p(n);
  for (std::uint32_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 131 + 7);
  return p;
}

void BM_RawCrc(benchmark::State& st) {
  const std::uint32_t n = payload_for(st.range(0));
  // Same bytes the FPDU CRC covers: length + header + payload + pad.
  const auto buf = make_payload(2 + 14 + n + mpa::pad_len(14 + n));
  for (auto _ : st) benchmark::DoNotOptimize(crc32c(buf));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * n);
}

void BM_FrameCrc(benchmark::State& st) {
  const std::uint32_t n = payload_for(st.range(0));
  const auto payload = make_payload(n);
  Segmenter sg(make_write(0x1234, 0x10000, n), mpa::kMulpduMax);
  SegmentPlan p;
  (void)sg.next(p);
  const ByteSpan parts[] = {ByteSpan{payload}};
  TxFpdu f;
  for (auto _ : st) {
    benchmark::DoNotOptimize(frame_gather(ByteSpan{p.header.data(), p.header_len}, parts, true, f));
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * n);
}

void BM_DeframeCrc(benchmark::State& st) {
  const std::uint32_t n = payload_for(st.range(0));
  const auto payload = make_payload(n);
  Segmenter sg(make_write(0x1234, 0x10000, n), mpa::kMulpduMax);
  SegmentPlan p;
  (void)sg.next(p);
  const ByteSpan parts[] = {ByteSpan{payload}};
  std::vector<std::uint8_t> wire(mpa::fpdu_len(14 + n));
  wire.resize(frame_copy(ByteSpan{p.header.data(), p.header_len}, parts, true, wire));
  Deframer d({true, mpa::kMaxUlpdu});
  std::uint64_t placed = 0;
  for (auto _ : st) {
    ByteSpan in = wire;
    while (!in.empty()) {
      const RxStep s = d.feed(in);
      in = in.subspan(s.consumed);
      if (s.event == RxEvent::Payload) placed += s.payload.size();  // the engine would place here
      if (s.event == RxEvent::Error) st.SkipWithError("deframe error");
    }
  }
  benchmark::DoNotOptimize(placed);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * n);
}

BENCHMARK(BM_RawCrc)->Arg(4096)->Arg(65536);
BENCHMARK(BM_FrameCrc)->Arg(4096)->Arg(65536);
BENCHMARK(BM_DeframeCrc)->Arg(4096)->Arg(65536);

class Collect : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (!r.error_occurred) ns[r.benchmark_name()] = r.GetAdjustedCPUTime();  // CPU time: robust on a shared host
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collect rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::printf("\nFraming/deframing overhead relative to raw ISA-L CRC32c (same run):\n");
  for (const char* sz : {"4096", "65536"}) {
    const auto raw = rep.ns.find(std::string("BM_RawCrc/") + sz);
    if (raw == rep.ns.end() || raw->second <= 0) continue;
    for (const char* what : {"BM_FrameCrc/", "BM_DeframeCrc/"}) {
      const auto it = rep.ns.find(std::string(what) + sz);
      if (it == rep.ns.end()) continue;
      const double over = (it->second - raw->second) / raw->second * 100.0;
      std::printf("  %-22s raw CRC %9.1f ns, %9.1f ns (CPU), overhead %+6.2f %%%s\n", (std::string(what) + sz).c_str(),
                  raw->second, it->second, over,
                  std::string(sz) == "65536" ? (over <= 10.0 ? "  (target <= 10 %: met)" : "  (target <= 10 %: MISSED)") : "");
    }
  }
  benchmark::Shutdown();
  return 0;
}
