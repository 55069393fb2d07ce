// Non-blocking TCP helpers for the engine: endpoints, listen, connect (completion through the event
// loop), accept, the socket options every iWARP stream gets, abortive close, and errno mapped to a
// small enum that the provider turns into NTSTATUS.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace openndk::engine {

class EventLoop;

enum class NetError : std::uint8_t {
  None,
  InProgress,       // EINPROGRESS / EAGAIN: not an error, wait for readiness
  Refused,          // ECONNREFUSED
  NetUnreachable,   // ENETUNREACH, ENETDOWN
  HostUnreachable,  // EHOSTUNREACH, EHOSTDOWN
  TimedOut,         // ETIMEDOUT, or our own connect timer
  Reset,            // ECONNRESET, EPIPE, ECONNABORTED
  AddrInUse,        // EADDRINUSE
  AddrNotAvail,     // EADDRNOTAVAIL, EAFNOSUPPORT
  Closed,           // orderly EOF from the peer
  NoResources,      // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or kernel memory
  Other,
};
NetError netErrorFromErrno(int err) noexcept;
std::string_view to_string(NetError e) noexcept;

// An IPv4 or IPv6 socket address.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  // Numeric host ("127.0.0.1", "::1") and port; false if the host does not parse.
  static bool parse(std::string_view host, std::uint16_t port, Endpoint& out);
  [[nodiscard]] int family() const noexcept { return addr.ss_family; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string toString() const;
};

// Owns one file descriptor.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket() { reset(); }
  Socket(Socket&& o) noexcept : fd_(o.release()) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() noexcept;  // graceful close (FIN)
  void abort() noexcept;  // SO_LINGER {1, 0} then close: the peer sees RST

 private:
  int fd_ = -1;
};

// Listening socket (non-blocking, SO_REUSEADDR; IPv6 sockets are IPv6-only; the stream options,
// which accepted sockets inherit). Port 0 = ephemeral.
NetError listenTcp(const Endpoint& local, int backlog, Socket& out);
// The bound address (e.g. the ephemeral port after listenTcp).
bool localEndpoint(int fd, Endpoint& out);
bool peerEndpoint(int fd, Endpoint& out);
// Accept one pending connection (non-blocking; InProgress if none is pending). The new socket is
// non-blocking and has the stream options, inherited from a listenTcp listener.
NetError acceptTcp(int listen_fd, Socket& out, Endpoint* peer = nullptr);
// Whether the host leaves `local` (address and port) to us: a socket binds to it without
// SO_REUSEADDR, which fails while any socket of the host holds the port, TIME_WAIT ones included
// (a port chosen for later connects must not collide with a closed connection's 4-tuple).
NetError probeBind(const Endpoint& local);
// Start a non-blocking connect: None (connected already), InProgress, or an error.
// `local` (optional): bind to this address/port first (SO_REUSEADDR); a bind failure is returned.
NetError startConnect(const Endpoint& remote, Socket& out, const Endpoint* local = nullptr);
// After EPOLLOUT on a connecting socket: the result (SO_ERROR; Refused if connected to itself).
// `remote`/`local` as given to startConnect: the self-connect check needs no system call when the
// socket was bound.
NetError finishConnect(int fd, const Endpoint& remote, const Endpoint* local);

// Connect through the loop; `done` runs exactly once in the loop's progress context with the
// connected socket (options applied) or an error. timeout 0 = no timer of our own (the kernel's
// SYN retries still apply). Call from any thread.
void asyncConnect(EventLoop& loop, const Endpoint& remote, std::chrono::milliseconds timeout,
                  std::function<void(NetError, Socket)> done, const Endpoint* local = nullptr);

// As asyncConnect, for a socket whose non-blocking connect was started with startConnect (result
// InProgress or None).
void asyncFinishConnect(EventLoop& loop, Socket sock, const Endpoint& remote, const Endpoint* local,
                        std::chrono::milliseconds timeout, std::function<void(NetError, Socket)> done);

// Stream options: TCP_NODELAY, TCP_USER_TIMEOUT (tcp_user_timeout_ms), keepalive
// (keepalive_idle_s: idle and interval, 3 probes). Returns false if any setsockopt failed.
bool applyStreamOptions(int fd);
bool setNoDelay(int fd, bool on);
bool setUserTimeout(int fd, std::uint32_t ms);
bool setKeepalive(int fd, std::uint32_t idle_s);
// MSS of a connected socket (TCP_MAXSEG), or 0.
std::uint32_t tcpMss(int fd);

}  // namespace openndk::engine
