#include "tcp_baseline.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "wire.h"

namespace ndkperf {
namespace {

using Clock = std::chrono::steady_clock;

using wire::kTcpMagic;
using wire::kTcpQuit;
using wire::kTcpRound;
using Header = wire::TcpHeader;

[[noreturn]] void fail(const std::string& what) { throw PerfError(fmt::format("tcp: {}: {}", what, std::strerror(errno))); }

bool toSockaddr(const std::string& addr, std::uint16_t port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

// Reads `n` bytes into a sink of at most `chunk` bytes at a time.
void drainBytes(TcpSocket& s, std::uint64_t n, std::vector<char>& buf, bool poll) {
  while (n) {
    std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
    s.recvAll(buf.data(), k, poll);
    n -= k;
  }
}

}  // namespace

TcpSocket::~TcpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

TcpSocket& TcpSocket::operator=(TcpSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    pending_ = std::move(o.pending_);
  }
  return *this;
}

void TcpSocket::setNoDelay() {
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void TcpSocket::sendAll(const void* p, std::size_t n, bool poll) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t k = ::send(fd_, c, n, MSG_NOSIGNAL | (poll ? MSG_DONTWAIT : 0));
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      fail("send");
    }
    c += k;
    n -= static_cast<std::size_t>(k);
  }
}

void TcpSocket::recvAll(void* p, std::size_t n, bool poll) {
  char* c = static_cast<char*>(p);
  if (!pending_.empty()) {
    std::size_t k = std::min(n, pending_.size());
    std::memcpy(c, pending_.data(), k);
    pending_.erase(0, k);
    c += k;
    n -= k;
  }
  while (n) {
    ssize_t k = ::recv(fd_, c, n, poll ? MSG_DONTWAIT : 0);
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      fail("recv");
    }
    if (k == 0) throw PerfError("tcp: the peer closed the connection");
    c += k;
    n -= static_cast<std::size_t>(k);
  }
}

void TcpSocket::sendLine(const std::string& line) { sendAll((line + "\n").data(), line.size() + 1, false); }

std::string TcpSocket::recvLine(int timeoutMs) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    if (auto nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw PerfError("control channel: timed out waiting for the peer");
    pollfd pfd{fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) fail("poll");
    if (r <= 0) continue;
    char buf[4096];
    ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
    if (k < 0 && errno != EINTR) fail("recv");
    if (k == 0) throw PerfError("control channel: the peer closed the connection");
    if (k > 0) pending_.append(buf, static_cast<std::size_t>(k));
  }
}

TcpListener::TcpListener(const std::string& addr, std::uint16_t port) {
  sockaddr_storage ss;
  socklen_t len;
  if (!toSockaddr(addr, port, &ss, &len)) throw PerfError(fmt::format("tcp: bad address '{}'", addr));
  fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    int e = errno;
    ::close(fd_);
    errno = e;
    fail(fmt::format("bind {} port {}", addr, port));
  }
  if (::listen(fd_, 8) < 0) fail("listen");
  socklen_t l = sizeof ss;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &l);
  port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}

TcpSocket TcpListener::accept(int timeoutMs) {
  pollfd pfd{fd_, POLLIN, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, timeoutMs);
  } while (r < 0 && errno == EINTR);
  if (r == 0) throw PerfError("tcp: no client connected in time");
  if (r < 0) fail("poll");
  int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) fail("accept");
  TcpSocket s(fd);
  s.setNoDelay();
  return s;
}

TcpSocket tcpConnect(const std::string& addr, std::uint16_t port, int timeoutMs) {
  sockaddr_storage ss;
  socklen_t len;
  if (!toSockaddr(addr, port, &ss, &len)) throw PerfError(fmt::format("tcp: bad address '{}'", addr));
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      TcpSocket s(fd);
      s.setNoDelay();
      return s;
    }
    int e = errno;
    ::close(fd);
    errno = e;
    // A remote server may not be listening yet: retry refusals until the deadline.
    if (e != ECONNREFUSED || Clock::now() > deadline) fail(fmt::format("connect {} port {}", addr, port));
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 50);  // back-off between attempts, not synchronisation
  }
}

