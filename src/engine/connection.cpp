#include "engine/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <utility>

#include "base/config.h"
#include "base/log.h"
#include "iwarp/ddp.h"
#include "iwarp/rdmap.h"

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

namespace openndk::engine {

using iwarp::Error;
using iwarp::Opcode;

namespace {
#ifdef OPENNDK_TSAN
// A stream orders what its two ends do, through the kernel's socket buffers where TSan cannot see
// it: what a thread did before its sendmsg (e.g. reading a Read Response's source) happens before
// what a thread does after receiving those bytes (e.g. completing the Read; the consumer then frees
// the source). Since each connection has its own progress token, nothing else orders the two ends
// of a loopback pair. One process-wide sync object: both ends live in one process in the tests.
char g_wire_sync;
inline void wireSent() { __tsan_release(&g_wire_sync); }
inline void wireReceived() { __tsan_acquire(&g_wire_sync); }
#else
inline void wireSent() {}
inline void wireReceived() {}
#endif
constexpr std::size_t kRxBufSize = 64 * 1024;
// Bytes asked for when no payload destination is known yet (length, header, trailer). Kept small
// so that payload bytes mostly arrive through the direct recv() into their destination.
constexpr std::size_t kRxHeaderRead = 1024;
// Larger header window while the segments received are small (the next few FPDUs arrive in one
// recv instead of one recv each); kSmallSegment is what counts as small.
constexpr std::size_t kRxSmallRead = 8 * 1024;
constexpr std::uint32_t kSmallSegment = 512;
constexpr std::chrono::milliseconds kLingerAfterTerminate{2000};
// Transmit batching: the queued FPDUs (of one or several work requests) leave in one sendmsg, at
// most this many FPDUs / iovecs / bytes per call. Each FPDU stays whole and byte-identical.
constexpr std::size_t kTxBatchFpdus = 64;
constexpr std::size_t kTxBatchIov = 256;
constexpr std::size_t kTxBatchBytes = 1024 * 1024;

const iwarp::Profile& profileFromTunable() {
  const std::string name = base::tunableString(base::Tunable::MpaProfile);
  if (const iwarp::Profile* p = iwarp::find_profile(name)) return *p;
  NDK_LOG_WARN("engine", "unknown mpa_profile '{}', using default", name);
  return iwarp::profile_default();
}

// The profile's MPA setup timers with the tunables applied (docs/decisions.md, "Hardening"):
// mpa_reply_timeout_ms is T_reply; establish_timeout_ms caps T_request and T_rtr where the profile
// arms them. 0 keeps the profile's value.
iwarp::Profile withTunableTimers(const iwarp::Profile& from) {
  iwarp::Profile p = from;
  const auto clamp32 = [](std::uint64_t v) { return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX)); };
  if (const std::uint32_t reply = clamp32(base::tunableU64(base::Tunable::MpaReplyTimeoutMs)); reply && p.t_reply_ms)
    p.t_reply_ms = reply;
  if (const std::uint32_t est = clamp32(base::tunableU64(base::Tunable::EstablishTimeoutMs)); est) {
    if (p.t_request_ms) p.t_request_ms = std::min(p.t_request_ms, est);
    if (p.t_rtr_ms) p.t_rtr_ms = std::min(p.t_rtr_ms, est);
  }
  return p;
}
}  // namespace

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
};

std::shared_ptr<Connection> Connection::create(EventLoop& loop, Socket sock, ConnectionOptions opts,
                                               PlacementSink& placement, CompletionSink& completion) {
  std::shared_ptr<Connection> c(new Connection(loop, std::move(sock), std::move(opts), placement, completion));
  loop.post([c] { c->start(); });
  return c;
}

Connection::Connection(EventLoop& loop, Socket sock, ConnectionOptions opts, PlacementSink& p, CompletionSink& c)
    : loop_(loop),
      loop_keep_(loop.weak_from_this().lock()),
      sock_(std::move(sock)),
      opts_(std::move(opts)),
      placement_(p),
      completion_(c),
      profile_(withTunableTimers(opts_.profile ? *opts_.profile : profileFromTunable())),
      setup_(profile_, opts_.role),
      rxbuf_(kRxBufSize) {}

Connection::~Connection() = default;

void Connection::start() {
  auto self = shared_from_this();
  // The watch keeps the connection alive until it is closed.
  watch_ = loop_.watch(sock_.fd(), EPOLLIN, [self](std::uint32_t ev) { self->onIo(ev); });
  interest_ = EPOLLIN;
  if (!watch_) {
    close_info_.error = Error::LocalCatastrophic;
    finishClose();
    return;
  }
  poll_handler_ = loop_.addPollHandler([self] { return self->pollIo(); });
  const std::uint32_t mss = tcpMss(sock_.fd());
  mulpdu_ = mss ? iwarp::mpa::mulpdu_from_emss(mss) : iwarp::mpa::kMulpduMax;
  iwarp::SetupParams params{opts_.ird, opts_.ord, ByteSpan(opts_.private_data)};
  runActions(setup_.start(params));
}

