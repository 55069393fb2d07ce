// The ndk tool as a program: `ndk info --json` (loopback present, limits match
// NdkQueryAdapterInfo), `ndk stat --json` (R162-R164), `ndk set-state` (R159), `ndk test
// --coverage --json`, and bad arguments (exit status 2 with a usage message).
#include <gtest/gtest.h>
#include <net/if.h>
#include <ndk/ndk.h>
#include <ndk/openndk.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../tools/tool_run.h"

namespace {

using tooltest::ToolRun;

// A private control-plane runtime directory: the tool must not see (or steer) the processes of
// other tests running in parallel. Removed when the test process exits.
struct PrivateRuntimeDir {
  char dir[32] = "/tmp/openndk-tool-test-XXXXXX";
  bool ok = ::mkdtemp(dir) != nullptr && ::setenv("OPENNDK_RUNTIME_DIR", dir, 1) == 0;
  ~PrivateRuntimeDir() {
    std::error_code ec;
    if (ok) std::filesystem::remove_all(dir, ec);
  }
};
const PrivateRuntimeDir kPrivateRuntimeDir;

ToolRun ndk(const std::string& args, bool mergeStderr = false) {
  std::string cmd = std::string(NDK_TOOL) + " " + args + (mergeStderr ? " 2>&1" : " 2>/dev/null");
  return tooltest::runCommand(cmd);
}

const nlohmann::json* findLoopback(const nlohmann::json& j) {
  for (const auto& i : j["interfaces"])
    if (i["name"] == "lo") return &i;
  return nullptr;
}

TEST(NdkTool, InfoJsonListsLoopbackWithLimitsOfNdkQueryAdapterInfo) {
  ToolRun r = ndk("info --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  const nlohmann::json* lo = findLoopback(j);
  ASSERT_NE(lo, nullptr) << r.out;
  EXPECT_EQ((*lo)["ifindex"].get<unsigned>(), if_nametoindex("lo"));
  bool has127 = false;
  for (const auto& a : (*lo)["addresses"]) has127 = has127 || a == "127.0.0.1";
  EXPECT_TRUE(has127);
  EXPECT_TRUE((*lo)["ndk_enabled"].get<bool>());

  NDK_ADAPTER* a = nullptr;
  ASSERT_EQ(OpenNdkOpenAdapter(if_nametoindex("lo"), nullptr, &a), NDIS_STATUS_SUCCESS);
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  ASSERT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &info, &size), STATUS_SUCCESS);
  OpenNdkCloseAdapter(a);
  const auto& ai = (*lo)["adapter_info"];
  EXPECT_EQ(ai["Version"]["Major"].get<unsigned>(), info.Version.Major);
  EXPECT_EQ(ai["Version"]["Minor"].get<unsigned>(), info.Version.Minor);
  EXPECT_EQ(ai["MaxCqDepth"].get<unsigned>(), info.MaxCqDepth);
  EXPECT_EQ(ai["MaxInitiatorQueueDepth"].get<unsigned>(), info.MaxInitiatorQueueDepth);
  EXPECT_EQ(ai["MaxReceiveRequestSge"].get<unsigned>(), info.MaxReceiveRequestSge);
  EXPECT_EQ(ai["MaxInlineDataSize"].get<unsigned>(), info.MaxInlineDataSize);
  EXPECT_EQ(ai["MaxRegistrationSize"].get<std::uint64_t>(), info.MaxRegistrationSize);
  EXPECT_EQ(ai["AdapterFlags"].get<unsigned>(), info.AdapterFlags);
  EXPECT_EQ(ai["RdmaTechnologyName"], "iWARP");
  EXPECT_EQ((*lo)["capabilities"]["Header"]["Size"].get<unsigned>(), NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1);
}

TEST(NdkTool, InfoConfigAndSingleInterface) {
  ToolRun r = ndk("info --json --config -i " + std::to_string(if_nametoindex("lo")));
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["interfaces"].size(), 1u);
  bool found = false;
  for (const auto& t : j["config"]) found = found || t["name"] == "network_direct";
  EXPECT_TRUE(found);
  ToolRun text = ndk("info --config");
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("interface"), std::string::npos);
  EXPECT_NE(text.out.find("network_direct"), std::string::npos);
}

