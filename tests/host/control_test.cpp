// The host-wide control plane (src/host/control.*, tools/ndk/control_client.*): two consumer
// processes (control_peer) seen and steered by `ndk stat | info | set-state`, a stale endpoint
// after SIGKILL, malformed requests, permissions and peer credentials. Every test gets its own
// runtime directory (OPENNDK_RUNTIME_DIR), so tests running in parallel do not see each other.
// Synchronisation is by the peers' stdout lines, never by sleeping.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../tools/tool_run.h"

namespace {

using tooltest::ToolRun;

// A control_peer child with a pipe to its stdin and one from its stdout.
class Peer {
 public:
  Peer() {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execl(CONTROL_PEER, CONTROL_PEER, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = ::fdopen(out[0], "r");
  }
  ~Peer() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0 && !reaped_) ::waitpid(pid_, nullptr, 0);
    if (stdout_) std::fclose(stdout_);
  }
  // The next line the peer prints (blocking; "" at end of stream).
  std::string line() {
    char buf[256];
    if (!stdout_ || !std::fgets(buf, sizeof buf, stdout_)) return "";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  FILE* stdout_ = nullptr;
  bool reaped_ = false;
};

class ControlPlane : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/openndk-control-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    dir_ = base_ + "/run";  // not created: the first process creates it 0700
    ::setenv("OPENNDK_RUNTIME_DIR", dir_.c_str(), 1);
    lo_ = std::to_string(if_nametoindex("lo"));
  }
  void TearDown() override {
    ::unsetenv("OPENNDK_RUNTIME_DIR");
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }
  static ToolRun ndk(const std::string& args) { return tooltest::runCommand(std::string(NDK_TOOL) + " " + args); }
  static nlohmann::json json(const ToolRun& r) { return nlohmann::json::parse(r.out, nullptr, false); }
  std::string socketOf(const Peer& p) const { return dir_ + "/" + std::to_string(p.pid()) + ".sock"; }

  // One raw exchange with a peer's socket: the reply text ("" if none).
  static std::string ask(const std::string& path, const std::string& request) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      // The send may fail (EPIPE) when the server answered a refused peer without reading: the
      // reply is still there to read.
      (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return reply;
  }

  std::string base_, dir_, lo_;
};

TEST_F(ControlPlane, TwoProcessesCountersConnectionsAndSetStateSeenAcrossProcesses) {
  Peer a, b;
  ASSERT_EQ(a.line(), "ready " + std::to_string(a.pid()));
  ASSERT_EQ(b.line(), "ready " + std::to_string(b.pid()));

  ToolRun stat = ndk("stat --json --per-process -i " + lo_);
  ASSERT_EQ(stat.status, 0) << stat.out;
  auto j = json(stat);
  ASSERT_TRUE(j.is_object()) << stat.out;
  EXPECT_TRUE(j.contains("openndk_version"));
  ASSERT_EQ(j["processes"].size(), 2u) << stat.out;
  const auto& i = j["interfaces"][0];
  EXPECT_EQ(i["processes"].get<unsigned>(), 2u);
  // Each peer connected once and accepted once on its own adapter: the sums are across processes.
  EXPECT_EQ(i["statistics"]["counters"]["Connect"].get<unsigned>(), 2u) << stat.out;
  EXPECT_EQ(i["statistics"]["counters"]["Accept"].get<unsigned>(), 2u) << stat.out;
  EXPECT_GE(i["connections"]["count"].get<unsigned>(), 2u) << stat.out;
  EXPECT_GE(i["local_endpoints"]["count"].get<unsigned>(), 2u) << stat.out;  // each peer's listener
  ASSERT_EQ(i["per_process"].size(), 2u);
  EXPECT_EQ(i["per_process"][0]["pid"].get<long>(), std::min(a.pid(), b.pid()));
  EXPECT_EQ(i["per_process"][0]["counters"]["Connect"].get<unsigned>(), 1u);
  EXPECT_EQ(i["per_process"][1]["open_adapters"].get<unsigned>(), 1u);

  ToolRun info = ndk("info --json -i " + lo_);
  ASSERT_EQ(info.status, 0) << info.out;
  auto ij = json(info);
  EXPECT_EQ(ij["interfaces"][0]["open_adapters"].get<unsigned>(), 2u) << info.out;
  EXPECT_EQ(ij["interfaces"][0]["processes"].size(), 2u);

  ToolRun prom = ndk("stat --prometheus -i " + lo_);
  ASSERT_EQ(prom.status, 0) << prom.out;
  EXPECT_NE(prom.out.find("# TYPE openndk_connect_total counter"), std::string::npos) << prom.out;
  EXPECT_NE(prom.out.find("openndk_connect_total{ifindex=\"" + lo_ + "\",interface=\"lo\"} 2\n"), std::string::npos)
      << prom.out;
  EXPECT_NE(prom.out.find("openndk_processes{ifindex=\"" + lo_ + "\",interface=\"lo\"} 2\n"), std::string::npos);

  // set-state off reaches both processes: each sees NetEventNDKDisable, closes its adapter, and a
  // new open there is refused (R161).
  ToolRun off = ndk("set-state -i " + lo_ + " off");
  EXPECT_EQ(off.status, 0) << off.out;
  EXPECT_NE(off.out.find("pid " + std::to_string(a.pid())), std::string::npos) << off.out;
  EXPECT_NE(off.out.find("pid " + std::to_string(b.pid())), std::string::npos) << off.out;
  for (Peer* p : {&a, &b}) {
    EXPECT_EQ(p->line(), "disabled");
    EXPECT_EQ(p->line(), "reopen NDIS_STATUS_ADAPTER_NOT_READY");
  }
  auto after = json(ndk("stat --json -i " + lo_));
  EXPECT_FALSE(after["interfaces"][0]["ndk_enabled"].get<bool>());
  EXPECT_EQ(after["interfaces"][0]["statistics"]["counters"]["ActiveConnection"].get<unsigned>(), 0u);

  ToolRun on = ndk("set-state --json -i " + lo_ + " on");
  EXPECT_EQ(on.status, 0) << on.out;
  auto onj = json(on);
  EXPECT_TRUE(onj["ok"].get<bool>());
  EXPECT_EQ(onj["processes"].size(), 2u);
  EXPECT_TRUE(json(ndk("stat --json -i " + lo_))["interfaces"][0]["ndk_enabled"].get<bool>());
}

