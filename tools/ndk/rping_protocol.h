// rping's application protocol (rdma-core librdmacm/examples/rping.c; byte layout in
// docs/interop.md) over an NDK endpoint, so that `ndk ping --rping` can talk to a real
// `rping -s` / `rping -c` (Linux siw, or any verbs iWARP device).
//
// Per iteration i: the client fills its source buffer with "rdma-ping-<i>: " and a printable run
// starting at 'A' + i % 58, Sends a 16-byte descriptor {addr, token, size} (big-endian), the server
// RDMA-Reads it and Sends a zero 16-byte go-ahead, the client Sends the descriptor of its sink
// buffer, the server RDMA-Writes strlen+1 bytes into it and Sends a second go-ahead. The client
// ends the test by disconnecting; the server never disconnects first.
//
// How `ndk ping` uses it (cmd_ping.cpp, --rping):
//   client:  NdkEndpoint ep(ifx, rping::endpointParams(size)); rping::runClient(ep, dest, opts);
//   server:  NdkEndpoint ep(ifx, rping::endpointParams(rping::kMaxSize)); ep.listen(addr);
//            std::uint32_t n = rping::runServer(ep, opts);
// Both throw ndkperf::PerfError with the line to print on failure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "perf/ndk_endpoint.h"

namespace ndktool::rping {

inline constexpr std::uint32_t kMinSize = 23;     // RPING_MIN_BUFSIZE
inline constexpr std::uint32_t kMaxSize = 65535;  // rping refuses -S 65536 and above
inline constexpr std::uint32_t kMsgLen = 16;      // struct rping_rdma_info, and the go-ahead
inline constexpr std::uint16_t kDefaultPort = 7174;

struct Desc {
  std::uint64_t addr = 0;
  std::uint32_t token = 0;
  std::uint32_t size = 0;
};
void encode(const Desc& d, unsigned char out[kMsgLen]) noexcept;
Desc decode(const unsigned char in[kMsgLen]) noexcept;
// rping's ping text for iteration `iter` (last byte NUL).
void fillPattern(char* buf, std::size_t len, std::uint32_t iter) noexcept;

struct Options {
  std::uint32_t count = 1;          // client: iterations; server: expected (0 = any)
  std::uint32_t size = 64;          // client buffer size (kMinSize..kMaxSize)
  bool verify = true;               // client: compare source and sink; server: check the pattern
  bool verbose = false;             // print "ping data: ..." like rping -v
  unsigned firstFpduDelayMs = 0;    // client: pause after connecting (siw passive-side race)
  int timeoutMs = 60000;
};

// One registered buffer: [source S][sink S][2 receive slots][1 send slot], IRD = ORD = 1 as rping.
ndkperf::NdkEndpoint::Params endpointParams(std::uint32_t size);
void runClient(ndkperf::NdkEndpoint& ep, const SOCKADDR_INET& dest, const Options& o);
// `ep` must be listening. Serves one client until it disconnects; returns the iterations served.
std::uint32_t runServer(ndkperf::NdkEndpoint& ep, const Options& o);

}  // namespace ndktool::rping