TEST(NdkTool, StatJsonHasCountersAndEmptyLists) {
  ToolRun r = ndk("stat --json -i " + std::to_string(if_nametoindex("lo")));
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["interfaces"].size(), 1u);
  const auto& i = j["interfaces"][0];
  EXPECT_EQ(i["statistics"]["status"], "SUCCESS");
  EXPECT_TRUE(i["statistics"]["reserved_zero"].get<bool>());  // R162
  EXPECT_EQ(i["statistics"]["header"]["Size"].get<unsigned>(), NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1);
  for (const char* k : {"Connect", "Accept", "ConnectFailure", "ConnectionError", "ActiveConnection", "CQError",
                        "RDMAInOctets", "RDMAOutOctets", "RDMAInFrames", "RDMAOutFrames"})
    EXPECT_TRUE(i["statistics"]["counters"].contains(k)) << k;
  EXPECT_EQ(i["connections"]["count"].get<unsigned>(), i["connections"]["entries"].size());  // R163
  EXPECT_EQ(i["local_endpoints"]["count"].get<unsigned>(), i["local_endpoints"]["entries"].size());  // R164
}

TEST(NdkTool, StatWatchWithCount) {
  ToolRun r = ndk("stat --json --watch 0.05 --count 2 -i " + std::to_string(if_nametoindex("lo")));
  ASSERT_EQ(r.status, 0) << r.out;
  int lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 2);
}

// set-state acts on running consumer processes (tests/host/control_test.cpp has them); with none,
// it changes nothing and must say so instead of reporting success.
TEST(NdkTool, R159_SetStateWithNoConsumerProcessReportsNothingChanged) {
  const std::string lo = std::to_string(if_nametoindex("lo"));
  ToolRun off = ndk("set-state -i " + lo + " off", true);
  EXPECT_EQ(off.status, 1) << off.out;
  EXPECT_NE(off.out.find("nothing changed"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("NDK disabled"), std::string::npos) << off.out;
}

TEST(NdkTool, CoverageJson) {
  ToolRun r = ndk("test --coverage --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total"].get<int>(), 168);
  EXPECT_GT(j["covered"].get<int>(), 0);
  EXPECT_EQ(j["covered"].get<int>() + static_cast<int>(j["missing"].size()), 168);
  // This very file cites R159, R162, R163 and R164.
  EXPECT_TRUE(j["rules"].contains("R159"));
  EXPECT_TRUE(j["rules"].contains("R162"));
  ToolRun text = ndk("test --coverage");
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("rule coverage:"), std::string::npos);
  ToolRun bad = ndk("test --coverage --root /nonexistent-openndk-root");
  EXPECT_EQ(bad.status, 1);
}

TEST(NdkTool, BadArgumentsExitTwoWithUsage) {
  for (const char* args : {"", "frobnicate", "info --bogus", "set-state -i 1", "set-state -i 1 maybe",
                           "set-state on", "stat --watch -3", "stat --count 2", "info -i notanumber", "test"}) {
    ToolRun r = ndk(args, true);
    EXPECT_EQ(r.status, 2) << "ndk " << args << "\n" << r.out;
    EXPECT_TRUE(r.out.find("Usage") != std::string::npos || r.out.find("usage") != std::string::npos ||
                r.out.find("--coverage") != std::string::npos)
        << "ndk " << args << "\n" << r.out;
  }
  ToolRun ok = ndk("info");  // the tool still works
  EXPECT_EQ(ok.status, 0);
}

TEST(NdkTool, UnknownInterfaceFailsWithOne) {
  ToolRun r = ndk("info -i 2147483000", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("not an NDK-capable interface"), std::string::npos);
}

// ping/perf without a mode are usage errors (their own tests: tests/tools).
TEST(NdkTool, PingAndPerfWithoutModeAreUsageErrors) {
  for (const char* c : {"ping", "perf"}) {
    ToolRun r = ndk(c, true);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("Usage"), std::string::npos);
  }
}

}  // namespace

