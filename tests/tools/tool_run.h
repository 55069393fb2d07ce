// Runs a shell command line (an `ndk ...` invocation) and collects its output and exit status;
// shared by the tool tests (tests/tools, tests/host). -1: not started or not exited normally.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tooltest {

struct ToolRun {
  int status = -1;
  std::string out;  // what the command wrote to stdout (and stderr if the line redirects it)
};

inline ToolRun runCommand(const std::string& cmd) {
  ToolRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace tooltest
