#include "rping_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace ndktool::rping {
namespace {

using ndkperf::NdkEndpoint;
using ndkperf::PerfError;

constexpr int kLingerMs = 3000;
constexpr int kLingerSliceMs = 50;
constexpr std::uint64_t kRecv0 = 0, kRecv1 = 1, kSend = 2, kRead = 3, kWrite = 4;

// Buffer layout inside the endpoint's registered buffer.
struct Layout {
  NdkEndpoint& ep;
  std::size_t size;
  char* source() const { return ep.buf(); }
  char* sink() const { return ep.buf() + size; }
  char* recvSlot(std::uint64_t i) const { return ep.buf() + 2 * size + kMsgLen * i; }
  char* sendSlot() const { return ep.buf() + 2 * size + 2 * kMsgLen; }
  std::uint64_t addrOf(const char* p) const { return ep.bufAddr() + static_cast<std::uint64_t>(p - ep.buf()); }
};

std::string statusText(NTSTATUS s) { return fmt::format("0x{:08X} ({})", static_cast<std::uint32_t>(s), ndkperf::ntStatusName(s)); }

// Waits for the completion with context `want`; receive completions that arrive meanwhile are
// an error (rping never sends unsolicited).
void waitFor(NdkEndpoint& ep, std::uint64_t want, const char* what, int timeoutMs) {
  for (;;) {
    NDK_RESULT_EX r = ep.next(timeoutMs);
    const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
    if (r.Status != STATUS_SUCCESS) throw PerfError(fmt::format("rping: {} completed with {}", what, statusText(r.Status)));
    if (ctx == want) return;
    if (ctx == kRecv0 || ctx == kRecv1) throw PerfError(fmt::format("rping: unexpected message while waiting for {}", what));
  }
}

// The next 16-byte message; nullopt-like false when the receive was flushed (peer disconnected).
bool recvMsg(Layout& l, unsigned char out[kMsgLen], int timeoutMs, bool allowEnd) {
  for (;;) {
    NDK_RESULT_EX r = l.ep.next(timeoutMs);
    const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
    if (ctx != kRecv0 && ctx != kRecv1) {
      if (r.Status != STATUS_SUCCESS) throw PerfError(fmt::format("rping: request completed with {}", statusText(r.Status)));
      continue;
    }
    if (r.Status != STATUS_SUCCESS) {
      if (allowEnd) return false;
      throw PerfError(fmt::format("rping: receive completed with {}", statusText(r.Status)));
    }
    if (r.BytesTransferred != kMsgLen)
      throw PerfError(fmt::format("rping: bogus message of {} bytes (expected {})", r.BytesTransferred, kMsgLen));
    std::memcpy(out, l.recvSlot(ctx), kMsgLen);
    l.ep.postRecv(ctx, l.recvSlot(ctx), kMsgLen);
    return true;
  }
}

void sendMsg(Layout& l, const unsigned char msg[kMsgLen], int timeoutMs) {
  std::memcpy(l.sendSlot(), msg, kMsgLen);
  l.ep.postSend(kSend, l.sendSlot(), kMsgLen);
  waitFor(l.ep, kSend, "send", timeoutMs);
}

}  // namespace

void encode(const Desc& d, unsigned char out[kMsgLen]) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(d.addr >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<unsigned char>(d.token >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) out[12 + i] = static_cast<unsigned char>(d.size >> (24 - 8 * i));
}

Desc decode(const unsigned char in[kMsgLen]) noexcept {
  Desc d;
  for (int i = 0; i < 8; ++i) d.addr = (d.addr << 8) | in[i];
  for (int i = 0; i < 4; ++i) d.token = (d.token << 8) | in[8 + i];
  for (int i = 0; i < 4; ++i) d.size = (d.size << 8) | in[12 + i];
  return d;
}

void fillPattern(char* buf, std::size_t len, std::uint32_t iter) noexcept {
  if (len == 0) return;
  char head[32];
  const int n = std::snprintf(head, sizeof head, "rdma-ping-%u: ", iter);
  const std::size_t cc = std::min(static_cast<std::size_t>(n), len);
  std::memcpy(buf, head, cc);
  int c = 'A' + static_cast<int>(iter % 58);
  for (std::size_t i = cc; i < len; ++i) {
    buf[i] = static_cast<char>(c);
    if (++c > 'z') c = 'A';
  }
  buf[len - 1] = 0;
}

NdkEndpoint::Params endpointParams(std::uint32_t size) {
  NdkEndpoint::Params p;
  p.bufBytes = 2 * std::size_t{size} + 3 * kMsgLen;
  p.rqDepth = 2;
  p.iqDepth = 8;
  p.ird = p.ord = 1;
  return p;
}

