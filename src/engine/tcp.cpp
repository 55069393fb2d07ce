#include "engine/tcp.h"

#include <optional>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/config.h"
#include "base/log.h"
#include "engine/event_loop.h"

namespace openndk::engine {

NetError netErrorFromErrno(int err) noexcept {
  switch (err) {
    case 0: return NetError::None;
    case EINPROGRESS:
    case EAGAIN:
    case EALREADY: return NetError::InProgress;
    case ECONNREFUSED: return NetError::Refused;
    case ENETUNREACH:
    case ENETDOWN: return NetError::NetUnreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN: return NetError::HostUnreachable;
    case ETIMEDOUT: return NetError::TimedOut;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED: return NetError::Reset;
    case EADDRINUSE: return NetError::AddrInUse;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT: return NetError::AddrNotAvail;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return NetError::NoResources;
    default: return NetError::Other;
  }
}

std::string_view to_string(NetError e) noexcept {
  switch (e) {
    case NetError::None: return "none";
    case NetError::InProgress: return "in progress";
    case NetError::Refused: return "connection refused";
    case NetError::NetUnreachable: return "network unreachable";
    case NetError::HostUnreachable: return "host unreachable";
    case NetError::TimedOut: return "timed out";
    case NetError::Reset: return "connection reset";
    case NetError::AddrInUse: return "address in use";
    case NetError::AddrNotAvail: return "address not available";
    case NetError::Closed: return "closed by peer";
    case NetError::NoResources: return "out of resources";
    case NetError::Other: return "other";
  }
  return "?";
}

bool Endpoint::parse(std::string_view host, std::uint16_t port, Endpoint& out) {
  const std::string h(host);
  out = Endpoint{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  out = Endpoint{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::uint16_t Endpoint::port() const noexcept {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

std::string Endpoint::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port());
  }
  return "?";
}

void Socket::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Socket::abort() noexcept {
  if (fd_ < 0) return;
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  reset();
}

NetError listenTcp(const Endpoint& local, int backlog, Socket& out) {
  Socket s(::socket(local.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.valid()) return netErrorFromErrno(errno);
  const int one = 1;
  setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (local.family() == AF_INET6) setsockopt(s.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Set once here: Linux copies the listener's socket into each accepted one, so TCP_NODELAY,
  // TCP_USER_TIMEOUT, SO_KEEPALIVE and the keepalive times are inherited (asserted by
  // Tcp.ConnectAcceptAppliesStreamOptions) — six system calls less per accepted connection.
  applyStreamOptions(s.fd());
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0) return netErrorFromErrno(errno);
  if (::listen(s.fd(), backlog) != 0) return netErrorFromErrno(errno);
  out = std::move(s);
  return NetError::None;
}

bool localEndpoint(int fd, Endpoint& out) {
  out = Endpoint{};
  out.len = sizeof out.addr;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&out.addr), &out.len) == 0;
}

bool peerEndpoint(int fd, Endpoint& out) {
  out = Endpoint{};
  out.len = sizeof out.addr;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&out.addr), &out.len) == 0;
}

NetError acceptTcp(int listen_fd, Socket& out, Endpoint* peer) {
  Endpoint p;
  p.len = sizeof p.addr;
  const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&p.addr), &p.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return netErrorFromErrno(errno);
  out = Socket(fd);  // stream options inherited from the listener (listenTcp)
  if (peer) *peer = p;
  return NetError::None;
}

namespace {
bool sameEndpoint(const Endpoint& l, const Endpoint& r) {
  return l.len == r.len && l.port() == r.port() && l.family() == r.family() &&
         (l.family() == AF_INET
              ? reinterpret_cast<const sockaddr_in&>(l.addr).sin_addr.s_addr ==
                    reinterpret_cast<const sockaddr_in&>(r.addr).sin_addr.s_addr
              : std::memcmp(&reinterpret_cast<const sockaddr_in6&>(l.addr).sin6_addr,
                            &reinterpret_cast<const sockaddr_in6&>(r.addr).sin6_addr, sizeof(in6_addr)) == 0);
}
// A socket bound to port P that connects to the same address and port P (e.g. a just-closed
// listener's port reused as the connector's local port) is "connected" to itself by TCP's
// simultaneous open. Nobody listens there: report it as refused (R96). The peer is the address we
// connected to; the local address is the one we bound to, if we did (no system call), else asked
// once from the kernel (an ephemeral port).
bool connectedToSelf(int fd, const Endpoint& remote, const Endpoint* local) {
  if (local) return sameEndpoint(*local, remote);
  Endpoint l;
  return localEndpoint(fd, l) && sameEndpoint(l, remote);
}
}  // namespace

NetError probeBind(const Endpoint& local) {
  Socket s(::socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return netErrorFromErrno(errno);
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0) return netErrorFromErrno(errno);
  return NetError::None;
}

