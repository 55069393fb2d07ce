// The receive path: readiness/poll entry points, reading into the header window or straight into
// payload destinations, and the per-segment Header/End processing.
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

namespace openndk::engine {

using iwarp::Error;
using iwarp::Opcode;
using namespace detail;
// ---- RX --------------------------------------------------------------------------------------------

void Connection::onIo(std::uint32_t events) {
  assert(loop_.inProgressContext());
  auto self = shared_from_this();  // a handler may close us
  if (events & EPOLLOUT) doWrite(/*retry_blocked=*/true);
  if (phase_ != Phase::Closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) doRead();
  reportEstablished();
}

std::uint32_t Connection::blockedBackoffMax() const noexcept {
  return poll_backoff_max_ == 0 ? 0 : poll_backoff_max_ + kTxRetryExtraBackoff;
}

bool Connection::pollIo() {
  assert(loop_.inProgressContext());
  if (phase_ == Phase::Closed) return false;
  posted_since_poll_ = false;  // a poll ends the consumer's burst of posts (transmitPosted)
  // Each direction is tried when its back-off allows (connection.h, "Consumer-poll back-off").
  // Posts held for this poll go out now.
  const bool rx_due = !rx_backoff_.skipThisPoll();
  const bool tx_due = posts_held_ > 0 || ((txInFlight() || !txq_.empty()) &&
                                          !(tx_ == TxState::Blocked && tx_retry_backoff_.skipThisPoll()));
  if (!rx_due && !tx_due) return false;
  auto self = shared_from_this();  // a handler may close us
  const std::uint64_t rx0 = rx_bytes_, tx0 = tx_bytes_;
  if (tx_due) {
    doWrite(/*retry_blocked=*/true);
    if (tx_ != TxState::Blocked) {
      tx_retry_backoff_.reset();
    } else if (tx_bytes_ == tx0) {
      tx_retry_backoff_.miss(blockedBackoffMax());  // still full: back off further
    } else {
      // Bytes moved but the socket filled up again: keep the pace that found room (resetting it
      // would make the next poll's retry an EAGAIN).
      tx_retry_backoff_.rearm();
    }
  }
  if (rx_due && phase_ != Phase::Closed) {
    doRead();
    if (rx_bytes_ != rx0) {
      rx_backoff_.reset();
      // A short read emptied the socket a moment ago: the very next poll would find nothing (a
      // request/response consumer's next poll comes right after it took the completion this read
      // produced, before it answers — one system call on every round trip's path).
      if (rx_drained_) rx_backoff_.skip = 1;
    } else {
      // A sender whose peer cannot keep up (Blocked) waits for no quick answer: its receive
      // attempts back off as far as its transmit retries.
      rx_backoff_.miss(tx_ == TxState::Blocked ? blockedBackoffMax() : poll_backoff_max_);
    }
  }
  reportEstablished();
  return rx_bytes_ != rx0 || tx_bytes_ != tx0 || phase_ == Phase::Closed;
}

// The receive buffer for the duration of one doRead(): taken if the connection holds none, given
// back at the end if it is empty and the connection has not carried data yet.
struct RxBufferLease {
  explicit RxBufferLease(Connection& c) : c_(c) {
    if (!c_.rxbuf_) c_.rxbuf_ = std::make_unique_for_overwrite<std::uint8_t[]>(kRxBufSize);
  }
  ~RxBufferLease() {
    if (c_.rx_begin_ == c_.rx_end_ && c_.rx_bytes_ < kRxKeepBufferAfter) {
      c_.rxbuf_.reset();
      c_.rx_begin_ = c_.rx_end_ = 0;
    }
  }
  RxBufferLease(const RxBufferLease&) = delete;
  RxBufferLease& operator=(const RxBufferLease&) = delete;