void runClient(NdkEndpoint& ep, const SOCKADDR_INET& dest, const Options& o) {
  if (o.size < kMinSize || o.size > kMaxSize) throw PerfError(fmt::format("rping: size must be {}..{}", kMinSize, kMaxSize));
  Layout l{ep, o.size};
  ep.postRecv(kRecv0, l.recvSlot(kRecv0), kMsgLen);
  ep.postRecv(kRecv1, l.recvSlot(kRecv1), kMsgLen);
  ep.connect(dest, nullptr, 0);  // rping: no private data, IRD = ORD = 1
  if (o.firstFpduDelayMs) std::this_thread::sleep_for(std::chrono::milliseconds(o.firstFpduDelayMs));
  unsigned char msg[kMsgLen];
  for (std::uint32_t i = 0; i < o.count; ++i) {
    fillPattern(l.source(), o.size, i);
    std::memset(l.sink(), 0, o.size);
    encode({l.addrOf(l.source()), ep.localToken(), o.size}, msg);
    sendMsg(l, msg, o.timeoutMs);
    if (!recvMsg(l, msg, o.timeoutMs, false)) throw PerfError("rping: peer went away");
    encode({l.addrOf(l.sink()), ep.localToken(), o.size}, msg);
    sendMsg(l, msg, o.timeoutMs);
    if (!recvMsg(l, msg, o.timeoutMs, false)) throw PerfError("rping: peer went away");
    if (o.verify && std::memcmp(l.source(), l.sink(), o.size) != 0)
      throw PerfError(fmt::format("rping: iteration {}: data mismatch", i));
    if (o.verbose) fmt::print("ping data: {}\n", l.sink());
  }
  ep.disconnect();
}

std::uint32_t runServer(NdkEndpoint& ep, const Options& o) {
  const std::size_t cap = (ep.bufLen() - 3 * kMsgLen) / 2;
  Layout l{ep, cap};
  ep.postRecv(kRecv0, l.recvSlot(kRecv0), kMsgLen);
  ep.postRecv(kRecv1, l.recvSlot(kRecv1), kMsgLen);
  ep.acceptOne(nullptr, 0, o.timeoutMs);
  unsigned char msg[kMsgLen];
  static const unsigned char kGo[kMsgLen] = {};
  std::uint32_t iter = 0;
  std::vector<char> expect;
  for (;;) {
    // The client ends the test by disconnecting. NdkEndpoint does not surface the disconnect
    // event (and NDK does not flush our receives on a peer disconnect, R80), so once the expected
    // count is served we wait a bounded time for another descriptor, then disconnect ourselves:
    // by then the rping client has closed, so we do not close first.
    const bool done = o.count != 0 && iter >= o.count;
    bool got = false;
    if (!done) {
      got = recvMsg(l, msg, o.timeoutMs, true);
    } else {
      // Served: the client's disconnect event ends the wait at once (issue 12: the server used to
      // sit out the whole linger); a slice bounds each wake-up, kLingerMs the whole wait.
      for (int waited = 0; waited < kLingerMs && !ep.peerDisconnected(); waited += kLingerSliceMs) {
        try {
          got = recvMsg(l, msg, kLingerSliceMs, true);
        } catch (const PerfError&) {
          continue;  // nothing yet
        }
        break;
      }
    }
    if (!got) break;
    const Desc src = decode(msg);
    if (src.size == 0 || src.size > cap) throw PerfError(fmt::format("rping: advertised size {} > ours {}", src.size, cap));
    std::memset(l.sink(), 0, cap);
    ep.postRead(kRead, l.sink(), src.size, src.addr, src.token);
    waitFor(ep, kRead, "RDMA read", o.timeoutMs);
    if (o.verify) {
      expect.assign(src.size, 0);
      fillPattern(expect.data(), src.size, iter);
      if (std::memcmp(expect.data(), l.sink(), src.size) != 0)
        throw PerfError(fmt::format("rping: iteration {}: read data is not rping's pattern", iter));
    }
    if (o.verbose) fmt::print("server ping data: {}\n", l.sink());
    sendMsg(l, kGo, o.timeoutMs);
    if (!recvMsg(l, msg, o.timeoutMs, false)) throw PerfError("rping: peer went away");
    const Desc dst = decode(msg);
    const std::size_t n = std::min<std::size_t>(strnlen(l.sink(), src.size) + 1, src.size);
    if (n > dst.size) throw PerfError("rping: sink buffer too small");
    ep.postWrite(kWrite, l.sink(), static_cast<ULONG>(n), dst.addr, dst.token);
    waitFor(ep, kWrite, "RDMA write", o.timeoutMs);
    sendMsg(l, kGo, o.timeoutMs);
    ++iter;
  }
  try {
    ep.disconnect();
  } catch (const ndkperf::NdkCallError&) {
    // the client is gone already (the provider answers STATUS_CONNECTION_INVALID): fine
  }
  if (o.count != 0 && iter != o.count) throw PerfError(fmt::format("rping: served {} iterations, expected {}", iter, o.count));
  return iter;
}

}  // namespace ndktool::rping
