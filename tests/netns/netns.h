// Two network namespaces joined by a veth pair, for fault tests (issue 7). Needs root (CAP_SYS_ADMIN
// and CAP_NET_ADMIN). Names carry the creating process id, so parallel test processes never share
// a namespace; namespaces left behind by a killed test process (its pid no longer alive) are removed
// by the next create(). Every namespace this process creates is also removed at exit and on
// SIGINT/SIGTERM/SIGABRT/SIGSEGV (a handler that runs `ip netns del`).
//
// Namespace A: interface ifA, address ipA (10.77.0.1/24); namespace B: ifB, ipB (10.77.0.2/24).
// A thread enters a namespace with enter(); sockets it creates from then on live there. A child
// process is started inside B with spawnIn().
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace ndktest {

// Runs a command line with /bin/sh -c; returns its exit status (-1 if it could not run).
int runCommand(const std::string& cmd, std::string* output = nullptr);

class NetnsPair {
 public:
  // nullptr and *why set when namespaces cannot be created (not root, no netns support).
  static std::unique_ptr<NetnsPair> create(std::string* why);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  std::string nsA, nsB, ifA, ifB;
  std::string ipA = "10.77.0.1", ipB = "10.77.0.2";

  // setns() of the calling thread into A or B. False on failure.
  bool enterA() const;
  bool enterB() const;
  // Runs `ip`/`nft` inside a namespace: "ip -n <ns> ..." etc. Returns the exit status.
  int inA(const std::string& cmd) const;
  int inB(const std::string& cmd) const;
  // Interface of B (the peer side) down or up.
  bool linkB(bool up) const;
  // nftables in B: silently drop every TCP segment to and from B (black hole) or remove the rule.
  // False if nft is missing or the rule cannot be installed.
  bool blackholeB(bool on) const;
  // fork(); the child enters B and execv()s argv[0]. stdout of the child goes to a pipe whose read
  // end is returned in *outFd (if not null). Returns the pid, or -1.
  pid_t spawnInB(const std::vector<std::string>& argv, int* outFd) const;

 private:
  NetnsPair() = default;
  int fdA_ = -1, fdB_ = -1;
};

}  // namespace ndktest
