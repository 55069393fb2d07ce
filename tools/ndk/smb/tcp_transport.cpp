#include "tcp_transport.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ndksmb {

std::uint32_t parseTcpFrameHeader(const std::uint8_t h[4], std::uint32_t max) {
  if (h[0] != 0) throw SmbError(fmt::format("SMB over TCP: transport header type {:#04x}, expected 0", h[0]));
  const std::uint32_t len = static_cast<std::uint32_t>(h[1]) << 16 | static_cast<std::uint32_t>(h[2]) << 8 | h[3];
  if (len > max) throw SmbError(fmt::format("SMB over TCP: a {}-byte message (at most {} accepted)", len, max));
  return len;
}

TcpTransport::TcpTransport(const std::string& host, std::uint16_t port, int timeoutMs) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); e != 0)
    throw SmbError(fmt::format("{}: {}", host, ::gai_strerror(e)));
  std::string lastError = "no address";
  for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // A connect bounded by the timeout: non-blocking connect, then poll for writability.
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      lastError = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) throw SmbError(fmt::format("TCP connect to {}:{}: {}", host, port, lastError));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TcpTransport::~TcpTransport() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpTransport::send(ByteView msg) {
  if (msg.size() > 0xFFFFFF) throw SmbError("SMB over TCP: message too large to frame");
  const std::uint8_t h[4] = {0, static_cast<std::uint8_t>(msg.size() >> 16), static_cast<std::uint8_t>(msg.size() >> 8),
                             static_cast<std::uint8_t>(msg.size())};
  iovec iov[2] = {{const_cast<std::uint8_t*>(h), 4}, {const_cast<std::uint8_t*>(msg.data()), msg.size()}};
  std::size_t left = 4 + msg.size();
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  while (left) {
    ssize_t n = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw SmbError(fmt::format("SMB over TCP: send: {}", std::strerror(errno)));
    left -= static_cast<std::size_t>(n);
    auto consumed = static_cast<std::size_t>(n);
    while (m.msg_iovlen && consumed >= m.msg_iov[0].iov_len) {
      consumed -= m.msg_iov[0].iov_len;
      ++m.msg_iov;
      --m.msg_iovlen;
    }
    if (m.msg_iovlen) {
      m.msg_iov[0].iov_base = static_cast<char*>(m.msg_iov[0].iov_base) + consumed;
      m.msg_iov[0].iov_len -= consumed;
    }
  }
}

void TcpTransport::readFully(std::uint8_t* p, std::size_t n, int timeoutMs) {
  while (n) {
    pollfd pfd{fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, timeoutMs);
    if (r == 0) throw SmbError("SMB over TCP: the server did not answer in time");
    if (r < 0 && errno == EINTR) continue;
    ssize_t got = ::recv(fd_, p, n, 0);
    if (got == 0) throw SmbError("SMB over TCP: the server closed the connection");
    if (got < 0) {
      if (errno == EINTR) continue;
      throw SmbError(fmt::format("SMB over TCP: receive: {}", std::strerror(errno)));
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

Bytes TcpTransport::receive(int timeoutMs) {
  std::uint8_t h[4];
  readFully(h, 4, timeoutMs);
  Bytes msg(parseTcpFrameHeader(h, kMaxTcpMessage));
  readFully(msg.data(), msg.size(), timeoutMs);
  return msg;
}

}  // namespace ndksmb
