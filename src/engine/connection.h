// One iWARP stream over one connected TCP socket: MPA setup (initiator or responder, profile from the
// mpa_profile tunable or given), then the data phase (RDMAP messages → DDP segments → MPA FPDUs with
// sendmsg gather lists pointing at the caller's memory; received payload read straight into the
// spans the placement sink names). Knows nothing of NDK: the provider's QP attaches through the two
// small interfaces below (work in: Connection::post; completions out: CompletionSink).
//
// Threading: every sink call is made in the event loop's progress context (the engine thread, or a
// consumer thread inside EventLoop::poll()), never concurrently. Public methods may be called from
// any thread (they post to the loop) unless marked "progress context only"; every private method
// runs in the progress context, and the ones that touch state assert it (debug builds).
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <sys/uio.h>
#include <vector>

#include "base/inline_vec.h"
#include "base/ring.h"
#include "engine/event_loop.h"
#include "engine/tcp.h"
#include "iwarp/errors.h"
#include "iwarp/fpdu.h"
#include "iwarp/mpa_setup.h"
#include "iwarp/terminate.h"

namespace openndk::engine {

using ByteSpan = std::span<const std::uint8_t>;
using MutByteSpan = std::span<std::uint8_t>;

// Where received payload goes. The sink validates against its memory tables and answers with the
// destination span, or an iwarp::Error (use iwarp::access_error() for memory faults); any error
// terminates the stream with the Terminate the iwarp table assigns to it.
class PlacementSink {
 public:
  virtual ~PlacementSink() = default;
  // Tagged segment (RDMA Write or Read Response): `len` bytes at (stag, to). Not called for
  // zero-length segments (RFC 5041 §5.2: they are never validated).
  virtual iwarp::Error placeTagged(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                                   MutByteSpan& dest) = 0;
  // Untagged Send segment: `len` bytes at offset `mo` of the message with this MSN (MSN 1 = the first
  // posted receive). Called for every segment, also zero-length ones (a zero-length Send still
  // consumes a receive).
  virtual iwarp::Error placeUntagged(std::uint32_t msn, std::uint32_t mo, std::uint32_t len, MutByteSpan& dest) = 0;
  // Inbound Read Request: validate the source (src_stag, src_to, size) and return the bytes to send
  // back. The span must stay valid until the stream closes (registered memory). size 0: not called.
  virtual iwarp::Error readSource(const iwarp::ReadRequestHdr& req, ByteSpan& src) = 0;
  // Send with Invalidate: invalidate this local STag (called before sendReceived of that message).
  virtual iwarp::Error invalidate(std::uint32_t stag) = 0;
  // Scatter variants (what the engine calls): the destination may be several pieces, filled in
  // order (e.g. a segment crossing two receive SGEs). Defaults: the single-span methods above.
  virtual iwarp::Error placeTaggedV(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                                    std::vector<MutByteSpan>& dest) {
    MutByteSpan d;
    const iwarp::Error e = placeTagged(op, stag, to, len, d);
    dest.assign(1, d);
    return e;
  }
  virtual iwarp::Error placeUntaggedV(std::uint32_t msn, std::uint32_t mo, std::uint32_t len,
                                      std::vector<MutByteSpan>& dest) {
    MutByteSpan d;
    const iwarp::Error e = placeUntagged(msn, mo, len, d);
    dest.assign(1, d);
    return e;
  }
};

enum class TxStatus : std::uint8_t { Success, Flushed };

struct CloseInfo {
  iwarp::Error error = iwarp::Error::None;  // local cause (None: orderly close by us)
  NetError net = NetError::None;            // socket-level cause, if any
  bool terminate_sent = false;
  bool terminate_received = false;
  iwarp::TerminateInfo peer_terminate{};    // valid if terminate_received
};

class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // Responder: a valid MPA Request arrived; answer with Connection::accept() or reject().
  virtual void connectRequest(ByteSpan private_data) = 0;
  // MPA done; the stream is in RDMA mode.
  virtual void established(const iwarp::Negotiated& n, ByteSpan peer_private_data) = 0;
  // Initiator: the responder rejected (its private data), the stream will close.
  virtual void rejected(ByteSpan peer_private_data) = 0;
  // A posted Send/Write was handed to TCP entirely, or flushed at close. Read Requests complete with
  // readCompleted instead (or are flushed here).
  virtual void txCompleted(std::uint64_t cookie, TxStatus status) = 0;
  // The Read Response for the posted Read Request `cookie` has been placed completely.
  virtual void readCompleted(std::uint64_t cookie) = 0;
  // A Send message has been placed completely and its CRCs verified.
  virtual void sendReceived(std::uint32_t msn, std::uint32_t length, bool with_invalidate, std::uint32_t inv_stag,
                            bool solicited) = 0;
  // Called exactly once, last.
  virtual void closed(const CloseInfo& info) = 0;
};