namespace {

// `ndk --version` and the version in every JSON document (issue 13): the same library version
// and commit as OpenNdkGetVersion() of the library this test links.
TEST(NdkTool, VersionFlagAndVersionInEveryJsonDocument) {
  const OPENNDK_VERSION_INFO* v = OpenNdkGetVersion();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(std::string(v->VersionString),
            std::to_string(v->Major) + "." + std::to_string(v->Minor) + "." + std::to_string(v->Patch));
  ASSERT_EQ(v->NdkpiVersionCount, 5u);
  EXPECT_EQ(v->NdkpiVersions[4][0], 2);
  EXPECT_EQ(v->NdkpiVersions[4][1], 1);
  ToolRun r = ndk("--version");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(std::string("ndk (OpenNDK) ") + v->VersionString), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("commit ") + v->GitCommit), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NDKPI versions 1.0 1.1 1.2 2.0 2.1"), std::string::npos) << r.out;
  const std::string lo = std::to_string(if_nametoindex("lo"));
  for (const std::string& args : {"info --json -i " + lo, "stat --json -i " + lo, std::string("test --coverage --json")}) {
    ToolRun j = ndk(args);
    ASSERT_EQ(j.status, 0) << args << "\n" << j.out;
    auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["openndk_version"], v->VersionString) << args;
    EXPECT_EQ(doc["git_commit"], v->GitCommit) << args;
  }
}

}  // namespace

