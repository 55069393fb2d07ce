// Connection lifecycle: creation, the public calls (they post to the progress context), the MPA
// setup actions, and failure/close. TX: connection_tx.cpp; RX: connection_rx.cpp.
#include "engine/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "engine/connection_internal.h"
#include "iwarp/ddp.h"
#include "iwarp/rdmap.h"
#include "base/config.h"

namespace openndk::engine {

using iwarp::Error;
using iwarp::Opcode;
using namespace detail;
namespace {
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
      setup_(profile_, opts_.role) {
  poll_backoff_max_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(16, base::tunableU64(base::Tunable::PollBackoff)));
  post_coalesce_max_ =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(kTxBatchFpdus, base::tunableU64(base::Tunable::PostCoalesce)));
}

Connection::~Connection() = default;

std::size_t Connection::heldBufferBytes() const noexcept {
  return (rxbuf_ ? kRxBufSize : 0) + built_.capacity() * sizeof(TxBuilt) + iov_.capacity() * sizeof(iovec) +
         slices_.capacity() * sizeof(ByteSpan) + dest_.capacity() * sizeof(MutByteSpan) +
         rx_iov_.capacity() * sizeof(iovec) + free_items_.size() * sizeof(TxItem) +
         flushed_.capacity() * sizeof(std::unique_ptr<TxItem>) + pre_established_.capacity() * sizeof(TxRequest);
}

void Connection::start() {
  assert(loop_.inProgressContext());
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
  iwarp::SetupParams params{opts_.ird, opts_.ord, ByteSpan(opts_.private_data)};
  runActions(setup_.start(params));
}

void Connection::accept(std::uint32_t ird, std::uint32_t ord, std::vector<std::uint8_t> private_data) {
  loop_.post([self = shared_from_this(), ird, ord, pd = std::move(private_data)]() mutable {
    if (self->phase_ != Phase::Setup) return;
    self->accept_pd_ = std::move(pd);  // MpaSetup keeps a view of it
    self->runActions(self->setup_.accept({ird, ord, ByteSpan(self->accept_pd_)}));
    // Without an RTR the stream is established when our Reply is queued, outside any receive pass:
    // report it now (the initiator may wait for us to send first; nothing else would report it).
    // With an RTR, Established comes from the receive pass that brought it and is reported at its end.
    self->reportEstablished();
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
    if (!(self->tx_gates_ & kTxHold)) return;
    self->tx_gates_ &= ~kTxHold;
    self->doWrite();
  });
}