 private:
  Connection& c_;
};

void Connection::doRead() {
  assert(loop_.inProgressContext());
  const RxBufferLease lease(*this);
  rx_drained_ = false;
  while (phase_ != Phase::Closed && !rx_eof_) {
    if (phase_ == Phase::Draining || phase_ == Phase::Failing) {  // after our Terminate / FIN: discard until EOF
      const ssize_t r = ::recv(sock_.fd(), rxbuf_.get(), kRxBufSize, MSG_DONTWAIT);
      if (r > 0) continue;
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      rx_eof_ = true;
      if (phase_ == Phase::Draining) finishClose();  // else the Terminate still drains (doWrite closes)
      return;
    }
    // Direct placement: the payload of the current segment goes straight into its destination.
    if (rx_ == RxState::Place && rx_begin_ == rx_end_ && deframer_.state() == iwarp::RxState::Payload &&
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
      rx_iov_.push_back({rxbuf_.get(), rx_small_ ? kRxSmallRead : kRxHeaderRead});
      const std::size_t asked = (want - left) + rx_iov_.back().iov_len;  // payload pieces + header window
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
        if (static_cast<std::size_t>(r) < asked) {  // a short read drained the socket (see below)
          rx_drained_ = true;
          return;
        }
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      const NetError ne = r == 0 ? NetError::Closed : netErrorFromErrno(errno);
      rx_eof_ = true;
      // The stream ends after a valid first FPDU (e.g. RTR, then FIN): the connection was
      // established, and the close follows it (the accept succeeds, then a disconnect event).
      reportEstablished();
      fail(Error::LlpConnectionLost, ne);
      if (phase_ == Phase::Draining) finishClose();
      return;
    }
    if (rx_begin_ == rx_end_) rx_begin_ = rx_end_ = 0;
    std::size_t want = kRxBufSize - rx_end_;
    const std::size_t window = rx_small_ ? kRxSmallRead : kRxHeaderRead;
    if (fpduMode() && want > window) want = window;
    if (want == 0) {  // cannot happen: the buffer is drained before reading more
      fail(Error::LocalCatastrophic);
      return;
    }
    const ssize_t r = ::recv(sock_.fd(), rxbuf_.get() + rx_end_, want, MSG_DONTWAIT);
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
      // The stream ends after a valid first FPDU (e.g. RTR, then FIN): the connection was
      // established, and the close follows it (the accept succeeds, then a disconnect event).
      reportEstablished();
      fail(Error::LlpConnectionLost, ne);
      if (phase_ == Phase::Draining) finishClose();
      return;
    }
    rx_end_ += static_cast<std::size_t>(r);
    rx_bytes_ += static_cast<std::uint64_t>(r);
    wireReceived();
    if (!processRx()) return;
    // A short read drained the socket: the next recv would almost always say EAGAIN. Stop here;
    // bytes that arrive meanwhile make the (level-triggered) watch or the next poll read again.
    // One system call less per received message, and per establishment step.
    if (static_cast<std::size_t>(r) < want) {
      rx_drained_ = true;
      return;
    }
  }
}

bool Connection::processRx() {
  assert(loop_.inProgressContext());
  while (rx_begin_ < rx_end_) {
    if (phase_ == Phase::Closed || phase_ == Phase::Draining || phase_ == Phase::Failing) return false;
    const ByteSpan in(rxbuf_.get() + rx_begin_, rx_end_ - rx_begin_);
    if (!fpduMode()) {
      std::size_t used = 0;
      const iwarp::Actions acts = setup_.on_bytes(in, used);
      rx_begin_ += used;
      runActions(acts);
      if (!fpduMode() && used == 0) break;
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
        if (rx_ == RxState::Place && !s.payload.empty()) scatter(s.offset, s.payload);
        break;
      case iwarp::RxEvent::End:
        if (!onEnd()) return false;
        setRxState(RxState::Header);
        break;
      case iwarp::RxEvent::Error:
        setRxState(RxState::Header);  // the Terminate context is what the deframer decoded
        fail(s.error);
        return false;
    }
  }
  // Read Responses queued for the bytes just processed: Read Requests that arrived together count
  // against the IRD together (a flood beyond it in one write is refused, RFC 5040 §6.4), and their
  // responses leave in one batch.
  if (phase_ == Phase::Rdma && !txq_.empty()) doWrite();
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
  assert(loop_.inProgressContext());
  const iwarp::Segment& seg = deframer_.current();
  dest_.clear();
  const ByteSpan h = rxHeader();
  rx_hdr_len_ = std::min(h.size(), rx_hdr_.size());
  if (rx_hdr_len_) std::memcpy(rx_hdr_.data(), h.data(), rx_hdr_len_);
  rx_ddp_len_ = std::min<std::size_t>(seg.ddp.length(), rx_hdr_len_);
  rx_ulpdu_len_ = seg.ulpdu_len;
  rx_small_ = seg.payload_len <= kSmallSegment;
  setRxState(RxState::Discard);  // Place once the sink names a destination for a payload
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
      if (e == Error::None && seg.payload_len > 0) setRxState(RxState::Place);
      break;
    }
    case Opcode::Write:
    case Opcode::ReadResponse: {
      e = ddp_rx_.on_tagged(seg.ddp, seg.payload_len);
      if (e == Error::None && seg.opcode == Opcode::ReadResponse && reads_.empty()) e = Error::ReadResponseUnexpected;
      if (e != Error::None || seg.payload_len == 0) break;
      e = placement_.placeTaggedV(seg.opcode, seg.ddp.stag, seg.ddp.to, seg.payload_len, dest_);
      if (e == Error::None && totalSize(dest_) < seg.payload_len) e = Error::TaggedBounds;
      if (e == Error::None) setRxState(RxState::Place);
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
  assert(loop_.inProgressContext());
  const iwarp::Segment& seg = deframer_.current();
  if (rx_ == RxState::Place) setRxState(RxState::Discard);  // the segment is ending: nothing more to place
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
      auto item = newItem();
      item->is_msg = true;
      item->msg = iwarp::make_read_response(rr.sink_stag, rr.sink_to, rr.size);
      item->read_response = true;
      // A Read of data (not the zero-length RTR of the windows profile): this connection carries
      // data, full-size TX batches from now on.
      if (rr.size > 0) tx_msg_queued_ = true;
      if (!src.empty()) item->req.sges.push_back(src);
      txq_.push_back(std::move(item));  // sent when processRx() has processed the bytes at hand
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
