// `ndk perf --perftest` (tools/ndk/perftest_compat.*): the pure parts (pingpong_dest, reports,
// version / sys-data checks, cyclic offsets, credits, statistics) against hand-made byte strings
// in perftest 4.5-0.17's layout, and the tool against itself over 127.0.0.1 (both roles, send /
// write / read), with usage errors (exit 2) and a peer that announces an old or malformed version
// (exit 1 with the reason, never a crash or a hang).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "perftest_compat.h"
#include "tool_run.h"

namespace pt = ndktool::perftest;

namespace {

std::vector<std::uint8_t> hexBytes(const char* h) {
  std::vector<std::uint8_t> v;
  for (const char* p = h; *p;) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    v.push_back(static_cast<std::uint8_t>(std::stoul(std::string(p, 2), nullptr, 16)));
    p += 2;
  }
  return v;
}

TEST(PerftestCompat, DestDecodesTheCapturedSiwMessage) {
  // ib_write_bw -R client's QP description from captures/perftest-write-bw-R.pcap (FPDU #6)
  auto m = hexBytes(
      "00000000 00000001 00000003 000b6aaf bd60a100 00000000 00005618336af000 "
      "52540012345600000000000000000000 00000000 00000000");
  ASSERT_EQ(m.size(), pt::kDestLen);
  pt::Dest d = pt::decodeDest(m.data());
  EXPECT_EQ(d.lid, 0u);
  EXPECT_EQ(d.outReads, 1u);
  EXPECT_EQ(d.qpn, 3u);
  EXPECT_EQ(d.psn, 0x0b6aafu);
  EXPECT_EQ(d.rkey, 0xbd60a100u);
  EXPECT_EQ(d.vaddr, 0x5618336af000ull);
  EXPECT_EQ(d.gid[0], 0x52);
  EXPECT_EQ(d.gid[5], 0x56);
  const auto back = pt::encodeDest(d);
  EXPECT_EQ(std::vector<std::uint8_t>(back.begin(), back.end()), m);
  // the 4-byte padding at offset 20 is not part of the value (perftest leaves it uninitialised)
  m[20] = 0x18;
  m[21] = 0x56;
  EXPECT_EQ(pt::decodeDest(m.data()), d);
}

TEST(PerftestCompat, DestRoundTripsEveryField) {
  pt::Dest d;
  d.lid = 0x01020304;
  d.outReads = 128;
  d.qpn = 0xfffffffe;
  d.psn = 0xabcdef;
  d.rkey = 0x80000001;
  d.vaddr = 0x0123456789abcdefull;
  for (int i = 0; i < 16; ++i) d.gid[i] = static_cast<std::uint8_t>(0xa0 + i);
  d.srqn = 7;
  d.gidIndex = 3;
  auto a = pt::encodeDest(d);
  EXPECT_EQ(a[0], 0x01);
  EXPECT_EQ(a[3], 0x04);  // big-endian
  EXPECT_EQ(a[24], 0x01);
  EXPECT_EQ(a[31], 0xef);
  EXPECT_EQ(a[20] | a[21] | a[22] | a[23], 0);  // padding sent as zeros
  EXPECT_EQ(pt::decodeDest(a.data()), d);
}

TEST(PerftestCompat, ReportFieldsMatchTheCapture) {
  // the write_bw client's report in the capture: size 64, 5 iterations, then three doubles
  pt::Report r{64, 5, 0.65876, 0.44565, 0.0072};
  auto f = pt::encodeReport(r);
  EXPECT_EQ(std::vector<std::uint8_t>(f[0].begin(), f[0].end()), hexBytes("0000000000000040"));
  EXPECT_EQ(std::vector<std::uint8_t>(f[1].begin(), f[1].end()), hexBytes("0000000000000005"));
  EXPECT_EQ(pt::decodeReport(f), r);
  auto peak = hexBytes("3fe5149f26a509e5");  // FPDU #12: bw_peak as perftest swapped it
  EXPECT_NEAR(pt::decodeDouble(peak.data()), 0.6587, 1e-3);
  EXPECT_EQ(pt::encodeDouble(pt::decodeDouble(peak.data())), (std::array<std::uint8_t, 8>{0x3f, 0xe5, 0x14, 0x9f, 0x26, 0xa5, 0x09, 0xe5}));
}

