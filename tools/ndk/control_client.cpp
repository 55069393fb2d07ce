#include "control_client.h"

#include <dirent.h>
#include <ndk/openndk.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace ndktool {
namespace {

std::string runtimeDirectory() {
  char buf[4096];
  const unsigned long n = OpenNdkRuntimeDirectory(buf, sizeof buf);
  return n < sizeof buf ? std::string(buf, n) : std::string();
}

// One request/reply exchange; false with *error set on failure, *stale when nobody listens,
// *vanished when the socket file is gone (its process exited between readdir and connect).
bool exchange(const std::string& path, const std::string& request, int timeoutMs, std::string* reply,
              std::string* error, bool* stale, bool* vanished) {
  *stale = *vanished = false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long";
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *stale = errno == ECONNREFUSED;
    *vanished = errno == ENOENT;
    *error = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  const std::string line = request + "\n";
  // A send failure (EPIPE) is not the end: a server that refuses us (SO_PEERCRED) answers and
  // closes without reading, and that answer is what to report.
  const bool sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  const int sendErrno = errno;
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    const int n = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "no reply within " + std::to_string(timeoutMs) + " ms";
      return false;
    }
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      reply->append(buf, static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0) {
      if (reply->empty() && !sent) {
        *error = std::string("send: ") + std::strerror(sendErrno);
        return false;
      }
      return true;
    }
    if (errno == EINTR) continue;
    *error = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

}  // namespace

ControlSweep askAllProcesses(const nlohmann::json& request, int timeoutMs) {
  ControlSweep sweep;
  sweep.directory = runtimeDirectory();
  std::vector<std::pair<long, std::string>> sockets;
  if (DIR* d = ::opendir(sweep.directory.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      // <pid>.sock only: anything else in the directory is not ours to touch.
      if (name.size() < 6 || name.compare(name.size() - 5, 5, ".sock") != 0) continue;
      const std::string digits = name.substr(0, name.size() - 5);
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          digits.size() > 9)
        continue;
      const long pid = std::stol(digits);
      if (pid == static_cast<long>(::getpid())) continue;
      sockets.emplace_back(pid, sweep.directory + "/" + name);
    }
    ::closedir(d);
  }
  std::sort(sockets.begin(), sockets.end());
  const std::string text = request.dump();
  for (const auto& [pid, path] : sockets) {
    ProcessReply pr;
    pr.pid = pid;
    pr.socket = path;
    std::string reply;
    bool stale = false, vanished = false;
    if (!exchange(path, text, timeoutMs, &reply, &pr.error, &stale, &vanished)) {
      if (stale) {
        ::unlink(path.c_str());  // its process is gone (killed): nobody else will remove it
        sweep.staleRemoved.push_back(path);
        continue;
      }
      if (vanished) continue;  // the process exited between readdir and connect
      sweep.processes.push_back(std::move(pr));
      continue;
    }
    pr.reply = nlohmann::ordered_json::parse(reply, nullptr, false);
    if (pr.reply.is_discarded() || !pr.reply.is_object()) {
      pr.reply = nullptr;
      pr.error = "unreadable reply";
    }
    sweep.processes.push_back(std::move(pr));
  }
  return sweep;
}

nlohmann::ordered_json versionJson() {
  const OPENNDK_VERSION_INFO* v = OpenNdkGetVersion();
  return {{"openndk_version", v->VersionString}, {"git_commit", v->GitCommit}};
}

nlohmann::ordered_json withVersion(const nlohmann::ordered_json& j) {
  nlohmann::ordered_json out = versionJson();
  for (const auto& [k, v] : j.items()) out[k] = v;
  return out;
}

}  // namespace ndktool
