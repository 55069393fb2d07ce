#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <mutex>

namespace ndktest {

namespace {
constexpr const char* kPrefix = "ondkf-";

// Namespaces to remove at exit or on a fatal signal (fixed storage: the signal handler reads it).
constexpr int kMaxOwned = 8;
std::array<std::array<char, 64>, kMaxOwned> g_owned{};
std::atomic<int> g_ownedCount{0};
std::once_flag g_hooks;

void deleteNs(const char* name) {
  // async-signal-safe: fork + execv, no allocation in the child before exec.
  const pid_t p = ::fork();
  if (p == 0) {
    const char* argv[] = {"ip", "netns", "del", name, nullptr};
    ::execv("/usr/sbin/ip", const_cast<char* const*>(argv));
    ::execv("/sbin/ip", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  if (p > 0) {
    int st = 0;
    while (::waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

void deleteOwned() {
  const int n = g_ownedCount.exchange(0);
  for (int i = 0; i < n && i < kMaxOwned; ++i)
    if (g_owned[static_cast<std::size_t>(i)][0]) deleteNs(g_owned[static_cast<std::size_t>(i)].data());
}

void onFatal(int sig) {
  deleteOwned();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void installHooks() {
  std::atexit(deleteOwned);
  for (int s : {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGHUP}) {
    struct sigaction sa {};
    struct sigaction old {};
    ::sigaction(s, nullptr, &old);
    if (old.sa_handler != SIG_DFL) continue;  // keep a sanitizer's or the harness's handler
    sa.sa_handler = onFatal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(s, &sa, nullptr);
  }
}

void own(const std::string& name) {
  const int i = g_ownedCount.load();
  if (i >= kMaxOwned) return;
  std::snprintf(g_owned[static_cast<std::size_t>(i)].data(), 64, "%s", name.c_str());
  g_ownedCount.store(i + 1);
}

void disown(const std::string& name) {
  const int n = g_ownedCount.load();
  for (int i = 0; i < n; ++i)
    if (name == g_owned[static_cast<std::size_t>(i)].data()) g_owned[static_cast<std::size_t>(i)][0] = '\0';
}

// Namespaces named ondkf-<pid>-x whose pid is gone: left behind by a killed test run.
void removeStale() {
  DIR* d = ::opendir("/var/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind(kPrefix, 0) != 0) continue;
    const long pid = std::strtol(n.c_str() + std::strlen(kPrefix), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : stale) runCommand("ip netns del " + n + " 2>/dev/null");
}

bool enter(int fd) { return fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0; }
}  // namespace

int runCommand(const std::string& cmd, std::string* output) {
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return -1;
  std::array<char, 512> buf{};
  std::string out;
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), f)) out += buf.data();
  const int st = ::pclose(f);
  if (output) *output = out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::unique_ptr<NetnsPair> NetnsPair::create(std::string* why) {
  std::call_once(g_hooks, installHooks);
  removeStale();
  static std::atomic<int> seq{0};
  const int n = seq.fetch_add(1);
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(n);
  std::unique_ptr<NetnsPair> p(new NetnsPair());
  p->nsA = kPrefix + tag + "-a";
  p->nsB = kPrefix + tag + "-b";
  // IFNAMSIZ is 16: "vf" + pid (≤ 7 digits) + seq + side stays below it.
  const std::string ifTag = std::to_string(::getpid() % 10000000) + std::to_string(n % 10);
  p->ifA = "vf" + ifTag + "a";
  p->ifB = "vf" + ifTag + "b";
  std::string out;
  if (runCommand("ip netns add " + p->nsA, &out) != 0) {
    if (why) *why = "ip netns add failed: " + out;
    return nullptr;
  }
  own(p->nsA);
  if (runCommand("ip netns add " + p->nsB, &out) != 0) {
    if (why) *why = "ip netns add failed: " + out;
    return nullptr;  // ~NetnsPair removes A (and B if half made)
  }
  own(p->nsB);
  const std::string cmds[] = {
      "ip link add " + p->ifA + " netns " + p->nsA + " type veth peer name " + p->ifB + " netns " + p->nsB,
      "ip -n " + p->nsA + " addr add " + p->ipA + "/24 dev " + p->ifA,
      "ip -n " + p->nsB + " addr add " + p->ipB + "/24 dev " + p->ifB,
      "ip -n " + p->nsA + " link set lo up",
      "ip -n " + p->nsB + " link set lo up",
      "ip -n " + p->nsA + " link set " + p->ifA + " up",
      "ip -n " + p->nsB + " link set " + p->ifB + " up",
  };
  for (const auto& c : cmds) {
    if (runCommand(c, &out) != 0) {
      if (why) *why = c + ": " + out;
      return nullptr;
    }
  }
  p->fdA_ = ::open(("/var/run/netns/" + p->nsA).c_str(), O_RDONLY | O_CLOEXEC);
  p->fdB_ = ::open(("/var/run/netns/" + p->nsB).c_str(), O_RDONLY | O_CLOEXEC);
  if (p->fdA_ < 0 || p->fdB_ < 0) {
    if (why) *why = std::string("open /var/run/netns: ") + std::strerror(errno);
    return nullptr;
  }
  return p;
}

NetnsPair::~NetnsPair() {
  if (fdA_ >= 0) ::close(fdA_);
  if (fdB_ >= 0) ::close(fdB_);
  for (const std::string* ns : {&nsA, &nsB}) {
    if (ns->empty()) continue;
    runCommand("ip netns del " + *ns);  // also removes the veth pair
    disown(*ns);
  }
}

bool NetnsPair::enterA() const { return enter(fdA_); }
bool NetnsPair::enterB() const { return enter(fdB_); }
int NetnsPair::inA(const std::string& cmd) const { return runCommand("ip netns exec " + nsA + " " + cmd); }
int NetnsPair::inB(const std::string& cmd) const { return runCommand("ip netns exec " + nsB + " " + cmd); }

bool NetnsPair::linkB(bool up) const {
  if (runCommand("ip -n " + nsB + " link set " + ifB + (up ? " up" : " down")) != 0) return false;
  if (!up) return true;
  // Traffic sent while the link was down left neighbour entries resolving (INCOMPLETE) or FAILED;
  // one that fails right after the link is back drops what is queued on it with "host
  // unreachable" (a connect made at once then fails with EHOSTUNREACH). Start both ends afresh.
  return runCommand("ip -n " + nsA + " neigh flush dev " + ifA) == 0 &&
         runCommand("ip -n " + nsB + " neigh flush dev " + ifB) == 0;
}

bool NetnsPair::blackholeB(bool on) const {
  if (!on) return inB("nft delete table inet ondk_blackhole") == 0;
  return inB("nft 'add table inet ondk_blackhole; "
             "add chain inet ondk_blackhole in { type filter hook input priority -300; policy accept; }; "
             "add chain inet ondk_blackhole out { type filter hook output priority -300; policy accept; }; "
             "add rule inet ondk_blackhole in meta l4proto tcp drop; "
             "add rule inet ondk_blackhole out meta l4proto tcp drop'") == 0;
}

pid_t NetnsPair::spawnInB(const std::vector<std::string>& argv, int* outFd) const {
  int pfd[2] = {-1, -1};
  if (outFd && ::pipe2(pfd, O_CLOEXEC) != 0) return -1;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!enter(fdB_)) ::_exit(126);
    if (outFd) ::dup2(pfd[1], STDOUT_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (outFd) {
    ::close(pfd[1]);
    if (pid < 0) {
      ::close(pfd[0]);
      return -1;
    }
    *outFd = pfd[0];
  }
  return pid;
}

}  // namespace ndktest