TEST(PerftestCompat, VersionCheckAcceptsCurrentAndRejectsOldOrMalformed) {
  auto v = pt::encodeVersion("6.06");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data())), "6.06");
  EXPECT_EQ(v[15], 0);
  EXPECT_DOUBLE_EQ(pt::checkVersion(v.data(), v.size()), 6.06);
  auto v570 = pt::encodeVersion("5.70");
  EXPECT_NO_THROW(pt::checkVersion(v570.data(), v570.size()));
  auto v57 = pt::encodeVersion("5.7");  // perftest compares numbers: 5.7 == 5.70
  EXPECT_NO_THROW(pt::checkVersion(v57.data(), v57.size()));
  auto old = pt::encodeVersion("5.60");
  try {
    pt::checkVersion(old.data(), old.size());
    ADD_FAILURE() << "5.60 accepted";
  } catch (const ndkperf::PerfError& e) {
    EXPECT_NE(std::string(e.what()).find("older than 5.70"), std::string::npos) << e.what();
  }
  for (const char* bad : {"", "abc", "6.", ".6", "6..0", "6.06x", "-6.0"}) {
    auto b = pt::encodeVersion(bad);
    EXPECT_FALSE(pt::parseVersion(b.data(), b.size())) << bad;
    EXPECT_THROW(pt::checkVersion(b.data(), b.size()), ndkperf::PerfError) << bad;
  }
  // short message, junk after the NUL, no NUL at all
  EXPECT_THROW(pt::checkVersion(v.data(), 4), ndkperf::PerfError);
  auto junk = v;
  junk[10] = 'x';
  EXPECT_THROW(pt::checkVersion(junk.data(), junk.size()), ndkperf::PerfError);
  std::array<std::uint8_t, 16> full;
  full.fill('6');
  EXPECT_THROW(pt::checkVersion(full.data(), full.size()), ndkperf::PerfError);
}

TEST(PerftestCompat, SysDataChecks) {
  auto c = hexBytes("00001000");
  EXPECT_EQ(pt::checkCycleBuffer(c.data(), c.size()), 4096u);
  auto l = hexBytes("00000040");
  EXPECT_EQ(pt::checkCacheLine(l.data(), l.size()), 64u);
  auto m = hexBytes("3300");
  EXPECT_EQ(pt::checkMtu(m.data(), m.size()), 3);
  auto zero = hexBytes("00000000");
  EXPECT_THROW(pt::checkCycleBuffer(zero.data(), zero.size()), ndkperf::PerfError);
  EXPECT_THROW(pt::checkCacheLine(zero.data(), zero.size()), ndkperf::PerfError);
  auto huge = hexBytes("ffffffff");
  EXPECT_THROW(pt::checkCycleBuffer(huge.data(), huge.size()), ndkperf::PerfError);
  EXPECT_THROW(pt::checkCycleBuffer(c.data(), 2), ndkperf::PerfError);
  auto badMtu = hexBytes("3900");
  EXPECT_THROW(pt::checkMtu(badMtu.data(), badMtu.size()), ndkperf::PerfError);
  EXPECT_THROW(pt::checkMtu(m.data(), 1), ndkperf::PerfError);
}

TEST(PerftestCompat, CyclicOffsetsWalkTheCycleBufferByCacheLines) {
  // 64-byte writes in a 4096-byte cycle: +0x40 each, back to 0 after 64 operations (the capture)
  EXPECT_EQ(pt::cyclicOffset(0, 64, 64, 4096), 0u);
  EXPECT_EQ(pt::cyclicOffset(1, 64, 64, 4096), 64u);
  EXPECT_EQ(pt::cyclicOffset(63, 64, 64, 4096), 4032u);
  EXPECT_EQ(pt::cyclicOffset(64, 64, 64, 4096), 0u);
  EXPECT_EQ(pt::cyclicOffset(1, 2, 64, 4096), 64u);     // small sizes still step a cache line
  EXPECT_EQ(pt::cyclicOffset(1, 100, 64, 4096), 128u);  // rounded up to the cache line
  EXPECT_EQ(pt::cyclicOffset(5, 4096, 64, 4096), 0u);   // one step fills the cycle
  EXPECT_EQ(pt::cyclicOffset(5, 65536, 64, 4096), 0u);
  for (std::uint64_t i = 0; i < 1000; ++i) EXPECT_LE(pt::cyclicOffset(i, 1000, 64, 4096) + 1000, 4096u);
}