namespace {

// An invalid tunable in the environment is a loud fallback (issue 13): the library logs a warning
// and uses the default, and `ndk info --config` shows the default as the value in force with the
// rejected environment value beside it (never the rejected value as if it were in force).
TEST(NdkTool, InvalidTunableInEnvironmentIsShownAsRejectedWithTheDefaultInForce) {
  const std::string lo = std::to_string(if_nametoindex("lo"));
  ToolRun r = tooltest::runCommand("OPENNDK_PROGRESS_MODE=bogus OPENNDK_MAX_SGE=abc " + std::string(NDK_TOOL) +
                                   " info --json --config -i " + lo + " 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  int seen = 0;
  for (const auto& t : j["config"]) {
    if (t["name"] == "progress_mode") {
      EXPECT_EQ(t["value"], "adaptive");
      EXPECT_EQ(t["env_rejected"], "bogus");
      ++seen;
    } else if (t["name"] == "max_sge") {
      EXPECT_EQ(t["value"], "16");
      EXPECT_EQ(t["env_rejected"], "abc");
      ++seen;
    } else {
      EXPECT_FALSE(t.contains("env_rejected")) << t.dump();
    }
  }
  EXPECT_EQ(seen, 2);
  // The adapter info the tool read used the default, not 0 from "abc".
  EXPECT_EQ(j["interfaces"][0]["adapter_info"]["MaxInitiatorRequestSge"].get<unsigned>(), 16u);

  ToolRun text = tooltest::runCommand("OPENNDK_PROGRESS_MODE=bogus OPENNDK_MAX_SGE=abc " + std::string(NDK_TOOL) +
                                      " info --config -i " + lo + " 2>&1");
  ASSERT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("openndk warn [config] OPENNDK_PROGRESS_MODE='bogus' rejected"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("openndk warn [config] OPENNDK_MAX_SGE='abc' rejected"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("OPENNDK_PROGRESS_MODE='bogus' was rejected: the value above is in force"),
            std::string::npos)
      << text.out;
  // A valid environment value is in force and not marked.
  ToolRun ok = tooltest::runCommand("OPENNDK_PROGRESS_MODE=blocking " + std::string(NDK_TOOL) +
                                    " info --json --config -i " + lo + " 2>/dev/null");
  const auto okDoc = nlohmann::json::parse(ok.out);  // kept alive: the loop walks into it
  for (const auto& t : okDoc["config"])
    if (t["name"] == "progress_mode") {
      EXPECT_EQ(t["value"], "blocking");
      EXPECT_FALSE(t.contains("env_rejected"));
    }
}

}  // namespace

namespace {

// Logs that tell the truth (issue 13): a successful ping logs no failure, and its connection
// lifecycle (established with the MPA result, closed with the reason) is there at debug level.
TEST(NdkTool, SuccessfulPingLogsNoFailureAndItsLifecycleAtDebug) {
  ToolRun r = tooltest::runCommand("OPENNDK_LOG=info " + std::string(NDK_TOOL) + " ping --loopback -C 2 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find(" fails"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("connection lost"), std::string::npos) << r.out;
  ToolRun d = tooltest::runCommand("OPENNDK_LOG=debug " + std::string(NDK_TOOL) + " ping --loopback -C 2 2>&1");
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NE(d.out.find("established (active): MPA rev 2"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("established (passive)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("peer IRD"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find(": closed: cause"), std::string::npos) << d.out;
  // Timestamps: "2026-12-07T14:50:34.350771Z openndk ...".
  EXPECT_NE(d.out.find("Z openndk debug ["), std::string::npos) << d.out;
}

}  // namespace

namespace {

// A non-iWARP peer (it answers the MPA Request with HTTP): the connect fails with
// STATUS_CONNECTION_ABORTED, and the reason (an MPA frame without a valid key) is in the tool's
// message at the default level (OpenNdkGetConnectorFailure) and logged at info.
TEST(NdkTool, FailedMpaExchangeReasonReachesTheUser) {
  const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  // Two connects (one per run below), each answered with HTTP and closed.
  std::thread peer([ls] {
    for (int i = 0; i < 2; ++i) {
      const int c = ::accept(ls, nullptr, nullptr);
      if (c < 0) return;
      char buf[512];
      (void)!::recv(c, buf, sizeof buf, 0);
      const char reply[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
      (void)!::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  });
  ToolRun quiet = tooltest::runCommand(std::string(NDK_TOOL) + " ping -c 127.0.0.1 -p " + port + " 2>&1");
  ToolRun loud = tooltest::runCommand("OPENNDK_LOG=info " + std::string(NDK_TOOL) + " ping -c 127.0.0.1 -p " + port +
                                      " 2>&1");
  peer.join();
  ::close(ls);
  EXPECT_EQ(quiet.status, 1) << quiet.out;
  EXPECT_NE(quiet.out.find("STATUS_CONNECTION_ABORTED"), std::string::npos) << quiet.out;
  // The reason is in the tool's own message (OpenNdkGetConnectorFailure), at the default log level.
  EXPECT_NE(quiet.out.find("STATUS_CONNECTION_ABORTED): MPA exchange failed: peer sent non-MPA data"), std::string::npos)
      << quiet.out;
  EXPECT_EQ(quiet.out.find("run with OPENNDK_LOG=info"), std::string::npos) << quiet.out;
  EXPECT_EQ(loud.status, 1) << loud.out;
  EXPECT_NE(loud.out.find("NdkConnect fails with 0xc0000241: mpa: bad key"), std::string::npos) << loud.out;
}

}  // namespace

namespace {

// rping's habits (issue 13): `ndk ping -s -a ADDR` binds ADDR, `ndk ping -c -a HOST` connects to
// HOST, and HOST may be a name (getaddrinfo). The server is ready when it prints "listening".
TEST(NdkTool, PingTakesRpingsDashAAndHostNames) {
  // A free port: bound and released (the server binds it again right after).
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  ::close(probe);
  FILE* server = ::popen((std::string(NDK_TOOL) + " ping -s -a 127.0.0.1 -C 2 -p " + port + " 2>&1").c_str(), "r");
  ASSERT_NE(server, nullptr);
  char line[512];
  std::string serverOut;
  while (std::fgets(line, sizeof line, server)) {
    serverOut += line;
    if (std::string(line).find("listening") != std::string::npos) break;
  }
  ASSERT_NE(serverOut.find("server listening on 127.0.0.1:" + port), std::string::npos) << serverOut;
  ToolRun client = ndk("ping -c -a localhost -C 2 -p " + port, true);
  while (std::fgets(line, sizeof line, server)) serverOut += line;
  const int st = ::pclose(server);
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_NE(client.out.find("connected to 127.0.0.1:" + port), std::string::npos) << client.out;
  EXPECT_NE(client.out.find("2/2 iterations verified"), std::string::npos) << client.out;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << serverOut;
  // -a without a mode, and two different servers, are usage errors; a name that does not
  // resolve is a bad address.
  EXPECT_EQ(ndk("ping -a 127.0.0.1").status, 2);
  EXPECT_EQ(ndk("ping -c 127.0.0.1 -a 127.0.0.2").status, 2);
  EXPECT_EQ(ndk("ping -c").status, 2);
  EXPECT_EQ(ndk("ping -c no-such-host.invalid -p " + port).status, 2);
}

}  // namespace

namespace {

// perftest's habits (issue 13): -R, -F and --report_gbits are accepted (no-ops, documented), so
// an ib_send_bw command line works; the figures include Gb/s.
TEST(NdkTool, PerfAcceptsPerftestsDashRDashFAndReportGbits) {
  ToolRun r = ndk("perf --loopback -t send -s 64 -n 20 -R -F --report_gbits", true);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Gb/s"), std::string::npos) << r.out;
}

}  // namespace