// One work request. Payload spans point at caller memory that must stay valid until completion.
struct TxRequest {
  enum class Kind : std::uint8_t { Send, SendInvalidate, Write, ReadRequest };
  Kind kind = Kind::Send;
  bool solicited = false;
  std::uint64_t cookie = 0;
  base::InlineVec<ByteSpan, 4> sges;  // Send / Write payload (no allocation up to 4 pieces)
  std::uint32_t remote_stag = 0;     // Write: sink STag; SendInvalidate: STag to invalidate
  std::uint64_t remote_to = 0;       // Write
  iwarp::ReadRequestHdr read{};      // ReadRequest: sink (local) and source (remote)
};

struct ConnectionOptions {
  iwarp::SetupRole role = iwarp::SetupRole::Initiator;
  const iwarp::Profile* profile = nullptr;  // nullptr: the mpa_profile tunable
  std::uint32_t ird = 1;
  std::uint32_t ord = 1;
  std::vector<std::uint8_t> private_data;   // initiator: Request PD; responder: given to accept()
  // Initiator: after establishment, hold every transmit (the MPA v2 RTR included) until
  // releaseTx(). The provider uses it to make the RTR the "NdkCompleteConnect was called" signal.
  bool hold_tx_after_setup = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Any thread. Takes a connected socket; starts MPA setup in the loop. The sinks must outlive closed().
  static std::shared_ptr<Connection> create(EventLoop& loop, Socket sock, ConnectionOptions opts,
                                            PlacementSink& placement, CompletionSink& completion);
  ~Connection();

  // Any thread. Responder after connectRequest().
  void accept(std::uint32_t ird, std::uint32_t ord, std::vector<std::uint8_t> private_data);
  void reject(std::vector<std::uint8_t> private_data);
  // Any thread. Queue one work request; it is sent in order after establishment. If the loop has already been
  // stopped the request is flushed at once, in the caller's thread (the only sink call made outside
  // the progress context). In the progress context it is queued and transmitted at once.
  void post(TxRequest req);
  // Progress context only: queue without transmitting (several requests, then one transmit(): their
  // FPDUs leave in as few sendmsg calls as the socket takes).
  void enqueueInContext(TxRequest req) {
    assert(loop_.inProgressContext());
    enqueue(std::move(req));
  }
  void transmit() {
    assert(loop_.inProgressContext());
    doWrite();
  }
  // Progress context only, the consumer's post path: like transmit(), except while the consumer
  // posts a burst of small requests between two of its CQ polls. The first post since its last
  // poll or since bytes last came in goes out at once (a lone post, e.g. ping-pong, waits for
  // nothing); the next ones wait for
  // that poll, up to the tunable post_coalesce of them, and leave together in one sendmsg. The
  // engine is asked to poll the domain (EventLoop::requestPoll) when the first one is held, so held
  // requests go out even if the consumer does not poll. Only while consumers poll this domain.
  void transmitPosted();
  // Any thread. Consumer disconnect: graceful (FIN after queued data) or abortive (Terminate
  // ConsumerTerminate if established, then RST; during MPA setup, or once our last bytes and FIN
  // are out, RST at once).
  void disconnect(bool abortive = false);
  // Any thread. Ends ConnectionOptions::hold_tx_after_setup: queued transmits (the RTR first) go out.
  void releaseTx();

