// The raw-TCP baseline of `ndk perf --baseline tcp`: the same sizes and pattern over plain TCP
// sockets, in the same invocation. Latency: ping-pong of `size` bytes (read test: an 8-byte
// request answered by `size` bytes), one-way = RTT/2. Bandwidth: `iters` writes of `size` bytes
// streamed (read test: streamed by the server), timed at the client until the receiver's 1-byte
// acknowledgement. Polling style: --poll busy-polls recv/send with MSG_DONTWAIT, --event uses
// blocking calls. The same TCP connection is the perf control channel (one JSON line each way).
#pragma once
#include <cstdint>
#include <string>

#include "types.h"

namespace ndkperf {

class TcpSocket {
 public:
  TcpSocket() = default;
  explicit TcpSocket(int fd) : fd_(fd) {}
  ~TcpSocket();
  // pending_ moves too: bytes the peer sent right behind its config line (already read by
  // recvLine) belong to the stream (they were dropped before, and the server then waited forever).
  TcpSocket(TcpSocket&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) { o.fd_ = -1; }
  TcpSocket& operator=(TcpSocket&& o) noexcept;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Whole-buffer transfers; `poll` spins with MSG_DONTWAIT. Throw PerfError on error/EOF.
  void sendAll(const void* p, std::size_t n, bool poll);
  void recvAll(void* p, std::size_t n, bool poll);
  // Control lines (newline-terminated JSON), blocking, with a timeout in ms.
  void sendLine(const std::string& line);
  std::string recvLine(int timeoutMs);
  void setNoDelay();

 private:
  int fd_ = -1;
  std::string pending_;  // bytes read past the last line
};

// A listening socket on addr:port (port 0: ephemeral). Throws PerfError.
class TcpListener {
 public:
  TcpListener(const std::string& addr, std::uint16_t port);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  std::uint16_t port() const { return port_; }
  TcpSocket accept(int timeoutMs);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TcpSocket tcpConnect(const std::string& addr, std::uint16_t port, int timeoutMs = 10000);

// Client side of one round (header, data, acknowledgement) on an established connection.
Measurement tcpRound(TcpSocket& s, Test test, Mode mode, std::size_t size, std::uint64_t iters, bool poll);
// Ends the server's round loop.
void tcpQuit(TcpSocket& s);
// Server side: answers rounds until the client quits (or the connection ends: PerfError). A round
// header announcing more than maxSize bytes (the session's max_size) is refused with PerfError.
void tcpServe(TcpSocket& s, std::size_t maxSize);

}  // namespace ndkperf