TEST_F(ControlPlane, StaleEndpointAfterSigkillIsRemovedAndNotCounted) {
  Peer p;
  ASSERT_EQ(p.line(), "ready " + std::to_string(p.pid()));
  const std::string sock = socketOf(p);
  p.kill9();
  ASSERT_TRUE(std::filesystem::exists(sock));  // nobody unlinked it
  ToolRun stat = ndk("stat --json -i " + lo_);
  ASSERT_EQ(stat.status, 0) << stat.out;
  auto j = json(stat);
  EXPECT_EQ(j["processes"].size(), 0u);
  ASSERT_EQ(j["stale_endpoints_removed"].size(), 1u) << stat.out;
  EXPECT_EQ(j["stale_endpoints_removed"][0].get<std::string>(), sock);
  EXPECT_FALSE(std::filesystem::exists(sock));
  // No live process: set-state does nothing and says so (exit 1), it does not claim success.
  ToolRun off = ndk("set-state -i " + lo_ + " off 2>&1");
  EXPECT_EQ(off.status, 1) << off.out;
  EXPECT_NE(off.out.find("nothing changed"), std::string::npos) << off.out;
}

TEST_F(ControlPlane, DirectoryAndSocketArePrivate) {
  Peer p;
  ASSERT_EQ(p.line(), "ready " + std::to_string(p.pid()));
  struct stat d, s;
  ASSERT_EQ(::stat(dir_.c_str(), &d), 0);
  EXPECT_EQ(d.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(socketOf(p).c_str(), &s), 0);
  EXPECT_TRUE(S_ISSOCK(s.st_mode));
  EXPECT_EQ(s.st_mode & 0777, 0600u);
}

TEST_F(ControlPlane, MalformedRequestsGetAnErrorReplyAndTheProcessLivesOn) {
  Peer p;
  ASSERT_EQ(p.line(), "ready " + std::to_string(p.pid()));
  const std::string sock = socketOf(p);
  for (const std::string& bad :
       {std::string("{"), std::string("[]"), std::string("\"status\""), std::string("{\"command\":7}"),
        std::string("{\"command\":\"reboot\"}"), std::string("{\"command\":\"set_state\",\"ifindex\":-1,\"enabled\":false}"),
        std::string("{\"command\":\"set_state\",\"ifindex\":1}"), std::string(""), std::string(5000, 'x'),
        std::string("\xff\xfe{\"command\":\"status\"}")}) {
    const std::string reply = ask(sock, bad + "\n");
    auto r = nlohmann::json::parse(reply, nullptr, false);
    ASSERT_TRUE(r.is_object()) << "request [" << bad.substr(0, 40) << "] reply [" << reply << "]";
    EXPECT_FALSE(r["ok"].get<bool>());
    EXPECT_FALSE(r["error"].get<std::string>().empty());
  }
  auto ok = nlohmann::json::parse(ask(sock, "{\"command\":\"status\"}\n"), nullptr, false);
  ASSERT_TRUE(ok.is_object());
  EXPECT_TRUE(ok["ok"].get<bool>());
  EXPECT_EQ(ok["pid"].get<long>(), p.pid());
  EXPECT_TRUE(ok.contains("tunables"));
  EXPECT_TRUE(ok.contains("rejected_calls"));
}

TEST_F(ControlPlane, PeerWithAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  Peer p;
  ASSERT_EQ(p.line(), "ready " + std::to_string(p.pid()));
  const std::string sock = socketOf(p);
  // The directory is 0700: make the socket reachable for the test only, as a same-dir leak would.
  ASSERT_EQ(::chmod(base_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(sock.c_str(), 0666), 0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    const std::string reply = ask(sock, "{\"command\":\"status\"}\n");
    (void)!::write(fds[1], reply.data(), reply.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  auto r = nlohmann::json::parse(reply, nullptr, false);
  ASSERT_TRUE(r.is_object()) << "reply [" << reply << "]";
  EXPECT_FALSE(r["ok"].get<bool>());
  EXPECT_NE(r["error"].get<std::string>().find("permission denied"), std::string::npos);
  EXPECT_FALSE(r.contains("interfaces"));
}

TEST_F(ControlPlane, SetStateWithoutAnyProcessFails) {
  ToolRun r = ndk("set-state -i " + lo_ + " off 2>&1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("no running OpenNDK process"), std::string::npos) << r.out;
}

}  // namespace
