// SMB2 over TCP ([MS-SMB2] 2.1): each message behind a 4-byte Direct TCP transport header
// (a zero byte, then the length in 24 bits, big-endian).
#pragma once
#include <string>

#include "transport.h"

namespace ndksmb {

// The largest message accepted from the server: a READ response of 8 MiB plus headers.
inline constexpr std::uint32_t kMaxTcpMessage = (8u << 20) + 4096;

// Parses the 4-byte transport header; throws on a non-zero first byte or a length above `max`.
std::uint32_t parseTcpFrameHeader(const std::uint8_t h[4], std::uint32_t max);

class TcpTransport : public Transport {
 public:
  TcpTransport(const std::string& host, std::uint16_t port, int timeoutMs);
  ~TcpTransport() override;
  void send(ByteView msg) override;
  Bytes receive(int timeoutMs) override;
  const char* name() const override { return "TCP"; }

 private:
  void readFully(std::uint8_t* p, std::size_t n, int timeoutMs);
  int fd_ = -1;
};

}  // namespace ndksmb
