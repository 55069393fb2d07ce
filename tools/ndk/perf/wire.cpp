#include "wire.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace ndkperf::wire {
namespace {

template <class T>
T load(const void* p, std::size_t n, const char* what) {
  if (n < sizeof(T)) throw PerfError(fmt::format("protocol: short {} ({} bytes, expected {})", what, n, sizeof(T)));
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool validTest(std::uint32_t t) { return t <= static_cast<std::uint32_t>(Test::Read); }
bool validMode(std::uint32_t m) { return m <= static_cast<std::uint32_t>(Mode::Bw); }

// A number of the config in [lo, hi]; wrong types and out-of-range values are refused, not
// converted (nlohmann's value() would wrap a negative number into a huge unsigned).
template <class T>
T bounded(const nlohmann::json& j, const char* key, T dflt, T lo, T hi) {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  // nlohmann stores a non-negative integer as unsigned: anything else is negative or not integral.
  if (!it->is_number_unsigned())
    throw PerfError(fmt::format("protocol: config field '{}' is not a non-negative integer", key));
  const auto v = it->get<std::uint64_t>();
  if (v < lo || v > hi)
    throw PerfError(fmt::format("protocol: config field '{}' = {} outside [{}, {}]", key, v, lo, hi));
  return static_cast<T>(v);
}

bool flag(const nlohmann::json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  if (!it->is_boolean()) throw PerfError(fmt::format("protocol: config field '{}' is not a boolean", key));
  return it->get<bool>();
}

}  // namespace

ServerConfig parseServerConfig(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw PerfError("protocol: the client's config is not a JSON object");
  ServerConfig c;
  c.ndk = flag(j, "ndk", false);
  c.tcp = flag(j, "tcp", false);
  c.poll = flag(j, "poll", true);
  c.bidir = flag(j, "bidir", false);
  c.outstanding = bounded(j, "outstanding", 16u, 1u, kMaxOutstanding);
  c.inlineSize = bounded(j, "inline", 0u, 0u, kMaxInline);
  c.qps = bounded(j, "qps", 1u, 1u, kMaxQps);
  c.maxSize = bounded(j, "max_size", std::size_t(65536), std::size_t(1), kMaxMessageSize);
  if (auto it = j.find("reverse_ports"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxQps)
      throw PerfError("protocol: config field 'reverse_ports' is not a short array");
    for (const auto& p : *it) {
      if (!p.is_number_unsigned() || p.get<std::uint64_t>() == 0 || p.get<std::uint64_t>() > 65535)
        throw PerfError("protocol: config field 'reverse_ports' holds a non-port");
      c.reversePorts.push_back(static_cast<std::uint16_t>(p.get<std::uint64_t>()));
    }
  }
  return c;
}

TcpHeader parseTcpHeader(const void* p, std::size_t n, std::size_t maxSize) {
  const auto h = load<TcpHeader>(p, n, "TCP round header");
  if (h.magic != kTcpMagic) throw PerfError("tcp: bad round header from the peer");
  if (h.kind == kTcpQuit) return h;
  if (h.kind != kTcpRound) throw PerfError(fmt::format("tcp: unknown header kind {} from the peer", h.kind));
  if (!validTest(h.test) || !validMode(h.mode) || h.poll > 1)
    throw PerfError("tcp: bad test, mode or poll in the round header");
  if (h.size == 0 || h.size > maxSize || h.size > kMaxMessageSize)
    throw PerfError(fmt::format("tcp: round size {} outside the announced maximum {}", h.size, maxSize));
  // bw rounds move size * iters bytes: the product must not wrap.
  if (h.iters > std::numeric_limits<std::uint64_t>::max() / h.size)
    throw PerfError("tcp: round iteration count overflows");
  return h;
}

PeerInfo parsePeerInfo(const void* p, std::size_t n) {
  const auto i = load<PeerInfo>(p, n, "buffer description in the private data");
  if (i.magic != kPeerMagic) throw PerfError("peer is not an ndk perf endpoint");
  if (i.recvSlots == 0 || i.recvSlots > kMaxRecvSlots)
    throw PerfError(fmt::format("protocol: the peer announces {} receive slots (1..{})", i.recvSlots, kMaxRecvSlots));
  return i;
}

std::optional<Ctl> parseCtl(const void* p, std::size_t n, std::size_t slot) {
  if (n != sizeof(Ctl)) return std::nullopt;
  Ctl m;
  std::memcpy(&m, p, sizeof m);
  if (m.magic != kCtlMagic) return std::nullopt;
  if (m.kind < kBegin || m.kind > kQuit) throw PerfError(fmt::format("protocol: unknown control message {}", m.kind));
  if (m.credits > kMaxRecvSlots)
    throw PerfError(fmt::format("protocol: the peer returns {} credits at once", m.credits));
  if (m.kind == kBegin) {
    if (!validTest(m.test) || !validMode(m.mode)) throw PerfError("protocol: bad test or mode in a begin message");
    if (m.size == 0 || m.size > slot) throw PerfError("protocol: size beyond the announced maximum");
  }
  return m;
}

Hello parseHello(const void* p, std::size_t n, std::size_t maxSize) {
  if (n < sizeof(Hello)) throw PerfError("protocol: client sent no hello");
  const auto h = load<Hello>(p, n, "hello");
  if (h.magic != kHello || h.size == 0 || h.size > maxSize) throw PerfError("protocol: bad hello from the client");
  return h;
}

BufMsg parseBufMsg(const void* p, std::size_t n) {
  const auto m = load<BufMsg>(p, n, "control message");
  if (m.magic != kBufMsg) throw PerfError("protocol: bad control message from the peer");
  if (m.len > kMaxMessageSize) throw PerfError("protocol: the peer's buffer description is too large");
  return m;
}

}  // namespace ndkperf::wire
