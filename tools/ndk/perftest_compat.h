// perftest's `-R` (rdma_cm) exchange over NDK, so that `ndk perf --perftest` can run against
// `ib_send_bw -R`, `ib_write_bw -R` and `ib_read_bw -R` of perftest 4.5-0.17 (docs/interop.md
// "perftest-compatible mode"; byte layout: docs/interop.md and the harness notes, section 8).
//
// Two connections to the same port: a control connection on which every message is one Send
// (client first in each pair: version 16 B, cycle buffer 4 B, cache line 4 B, MTU 2 B, a 56-byte
// sync, then, after the test connection is up, another sync, the QP descriptions and RTR syncs),
// and the test connection that carries the measured Sends / RDMA Writes / RDMA Reads. Write and
// Read end with an end sync, five 8-byte report fields (client first) and a close sync; Send ends
// with the close sync only, and over iWARP the receiver hands the sender credits (its receive
// count, RDMA-written into the sender's credit word every rx_depth/3 receives).
//
// The pure parts (encodings, version check, statistics) are separate so that tests can reach
// them without a connection. Failures throw ndkperf::PerfError with the line to print.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "perf/types.h"

namespace ndktool::perftest {

inline constexpr std::size_t kDestLen = 56;     // struct pingpong_dest on the wire
inline constexpr std::size_t kVersionLen = 16;  // NUL-padded ASCII version
inline constexpr std::size_t kFieldLen = 8;     // one report field
inline constexpr const char* kVersion = "6.06"; // what perftest 4.5-0.17 announces
inline constexpr double kMinPeerVersion = 5.70; // perftest refuses older peers, so do we
inline constexpr std::uint32_t kCycleBuffer = 4096;
inline constexpr std::uint32_t kCacheLine = 64;
inline constexpr std::uint32_t kDefaultRxDepth = 512;  // perftest's receive depth for send_bw
inline constexpr std::uint32_t kTxDepth = 128;         // perftest's send queue depth for bw tests
inline constexpr std::uint32_t kOutReads = 128;        // IRD/ORD asked for ib_read_bw (siw's maximum)
inline constexpr std::uint16_t kDefaultPort = 18515;

// One pingpong_dest. Every integer goes big-endian on the wire; gid is raw bytes.
struct Dest {
  std::uint32_t lid = 0, outReads = 0, qpn = 0, psn = 0, rkey = 0;
  std::uint64_t vaddr = 0;
  std::array<std::uint8_t, 16> gid{};
  std::uint32_t srqn = 0, gidIndex = 0;
  bool operator==(const Dest&) const = default;
};
std::array<std::uint8_t, kDestLen> encodeDest(const Dest& d) noexcept;
Dest decodeDest(const std::uint8_t* p) noexcept;  // p: kDestLen bytes (the 4-byte pad at 20 is ignored)

// Big-endian scalars and IEEE doubles as perftest byte-swaps them.
std::array<std::uint8_t, 4> encodeU32(std::uint32_t v) noexcept;
std::uint32_t decodeU32(const std::uint8_t* p) noexcept;
std::array<std::uint8_t, 8> encodeU64(std::uint64_t v) noexcept;
std::uint64_t decodeU64(const std::uint8_t* p) noexcept;
std::array<std::uint8_t, 8> encodeDouble(double v) noexcept;
double decodeDouble(const std::uint8_t* p) noexcept;

// The end-of-test report of a bandwidth test: bandwidths in MB/s (2^20 bytes), rate in Mpps.
struct Report {
  std::uint64_t size = 0, iters = 0;
  double bwPeak = 0, bwAvg = 0, msgRate = 0;
  bool operator==(const Report&) const = default;
};
// The five fields in exchange order (size, iters, bw_peak, bw_avg, msgRate_avg).
std::array<std::array<std::uint8_t, kFieldLen>, 5> encodeReport(const Report& r) noexcept;
Report decodeReport(const std::array<std::array<std::uint8_t, kFieldLen>, 5>& f) noexcept;

// The version message (16 bytes, NUL-padded). parseVersion: the number it carries, nullopt when
// it is not "digits[.digits]" followed by NULs. checkVersion throws the error line for a malformed
// or too old version and returns the number otherwise.
std::array<std::uint8_t, kVersionLen> encodeVersion(const std::string& v) noexcept;
std::optional<double> parseVersion(const std::uint8_t* p, std::size_t len) noexcept;
double checkVersion(const std::uint8_t* p, std::size_t len);
// The other sys-data messages; each check throws the error line on a malformed value.
std::uint32_t checkCycleBuffer(const std::uint8_t* p, std::size_t len);
std::uint32_t checkCacheLine(const std::uint8_t* p, std::size_t len);
int checkMtu(const std::uint8_t* p, std::size_t len);  // "N\0", N = ibv_mtu 1..5

// perftest's remote address walk: the offset of operation `i` in a cyclic buffer of `cycle`
// bytes, stepping by `size` rounded up to the cache line (offset 0 when one step fills it).
std::uint64_t cyclicOffset(std::uint64_t i, std::uint64_t size, std::uint64_t cacheLine, std::uint64_t cycle) noexcept;
// The receive count the receiver reports after receive `rcnt` (1-based) of a send test, or
// nullopt when none is due (perftest: every rx_depth/3 receives within each rx_depth cycle).
std::optional<std::uint32_t> creditDue(std::uint64_t rcnt, std::uint32_t rxDepth) noexcept;
// Bandwidth figures from per-operation post and completion times (ns, completions in order):
// average over first post .. last completion; peak = the best rate over any run i..j of
// operations (j - i + 1 ops between post i and completion j), as perftest reports it.
Report computeReport(std::uint64_t size, const std::vector<std::uint64_t>& postedNs,
                     const std::vector<std::uint64_t>& completedNs);

enum class Role { Client, Server };

struct Options {
  ndkperf::Test test = ndkperf::Test::Write;
  Role role = Role::Client;
  std::string address;       // client: the server; server: the bind address
  std::uint16_t port = kDefaultPort;
  std::uint64_t size = 65536;
  std::uint64_t iters = 5000;
  int timeoutMs = 60000;     // each step (connect, every message, the run itself)
  std::string version = kVersion;  // announced version (tests announce an old one)
};

// The command-line view `ndk perf --perftest` hands over (cmd_perf.cpp): the options this mode
// takes, plus the names of the other `ndk perf` options given (each one a usage error).
struct CliArgs {
  std::optional<std::string> client;
  bool server = false, loopback = false;
  unsigned port = kDefaultPort;
  std::string bind, test, size;
  std::uint64_t iters = 0;   // 0: perftest's default (5000)
  unsigned qps = 1;
  bool v6 = false;
  unsigned timeoutS = 60;
  std::vector<std::pair<const char*, bool>> others;  // {option, given}
};
// Validates (CLI::ValidationError: exit 2), runs one test, prints the results; returns the exit
// status (0), throws ndkperf::PerfError on failure (exit 1).
int runCli(const CliArgs& a);
// One test as client or server; prints perftest-like results to stdout.
void run(const Options& o);

}  // namespace ndktool::perftest
