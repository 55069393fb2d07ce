// The transmit path: work requests queued as items, FPDUs built into batches, one sendmsg per
// batch, completion of an item when its last FPDU has left.
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
// ---- TX --------------------------------------------------------------------------------------------

std::unique_ptr<Connection::TxItem> Connection::newItem() {
  if (free_items_.empty()) return std::make_unique<TxItem>();
  std::unique_ptr<TxItem> item = std::move(free_items_.back());
  free_items_.pop_back();
  item->reset();
  return item;
}

void Connection::recycle(std::unique_ptr<TxItem> item) {
  if (item && free_items_.size() < kTxItemCache) free_items_.push_back(std::move(item));
}

void Connection::queueRaw(ByteSpan bytes) {
  assert(loop_.inProgressContext());
  auto item = newItem();
  item->raw.assign(bytes.begin(), bytes.end());
  txq_.push_back(std::move(item));
}

void Connection::enqueue(TxRequest req) {
  assert(loop_.inProgressContext());
  if (phase_ == Phase::Setup) {
    pre_established_.push_back(std::move(req));
    return;
  }
  if (phase_ != Phase::Rdma || close_after_tx_) {
    completion_.txCompleted(req.cookie, TxStatus::Flushed);
    return;
  }
  auto item = newItem();
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
      reads_.push_back(OutstandingRead{req.cookie, false});
      txq_.push_back(std::move(item));
      return;
    }
  }
  last_enqueued_len_ = len32;
  item->is_msg = true;
  tx_msg_queued_ = true;
  item->notify = true;
  item->req = std::move(req);
  txq_.push_back(std::move(item));
}

bool Connection::buildBatch() {
  assert(loop_.inProgressContext());
  iov_.clear();
  iov_pos_ = 0;
  built_n_ = built_done_ = 0;
  // Sized on demand: a connection that only sent its setup frames and RTR holds a record per
  // frame, not kTxBatchFpdus of them (issue 12: an idle connected QP stays small). Between two
  // batches nothing points into built_, so it may grow here.
  const std::size_t records = tx_msg_queued_ ? kTxBatchFpdus : std::clamp<std::size_t>(txq_.size(), 1, kTxBatchFpdus);
  if (built_.size() < records) built_.resize(records);
  std::size_t bytes = 0;
  std::size_t i = 0;  // txq_ index of the item whose next FPDU is built
  while (built_n_ < built_.size() && bytes < kTxBatchBytes) {
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
      txq_.erase(i);
      continue;
    }
    // One FPDU needs at most (SGEs + 2) iovecs: header, payload pieces, pad + CRC.
    if (built_n_ > 0 && iov_.size() + item.req.sges.size() + 2 > kTxBatchIov) break;
    if (!item.seg) {
      // MULPDU follows TCP's current MSS (RFC 5044 §4.5). Asked when the first message is segmented
      // (setup frames and the RTR are not; a connection that never carries data never asks), then
      // again before a message that is split, once per kMssRecheckBytes sent: Linux bounds the MSS
      // to half the largest window the peer has offered, so early in a connection it is small
      // (32 KiB on loopback) and grows with the window; FPDUs of the first answer would stay half
      // the size the path takes (twice the receive calls per MiB).
      if (mulpdu_ == 0 || (item.msg.length > mulpdu_ && mulpdu_ < iwarp::mpa::kMulpduMax &&
                           tx_bytes_ - mss_checked_at_ >= kMssRecheckBytes)) {
        const std::uint32_t mss = tcpMss(sock_.fd());
        mulpdu_ = mss ? iwarp::mpa::mulpdu_from_emss(mss) : iwarp::mpa::kMulpduMax;
        mss_checked_at_ = tx_bytes_;
      }
      item.seg.emplace(item.msg, mulpdu_);
    }
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
  assert(loop_.inProgressContext());
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
  assert(loop_.inProgressContext());
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
  assert(loop_.inProgressContext());
  if (item.read_response) ddp_rx_.read_response_done();  // frees an IRD slot (R85)
  if (item.is_msg && item.notify) completion_.txCompleted(item.req.cookie, TxStatus::Success);
  recycle(std::move(txq_.front()));
  txq_.pop_front();
}