void Connection::accept(std::uint32_t ird, std::uint32_t ord, std::vector<std::uint8_t> private_data) {
  loop_.post([self = shared_from_this(), ird, ord, pd = std::move(private_data)]() mutable {
    if (self->phase_ != Phase::Setup) return;
    self->accept_pd_ = std::move(pd);  // MpaSetup keeps a view of it
    self->runActions(self->setup_.accept({ird, ord, ByteSpan(self->accept_pd_)}));
  });
}

void Connection::reject(std::vector<std::uint8_t> private_data) {
  loop_.post([self = shared_from_this(), pd = std::move(private_data)]() mutable {
    if (self->phase_ != Phase::Setup) return;
    self->accept_pd_ = std::move(pd);
    self->runActions(self->setup_.reject(ByteSpan(self->accept_pd_)));
  });
}

void Connection::post(TxRequest req) {
  if (loop_.inProgressContext()) {
    enqueue(std::move(req));
    doWrite();
    return;
  }
  auto self = shared_from_this();
  const std::uint64_t cookie = req.cookie;
  if (!loop_.post([self, r = std::move(req)]() mutable {
        self->enqueue(std::move(r));
        self->doWrite();
      })) {
    completion_.txCompleted(cookie, TxStatus::Flushed);  // the loop is gone
  }
}

void Connection::releaseTx() {
  loop_.post([self = shared_from_this()] {
    if (!self->tx_hold_) return;
    self->tx_hold_ = false;
    self->doWrite();
  });
}

void Connection::disconnect(bool abortive) {
  loop_.post([self = shared_from_this(), abortive] {
    if (self->phase_ == Phase::Closed || self->phase_ == Phase::Draining) return;
    if (abortive) {
      self->fail(Error::ConsumerTerminate);
      return;
    }
    self->close_after_tx_ = true;
    self->doWrite();
  });
}

// ---- setup actions ---------------------------------------------------------------------------------

void Connection::runActions(const iwarp::Actions& acts) {
  bool failed = false;
  for (const iwarp::Action& a : acts) {
    switch (a.kind) {
      case iwarp::ActionKind::Send: queueRaw(a.bytes); break;
      case iwarp::ActionKind::ArmTimer: {
        if (setup_timer_) loop_.cancelTimer(setup_timer_);
        setup_timer_ = 0;
        if (a.timer_ms == 0) break;
        std::weak_ptr<Connection> w = shared_from_this();
        setup_timer_ = loop_.addTimer(std::chrono::milliseconds(a.timer_ms), [w] {
          if (auto s = w.lock()) {
            s->setup_timer_ = 0;
            if (s->phase_ == Phase::Setup) s->runActions(s->setup_.on_timeout());
          }
        });
        break;
      }
      case iwarp::ActionKind::CancelTimer:
        if (setup_timer_) loop_.cancelTimer(setup_timer_);
        setup_timer_ = 0;
        break;
      case iwarp::ActionKind::RequestReceived: completion_.connectRequest(setup_.peer().consumer_pd); break;
      case iwarp::ActionKind::EnterFpduMode:
        fpdu_mode_ = true;
        crc_ = a.crc;
        deframer_.reset({a.crc, iwarp::mpa::kMaxUlpdu});
        first_fpdu_pending_ = opts_.role == iwarp::SetupRole::Responder;
        break;
      case iwarp::ActionKind::Established: {
        phase_ = Phase::Rdma;
        const iwarp::Negotiated& n = setup_.result();
        // R85: inbound Read Requests beyond the IRD we granted are refused with a Terminate (the
        // iwarp table's RdmapTooManyReads). At least 1: a peer's Read RTR needs one.
        ddp_rx_.set_ird(std::max<std::uint32_t>(1, n.ird));
        if (n.p2p && opts_.role == iwarp::SetupRole::Initiator) {
          // The RTR we just queued used MSN 1 of its queue; a Read RTR expects a Read Response.
          if (n.rtr == iwarp::RtrType::Send) tx_msn_send_ = 2;
          if (n.rtr == iwarp::RtrType::Read) {
            tx_msn_read_ = 2;
            reads_.push_front({0, true});
          }
        }
        if (n.p2p && opts_.role == iwarp::SetupRole::Responder && n.rtr == iwarp::RtrType::Send) {
          msn_bias_ = 1;
          rtr_consumed_ = true;  // the segment being decoded is the RTR itself
        }
        if (opts_.hold_tx_after_setup && opts_.role == iwarp::SetupRole::Initiator) tx_hold_ = true;
        // Interop (siw passive-side race, iwarp::Profile::first_fpdu_delay_ms): an initiator whose
        // profile asks for it holds its first FPDU until the delay has passed.
        if (opts_.role == iwarp::SetupRole::Initiator && profile_.first_fpdu_delay_ms > 0) {
          tx_paced_ = true;
          std::weak_ptr<Connection> w = shared_from_this();
          loop_.addTimer(std::chrono::milliseconds(profile_.first_fpdu_delay_ms), [w] {
            if (auto c = w.lock()) {
              c->tx_paced_ = false;
              c->doWrite();
            }
          });
        }
        completion_.established(n, setup_.peer().consumer_pd);
        auto pending = std::move(pre_established_);
        pre_established_.clear();
        for (TxRequest& r : pending) enqueue(std::move(r));
        break;
      }
      case iwarp::ActionKind::Rejected:
        close_info_.error = Error::MpaRejectedByPeer;
        completion_.rejected(setup_.peer().consumer_pd);
        break;
      case iwarp::ActionKind::Failed:
        close_info_.error = a.error;
        failed = true;
        break;
      case iwarp::ActionKind::Close: close_after_tx_ = true; break;
    }
  }
  if (failed) {
    // Any Terminate / MPA reject was queued by a Send action above.
    for (auto& it : txq_)
      if (it->is_msg) it->abandon = true;
    dropUnsentBatch();
    closeAfterTx();
  }
  doWrite();
}