Measurement tcpRound(TcpSocket& s, Test test, Mode mode, std::size_t size, std::uint64_t iters, bool poll) {
  Header h{kTcpMagic, kTcpRound, static_cast<std::uint32_t>(test), static_cast<std::uint32_t>(mode), poll ? 1u : 0u, 0, size, iters};
  s.sendAll(&h, sizeof h, false);
  char ready = 0;
  s.recvAll(&ready, 1, false);
  Measurement m;
  m.size = size;
  m.iters = iters;
  std::vector<char> buf(std::min<std::size_t>(std::max<std::size_t>(size, 8), 1 << 20), 'c');
  std::vector<char> big;  // lat needs the whole message
  if (mode == Mode::Lat) big.assign(std::max<std::size_t>(size, 8), 'c');
  auto t0 = Clock::now();
  if (mode == Mode::Lat) {
    m.latUs.reserve(iters);
    for (std::uint64_t i = 0; i < iters; ++i) {
      auto a = Clock::now();
      if (test == Test::Read) {
        s.sendAll(big.data(), 8, poll);
        s.recvAll(big.data(), size, poll);
      } else {
        s.sendAll(big.data(), size, poll);
        s.recvAll(big.data(), size, poll);
      }
      auto b = Clock::now();
      m.latUs.push_back(std::chrono::duration<double, std::micro>(b - a).count() / 2);
    }
  } else if (test == Test::Read) {
    drainBytes(s, std::uint64_t(size) * iters, buf, poll);
    char ack = 'a';
    s.sendAll(&ack, 1, poll);
  } else {
    for (std::uint64_t i = 0; i < iters; ++i) {
      if (size <= buf.size()) {
        s.sendAll(buf.data(), size, poll);
      } else {
        for (std::size_t left = size; left;) {
          std::size_t k = std::min(left, buf.size());
          s.sendAll(buf.data(), k, poll);
          left -= k;
        }
      }
    }
    char ack = 0;
    s.recvAll(&ack, 1, poll);
  }
  m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return m;
}

void tcpQuit(TcpSocket& s) {
  Header h{kTcpMagic, kTcpQuit, 0, 0, 0, 0, 0, 0};
  s.sendAll(&h, sizeof h, false);
}

void tcpServe(TcpSocket& s, std::size_t maxSize) {
  for (;;) {
    unsigned char raw[sizeof(Header)];
    s.recvAll(raw, sizeof raw, false);
    // Checked before use: the size sizes the buffers below (bounded by the session's max_size).
    const Header h = wire::parseTcpHeader(raw, sizeof raw, maxSize);
    if (h.kind == kTcpQuit) return;
    const bool poll = h.poll != 0;
    const auto test = static_cast<Test>(h.test);
    const auto size = static_cast<std::size_t>(h.size);
    char ready = 'r';
    s.sendAll(&ready, 1, false);
    std::vector<char> buf(std::min<std::size_t>(std::max<std::size_t>(size, 8), 1 << 20), 's');
    if (static_cast<Mode>(h.mode) == Mode::Lat) {
      std::vector<char> big(std::max<std::size_t>(size, 8), 's');
      for (std::uint64_t i = 0; i < h.iters; ++i) {
        s.recvAll(big.data(), test == Test::Read ? 8 : size, poll);
        s.sendAll(big.data(), size, poll);
      }
    } else if (test == Test::Read) {
      for (std::uint64_t left = std::uint64_t(size) * h.iters; left;) {
        std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
        s.sendAll(buf.data(), k, poll);
        left -= k;
      }
      char ack = 0;
      s.recvAll(&ack, 1, poll);
    } else {
      drainBytes(s, std::uint64_t(size) * h.iters, buf, poll);
      char ack = 'a';
      s.sendAll(&ack, 1, poll);
    }
  }
}

}  // namespace ndkperf