  [[nodiscard]] EventLoop& loop() const noexcept { return loop_; }
  // Transmit/receive counters (any thread; relaxed): FPDUs built, sendmsg calls made (a batch of
  // queued FPDUs leaves in one call, docs/engine.md "Transmit"), receive syscalls made.
  struct IoStats {
    std::uint64_t fpdus_sent = 0;
    std::uint64_t sendmsg_calls = 0;
    std::uint64_t recv_calls = 0;
    std::uint64_t posts_held = 0;  // posts transmitPosted() held for the consumer's next poll
  };
  [[nodiscard]] IoStats ioStats() const noexcept {
    return {stat_fpdus_.load(std::memory_order_relaxed), stat_sendmsg_.load(std::memory_order_relaxed),
            stat_recv_.load(std::memory_order_relaxed), stat_posts_held_.load(std::memory_order_relaxed)};
  }
  // Progress context: heap bytes the connection holds besides its own object (receive buffer,
  // transmit batch records and iovecs, recycled transmit items, scratch lists). Issue 12: an idle
  // connected QP must stay small (docs/performance.md "Scale").
  [[nodiscard]] std::size_t heldBufferBytes() const noexcept;
  // Responder, progress context, from connectRequest() on: the IRD/ORD the initiator asked for in
  // its MPA Request (v2 block, else the [MS-SMBD] legacy block). False if it carried neither.
  bool peerRequestedLimits(std::uint32_t* ird, std::uint32_t* ord) const;

 private:
  struct TxItem;
  Connection(EventLoop& loop, Socket sock, ConnectionOptions opts, PlacementSink& p, CompletionSink& c);
  void start();
  void runActions(const iwarp::Actions& acts);
  void onIo(std::uint32_t events);
  // A consumer's poll of this connection's CQ (EventLoop::consumerPoll): non-blocking transmit and
  // receive on this socket only, with a back-off of the attempts after empty ones (an idle poll
  // mostly costs no syscall). True if bytes moved.
  bool pollIo();
  void doRead();
  bool processRx();            // false if the stream failed/closed
  bool onHeader();
  bool onEnd();
  // retry_blocked: the socket may have room again (EPOLLOUT, or pollIo's retry is due); otherwise
  // a Blocked socket is not tried (the retry or EPOLLOUT will come).
  void doWrite(bool retry_blocked = false);
  bool buildBatch();           // FPDUs of the queued items into one gather list; false: nothing to send
  void dropUnsentBatch();      // failing: keep only the FPDU on the wire, forget the ones behind it
  [[nodiscard]] bool txInFlight() const noexcept { return built_done_ < built_n_; }
  void updateInterest(bool tx_blocked);  // EPOLLOUT wanted iff tx_blocked
  void fail(iwarp::Error e, NetError net = NetError::None);
  void closeAfterTx();
  void reportEstablished();    // responder: after the receive pass that validated the first FPDU
  void finishClose();
  void flushAll();
  void queueRaw(ByteSpan bytes);
  void enqueue(TxRequest req);
  void completeItem(TxItem& item);
  std::unique_ptr<TxItem> newItem();            // from the free-list, or a new one
  void recycle(std::unique_ptr<TxItem> item);   // onto the free-list (bounded)
  void scatter(std::size_t off, ByteSpan data);  // payload bytes at `off` of the segment into dest_
  [[nodiscard]] ByteSpan rxHeader() const noexcept;

  EventLoop& loop_;
  std::shared_ptr<EventLoop> loop_keep_;  // the progress domain, if shared-owned (provider links)
  Socket sock_;
  ConnectionOptions opts_;
  PlacementSink& placement_;
  CompletionSink& completion_;
  iwarp::Profile profile_;  // the profile with the timer tunables applied; setup_ refers to it
  iwarp::MpaSetup setup_;
  EventLoop::WatchId watch_ = 0;
  std::uint64_t poll_handler_ = 0;
  // Consumer-poll back-off (pollIo), one per direction so that a busy direction does not make the
  // idle one try on every poll. Receive: after k empty receive attempts in a row the next 2^k - 1
  // polls skip the socket (k ≤ poll_backoff_max_); any byte received resets it, and so does a
  // transmit if something was received since the previous transmit (a request/response exchange:
  // the answer may come soon; a stream of sends with nothing coming back leaves it alone).
  // Transmit: while Blocked, a poll retries sendmsg only after the same 2^k - 1 polls, k counting
  // the retries that found no room.
  struct PollBackoff {
    std::uint32_t misses = 0;  // attempts in a row that found nothing to do
    std::uint32_t skip = 0;    // polls left before the next attempt
    bool skipThisPoll() noexcept {
      if (skip == 0) return false;
      --skip;
      return true;
    }
    void miss(std::uint32_t cap) noexcept {
      if (misses < cap) ++misses;
      rearm();
    }
    void rearm() noexcept { skip = (1u << misses) - 1; }  // the same pace again
    void reset() noexcept { misses = skip = 0; }
  };
  std::uint32_t poll_backoff_max_ = 5;  // tunable poll_backoff (≤ 16), read at creation
  PollBackoff rx_backoff_;              // receive attempts
  PollBackoff tx_retry_backoff_;        // sendmsg retries of a Blocked socket
  // Post coalescing (transmitPosted): whether a post went out since the consumer's last poll, and
  // how many posts wait for the next one (a poll, a full burst or the engine's poll sends them).
  std::uint32_t post_coalesce_max_ = 32;  // tunable post_coalesce, read at creation
  bool posted_since_poll_ = false;
  std::uint32_t posts_held_ = 0;
  std::uint32_t last_enqueued_len_ = 0;   // length of the last message enqueue() took
  std::uint64_t rx_bytes_ = 0, tx_bytes_ = 0;
  std::uint64_t rx_bytes_at_tx_ = 0;  // rx_bytes_ at the last transmit (request/response detection)
  // The back-off exponent's cap while Blocked (poll_backoff 0 keeps "every poll tries").
  [[nodiscard]] std::uint32_t blockedBackoffMax() const noexcept;
  EventLoop::TimerId setup_timer_ = 0;
  EventLoop::TimerId linger_timer_ = 0;
  std::uint32_t interest_ = 0;

