#include "provider/link.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/log.h"
#include "iwarp/errors.h"
#include "provider/adapter.h"
#include "provider/cq.h"
#include "provider/mr.h"
#include "provider/qp.h"

namespace openndk::provider {

using engine::ByteSpan;
using engine::MutByteSpan;
using iwarp::AccessFault;
using iwarp::AccessKind;
using iwarp::Error;

Link::Link(StagTable& stags, PerfCounters& counters, engine::EventLoop& engine)
    : stags_(&stags), counters_(&counters), domain_(engine.makeDomain()), loop_(*domain_) {}

NTSTATUS Link::statusForTerminate(const iwarp::TerminateInfo& t) {
  using iwarp::TermLayer;
  if (t.layer == TermLayer::Ddp && t.etype == iwarp::kEtypeDdpTagged) return STATUS_ACCESS_VIOLATION;  // R75 [D]
  if (t.layer == TermLayer::Rdmap && t.etype == iwarp::kEtypeRdmapRemoteProtection) {
    // A Read Request's source beyond the region (code 1: base or bounds): R75 [I].
    if (t.r && t.code == 0x01) return STATUS_REMOTE_RESOURCES;
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_CONNECTION_ABORTED;
}
Link::~Link() = default;

void Link::setQp(Qp* qp) {
  qp_ = qp;
  if (qp) {  // an accepted QP may be of another instance than the listener's (R156)
    stags_ = &qp->adapter()->stags();
    counters_ = &qp->counters();
  }
}

void Link::start(engine::Socket sock, engine::ConnectionOptions opts, const engine::Endpoint& local,
                 const engine::Endpoint& peer) {
  self_ = shared_from_this();
  local_ = local;
  peer_ = peer;
  haveAddr_ = local.len != 0 && peer.len != 0;
  std::shared_ptr<engine::Connection> c = engine::Connection::create(loop_, std::move(sock), std::move(opts), *this, *this);
  bool abort;
  {
    std::lock_guard lock(conn_mu_);
    conn_ = c;
    abort = abort_;
  }
  if (abort) c->disconnect(true);
}

void Link::abort() {
  std::shared_ptr<engine::Connection> c;
  {
    std::lock_guard lock(conn_mu_);
    abort_ = true;
    c = conn_;
  }
  if (c) c->disconnect(true);
}

// ---- CM events -------------------------------------------------------------------------------------

void Link::connectRequest(ByteSpan pd) {
  havePeerLimits_ = conn_ && conn_->peerRequestedLimits(&peerIrd_, &peerOrd_);
  if (acceptor_) {
    acceptor_->incoming(shared_from_this(), pd);
  } else {
    conn_->reject({});
  }
}

void Link::established(const iwarp::Negotiated& n, ByteSpan pd) {
  assert(loop_.inProgressContext());
  neg_ = n;
  established_ = true;
  if (qp_ && !polled_) {
    // Consumer-driven progress (docs/engine.md "Progress domains"): a consumer polling a CQ of this
    // QP drives this link's domain — its own socket — in its own thread; arming the CQ hands
    // progress back to the engine. Removed again in closed().
    qp_->receiveCq()->addPollSource(this, domain_);
    qp_->initiatorCq()->addPollSource(this, domain_);
    polled_ = true;
  }
  if (owner_) owner_->linkEstablished(n, pd);
}

void Link::rejected(ByteSpan pd) {
  if (owner_) owner_->linkRejected(pd);
}

void Link::closed(const engine::CloseInfo& info) {
  assert(loop_.inProgressContext());
  closed_ = true;
  if (polled_ && qp_) {
    polled_ = false;
    qp_->receiveCq()->removePollSource(this);
    qp_->initiatorCq()->removePollSource(this);
  }
  auto keep = std::move(self_);
  LinkOwner* owner = std::exchange(owner_, nullptr);
  LinkAcceptor* acceptor = std::exchange(acceptor_, nullptr);
  // A message being received when the stream died: its receive is returned now.
  for (Recv& r : recvs_)
    if (qp_) qp_->completeReceive(r.req, STATUS_CANCELLED, 0, false, 0);
  recvs_.clear();
  // R75 (amended) / R53: Writes and Sends completed on hand-off; the peer's Terminate reaches the
  // consumer through the requests not reported yet. The first of them reports the Terminate's status,
  // every later one STATUS_CONNECTION_ABORTED, each exactly once and in posting order. A wire request
  // already done but not reported (it waits behind an earlier one, e.g. a Read in flight) fails
  // too: the peer may have dropped it behind the refused request. Without a Terminate, requests the
  // engine still held fail with STATUS_CONNECTION_ABORTED after a transport error, or with the
  // status the owner gives (failPending) after an orderly close.
  const bool orderly = !info.terminate_received && info.error == iwarp::Error::None &&
                       (info.net == engine::NetError::None || info.net == engine::NetError::Closed);
  bool first = true;
  q_.forEach([&](Pending& p) {
    if (p.state == ReqState::Queued) return;  // pump() below: deadStatus_, or failPending's status
    if (p.cancelled) {  // NdkFlush decided its report (STATUS_CANCELLED); only its end was missing
      if (p.state != ReqState::Done) setState(p, ReqState::Done, STATUS_CANCELLED);
      return;
    }
    const bool wire = p.wr.type == NdkOperationTypeSend || p.wr.type == NdkOperationTypeWrite ||
                      p.wr.type == NdkOperationTypeRead;
    if (info.terminate_received && (p.state != ReqState::Done || wire)) {
      const NTSTATUS st = first ? statusForTerminate(info.peer_terminate) : STATUS_CONNECTION_ABORTED;
      first = false;
      // A wire request already Done (handed to TCP) but not reported yet takes the Terminate's
      // status too: its report is the only one the consumer gets, and it is still ahead.
      if (p.state == ReqState::Done) p.status = st;
      else setState(p, ReqState::Done, st);
    } else if (p.state == ReqState::OnWire) {
      setState(p, ReqState::Done, orderly ? deadStatus_ : STATUS_CONNECTION_ABORTED);
    } else if (p.state == ReqState::Returned) {
      setState(p, ReqState::Done, p.status);  // the status the engine's flush gave it
    }
  });
  readsOut_ = 0;
  if (owner) owner->linkClosed(info);  // decides what pending requests become (failPending / hold)
  else if (acceptor) acceptor->linkGone(this);
  pump();
  reap();
}

void Link::failPending(NTSTATUS status) {
  deadStatus_ = status;
  q_.forEach([&](Pending& p) {
    if (p.state == ReqState::Queued || p.state == ReqState::OnWire) setState(p, ReqState::Done, status);
  });
  next_ = q_.size();
  reap();
}

void Link::setState(Pending& p, ReqState to, NTSTATUS status) {
  // The ledger's transitions: Queued → OnWire → (Returned →) Done, or Queued → Done (local
  // operations, requests refused before the wire, flushed ones). Done is final.
  assert(p.state != ReqState::Done);
  assert(to != ReqState::Queued);
  assert(to != ReqState::OnWire || p.state == ReqState::Queued);
  assert(to != ReqState::Returned || p.state == ReqState::OnWire);
  p.state = to;
  p.status = status;
}

// ---- QpTransport -----------------------------------------------------------------------------------

void Link::submit(std::span<WorkRequest> batch) {
  std::lock_guard lock(inbox_mu_);
  submitted_ += batch.size();
  for (auto& w : batch) inbox_.push_back(std::move(w));  // inbox_ and work_ swap: capacity reused
}

void Link::kick() {
  // Transmit from the posting thread when nobody else is in the progress context (no hand-off, no
  // doorbell); otherwise whoever holds it, or the engine thread, takes the queue.
  // The holder (a polling consumer, the engine) usually leaves within a few microseconds: a short
  // bounded retry saves the doorbell round (eventfd write + epoll + read) in the common case.
  for (int i = 0; i < 32; ++i) {
    if (loop_.tryRun([](void* self) { static_cast<Link*>(self)->drainInbox(); }, this)) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  postDrain();
}

void Link::postDrain() {
  if (drainPosted_.exchange(true)) return;  // a drain task is queued and has not started yet
  // At most one drain task exists (drainPosted_), so what it needs rides in members and the task
  // captures one pointer: it fits std::function's inline storage (no allocation per fallback).
  drainKeep_ = shared_from_this();
  drainQp_ = qp_;
  if (drainQp_) drainQp_->hold();  // the task touches the QP
  if (!loop_.post([this] {
        std::shared_ptr<Link> keep = std::move(drainKeep_);
        Qp* qp = std::exchange(drainQp_, nullptr);
        drainPosted_.store(false);
        drainInbox();
        if (qp) qp->release();
      })) {
    std::shared_ptr<Link> keep = std::move(drainKeep_);
    if (Qp* qp = std::exchange(drainQp_, nullptr)) qp->release();
    drainPosted_.store(false);
  }
}

void Link::drainInbox() {
  {
    std::lock_guard lock(inbox_mu_);
    if (inbox_.empty()) return;
    work_.swap(inbox_);
  }
  onSubmit(work_);
  work_.clear();
}

void Link::flush() {
  Qp* qp = qp_;
  std::uint64_t mark;  // R77 [I]: only what was submitted before NdkFlush; later posts are unaffected
  {
    std::lock_guard lock(inbox_mu_);
    mark = submitted_;
  }
  if (qp) qp->hold();
  if (!loop_.post([self = shared_from_this(), qp, mark] {
        self->drainInbox();  // submitted before the flush: flushed too, in order
        self->onFlush(mark);
        if (qp) qp->release();
      })) {
    if (qp) qp->release();
  }
}

void Link::onSubmit(std::vector<WorkRequest>& batch) {
  assert(loop_.inProgressContext());
  for (auto& w : batch) {
    // Reuse the slot in place: its InlineVecs keep any storage they grew before.
    Pending slot;
    Pending& p = q_.push_back(std::move(slot));
    p.wr = std::move(w);
    p.id = nextId_++;
    p.state = ReqState::Queued;
    p.cancelled = false;
    p.status = STATUS_SUCCESS;
    p.sink.clear();
    p.sinkLength = 0;
  }
  pump(/*posted=*/true);
  reap();
}

void Link::onFlush(std::uint64_t mark) {
  holdReports_ = false;
  // R77: everything pending at the time of NdkFlush completes with STATUS_CANCELLED; requests already
  // in the engine are reported when the engine is done with their memory, still in posting order.
  // Requests submitted after the call (ids above `mark`, drained together with the flush) are not
  // affected [I]: they stay queued and go out after the cancelled ones.
  std::size_t after = q_.size();
  for (std::size_t i = 0; i < q_.size(); ++i) {
    Pending& p = q_[i];
    if (p.id > mark) {
      after = i;
      break;
    }
    p.cancelled = true;
    if (p.state == ReqState::Queued) setState(p, ReqState::Done, STATUS_CANCELLED);
  }
  next_ = std::max(next_, after);
  pump();
  reap();
}

Link::Pending* Link::findPending(std::uint64_t id) {
  // q_ holds consecutive ids (appended with nextId_++, reaped from the front): index, no search.
  if (q_.empty() || id < q_.front().id) return nullptr;
  const std::uint64_t i = id - q_.front().id;
  if (i >= q_.size()) return nullptr;
  Pending& p = q_[static_cast<std::size_t>(i)];
  return p.id == id ? &p : nullptr;
}

Link::Pending* Link::findReadBySink(std::uint32_t sinkStag) {
  // A Read's sink STag is the low 32 bits of its id; ids in the ledger span far less than 2^32.
  if (q_.empty()) return nullptr;
  const std::uint64_t base = q_.front().id;
  Pending* p = findPending(base + static_cast<std::uint32_t>(sinkStag - static_cast<std::uint32_t>(base)));
  return p && p->wr.type == NdkOperationTypeRead && p->state == ReqState::OnWire ? p : nullptr;
}

Link::Recv* Link::findRecv(std::uint32_t msn) {
  for (Recv& r : recvs_)
    if (r.msn == msn) return &r;
  return nullptr;
}

void Link::dropRecv(std::uint32_t msn) {
  for (auto it = recvs_.begin(); it != recvs_.end(); ++it)
    if (it->msn == msn) {
      recvs_.erase(it);
      return;
    }
}

void Link::pump(bool posted) {
  while (next_ < q_.size()) {
    Pending& p = q_[next_];
    if (p.state != ReqState::Queued) {  // flushed, or failed by failPending
      ++next_;
      continue;
    }
    if (closed_ || !conn_) {
      setState(p, ReqState::Done, deadStatus_);
      ++next_;
      continue;
    }
    if ((p.wr.flags & NDK_OP_FLAG_READ_FENCE) && readsOut_ > 0) break;  // R73
    if (p.wr.type == NdkOperationTypeRead) {
      if (neg_.ord == 0) {
        // RFC 6581 §9.1: no Read may be outstanding with ORD 0. Failed locally, never on the wire
        // (docs/decisions.md "ORD 0").
        setState(p, ReqState::Done, STATUS_INSUFFICIENT_RESOURCES);
        ++next_;
        continue;
      }
      if (readsOut_ >= neg_.ord) break;  // R85 [D]: held, not failed
    }
    ++next_;
    issue(p);
  }
  if (txQueued_ && conn_) {
    // One transmit for everything issued in this round (e.g. a DEFER batch). What the consumer just
    // posted may wait for its next poll if it is posting a burst (Connection::transmitPosted).
    txQueued_ = false;
    if (posted) conn_->transmitPosted();
    else conn_->transmit();
  }
}

void Link::reap() {
  // Requests the engine gave back at its close wait for closed(), which decides their status.
  while (!q_.empty() && q_.front().state == ReqState::Done && !holdReports_) {
    Pending& p = q_.front();
    const NTSTATUS s = p.cancelled ? STATUS_CANCELLED : p.status;
    // Popped before the report: completeInitiator frees the QP slot, and a request posted from the
    // consumer's completion handling may re-enter the ledger.
    WorkRequest wr = std::move(p.wr);
    q_.pop_front();
    if (next_ > 0) --next_;
    if (qp_) qp_->completeInitiator(wr, s);
  }
}

template <class SpanVec>
bool Link::resolveSge(const Sge& s, SpanVec* out) const {
  if (s.length == 0) return true;
  if (s.token == stags_->privilegedToken()) {
    out->emplace_back(reinterpret_cast<std::uint8_t*>(s.address), s.length);
    return true;
  }
  auto e = stags_->lookup(s.token);
  if (!e || !e->covers(s.address, s.length) || !e->segments) return false;
  std::uint64_t off = s.address - e->va + e->segOffset;
  std::uint64_t left = s.length;
  for (const MemSegment& g : *e->segments) {
    if (left == 0) break;
    if (off >= g.offset + g.length) continue;
    const std::uint64_t in = off - g.offset;
    const std::uint64_t n = std::min(left, g.length - in);
    std::uint8_t* p = g.system + in;
    if (!out->empty() && out->back().data() + out->back().size() == p)
      out->back() = typename SpanVec::value_type(out->back().data(), out->back().size() + n);  // merge contiguous pieces
    else
      out->emplace_back(p, n);
    off += n;
    left -= n;
  }
  return left == 0;
}

bool Link::slice(std::span<const MutByteSpan> spans, std::uint64_t off, std::uint32_t len,
                 std::vector<MutByteSpan>* out) {
  out->clear();
  for (const MutByteSpan& s : spans) {
    if (len == 0) break;
    if (off >= s.size()) {
      off -= s.size();
      continue;
    }
    const std::uint64_t n = std::min<std::uint64_t>(len, s.size() - off);
    out->push_back(s.subspan(off, n));
    off = 0;
    len -= static_cast<std::uint32_t>(n);
  }
  return len == 0;
}

NTSTATUS Link::executeLocal(const WorkRequest& wr) {
  switch (wr.type) {
    case NdkOperationTypeFastRegister:
      if (!wr.newToken) return STATUS_INVALID_PARAMETER;  // R131: still registered
      return wr.mr->applyFastRegister(wr.newToken, wr.pages, wr.fbo, wr.length, wr.virtualAddress, wr.flags);
    case NdkOperationTypeBind:
      return wr.mw->applyBind(wr.newToken, wr.mr, wr.virtualAddress, wr.length, wr.flags);
    case NdkOperationTypeInvalidate: {
      Object* t = Object::resolve(wr.target);
      if (!t) return STATUS_INVALID_PARAMETER;
      if (t->type() == NdkObjectTypeMr) {
        auto* mr = static_cast<Mr*>(t);
        return mr->invalidate(mr->remoteToken());
      }
      if (t->type() == NdkObjectTypeMw) {
        auto* mw = static_cast<Mw*>(t);
        return mw->invalidate(mw->remoteToken());
      }
      return STATUS_INVALID_PARAMETER;
    }
    default: return STATUS_INVALID_PARAMETER;
  }
}

void Link::issue(Pending& p) {
  const WorkRequest& wr = p.wr;
  auto fail = [&](NTSTATUS st) { setState(p, ReqState::Done, st); };
  switch (wr.type) {
    case NdkOperationTypeFastRegister:
    case NdkOperationTypeBind:
    case NdkOperationTypeInvalidate: fail(executeLocal(wr)); return;
    case NdkOperationTypeSend:
    case NdkOperationTypeWrite: {
      engine::TxRequest tx;
      if (wr.type == NdkOperationTypeWrite) {
        tx.kind = engine::TxRequest::Kind::Write;
        tx.remote_stag = wr.remoteToken;
        tx.remote_to = wr.remoteAddress;
      } else {
        tx.kind = wr.remoteToken ? engine::TxRequest::Kind::SendInvalidate : engine::TxRequest::Kind::Send;
        tx.remote_stag = wr.remoteToken;
        tx.solicited = (wr.flags & NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT) != 0;
      }
      if (wr.isInline) {
        if (!wr.inlineData.empty()) tx.sges.emplace_back(wr.inlineData.data(), wr.inlineData.size());
      } else {
        for (const Sge& s : wr.sges)  // straight into the request's payload pieces
          if (!resolveSge(s, &tx.sges)) return fail(STATUS_INVALID_PARAMETER);  // token gone since posting
      }
      tx.cookie = p.id;
      counters_->outOctets.fetch_add(wr.totalLength, std::memory_order_relaxed);
      counters_->outFrames.fetch_add(1, std::memory_order_relaxed);
      setState(p, ReqState::OnWire, STATUS_SUCCESS);
      conn_->enqueueInContext(std::move(tx));
      txQueued_ = true;
      return;
    }
    case NdkOperationTypeRead: {
      // One Read Request per NdkRead (one IRD/ORD slot). Its sink STag is the low 32 bits of the
      // request's id and names the sink: all the sink SGEs in order (the responses are checked
      // against it, not against the STag table: privileged-token sinks work the same).
      p.sink.clear();
      p.sinkLength = 0;
      for (const Sge& s : wr.sges) {
        if (!resolveSge(s, &p.sink)) return fail(STATUS_INVALID_PARAMETER);
        p.sinkLength += s.length;
      }
      if (p.sinkLength > UINT32_MAX) return fail(STATUS_INVALID_PARAMETER);
      ++readsOut_;
      engine::TxRequest tx;
      tx.kind = engine::TxRequest::Kind::ReadRequest;
      tx.cookie = p.id;
      tx.read.sink_stag = static_cast<std::uint32_t>(p.id);
      tx.read.sink_to = 0;
      tx.read.size = static_cast<std::uint32_t>(p.sinkLength);
      tx.read.src_stag = wr.remoteToken;
      tx.read.src_to = wr.remoteAddress;
      counters_->outFrames.fetch_add(1, std::memory_order_relaxed);
      setState(p, ReqState::OnWire, STATUS_SUCCESS);
      conn_->enqueueInContext(std::move(tx));
      txQueued_ = true;
      return;
    }
    default: fail(STATUS_INVALID_PARAMETER); return;
  }
}

void Link::finishWire(Pending& p, NTSTATUS status) {
  assert(p.state == ReqState::OnWire);
  if (p.wr.type == NdkOperationTypeRead) {
    if (readsOut_ > 0) --readsOut_;
    // R76b: local invalidate of the sink after the data landed.
    if ((p.wr.flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) && status == STATUS_SUCCESS && !p.wr.sges.empty()) {
      if (auto e = stags_->lookup(p.wr.sges.front().token); e && e->kind == StagKind::FastMr)
        static_cast<Mr*>(e->owner)->invalidate(e->token);
    }
  }
  setState(p, ReqState::Done, status);
  pump();
  reap();
}

void Link::txCompleted(std::uint64_t cookie, engine::TxStatus status) {
  Pending* p = findPending(cookie);
  if (!p || p->state != ReqState::OnWire) return;
  if (status != engine::TxStatus::Success) {
    // Given back unsent at the engine's close: closed() decides (Terminate status or deadStatus_).
    if (p->wr.type == NdkOperationTypeRead && readsOut_ > 0) --readsOut_;
    setState(*p, ReqState::Returned, deadStatus_);
    return;
  }
  // A Read Request left: its completion is readCompleted. R75 (amended), IWARP.md 3.5: Sends and
  // Writes complete once handed to TCP (still reported in posting order); nothing is put on the
  // wire to confirm them.
  if (p->wr.type == NdkOperationTypeRead) return;
  finishWire(*p, STATUS_SUCCESS);
}

void Link::readCompleted(std::uint64_t cookie) {
  Pending* p = findPending(cookie);
  if (!p || p->state != ReqState::OnWire || p->wr.type != NdkOperationTypeRead) return;
  finishWire(*p, STATUS_SUCCESS);
}

// ---- placement -------------------------------------------------------------------------------------

iwarp::Error Link::placeTagged(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                               MutByteSpan& dest) {
  std::vector<MutByteSpan> v;
  const Error e = placeTaggedV(op, stag, to, len, v);
  if (e != Error::None) return e;
  if (v.size() != 1) return Error::LocalCatastrophic;  // the engine uses the scatter variant
  dest = v.front();
  return Error::None;
}

iwarp::Error Link::placeUntagged(std::uint32_t msn, std::uint32_t mo, std::uint32_t len, MutByteSpan& dest) {
  std::vector<MutByteSpan> v;
  const Error e = placeUntaggedV(msn, mo, len, v);
  if (e != Error::None) return e;
  if (v.size() > 1) return Error::LocalCatastrophic;
  dest = v.empty() ? MutByteSpan{} : v.front();
  return Error::None;
}

iwarp::Error Link::placeTaggedV(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                                std::vector<MutByteSpan>& dest) {
  if (op == iwarp::Opcode::ReadResponse) {
    Pending* read = findReadBySink(stag);
    if (!read) return Error::ReadResponseMismatch;
    const iwarp::ReadResponseFit fit = iwarp::fit_read_response(read->sinkLength, to, len);
    if (fit == iwarp::ReadResponseFit::Refuse) return Error::ReadResponseMismatch;
    if (fit == iwarp::ReadResponseFit::Drop) {
      // Interop (siw): payload on a zero-length Read Response is read into scratch and dropped
      // (iwarp::fit_read_response, docs/interop.md "Findings").
      thread_local std::vector<std::uint8_t> scratch;
      if (scratch.size() < len) scratch.resize(len);
      dest.assign(1, MutByteSpan(scratch.data(), len));
      return Error::None;
    }
    if (!slice(read->sink, to, len, &dest)) return Error::LocalCatastrophic;
    counters_->inOctets.fetch_add(len, std::memory_order_relaxed);
    return Error::None;
  }
  auto fault = [](AccessFault f) { return iwarp::access_error(AccessKind::TaggedPlacement, f); };
  auto e = stags_->lookup(stag);
  if (!e || stag == stags_->privilegedToken()) return fault(AccessFault::InvalidStag);
  if (!qp_ || e->pd != qp_->pd()) return fault(AccessFault::PdMismatch);
  if (!(e->access & kAccessRemoteWrite)) return fault(AccessFault::Rights);
  if (AccessFault f = iwarp::check_bounds(e->va, e->length, to, len); f != AccessFault::None) return fault(f);
  dest.clear();
  if (!resolveSge({to, len, stag}, &dest)) return Error::LocalCatastrophic;
  counters_->inOctets.fetch_add(len, std::memory_order_relaxed);
  counters_->inFrames.fetch_add(1, std::memory_order_relaxed);
  return Error::None;
}

iwarp::Error Link::placeUntaggedV(std::uint32_t msn, std::uint32_t mo, std::uint32_t len,
                                  std::vector<MutByteSpan>& dest) {
  Recv* r = findRecv(msn);
  if (!r) {
    ReceiveRequest req;
    if (!qp_ || !qp_->takeReceive(&req)) return Error::DdpNoBuffer;
    recvs_.emplace_back();
    r = &recvs_.back();
    r->msn = msn;
    r->req = std::move(req);
    r->spans.clear();
    for (const Sge& s : r->req.sges) resolveSge(s, &r->spans);
  }
  if (static_cast<std::uint64_t>(mo) + len > r->req.totalLength || !slice(r->spans, mo, len, &dest)) {
    // Receive too small (docs/decisions.md "Data path"): the receive completes with
    // STATUS_BUFFER_OVERFLOW and the connection is torn down (DDP "message too long").
    qp_->completeReceive(r->req, STATUS_BUFFER_OVERFLOW, 0, false, 0);
    dropRecv(msn);
    return Error::DdpMessageTooLong;
  }
  counters_->inOctets.fetch_add(len, std::memory_order_relaxed);
  if (mo == 0) counters_->inFrames.fetch_add(1, std::memory_order_relaxed);
  return Error::None;
}

iwarp::Error Link::readSource(const iwarp::ReadRequestHdr& req, ByteSpan& src) {
  auto fault = [](AccessFault f) { return iwarp::access_error(AccessKind::ReadSource, f); };
  auto e = stags_->lookup(req.src_stag);
  if (!e || req.src_stag == stags_->privilegedToken()) return fault(AccessFault::InvalidStag);
  if (!qp_ || e->pd != qp_->pd()) return fault(AccessFault::PdMismatch);
  if (!(e->access & kAccessRemoteRead)) return fault(AccessFault::Rights);
  if (AccessFault f = iwarp::check_bounds(e->va, e->length, req.src_to, req.size); f != AccessFault::None) return fault(f);
  SpanList spans;
  if (!resolveSge({req.src_to, req.size, req.src_stag}, &spans) || spans.size() != 1) return Error::LocalCatastrophic;
  src = ByteSpan(spans.front().data(), spans.front().size());
  counters_->outOctets.fetch_add(req.size, std::memory_order_relaxed);
  return Error::None;
}

iwarp::Error Link::invalidate(std::uint32_t stag) {
  auto fault = [](AccessFault f) { return iwarp::access_error(AccessKind::RemoteInvalidate, f); };
  auto e = stags_->lookup(stag);
  if (!e || stag == stags_->privilegedToken()) return fault(AccessFault::InvalidStag);
  if (!qp_ || e->pd != qp_->pd()) return fault(AccessFault::PdMismatch);
  NTSTATUS s = STATUS_INVALID_PARAMETER;
  if (e->kind == StagKind::FastMr)
    s = static_cast<Mr*>(e->owner)->invalidate(stag);
  else if (e->kind == StagKind::Mw)
    s = static_cast<Mw*>(e->owner)->invalidate(stag);
  return s == STATUS_SUCCESS ? Error::None : fault(AccessFault::Rights);  // R53
}

void Link::sendReceived(std::uint32_t msn, std::uint32_t length, bool inv, std::uint32_t invStag, bool solicited) {
  Recv* r = findRecv(msn);
  if (!r) return;
  qp_->completeReceive(r->req, STATUS_SUCCESS, length, solicited, inv ? invStag : 0);
  dropRecv(msn);
}

}  // namespace openndk::provider
