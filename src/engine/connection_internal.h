// Private to the engine's connection files (connection.cpp: lifecycle, MPA setup and close;
// connection_tx.cpp: the transmit path; connection_rx.cpp: the receive path). Not installed, not
// included outside src/engine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/connection.h"
#include "iwarp/ddp.h"

#if defined(__SANITIZE_THREAD__)
#define OPENNDK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OPENNDK_TSAN 1
#endif
#endif
#ifdef OPENNDK_TSAN
extern "C" void __tsan_release(void* addr);
extern "C" void __tsan_acquire(void* addr);
#endif


namespace openndk::engine::detail {

#ifdef OPENNDK_TSAN
// A stream orders what its two ends do, through the kernel's socket buffers where TSan cannot see
// it: what a thread did before its sendmsg (e.g. reading a Read Response's source) happens before
// what a thread does after receiving those bytes (e.g. completing the Read; the consumer then frees
// the source). Since each connection has its own progress token, nothing else orders the two ends
// of a loopback pair. One process-wide sync object: both ends live in one process in the tests.
inline char g_wire_sync;
inline void wireSent() { __tsan_release(&g_wire_sync); }
inline void wireReceived() { __tsan_acquire(&g_wire_sync); }
#else
inline void wireSent() {}
inline void wireReceived() {}
#endif
// The connection's receive buffer: headers, trailers and small FPDUs land here (payload goes
// straight to its destination), MPA frames (<= 532 bytes) during setup. It never needs more than the
// largest header window below; 8 KiB instead of 64 KiB keeps an idle connected QP small (issue 12).
constexpr std::size_t kRxBufSize = 8 * 1024;
// The buffer is held only while the connection reads, until it has received this many bytes (the
// MPA exchange and the first FPDUs are far less): an idle connected QP holds none, a connection
// that carries data keeps its own (no allocation per receive in steady state).
constexpr std::uint64_t kRxKeepBufferAfter = 4 * 1024;
// Bytes asked for when no payload destination is known yet (length, header, trailer). Kept small
// so that payload bytes mostly arrive through the direct recv() into their destination.
constexpr std::size_t kRxHeaderRead = 1024;
// Larger header window while the segments received are small (the next few FPDUs arrive in one
// recv instead of one recv each); kSmallSegment is what counts as small.
constexpr std::size_t kRxSmallRead = 8 * 1024;
constexpr std::uint32_t kSmallSegment = 512;
static_assert(kRxBufSize >= kRxSmallRead && kRxBufSize >= kRxHeaderRead, "a header window must fit the buffer");
constexpr std::chrono::milliseconds kLingerAfterTerminate{2000};
// Transmit batching: the queued FPDUs (of one or several work requests) leave in one sendmsg, at
// most this many FPDUs / iovecs / bytes per call. Each FPDU stays whole and byte-identical.
constexpr std::size_t kTxBatchFpdus = 64;
constexpr std::size_t kTxBatchIov = 256;
constexpr std::size_t kTxBatchBytes = 1024 * 1024;
// A Blocked socket's retries back off further than receive attempts (2^(poll_backoff + this) - 1
// polls at most): a full send buffer holds many microseconds of the peer's draining, an empty
// receive queue may fill any moment.
constexpr std::uint32_t kTxRetryExtraBackoff = 2;
// Bytes sent between two looks at TCP's MSS while MULPDU is below its maximum (buildBatch).
constexpr std::uint64_t kMssRecheckBytes = 1024 * 1024;
// Transmit items kept for reuse per connection (a free-list instead of a heap allocation per
// work request): enough for a deep queue of small messages.
constexpr std::size_t kTxItemCache = 256;
// Post coalescing holds only small messages: a larger one is not bound by the cost of its system
// call, and holding it would delay bytes the socket could already be moving.
constexpr std::uint32_t kPostCoalesceMaxLen = 16 * 1024;

}  // namespace openndk::engine::detail

namespace openndk::engine {

struct Connection::TxItem {
  bool is_msg = false;
  std::vector<std::uint8_t> raw;  // pre-framed bytes (setup frames, RTR, Terminate, Read Request)
  TxRequest req;                  // messages: payload SGEs and cookie
  iwarp::DdpMessage msg{};
  std::optional<iwarp::Segmenter> seg;
  bool notify = false;            // txCompleted() when the last FPDU is written
  bool abandon = false;           // failing: stop after the FPDU in flight
  bool built_all = false;         // every FPDU of it is in a batch (raw: its one record)
  bool read_response = false;     // counts against the IRD until fully sent

  // Back to a fresh item, keeping the storage its vectors grew (items are recycled: see
  // Connection::newItem).
  void reset() {
    is_msg = notify = abandon = built_all = read_response = false;
    raw.clear();
    req.sges.clear();
    req.kind = TxRequest::Kind::Send;
    req.solicited = false;
    req.cookie = 0;
    req.remote_stag = 0;
    req.remote_to = 0;
    req.read = {};
    msg = {};
    seg.reset();
  }
};

}  // namespace openndk::engine