void Connection::disconnect(bool abortive) {
  loop_.post([self = shared_from_this(), abortive] {
    if (self->phase_ == Phase::Closed) return;
    if (abortive && (self->phase_ == Phase::Draining || !self->fpduMode())) {
      // Nothing of ours is left to deliver (MPA setup not done, or our Terminate / reject Reply and
      // FIN already handed to TCP): reset at once instead of waiting for the peer (a closing
      // listener or adapter refuses its pending requests at once, R105, R27; issue 12).
      const linger l{1, 0};
      ::setsockopt(self->sock_.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      if (self->close_info_.error == Error::None) self->close_info_.error = Error::ConsumerTerminate;
      self->finishClose();
      return;
    }
    if (self->phase_ == Phase::Draining) return;
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
  assert(loop_.inProgressContext());
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
        setRxState(RxState::Header);
        crc_ = a.crc;
        deframer_.reset({a.crc, iwarp::mpa::kMaxUlpdu});
        first_fpdu_pending_ = opts_.role == iwarp::SetupRole::Responder;
        break;
      case iwarp::ActionKind::Established: {
        setPhase(Phase::Rdma);
        const iwarp::Negotiated& n = setup_.result();
        // R85: inbound Read Requests beyond the IRD we granted are refused with a Terminate (the
        // iwarp table's RdmapTooManyReads). At least 1: a peer's Read RTR needs one.
        ddp_rx_.set_ird(std::max<std::uint32_t>(1, n.ird));
        if (n.p2p && opts_.role == iwarp::SetupRole::Initiator) {
          // The RTR we just queued used MSN 1 of its queue; a Read RTR expects a Read Response.
          if (n.rtr == iwarp::RtrType::Send) tx_msn_send_ = 2;
          if (n.rtr == iwarp::RtrType::Read) {
            tx_msn_read_ = 2;
            reads_.push_front(OutstandingRead{0, true});
          }
        }
        if (n.p2p && opts_.role == iwarp::SetupRole::Responder && n.rtr == iwarp::RtrType::Send) {
          msn_bias_ = 1;
          rtr_consumed_ = true;  // the segment being decoded is the RTR itself
        }
        if (opts_.hold_tx_after_setup && opts_.role == iwarp::SetupRole::Initiator) tx_gates_ |= kTxHold;
        // Interop (siw passive-side race, iwarp::Profile::first_fpdu_delay_ms): an initiator whose
        // profile asks for it holds its first FPDU until the delay has passed.
        if (opts_.role == iwarp::SetupRole::Initiator && profile_.first_fpdu_delay_ms > 0) {
          tx_gates_ |= kTxPace;
          std::weak_ptr<Connection> w = shared_from_this();
          loop_.addTimer(std::chrono::milliseconds(profile_.first_fpdu_delay_ms), [w] {
            if (auto c = w.lock()) {
              c->tx_gates_ &= ~kTxPace;
              c->doWrite();
            }
          });
        }
        // A responder reports "established" only once the first FPDU - and whatever arrived with it
        // in the same receive pass - has been validated: a hostile first FPDU fails the pending
        // accept instead of completing it (docs/security.md, "Hostile first FPDU").
        if (opts_.role == iwarp::SetupRole::Responder) established_unreported_ = true;
        else completion_.established(n, setup_.peer().consumer_pd);
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

// ---- states --------------------------------------------------------------------------------------

const char* Connection::name(Phase p) noexcept {
  switch (p) {
    case Phase::Setup: return "Setup";
    case Phase::Rdma: return "Rdma";
    case Phase::Failing: return "Failing";
    case Phase::Draining: return "Draining";
    case Phase::Closed: return "Closed";
  }
  return "?";
}

const char* Connection::name(RxState s) noexcept {
  switch (s) {
    case RxState::MpaFrames: return "MpaFrames";
    case RxState::Header: return "Header";
    case RxState::Place: return "Place";
    case RxState::Discard: return "Discard";
  }
  return "?";
}

const char* Connection::name(TxState s) noexcept {
  switch (s) {
    case TxState::Idle: return "Idle";
    case TxState::Writing: return "Writing";
    case TxState::Blocked: return "Blocked";
  }
  return "?";
}

void Connection::setPhase(Phase to) {
  // Setup → Rdma (Established); Setup/Rdma → Failing (fail()); Setup/Rdma/Failing → Draining (all
  // sent, FIN out); any → Closed, once. Never back.
  assert(loop_.inProgressContext());
  assert(phase_ != Phase::Closed);
  assert(to != Phase::Setup);
  assert(to != Phase::Rdma || phase_ == Phase::Setup);
  assert(to != Phase::Failing || phase_ == Phase::Setup || phase_ == Phase::Rdma);
  assert(to != Phase::Draining || phase_ != Phase::Draining);
  NDK_LOG_DEBUG("engine", "connection fd {}: {} -> {} (rx {}, tx {})", sock_.fd(), name(phase_), name(to), name(rx_),
                name(tx_));
  phase_ = to;
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
  assert(loop_.inProgressContext());
  if (phase_ == Phase::Closed || phase_ == Phase::Draining) return;
  if (phase_ == Phase::Failing) {
    // A failure is already draining its Terminate (e.g. behind a Read Response blocked by a peer
    // that does not read): input after it is ignored, nothing more is queued (docs/security.md F1).
    if (net != NetError::None && net != NetError::Closed) finishClose();
    return;
  }
  setPhase(Phase::Failing);
  // An orderly end (the peer's FIN, a received Terminate, the consumer's abort) is no failure to
  // report at info level; the provider's connector logs the close reason at debug.
  if ((e == Error::LlpConnectionLost && net == NetError::Closed) || e == Error::None || e == Error::ConsumerTerminate)
    NDK_LOG_DEBUG("engine", "connection fd {} closing: {}{}", sock_.fd(), iwarp::to_string(e),
                  net == NetError::Closed ? " (peer closed the stream)" : "");
  else
    NDK_LOG_INFO("engine", "connection fd {} fails: {} (socket: {})", sock_.fd(), iwarp::to_string(e),
                 engine::to_string(net));
  if (tx_gates_ & kTxHold) {
    // Nothing held went out (not even the RTR): drop it, only the Terminate is sent.
    tx_gates_ &= ~kTxHold;
    for (auto& it : txq_) flushed_.push_back(std::move(it));
    txq_.clear();
  }
  close_info_.error = e;
  close_info_.net = net;
  if (setup_timer_) loop_.cancelTimer(std::exchange(setup_timer_, 0));  // the failure ends setup
  if (!fpduMode()) {
    // Setup failures are the state machine's business; a local failure just closes. Once the
    // stream is in FPDU mode (the responder awaits the first FPDU), a malformed one gets its
    // Terminate like any later one (IWARP.md §4.4), below.
    closeAfterTx();
    doWrite();
    return;
  }
  iwarp::TerminateContext ctx;
  if (inSegment() && rx_hdr_len_ > 0) {
    ctx.ddp_header = ByteSpan(rx_hdr_.data(), rx_ddp_len_);
    ctx.ulpdu_len = rx_ulpdu_len_;
    if (deframer_.current().opcode == Opcode::ReadRequest &&
        rx_hdr_len_ >= iwarp::ddp::kUntaggedHdrLen + iwarp::rdmap::kReadRequestHdrLen)
      ctx.read_request_hdr = ByteSpan(rx_hdr_.data() + iwarp::ddp::kUntaggedHdrLen, iwarp::rdmap::kReadRequestHdrLen);
  } else if (fpduMode()) {  // a deframer error: whatever header it decoded
    ctx.ddp_header = deframer_.ddp_header_bytes();
    ctx.ulpdu_len = static_cast<std::uint16_t>(deframer_.ulpdu_len());
  }
  // Keep only the FPDU on the wire right now; every other item is flushed.
  std::unique_ptr<TxItem> keep;
  dropUnsentBatch();
  if (txInFlight() && !txq_.empty()) {
    keep = std::move(txq_.front());
    txq_.pop_front();
    keep->abandon = true;
  }
  for (auto& it : txq_) flushed_.push_back(std::move(it));
  txq_.clear();
  if (keep) txq_.push_back(std::move(keep));
  iwarp::TerminateInfo t;
  if (fpduMode() && net == NetError::None && iwarp::make_terminate(e, ctx, t)) {
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

void Connection::reportEstablished() {
  assert(loop_.inProgressContext());
  if (!std::exchange(established_unreported_, false)) return;
  // Failed in the same receive pass: closed() reports it (the pending accept fails).
  if (phase_ != Phase::Rdma) return;
  completion_.established(setup_.result(), setup_.peer().consumer_pd);
}

void Connection::closeAfterTx() {
  assert(loop_.inProgressContext());
  close_after_tx_ = true;
  for (auto& r : pre_established_) completion_.txCompleted(r.cookie, TxStatus::Flushed);
  pre_established_.clear();
}

void Connection::flushAll() {
  assert(loop_.inProgressContext());
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
  assert(loop_.inProgressContext());
  if (phase_ == Phase::Closed) return;
  const auto self = shared_from_this();  // unwatch() below may drop the watch's reference to *this
  setPhase(Phase::Closed);
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

}  // namespace openndk::engine
