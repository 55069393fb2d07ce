// ndk perf / ndk ping: the messages a remote peer sends, and their checks. Every parser of remote
// input of these tools is here, as a function of (bytes, length) that fuzz/tools/fuzz_perf_wire
// calls directly: the JSON config line and the TCP-baseline round header of `ndk perf --server`,
// the PeerInfo private data and Ctl messages of the NDK perf path, and `ndk ping`'s Hello and
// BufMsg. A malformed or out-of-bounds message ends in PerfError (the tool prints it and exits 1);
// every size a peer announces is bounded here, before anything is allocated or indexed with it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "types.h"

namespace ndkperf::wire {

// Bounds shared with the client's option checks (cmd_perf.cpp): -s <= 64M, -q <= 64, -o <= 4096.
constexpr std::size_t kMaxMessageSize = std::size_t(64) << 20;
constexpr unsigned kMaxQps = 64;
constexpr unsigned kMaxOutstanding = 4096;
constexpr unsigned kMaxInline = 65536;
constexpr unsigned kMaxRecvSlots = 64;  // NdkLayout::forRun never announces more

// `ndk perf --server`: the client's one-line JSON configuration on the control connection.
struct ServerConfig {
  bool ndk = false, tcp = false, poll = true, bidir = false;
  unsigned outstanding = 16, inlineSize = 0, qps = 1;
  std::size_t maxSize = 65536;
  std::vector<std::uint16_t> reversePorts;
};
ServerConfig parseServerConfig(const std::string& line);

// The TCP baseline: a 40-byte header before every round (kRound) and at the end (kQuit).
constexpr std::uint32_t kTcpMagic = 0x4e444b54;  // "NDKT"
enum : std::uint32_t { kTcpRound = 1, kTcpQuit = 2 };
struct TcpHeader {
  std::uint32_t magic;
  std::uint32_t kind;
  std::uint32_t test;
  std::uint32_t mode;
  std::uint32_t poll;
  std::uint32_t pad;
  std::uint64_t size;
  std::uint64_t iters;
};
static_assert(sizeof(TcpHeader) == 40);
// maxSize: the max_size of the session's config (already bounded by parseServerConfig).
TcpHeader parseTcpHeader(const void* p, std::size_t n, std::size_t maxSize);

// The NDK path: the private data of connect/accept, and the control messages.
constexpr std::uint32_t kCtlMagic = 0x4e444b43;   // "NDKC"
constexpr std::uint32_t kPeerMagic = 0x4e444b50;  // "NDKP"
enum CtlKind : std::uint32_t { kBegin = 1, kReady, kEnd, kAck, kCredit, kQuit };
struct Ctl {
  std::uint32_t magic, kind, test, mode;
  std::uint64_t size, iters, credits;
};
struct PeerInfo {
  std::uint32_t magic, token;
  std::uint64_t addr, len;
  std::uint32_t recvSlots, pad;
};
PeerInfo parsePeerInfo(const void* p, std::size_t n);
// A received message of n bytes: a Ctl (checked) or data (nullopt). slot: the receive slot size,
// the largest size a kBegin may announce.
std::optional<Ctl> parseCtl(const void* p, std::size_t n, std::size_t slot);

// `ndk ping`: the client's private data, and the buffer description both sides send.
constexpr std::uint32_t kHello = 0x4e444b48;   // "NDKH"
constexpr std::uint32_t kBufMsg = 0x4e444b42;  // "NDKB"
struct Hello {
  std::uint32_t magic, count;
  std::uint64_t size;
};
struct BufMsg {
  std::uint32_t magic, token;
  std::uint64_t addr, len, seq;
};
Hello parseHello(const void* p, std::size_t n, std::size_t maxSize);
BufMsg parseBufMsg(const void* p, std::size_t n);

}  // namespace ndkperf::wire
