// libFuzzer: every decoder and check the tools apply to what an interop peer sends.
//   ndk perf --perftest: the version, cycle-buffer, cache-line and MTU messages, the 56-byte
//   pingpong_dest and the report fields; then the cyclic buffer walk with the cycle and cache line
//   the checks let through (the walk must stay inside the cycle buffer).
//   ndk ping --rping: the 16-byte buffer descriptor.
// A malformed message must end in ndkperf::PerfError (the tool prints it and exits 1), never in
// a crash, an overflow or an out-of-range offset.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "perf/types.h"
#include "perftest_compat.h"
#include "rping_protocol.h"

namespace pt = ndktool::perftest;

namespace {
template <class F>
void rejectOrAccept(F&& f) {
  try {
    f();
  } catch (const ndkperf::PerfError&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Each check sees the whole input as one message (they validate lengths themselves).
  rejectOrAccept([&] { (void)pt::checkVersion(data, size); });
  (void)pt::parseVersion(data, size);
  rejectOrAccept([&] { (void)pt::checkMtu(data, size); });
  if (size >= pt::kDestLen) {
    const pt::Dest d = pt::decodeDest(data);
    const auto again = pt::encodeDest(d);
    if (!(pt::decodeDest(again.data()) == d)) std::abort();  // the encoding is lossless
  }
  if (size >= 5 * pt::kFieldLen) {
    std::array<std::array<std::uint8_t, pt::kFieldLen>, 5> f{};
    for (std::size_t i = 0; i < 5; ++i)
      for (std::size_t j = 0; j < pt::kFieldLen; ++j) f[i][j] = data[i * pt::kFieldLen + j];
    (void)pt::decodeReport(f);
  }
  if (size >= ndktool::rping::kMsgLen) (void)ndktool::rping::decode(data);
  // The walk: cycle and cache line from the peer (bytes 0..3, 4..7, as 4-byte messages), the
  // operation size local (1 B .. 1 GiB) and the operation index arbitrary.
  if (size >= 24) {
    std::uint32_t cycle = 0, line = 0;
    rejectOrAccept([&] { cycle = pt::checkCycleBuffer(data, 4); });
    rejectOrAccept([&] { line = pt::checkCacheLine(data + 4, 4); });
    if (cycle && line) {
      const std::uint64_t opSize = 1 + pt::decodeU32(data + 8) % (1u << 30);
      const std::uint64_t i = pt::decodeU64(data + 12);
      const std::uint64_t region = std::max<std::uint64_t>(opSize, cycle);
      const std::uint64_t off = pt::cyclicOffset(i, opSize, line, cycle);
      if (off + opSize > region) std::abort();  // an operation never leaves the registered region
    }
  }
  return 0;
}
