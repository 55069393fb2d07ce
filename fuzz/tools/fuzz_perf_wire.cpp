// libFuzzer: every parser of remote input of ndk perf / ndk ping's own protocol (perf/wire.h).
// The first byte picks the parser, the rest is the message. A malformed message must end in
// ndkperf::PerfError (the tool prints it and exits 1), never in a crash, an allocation sized by
// the peer or a value outside the bounds the parser promises (checked below with abort()).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire.h"

namespace w = ndkperf::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t which = data[0] % 5;
  const std::uint8_t* p = data + 1;
  const std::size_t n = size - 1;
  try {
    switch (which) {
      case 0: {  // ndk perf --server: the client's JSON config line
        const w::ServerConfig c = w::parseServerConfig(std::string(reinterpret_cast<const char*>(p), n));
        if (c.qps < 1 || c.qps > w::kMaxQps || c.maxSize < 1 || c.maxSize > w::kMaxMessageSize || c.outstanding < 1 ||
            c.outstanding > w::kMaxOutstanding || c.reversePorts.size() > w::kMaxQps)
          std::abort();
        break;
      }
      case 1: {  // the TCP baseline's round header, against a max_size the input also picks
        const std::size_t maxSize = n ? 1 + (std::size_t(p[0]) << 18) : 65536;
        const w::TcpHeader h = w::parseTcpHeader(n ? p + 1 : p, n ? n - 1 : 0, maxSize);
        if (h.kind == w::kTcpRound && (h.size == 0 || h.size > maxSize)) std::abort();
        break;
      }
      case 2: {  // the NDK path's private data
        const w::PeerInfo i = w::parsePeerInfo(p, n);
        if (i.recvSlots == 0 || i.recvSlots > w::kMaxRecvSlots) std::abort();
        break;
      }
      case 3: {  // a received NDK-path message (slot 64 KiB)
        const auto c = w::parseCtl(p, n, 65536);
        if (c && c->kind == w::kBegin && (c->size == 0 || c->size > 65536)) std::abort();
        break;
      }
      case 4: {  // ndk ping: the hello (max 1 MiB), or a buffer description
        if (n && (p[0] & 1)) {
          const w::Hello h = w::parseHello(p + 1, n - 1, 1u << 20);
          if (h.size == 0 || h.size > (1u << 20)) std::abort();
        } else {
          (void)w::parseBufMsg(n ? p + 1 : p, n ? n - 1 : 0);
        }
        break;
      }
    }
  } catch (const ndkperf::PerfError&) {
  }
  return 0;
}