  // ---- named states (docs/engine.md, "States") ----------------------------------------------------
  // The connection's lifecycle. Setup: MPA exchange (and, for a responder, the wait for the first
  // FPDU); Rdma: data phase; Failing: fail() ran, only its Terminate (behind the FPDU in flight)
  // still goes out and input is discarded; Draining: our last bytes and FIN are out, waiting for the
  // peer's FIN (bounded by the linger timer); Closed: closed() was reported.
  enum class Phase : std::uint8_t { Setup, Rdma, Failing, Draining, Closed };
  // What the receive side does with the bytes it gets (siw's siw_rx_state). MpaFrames: MPA setup
  // frames go to MpaSetup; the other states are FPDU mode (the deframer runs; it tracks length,
  // header, payload and trailer itself). Header: between segments, the next header is awaited;
  // Place: inside a segment whose payload goes to the placement sink's destination; Discard:
  // inside a segment whose payload is not placed (zero length, the Send RTR, Terminate, Read
  // Request) or that is being ended (its header still names it in a Terminate context).
  enum class RxState : std::uint8_t { MpaFrames, Header, Place, Discard };
  // What the transmit side is doing (siw's siw_tx_state, reduced to what doWrite() needs). Idle:
  // doWrite() is not running and the socket took everything offered; Writing: doWrite() runs (it is
  // not re-entered: a completion that posts more work leaves it to the running loop); Blocked:
  // sendmsg said EAGAIN, EPOLLOUT is awaited. Whether a batch is half written is txInFlight().
  enum class TxState : std::uint8_t { Idle, Writing, Blocked };
  // Why transmission must wait, independent of each other and of TxState (both may hold at once):
  // Hold: ConnectionOptions::hold_tx_after_setup until releaseTx(); Pace: the profile's
  // first_fpdu_delay_ms is not over yet (initiator, interop).
  enum TxGate : std::uint8_t { kTxHold = 1, kTxPace = 2 };
  static const char* name(Phase p) noexcept;
  static const char* name(RxState s) noexcept;
  static const char* name(TxState s) noexcept;
  // The only writers of phase_ / rx_ / tx_: they assert the legal transitions (debug builds).
  void setPhase(Phase to);
  void setRxState(RxState to) noexcept {
    // MpaFrames → Header (FPDU mode entered); Header → Discard (a segment header; Place if the sink
    // names a destination); Discard ↔ Place; Place/Discard → Header (segment ended or the deframer
    // failed); Header → Header (a deframer error between segments).
    assert(to != RxState::MpaFrames);
    assert(to != RxState::Discard || rx_ == RxState::Header || rx_ == RxState::Place);
    assert(to != RxState::Place || rx_ == RxState::Discard);
    rx_ = to;
  }
  void setTxState(TxState to) noexcept {
    // Idle/Blocked → Writing (doWrite() entered) → Idle or Blocked (left).
    assert((to == TxState::Writing) == (tx_ != TxState::Writing));
    tx_ = to;
  }
  [[nodiscard]] bool fpduMode() const noexcept { return rx_ != RxState::MpaFrames; }
  // The current segment's header is saved in rx_hdr_ and failures concern it.
  [[nodiscard]] bool inSegment() const noexcept { return rx_ == RxState::Place || rx_ == RxState::Discard; }