void Connection::transmitPosted() {
  assert(loop_.inProgressContext());
  // Held: a post went out since the consumer's last poll and nothing was received since the last
  // transmit (rx_bytes_at_tx_, the request/response detection the receive back-off uses), so it is
  // posting a burst and polls next (Sends and Writes complete on hand-off, and their completions
  // are what it polls for; an answer that came in means request/response traffic, not a burst),
  // the socket takes data, the message is small and the burst is not full. A consumer that is not
  // polling (it waits on an armed CQ) never has its posts held.
  if (posted_since_poll_ && rx_bytes_ == rx_bytes_at_tx_ && posts_held_ < post_coalesce_max_ &&
      tx_ == TxState::Idle && !txInFlight() &&
      last_enqueued_len_ <= kPostCoalesceMaxLen && phase_ == Phase::Rdma && loop_.consumersPolling()) {
    if (posts_held_++ == 0) loop_.requestPoll();  // the backstop: the engine polls if the consumer does not
    stat_posts_held_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  posted_since_poll_ = true;
  doWrite();
}

void Connection::doWrite(bool retry_blocked) {
  assert(loop_.inProgressContext());
  // Re-entered from a completion of the running loop (txCompleted → the provider issues more): the
  // running loop picks the new items up.
  if (tx_ == TxState::Writing) return;
  // The socket was full at the last attempt: new work waits for EPOLLOUT or pollIo's retry instead
  // of asking the kernel again for an EAGAIN (one system call per post while the peer drains).
  if (tx_ == TxState::Blocked && !retry_blocked) return;
  // Writing while this runs; on the way out Blocked if the last sendmsg said EAGAIN (or if it was
  // Blocked and a gate kept us from trying), else Idle.
  struct WriteScope {
    Connection& c;
    bool blocked;
    explicit WriteScope(Connection& conn) : c(conn), blocked(conn.tx_ == TxState::Blocked) {
      c.setTxState(TxState::Writing);
    }
    ~WriteScope() { c.setTxState(blocked ? TxState::Blocked : TxState::Idle); }
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;
  } scope(*this);
  if (phase_ == Phase::Closed || !sock_.valid()) return;
  if (tx_gates_ != 0) {
    updateInterest(scope.blocked);
    return;
  }
  posts_held_ = 0;  // what was held goes out with this batch
  scope.blocked = false;
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
        scope.blocked = true;
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
    if (rx_bytes_ != rx_bytes_at_tx_) {
      // Something went out after something came in: an answer may follow soon, so the consumer's
      // next polls look at once (not for a stream of sends with nothing coming back).
      rx_backoff_.reset();
      rx_bytes_at_tx_ = rx_bytes_;
    }
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
    // Something of the gather list left over: the send stopped short, which a non-blocking send
    // does only when the socket buffer is full.
    const bool socket_full = iov_pos_ < iov_.size();
    // Every FPDU now entirely in the kernel, in order: its item advances (a partial write stops at
    // the FPDU it cut; the rest goes with the next call, EAGAIN waits for EPOLLOUT).
    while (built_done_ < built_n_ && iov_pos_ >= built_[built_done_].iov_end) {
      const TxBuilt& b = built_[built_done_++];
      if (txq_.empty() || txq_.front().get() != b.item) continue;  // flushed meanwhile (fail())
      TxItem& item = *txq_.front();
      if (b.raw) {
        recycle(std::move(txq_.front()));
        txq_.pop_front();
      } else if (b.last) {
        completeItem(item);  // may queue more work: the next batch takes it
      } else if (item.abandon) {
        flushed_.push_back(std::move(txq_.front()));
        txq_.pop_front();
      }
      if (phase_ == Phase::Closed) return;
    }
    if (socket_full) {  // the next call would only say EAGAIN: wait for room (EPOLLOUT / a retry)
      scope.blocked = true;
      break;
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
  updateInterest(scope.blocked);
}

void Connection::updateInterest(bool tx_blocked) {
  assert(loop_.inProgressContext());
  if (phase_ == Phase::Closed || !watch_) return;
  const std::uint32_t want = EPOLLIN | (tx_blocked ? EPOLLOUT : 0u);
  if (want != interest_) {
    loop_.modify(watch_, want);
    interest_ = want;
  }
}

}  // namespace openndk::engine