TEST(PerftestCompat, CreditsEveryThirdOfTheReceiveDepth) {
  // rx_depth 512: credit_cnt 170; counts at 170, 340, 510, then 512 (a new cycle), 682, ...
  std::vector<std::uint64_t> due;
  for (std::uint64_t r = 1; r <= 1100; ++r)
    if (pt::creditDue(r, 512)) due.push_back(r);
  EXPECT_EQ(due, (std::vector<std::uint64_t>{170, 340, 510, 512, 682, 852, 1022, 1024}));
  EXPECT_FALSE(pt::creditDue(0, 512));
  EXPECT_TRUE(pt::creditDue(1, 2));  // rx_depth < 3: every receive
  EXPECT_EQ(*pt::creditDue(200, 200), 200u);
}

TEST(PerftestCompat, ReportFromTimesAverageAndPeak) {
  // 4 ops of 1 MiB: posted at 0,0,0,0 ns; completed at 1,2,3,4 ms => 4 MiB in 4 ms = 1000 MB/s;
  // the best run i..j: each op alone 1 ms (posted at 0, completed at 1 ms) => 1000 MB/s as well
  std::vector<std::uint64_t> p{0, 0, 0, 0}, c{1000000, 2000000, 3000000, 4000000};
  pt::Report r = pt::computeReport(1 << 20, p, c);
  EXPECT_EQ(r.iters, 4u);
  EXPECT_NEAR(r.bwAvg, 1000.0, 1e-6);
  EXPECT_NEAR(r.msgRate, 0.001, 1e-9);
  EXPECT_NEAR(r.bwPeak, 1000.0, 1e-6);
  // a faster burst raises the peak, not the average: ops 2,3 both done 0.5 ms after op 2's post
  std::vector<std::uint64_t> p2{0, 1000000, 2000000, 2000000}, c2{1000000, 2000000, 2250000, 2500000};
  pt::Report r2 = pt::computeReport(1 << 20, p2, c2);
  EXPECT_NEAR(r2.bwAvg, 4.0 / 0.0025, 1e-6);
  EXPECT_NEAR(r2.bwPeak, 2.0 / 0.0005, 1e-6);
  EXPECT_GE(r2.bwPeak, r2.bwAvg);
  EXPECT_EQ(pt::computeReport(64, {}, {}).iters, 0u);
}

// ---- the tool against itself ---------------------------------------------------------------------

using tooltest::ToolRun;

ToolRun ndk(const std::string& args, const std::string& env = "") {
  std::string cmd = std::string("TSAN_OPTIONS=\"${TSAN_OPTIONS}:intercept_send=0:suppressions=") + OPENNDK_TSAN_SUPP + "\" " + env +
                    " " + NDK_TOOL + " " + args + " 2>&1";
  return tooltest::runCommand(cmd);
}

unsigned freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Server and client of one test; the client retries while the server is not listening yet.
std::pair<ToolRun, ToolRun> pair(const std::string& test, const std::string& size, unsigned iters, const std::string& serverEnv = "",
                                 unsigned timeoutS = 30) {
  const unsigned port = freePort();
  const std::string common = fmt::format("perf --perftest -t {} -s {} -n {} -p {} --timeout {}", test, size, iters, port, timeoutS);
  ToolRun srv;
  std::thread t([&] { srv = ndk(common + " --server --bind 127.0.0.1", serverEnv); });
  ToolRun cli = ndk(common + " -c 127.0.0.1");
  t.join();
  return {cli, srv};
}