// ---- TX --------------------------------------------------------------------------------------------

void Connection::queueRaw(ByteSpan bytes) {
  auto item = std::make_unique<TxItem>();
  item->raw.assign(bytes.begin(), bytes.end());
  txq_.push_back(std::move(item));
}

void Connection::enqueue(TxRequest req) {
  if (phase_ == Phase::Setup) {
    pre_established_.push_back(std::move(req));
    return;
  }
  if (phase_ != Phase::Rdma || close_after_tx_) {
    completion_.txCompleted(req.cookie, TxStatus::Flushed);
    return;
  }
  auto item = std::make_unique<TxItem>();
  std::uint64_t len = 0;
  for (ByteSpan s : req.sges) len += s.size();
  if (len > UINT32_MAX) {
    completion_.txCompleted(req.cookie, TxStatus::Flushed);
    return;
  }
  const auto len32 = static_cast<std::uint32_t>(len);
  switch (req.kind) {
    case TxRequest::Kind::Send:
      item->msg = iwarp::make_send(req.solicited ? Opcode::SendSe : Opcode::Send, tx_msn_send_++, len32);
      break;
    case TxRequest::Kind::SendInvalidate:
      item->msg = iwarp::make_send(req.solicited ? Opcode::SendSeInvalidate : Opcode::SendInvalidate, tx_msn_send_++,
                                   len32, req.remote_stag);
      break;
    case TxRequest::Kind::Write: item->msg = iwarp::make_write(req.remote_stag, req.remote_to, len32); break;
    case TxRequest::Kind::ReadRequest: {
      std::uint8_t ulpdu[iwarp::ddp::kUntaggedHdrLen + iwarp::rdmap::kReadRequestHdrLen];
      const std::size_t n = iwarp::encode_read_request(tx_msn_read_++, req.read, ulpdu);
      item->raw.resize(iwarp::mpa::fpdu_len(static_cast<std::uint32_t>(n)));
      item->raw.resize(iwarp::frame_copy(ByteSpan(ulpdu, n), crc_, item->raw));
      reads_.push_back({req.cookie, false});
      txq_.push_back(std::move(item));
      return;
    }
  }
  item->is_msg = true;
  item->notify = true;
  item->req = std::move(req);
  txq_.push_back(std::move(item));
}