  Phase phase_ = Phase::Setup;
  RxState rx_ = RxState::MpaFrames;
  TxState tx_ = TxState::Idle;
  std::uint8_t tx_gates_ = 0;     // TxGate bits
  bool rx_eof_ = false;           // the peer's FIN (or a socket error) was read: nothing more to read
  bool crc_ = false;
  bool close_after_tx_ = false;
  std::uint32_t msn_bias_ = 0;   // responder: a Send RTR consumed MSN 1
  std::vector<std::uint8_t> accept_pd_;
  std::vector<std::unique_ptr<TxItem>> flushed_;
  std::vector<std::unique_ptr<TxItem>> free_items_;  // recycled items (≤ kTxItemCache)
  std::uint32_t mulpdu_ = 0;  // 0: not learned yet (TCP's MSS is asked when the first message is segmented)
  std::uint64_t mss_checked_at_ = 0;  // tx_bytes_ when TCP's MSS was last asked (buildBatch)
  CloseInfo close_info_{};

  // RX
  // Allocated when a read needs it and given back when empty until the connection has received
  // kRxKeepBufferAfter bytes (RxBufferLease): an idle connection holds none.
  std::unique_ptr<std::uint8_t[]> rxbuf_;
  std::size_t rx_begin_ = 0, rx_end_ = 0;
  friend struct RxBufferLease;
  iwarp::Deframer deframer_;
  iwarp::DdpRxState ddp_rx_;
  std::vector<MutByteSpan> dest_;  // destination pieces of the current segment's payload, in order
  std::vector<iovec> rx_iov_;      // direct placement into several pieces
  bool first_fpdu_pending_ = false;
  bool established_unreported_ = false;  // responder: Established, not yet told to the sink
  bool rtr_consumed_ = false;    // responder: the current segment was a Send RTR, not delivered
  // Copy of the current segment's header (DDP + RDMAP, ≤ 70 bytes), taken at its Header event: the
  // Terminate context of a failure found later (at End) and the body of a received Terminate.
  std::array<std::uint8_t, iwarp::kMaxHeaderLen> rx_hdr_{};
  std::size_t rx_hdr_len_ = 0;
  std::size_t rx_ddp_len_ = 0;
  std::uint16_t rx_ulpdu_len_ = 0;
  iwarp::TerminateInfo rx_term_{};
  bool rx_term_valid_ = false;
  struct OutstandingRead {
    std::uint64_t cookie;
    bool internal;  // our Read RTR
  };
  base::Ring<OutstandingRead> reads_;

  // TX
  base::Ring<std::unique_ptr<TxItem>> txq_;  // items not yet started (plus the head in progress)
  std::vector<TxRequest> pre_established_;   // posted before Rdma (queued into txq_ once established)
  std::uint32_t tx_msn_send_ = 1;
  std::uint32_t tx_msn_read_ = 1;
  // The batch being written: up to kTxBatchFpdus FPDUs (of one or several items, in queue order)
  // whose iovecs are gathered in iov_ for one sendmsg. built_ never reallocates while a batch is
  // out (the iovecs point into its head/tail storage).
  struct TxBuilt {
    iwarp::TxFpdu fpdu{};
    TxItem* item = nullptr;
    std::size_t iov_end = 0;  // iov_ index one past this FPDU's last iovec
    bool raw = false;         // a pre-framed item (one record for the whole item)
    bool last = false;        // the last FPDU of its item
  };
  std::vector<TxBuilt> built_;
  bool tx_msg_queued_ = false;    // a work request or Read Response was ever queued: built_ gets kTxBatchFpdus records
  std::size_t built_n_ = 0;       // records in the batch
  std::size_t built_done_ = 0;    // records fully written
  std::vector<iovec> iov_;
  std::size_t iov_pos_ = 0;       // first iovec not fully written
  std::vector<ByteSpan> slices_;
  bool rx_drained_ = false;       // the last doRead() ended on a short read (the socket was empty)
  bool rx_small_ = false;         // the last segment received was small: read a larger window
  std::atomic<std::uint64_t> stat_fpdus_{0}, stat_sendmsg_{0}, stat_recv_{0}, stat_posts_held_{0};
};

}  // namespace openndk::engine