double avgOf(const std::string& out) {
  // the figures row follows the column header; its fourth number is BW average
  auto h = out.find("#bytes");
  if (h == std::string::npos) return -1;
  auto row = out.find('\n', h);
  unsigned long long bytes = 0, iters = 0;
  double peak = 0, avg = 0, rate = 0;
  if (std::sscanf(out.c_str() + row + 1, " %llu %llu %lf %lf %lf", &bytes, &iters, &peak, &avg, &rate) != 5) return -1;
  return avg;
}

TEST(PerftestTool, WriteReadSendOverLoopbackBothRolesReport) {
  for (const char* test : {"write", "read", "send"}) {
    auto [cli, srv] = pair(test, "4096", 300);
    EXPECT_EQ(cli.status, 0) << test << " client:\n" << cli.out << "\nserver:\n" << srv.out;
    EXPECT_EQ(srv.status, 0) << test << " server:\n" << srv.out << "\nclient:\n" << cli.out;
    EXPECT_GT(avgOf(cli.out), 0) << cli.out;
    EXPECT_NE(cli.out.find(" 4096 "), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find(" 300 "), std::string::npos) << cli.out;
    // write/read: the server prints the client's report, which came over the control connection
    EXPECT_GT(avgOf(srv.out), 0) << srv.out;
    if (std::string(test) != "send") {
      EXPECT_NE(srv.out.find("the client's report"), std::string::npos) << srv.out;
    }
  }
}

TEST(PerftestTool, SendWithMoreIterationsThanTheReceiveDepthUsesCredits) {
  // 1500 Sends through 512 receives: the sender must wait for the receiver's credit writes
  auto [cli, srv] = pair("send", "64", 1500);
  EXPECT_EQ(cli.status, 0) << cli.out << "\nserver:\n" << srv.out;
  EXPECT_EQ(srv.status, 0) << srv.out << "\nclient:\n" << cli.out;
  EXPECT_NE(srv.out.find(" 1500 "), std::string::npos) << srv.out;
}

TEST(PerftestTool, OldOrMalformedPeerVersionFailsWithTheReason) {
  {
    auto [cli, srv] = pair("write", "64", 10, "NDK_PERFTEST_VERSION=5.60", 5);
    EXPECT_EQ(cli.status, 1) << cli.out;
    EXPECT_NE(cli.out.find("older than 5.70"), std::string::npos) << cli.out;
    EXPECT_EQ(srv.status, 1) << srv.out;  // its peer went away: a clear error, no hang
  }
  {
    auto [cli, srv] = pair("read", "64", 10, "NDK_PERFTEST_VERSION=garbage", 5);
    EXPECT_EQ(cli.status, 1) << cli.out;
    EXPECT_NE(cli.out.find("malformed version"), std::string::npos) << cli.out;
    EXPECT_EQ(srv.status, 1) << srv.out;
  }
}

TEST(PerftestTool, UsageErrorsExitTwo) {
  for (const char* args : {"perf --perftest", "perf --perftest --loopback", "perf --perftest -c 127.0.0.1 -q 2",
                           "perf --perftest -c 127.0.0.1 --lat", "perf --perftest -c 127.0.0.1 -b",
                           "perf --perftest -c 127.0.0.1 --json", "perf --perftest -c 127.0.0.1 -6",
                           "perf --perftest -c ::1", "perf --perftest --server -c 127.0.0.1", "perf --perftest -c 127.0.0.1 -s 0",
                           "perf --perftest -c 127.0.0.1 -o 4", "perf --perftest -c 127.0.0.1 -t atomic"}) {
    ToolRun r = ndk(args);
    EXPECT_EQ(r.status, 2) << "ndk " << args << "\n" << r.out;
  }
  ToolRun r = ndk("perf --perftest -c 127.0.0.1 -q 2");
  EXPECT_NE(r.out.find("-q 1"), std::string::npos) << r.out;
}

TEST(PerftestTool, NobodyListeningFailsWithinTheTimeout) {
  ToolRun r = ndk(fmt::format("perf --perftest -c 127.0.0.1 -p {} --timeout 2", freePort()));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot connect"), std::string::npos) << r.out;
}

}  // namespace