NetError startConnect(const Endpoint& remote, Socket& out, const Endpoint* local) {
  Socket s(::socket(remote.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.valid()) return netErrorFromErrno(errno);
  if (local) {
    const int one = 1;
    setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&local->addr), local->len) != 0) return netErrorFromErrno(errno);
  }
  // After the bind: a port the host uses costs a caller that searches for a free one four system
  // calls per attempt, not ten.
  applyStreamOptions(s.fd());
  NetError r = NetError::None;
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&remote.addr), remote.len) != 0) {
    r = netErrorFromErrno(errno);
    if (r != NetError::InProgress) return r;
  } else if (connectedToSelf(s.fd(), remote, local)) {
    return NetError::Refused;
  }
  out = std::move(s);
  return r;
}


NetError finishConnect(int fd, const Endpoint& remote, const Endpoint* local) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return netErrorFromErrno(errno);
  if (err == 0 && connectedToSelf(fd, remote, local)) return NetError::Refused;
  return netErrorFromErrno(err);
}

namespace {
struct ConnectOp {
  Socket sock;
  Endpoint remote;
  std::optional<Endpoint> local;
  EventLoop::WatchId watch = 0;
  EventLoop::TimerId timer = 0;
  std::function<void(NetError, Socket)> done;
  bool finished = false;
  const Endpoint* bound() const { return local ? &*local : nullptr; }
};

void finish(EventLoop& loop, const std::shared_ptr<ConnectOp>& op, NetError e) {
  if (op->finished) return;
  op->finished = true;
  if (op->watch) loop.unwatch(op->watch);
  if (op->timer) loop.cancelTimer(op->timer);
  Socket s = std::move(op->sock);
  if (e != NetError::None) s.reset();
  auto done = std::move(op->done);
  done(e, std::move(s));
}

// Progress context: waits for the connecting socket to become writable (then its result) or for
// the timeout, whichever comes first.
void awaitConnect(EventLoop& loop, const std::shared_ptr<ConnectOp>& op, std::chrono::milliseconds timeout) {
  op->watch = loop.watch(op->sock.fd(), EPOLLOUT, [&loop, op](std::uint32_t) {
    finish(loop, op, finishConnect(op->sock.fd(), op->remote, op->bound()));
  });
  if (timeout.count() > 0)
    op->timer = loop.addTimer(timeout, [&loop, op] {
      op->timer = 0;
      finish(loop, op, NetError::TimedOut);
    });
}
}  // namespace

void asyncConnect(EventLoop& loop, const Endpoint& remote, std::chrono::milliseconds timeout,
                  std::function<void(NetError, Socket)> done, const Endpoint* local) {
  auto op = std::make_shared<ConnectOp>();
  op->done = std::move(done);
  op->remote = remote;
  if (local) op->local = *local;
  loop.post([&loop, op, timeout] {
    const NetError r = startConnect(op->remote, op->sock, op->bound());
    if (r != NetError::InProgress) {
      finish(loop, op, r);
      return;
    }
    awaitConnect(loop, op, timeout);
  });
}

void asyncFinishConnect(EventLoop& loop, Socket sock, const Endpoint& remote, const Endpoint* local,
                        std::chrono::milliseconds timeout, std::function<void(NetError, Socket)> done) {
  auto op = std::make_shared<ConnectOp>();
  op->done = std::move(done);
  op->sock = std::move(sock);
  op->remote = remote;
  if (local) op->local = *local;
  loop.post([&loop, op, timeout] { awaitConnect(loop, op, timeout); });
}

bool setNoDelay(int fd, bool on) {
  const int v = on ? 1 : 0;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0;
}

bool setUserTimeout(int fd, std::uint32_t ms) {
  const unsigned v = ms;
  return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v) == 0;
}

bool setKeepalive(int fd, std::uint32_t idle_s) {
  const int on = idle_s > 0 ? 1 : 0;
  bool ok = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) == 0;
  if (!on) return ok;
  const int idle = static_cast<int>(idle_s), cnt = 3;
  ok &= setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0;
  ok &= setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle) == 0;
  ok &= setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) == 0;
  return ok;
}

bool applyStreamOptions(int fd) {
  bool ok = setNoDelay(fd, true);
  ok &= setUserTimeout(fd, static_cast<std::uint32_t>(base::tunableU64(base::Tunable::TcpUserTimeoutMs)));
  ok &= setKeepalive(fd, static_cast<std::uint32_t>(base::tunableU64(base::Tunable::KeepaliveIdleS)));
  if (!ok) NDK_LOG_WARN("engine", "fd {}: some stream options could not be set (errno {})", fd, errno);
  return ok;
}

std::uint32_t tcpMss(int fd) {
  int mss = 0;
  socklen_t len = sizeof mss;
  if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) != 0 || mss <= 0) return 0;
  return static_cast<std::uint32_t>(mss);
}

}  // namespace openndk::engine