bool Connection::buildBatch() {
  iov_.clear();
  iov_pos_ = 0;
  built_n_ = built_done_ = 0;
  if (built_.size() < kTxBatchFpdus) built_.resize(kTxBatchFpdus);
  std::size_t bytes = 0;
  std::size_t i = 0;  // txq_ index of the item whose next FPDU is built
  while (built_n_ < kTxBatchFpdus && bytes < kTxBatchBytes) {
    while (i < txq_.size() && txq_[i]->built_all) ++i;
    if (i >= txq_.size()) break;
    TxItem& item = *txq_[i];
    if (!item.is_msg) {
      if (built_n_ > 0 && iov_.size() + 1 > kTxBatchIov) break;
      TxBuilt& b = built_[built_n_++];
      iov_.push_back({item.raw.data(), item.raw.size()});
      b.item = &item;
      b.raw = true;
      b.last = true;
      b.iov_end = iov_.size();
      item.built_all = true;
      bytes += item.raw.size();
      continue;
    }
    if (item.abandon) {  // failing before its first FPDU: flush it
      flushed_.push_back(std::move(txq_[i]));
      txq_.erase(txq_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    // One FPDU needs at most (SGEs + 2) iovecs: header, payload pieces, pad + CRC.
    if (built_n_ > 0 && iov_.size() + item.req.sges.size() + 2 > kTxBatchIov) break;
    if (!item.seg) item.seg.emplace(item.msg, mulpdu_);
    iwarp::SegmentPlan plan;
    bool ok = item.seg->next(plan);  // false cannot happen: the last plan marks the item built
    slices_.resize(item.req.sges.size() + 1);
    std::size_t n = 0;
    if (ok && plan.payload_len > 0) {
      n = iwarp::slice_sges(item.req.sges, plan.payload_offset, plan.payload_len, slices_);
      ok = n != 0;
    }
    TxBuilt& b = built_[built_n_];
    if (ok)
      ok = iwarp::frame_gather(ByteSpan(plan.header.data(), plan.header_len),
                               std::span<const ByteSpan>(slices_.data(), n), crc_, b.fpdu) == Error::None;
    if (!ok) {
      built_n_ = built_done_ = 0;  // nothing of this batch went out
      iov_.clear();
      fail(Error::LocalCatastrophic);
      return false;
    }
    ++built_n_;
    iov_.push_back({const_cast<std::uint8_t*>(b.fpdu.head.data()), b.fpdu.head_len});
    for (std::size_t k = 0; k < n; ++k)
      if (!slices_[k].empty()) iov_.push_back({const_cast<std::uint8_t*>(slices_[k].data()), slices_[k].size()});
    iov_.push_back({b.fpdu.tail.data(), b.fpdu.tail_len});
    b.item = &item;
    b.raw = false;
    b.last = plan.last;
    b.iov_end = iov_.size();
    if (plan.last) item.built_all = true;
    bytes += b.fpdu.total_len;
  }
  stat_fpdus_.fetch_add(built_n_, std::memory_order_relaxed);
  return built_n_ > 0;
}

void Connection::dropUnsentBatch() {
  // Only the FPDU on the wire (the first one not fully written, possibly not started) stays; the
  // records behind it were never written. The caller flushes or abandons their message items, so
  // nothing resumes from a segmenter that moved past them.
  if (!txInFlight()) {
    built_n_ = built_done_ = 0;
    iov_.clear();
    iov_pos_ = 0;
    return;
  }
  // Items behind the kept FPDU count as not started: pre-framed ones are built again, abandoned
  // messages are flushed when the next batch reaches them (never resumed).
  for (std::size_t k = built_done_ + 1; k < built_n_; ++k)
    if (built_[k].item != built_[built_done_].item) built_[k].item->built_all = false;
  iov_.resize(built_[built_done_].iov_end);
  built_n_ = built_done_ + 1;
}

bool Connection::peerRequestedLimits(std::uint32_t* ird, std::uint32_t* ord) const {
  const iwarp::MpaFrame& f = setup_.peer();
  if (f.has_v2) {
    *ird = f.v2.ird;
    *ord = f.v2.ord;
    return true;
  }
  if (f.has_legacy) {
    *ird = f.legacy.ird;
    *ord = f.legacy.ord;
    return true;
  }
  return false;
}

void Connection::completeItem(TxItem& item) {
  if (item.read_response) ddp_rx_.read_response_done();  // frees an IRD slot (R85)
  if (item.is_msg && item.notify) completion_.txCompleted(item.req.cookie, TxStatus::Success);
  txq_.pop_front();
}

void Connection::doWrite() {
  // Re-entered from a completion of the running loop (txCompleted → the provider issues more): the
  // running loop picks the new items up.
  if (in_write_) return;
  struct Reentry {
    bool& flag;
    explicit Reentry(bool& f) : flag(f) { flag = true; }
    ~Reentry() { flag = false; }
  } reentry(in_write_);
  if (phase_ == Phase::Closed || !sock_.valid()) return;
  if (tx_hold_ || tx_paced_) {
    updateInterest();
    return;
  }
  tx_blocked_ = false;
  for (;;) {
    if (!txInFlight() && !buildBatch()) break;
    if (phase_ == Phase::Closed) return;
    msghdr mh{};
    mh.msg_iov = iov_.data() + iov_pos_;
    mh.msg_iovlen = iov_.size() - iov_pos_;
    const ssize_t w = ::sendmsg(sock_.fd(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    stat_sendmsg_.fetch_add(1, std::memory_order_relaxed);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        tx_blocked_ = true;
        break;
      }
      const NetError ne = netErrorFromErrno(errno);
      close_info_.net = ne;
      if (close_info_.error == Error::None) close_info_.error = Error::LlpConnectionLost;
      finishClose();
      return;
    }
    auto n = static_cast<std::size_t>(w);
    wireSent();
    tx_bytes_ += n;
    // Something went out: an answer may follow soon, so the consumer's next polls look at once.
    poll_misses_ = 0;
    poll_skip_ = 0;
    while (n > 0 && iov_pos_ < iov_.size()) {
      iovec& v = iov_[iov_pos_];
      if (n >= v.iov_len) {
        n -= v.iov_len;
        ++iov_pos_;
      } else {
        v.iov_base = static_cast<std::uint8_t*>(v.iov_base) + n;
        v.iov_len -= n;
        n = 0;
      }
    }
    // Every FPDU now entirely in the kernel, in order: its item advances (a partial write stops at
    // the FPDU it cut; the rest goes with the next call, EAGAIN waits for EPOLLOUT).
    while (built_done_ < built_n_ && iov_pos_ >= built_[built_done_].iov_end) {
      const TxBuilt& b = built_[built_done_++];
      if (txq_.empty() || txq_.front().get() != b.item) continue;  // flushed meanwhile (fail())
      TxItem& item = *txq_.front();
      if (b.raw) {
        txq_.pop_front();
      } else if (b.last) {
        completeItem(item);  // may queue more work: the next batch takes it
      } else if (item.abandon) {
        flushed_.push_back(std::move(txq_.front()));
        txq_.pop_front();
      }
      if (phase_ == Phase::Closed) return;
    }
  }
  if (txq_.empty() && !txInFlight() && close_after_tx_ && phase_ != Phase::Closed) {
    if (phase_ != Phase::Draining) {
      // Everything is on the wire: half-close and wait for the peer's FIN (bounded by a timer).
      phase_ = Phase::Draining;
      ::shutdown(sock_.fd(), SHUT_WR);
      std::weak_ptr<Connection> w = shared_from_this();
      linger_timer_ = loop_.addTimer(kLingerAfterTerminate, [w] {
        if (auto s = w.lock()) {
          s->linger_timer_ = 0;
          s->finishClose();
        }
      });
    }
    if (rx_eof_) {
      finishClose();
      return;
    }
  }
  updateInterest();
}

void Connection::updateInterest() {
  if (phase_ == Phase::Closed || !watch_) return;
  const std::uint32_t want = EPOLLIN | (tx_blocked_ ? EPOLLOUT : 0u);
  if (want != interest_) {
    loop_.modify(watch_, want);
    interest_ = want;
  }
}

// ---- failure and close -----------------------------------------------------------------------------

ByteSpan Connection::rxHeader() const noexcept {
  // The deframer keeps the whole segment header (DDP + RDMAP, or the whole Terminate ULPDU)
  // contiguously behind the DDP header it exposes. TODO(iwarp): ask for a header_bytes() accessor.
  const ByteSpan ddp = deframer_.ddp_header_bytes();
  if (ddp.empty()) return {};
  return {ddp.data(), deframer_.current().header_len};
}

void Connection::fail(Error e, NetError net) {
  if (phase_ == Phase::Closed || phase_ == Phase::Draining) return;
  if (failing_) {
    // A failure is already draining its Terminate (e.g. behind a Read Response blocked by a peer
    // that does not read): input after it is ignored, nothing more is queued (docs/security.md F1).
    if (net != NetError::None && net != NetError::Closed) finishClose();
    return;
  }
  failing_ = true;
  // An orderly end (the peer's FIN, a received Terminate, the consumer's abort) is no failure to
  // report at info level; the provider's connector logs the close reason at debug.
  if ((e == Error::LlpConnectionLost && net == NetError::Closed) || e == Error::None || e == Error::ConsumerTerminate)
    NDK_LOG_DEBUG("engine", "connection fd {} closing: {}{}", sock_.fd(), iwarp::to_string(e),
                  net == NetError::Closed ? " (peer closed the stream)" : "");
  else
    NDK_LOG_INFO("engine", "connection fd {} fails: {} (socket: {})", sock_.fd(), iwarp::to_string(e),
                 engine::to_string(net));
  if (tx_hold_) {
    // Nothing held went out (not even the RTR): drop it, only the Terminate is sent.
    tx_hold_ = false;
    for (auto& it : txq_) flushed_.push_back(std::move(it));
    txq_.clear();
  }
  close_info_.error = e;
  close_info_.net = net;
  if (phase_ == Phase::Setup) {
    // Setup failures are the state machine's business; a local failure just closes.
    closeAfterTx();
    doWrite();
    return;
  }
  iwarp::TerminateContext ctx;
  if (fpdu_mode_ && in_segment_ && rx_hdr_len_ > 0) {
    ctx.ddp_header = ByteSpan(rx_hdr_.data(), rx_ddp_len_);
    ctx.ulpdu_len = rx_ulpdu_len_;
    if (deframer_.current().opcode == Opcode::ReadRequest &&
        rx_hdr_len_ >= iwarp::ddp::kUntaggedHdrLen + iwarp::rdmap::kReadRequestHdrLen)
      ctx.read_request_hdr = ByteSpan(rx_hdr_.data() + iwarp::ddp::kUntaggedHdrLen, iwarp::rdmap::kReadRequestHdrLen);
  } else if (fpdu_mode_) {  // a deframer error: whatever header it decoded
    ctx.ddp_header = deframer_.ddp_header_bytes();
    ctx.ulpdu_len = static_cast<std::uint16_t>(deframer_.ulpdu_len());
  }
  // Keep only the FPDU on the wire right now; every other item is flushed.
  std::deque<std::unique_ptr<TxItem>> keep;
  dropUnsentBatch();
  if (txInFlight() && !txq_.empty()) {
    keep.push_back(std::move(txq_.front()));
    txq_.pop_front();
    keep.front()->abandon = true;
  }
  for (auto& it : txq_) flushed_.push_back(std::move(it));
  txq_ = std::move(keep);
  iwarp::TerminateInfo t;
  if (fpdu_mode_ && net == NetError::None && iwarp::make_terminate(e, ctx, t)) {
    std::uint8_t buf[128];
    const std::size_t n = iwarp::encode_terminate_fpdu(t, crc_, buf);
    if (n) {
      queueRaw(ByteSpan(buf, n));
      close_info_.terminate_sent = true;
    }
  }
  if (net != NetError::None && net != NetError::Closed) {
    finishClose();
    return;
  }
  closeAfterTx();
  doWrite();
}

void Connection::closeAfterTx() {
  close_after_tx_ = true;
  for (auto& r : pre_established_) completion_.txCompleted(r.cookie, TxStatus::Flushed);
  pre_established_.clear();
}

void Connection::flushAll() {
  for (auto& it : txq_) flushed_.push_back(std::move(it));
  txq_.clear();
  for (auto& it : flushed_)
    if (it->is_msg && it->notify) completion_.txCompleted(it->req.cookie, TxStatus::Flushed);
  flushed_.clear();
  for (const OutstandingRead& r : reads_)
    if (!r.internal) completion_.txCompleted(r.cookie, TxStatus::Flushed);
  reads_.clear();
  for (auto& r : pre_established_) completion_.txCompleted(r.cookie, TxStatus::Flushed);
  pre_established_.clear();
}

void Connection::finishClose() {
  if (phase_ == Phase::Closed) return;
  const auto self = shared_from_this();  // unwatch() below may drop the watch's reference to *this
  phase_ = Phase::Closed;
  if (setup_timer_) loop_.cancelTimer(setup_timer_);
  if (linger_timer_) loop_.cancelTimer(linger_timer_);
  setup_timer_ = linger_timer_ = 0;
  built_n_ = built_done_ = 0;
  iov_.clear();
  iov_pos_ = 0;
  const EventLoop::WatchId w = watch_;
  watch_ = 0;
  if (poll_handler_) loop_.removePollHandler(std::exchange(poll_handler_, 0));
  // Remove the epoll registration before closing the fd: once closed, another thread's socket()
  // may get the same number at once and EPOLL_CTL_DEL would then name that socket (found by TSan
  // in the e2e suite).
  if (w) loop_.unwatch(w);
  sock_.reset();
  flushAll();
  completion_.closed(close_info_);
}

// ---- RX --------------------------------------------------------------------------------------------

void Connection::onIo(std::uint32_t events) {
  auto self = shared_from_this();  // a handler may close us
  if (events & EPOLLOUT) doWrite();
  if (phase_ != Phase::Closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) doRead();
}

bool Connection::pollIo() {
  if (phase_ == Phase::Closed) return false;
  if (poll_skip_ > 0) {
    --poll_skip_;
    return false;
  }
  auto self = shared_from_this();  // a handler may close us
  const std::uint64_t rx0 = rx_bytes_, tx0 = tx_bytes_;
  if (txInFlight() || !txq_.empty()) doWrite();
  if (phase_ != Phase::Closed) doRead();
  if (rx_bytes_ != rx0 || tx_bytes_ != tx0 || phase_ == Phase::Closed) {
    poll_misses_ = 0;
    return true;
  }
  if (poll_misses_ < kPollBackoffMax) ++poll_misses_;
  poll_skip_ = (1u << poll_misses_) - 1;
  return false;
}

void Connection::doRead() {
  while (phase_ != Phase::Closed && !rx_eof_) {
    if (phase_ == Phase::Draining || failing_) {  // after our Terminate / FIN: discard until EOF
      const ssize_t r = ::recv(sock_.fd(), rxbuf_.data(), rxbuf_.size(), MSG_DONTWAIT);
      if (r > 0) continue;
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      rx_eof_ = true;
      if (phase_ == Phase::Draining) finishClose();  // else the Terminate still drains (doWrite closes)
      return;
    }
    // Direct placement: the payload of the current segment goes straight into its destination.
    if (fpdu_mode_ && rx_begin_ == rx_end_ && deframer_.state() == iwarp::RxState::Payload && !discard_ &&
        deframer_.payload_remaining() > 0) {
      const std::uint32_t off = deframer_.payload_offset();
      const std::size_t want = deframer_.payload_remaining();
      // One recvmsg: the rest of this payload straight into its destination pieces, and behind it
      // a header window in the connection buffer (the next FPDU's header, often whole small FPDUs),
      // so a stream of FPDUs costs one receive call each instead of two.
      rx_iov_.clear();
      std::size_t skip = off, left = want;
      for (const MutByteSpan& d : dest_) {
        if (left == 0) break;
        if (skip >= d.size()) {
          skip -= d.size();
          continue;
        }
        const std::size_t n = std::min(left, d.size() - skip);
        rx_iov_.push_back({d.data() + skip, n});
        skip = 0;
        left -= n;
      }
      const std::size_t placed_iovs = rx_iov_.size();
      rx_begin_ = rx_end_ = 0;
      rx_iov_.push_back({rxbuf_.data(), rx_small_ ? kRxSmallRead : kRxHeaderRead});
      msghdr mh{};
      mh.msg_iov = rx_iov_.data();
      mh.msg_iovlen = rx_iov_.size();
      const ssize_t r = ::recvmsg(sock_.fd(), &mh, MSG_DONTWAIT);
      stat_recv_.fetch_add(1, std::memory_order_relaxed);
      if (r > 0) {
        wireReceived();
        rx_bytes_ += static_cast<std::uint64_t>(r);
        std::size_t left_r = static_cast<std::size_t>(r);
        bool ok = true;
        for (std::size_t i = 0; i < placed_iovs && left_r > 0 && ok; ++i) {
          const std::size_t n = std::min(left_r, rx_iov_[i].iov_len);
          ok = deframer_.payload_placed(ByteSpan(static_cast<const std::uint8_t*>(rx_iov_[i].iov_base), n));
          left_r -= n;
        }
        if (!ok) {
          fail(Error::LocalCatastrophic);
          return;
        }
        rx_end_ = left_r;  // bytes behind the payload, in the header window
        if (rx_end_ > 0 && !processRx()) return;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      const NetError ne = r == 0 ? NetError::Closed : netErrorFromErrno(errno);
      rx_eof_ = true;
      fail(Error::LlpConnectionLost, ne);
      if (phase_ == Phase::Draining) finishClose();
      return;
    }
    if (rx_begin_ == rx_end_) rx_begin_ = rx_end_ = 0;
    std::size_t want = rxbuf_.size() - rx_end_;
    const std::size_t window = rx_small_ ? kRxSmallRead : kRxHeaderRead;
    if (fpdu_mode_ && want > window) want = window;
    if (want == 0) {  // cannot happen: the buffer is drained before reading more
      fail(Error::LocalCatastrophic);
      return;
    }
    const ssize_t r = ::recv(sock_.fd(), rxbuf_.data() + rx_end_, want, MSG_DONTWAIT);
    stat_recv_.fetch_add(1, std::memory_order_relaxed);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
      const NetError ne = r == 0 ? NetError::Closed : netErrorFromErrno(errno);
      rx_eof_ = true;
      if (phase_ == Phase::Setup) {
        close_info_.net = ne;
        runActions(setup_.on_peer_closed());
        if (phase_ != Phase::Closed) finishClose();
        return;
      }
      fail(Error::LlpConnectionLost, ne);
      if (phase_ == Phase::Draining) finishClose();
      return;
    }
    rx_end_ += static_cast<std::size_t>(r);
    rx_bytes_ += static_cast<std::uint64_t>(r);
    wireReceived();
    if (!processRx()) return;
  }
}

bool Connection::processRx() {
  while (rx_begin_ < rx_end_) {
    if (phase_ == Phase::Closed || phase_ == Phase::Draining || failing_) return false;
    const ByteSpan in(rxbuf_.data() + rx_begin_, rx_end_ - rx_begin_);
    if (!fpdu_mode_) {
      std::size_t used = 0;
      const iwarp::Actions acts = setup_.on_bytes(in, used);
      rx_begin_ += used;
      runActions(acts);
      if (!fpdu_mode_ && used == 0) break;
      continue;
    }
    const iwarp::RxStep s = deframer_.feed(in);
    rx_begin_ += s.consumed;
    switch (s.event) {
      case iwarp::RxEvent::NeedMore: break;
      case iwarp::RxEvent::Header:
        if (!onHeader()) return false;
        break;
      case iwarp::RxEvent::Payload:
        if (!discard_ && !s.payload.empty()) scatter(s.offset, s.payload);
        break;
      case iwarp::RxEvent::End:
        if (!onEnd()) return false;
        in_segment_ = false;
        break;
      case iwarp::RxEvent::Error:
        in_segment_ = false;
        fail(s.error);
        return false;
    }
  }
  return phase_ != Phase::Closed && phase_ != Phase::Draining;
}


void Connection::scatter(std::size_t off, ByteSpan data) {
  for (const MutByteSpan& d : dest_) {
    if (data.empty()) return;
    if (off >= d.size()) {
      off -= d.size();
      continue;
    }
    const std::size_t n = std::min(data.size(), d.size() - off);
    std::memcpy(d.data() + off, data.data(), n);
#ifdef OPENNDK_TSAN
    // Placement is in order, last byte last (what a consumer polling a buffer's last byte for an
    // RDMA Write relies on): tell TSan, so an acquire load of that byte sees the whole placement.
    __tsan_release(d.data() + off + n - 1);
#endif
    data = data.subspan(n);
    off = 0;
  }
}

static std::size_t totalSize(const std::vector<MutByteSpan>& v) {
  std::size_t n = 0;
  for (const MutByteSpan& d : v) n += d.size();
  return n;
}

bool Connection::onHeader() {
  const iwarp::Segment& seg = deframer_.current();
  dest_.clear();
  discard_ = true;
  const ByteSpan h = rxHeader();
  rx_hdr_len_ = std::min(h.size(), rx_hdr_.size());
  if (rx_hdr_len_) std::memcpy(rx_hdr_.data(), h.data(), rx_hdr_len_);
  rx_ddp_len_ = std::min<std::size_t>(seg.ddp.length(), rx_hdr_len_);
  rx_ulpdu_len_ = seg.ulpdu_len;
  rx_small_ = seg.payload_len <= kSmallSegment;
  in_segment_ = true;
  if (first_fpdu_pending_) {
    first_fpdu_pending_ = false;
    runActions(setup_.on_first_fpdu(seg));
    if (phase_ != Phase::Rdma) return false;
  } else if (phase_ != Phase::Rdma) {
    fail(Error::MpaInvalidFrameAfterQp);
    return false;
  }
  Error e = Error::None;
  switch (seg.opcode) {
    case Opcode::Terminate: {
      rx_term_valid_ = iwarp::parse_terminate(ByteSpan(rx_hdr_.data(), rx_hdr_len_), rx_term_) == Error::None;
      return true;
    }
    case Opcode::ReadRequest:
      e = ddp_rx_.on_untagged(seg.ddp, seg.payload_len);
      break;
    case Opcode::Send:
    case Opcode::SendInvalidate:
    case Opcode::SendSe:
    case Opcode::SendSeInvalidate: {
      e = ddp_rx_.on_untagged(seg.ddp, seg.payload_len);
      if (e != Error::None || rtr_consumed_) break;
      e = placement_.placeUntaggedV(seg.ddp.msn - msn_bias_, seg.ddp.mo, seg.payload_len, dest_);
      if (e == Error::None && totalSize(dest_) < seg.payload_len) e = Error::DdpMessageTooLong;
      if (e == Error::None) discard_ = seg.payload_len == 0;
      break;
    }
    case Opcode::Write:
    case Opcode::ReadResponse: {
      e = ddp_rx_.on_tagged(seg.ddp, seg.payload_len);
      if (e == Error::None && seg.opcode == Opcode::ReadResponse && reads_.empty()) e = Error::ReadResponseUnexpected;
      if (e != Error::None || seg.payload_len == 0) break;
      e = placement_.placeTaggedV(seg.opcode, seg.ddp.stag, seg.ddp.to, seg.payload_len, dest_);
      if (e == Error::None && totalSize(dest_) < seg.payload_len) e = Error::TaggedBounds;
      if (e == Error::None) discard_ = false;
      break;
    }
    default: e = Error::RdmapUnexpectedOpcode; break;
  }
  if (e != Error::None) {
    fail(e);
    return false;
  }
  return true;
}

bool Connection::onEnd() {
  const iwarp::Segment& seg = deframer_.current();
  discard_ = true;
  dest_.clear();
  switch (seg.opcode) {
    case Opcode::Terminate:
      close_info_.terminate_received = true;
      close_info_.peer_terminate = rx_term_;
      if (!rx_term_valid_) NDK_LOG_WARN("engine", "malformed Terminate received");
      fail(Error::None);  // no Terminate back (RFC 5040 §5.4); close
      return false;
    case Opcode::ReadRequest: {
      const iwarp::ReadRequestHdr& rr = seg.read;
      ByteSpan src;
      if (rr.size > 0) {
        const Error e = placement_.readSource(rr, src);
        if (e != Error::None) {
          fail(e);
          return false;
        }
        if (src.size() < rr.size) {
          fail(Error::ReadSrcBounds);
          return false;
        }
        src = src.first(rr.size);
      }
      auto item = std::make_unique<TxItem>();
      item->is_msg = true;
      item->msg = iwarp::make_read_response(rr.sink_stag, rr.sink_to, rr.size);
      item->read_response = true;
      if (!src.empty()) item->req.sges.push_back(src);
      txq_.push_back(std::move(item));
      doWrite();
      return phase_ == Phase::Rdma;
    }
    case Opcode::Send:
    case Opcode::SendInvalidate:
    case Opcode::SendSe:
    case Opcode::SendSeInvalidate: {
      if (rtr_consumed_) {
        rtr_consumed_ = false;
        return true;
      }
      if (!seg.last()) return true;
      const bool inv = seg.opcode == Opcode::SendInvalidate || seg.opcode == Opcode::SendSeInvalidate;
      if (inv) {
        const Error e = placement_.invalidate(seg.inv_stag());
        if (e != Error::None) {
          fail(e);
          return false;
        }
      }
      const bool se = seg.opcode == Opcode::SendSe || seg.opcode == Opcode::SendSeInvalidate;
      completion_.sendReceived(seg.ddp.msn - msn_bias_, seg.ddp.mo + seg.payload_len, inv, seg.inv_stag(), se);
      return phase_ == Phase::Rdma;
    }
    case Opcode::ReadResponse:
      if (seg.last() && !reads_.empty()) {
        const OutstandingRead r = reads_.front();
        reads_.pop_front();
        if (!r.internal) completion_.readCompleted(r.cookie);
      }
      return phase_ == Phase::Rdma;
    default: return true;
  }
}

}  // namespace openndk::engine
