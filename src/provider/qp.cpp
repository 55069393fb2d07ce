#include "provider/qp.h"

#include <cstring>

#include "base/log.h"
#include "base/probes.h"
#include "provider/adapter.h"
#include "provider/cq.h"
#include "provider/mr.h"
#include "provider/pd.h"
#include "provider/srq.h"
#include "provider/thunks.h"

namespace openndk::provider {

// Checks an SGE list against the adapter's tokens (R70) and the transfer limit (R68) and copies it.
static NTSTATUS checkSges(const Object* self, const char* fn, Pd* pd, const NDK_SGE* sgl, ULONG nSge,
                          bool needLocalWrite, SgeList* out, std::uint64_t* total) {
  Adapter* a = self->adapter();
  *total = 0;
  if (nSge > 0 && !sgl) return self->reject(fn, STATUS_INVALID_PARAMETER, "NULL pSgl with nSge > 0");
  out->reserve(nSge);
  for (ULONG i = 0; i < nSge; ++i) {
    const NDK_SGE& g = sgl[i];
    const std::uint64_t addr = static_cast<std::uint64_t>(g.LogicalAddress.QuadPart);
    *total += g.Length;
    if (g.MemoryRegionToken == a->privilegedToken()) {
      if (!a->lamCovers(addr, g.Length))
        return self->reject(fn, STATUS_INVALID_PARAMETER, "privileged-token SGE outside every LAM of this adapter (R70)");
    } else {
      auto e = a->stags().lookup(g.MemoryRegionToken);
      if (!e) return self->reject(fn, STATUS_INVALID_PARAMETER, "SGE token is not a registered memory region (R70)");
      if (e->kind == StagKind::Mw) return self->reject(fn, STATUS_INVALID_PARAMETER, "SGE token names a memory window (R70)");
      if (e->pd != pd) return self->reject(fn, STATUS_INVALID_PARAMETER, "SGE token belongs to another PD (R70)");
      if (!e->covers(addr, g.Length)) return self->reject(fn, STATUS_INVALID_PARAMETER, "SGE outside its memory region (R70)");
      if (needLocalWrite && !(e->access & kAccessLocalWrite))
        return self->reject(fn, STATUS_INVALID_PARAMETER, "SGE region not registered for local write (R70)");
    }
    out->push_back({addr, g.Length, g.MemoryRegionToken});
  }
  if (*total > a->info().MaxTransferLength)
    return self->reject(fn, STATUS_INVALID_PARAMETER, "total length above MaxTransferLength (R68)");
  return STATUS_SUCCESS;
}

NTSTATUS validateReceiveSgl(const Object* self, const char* fn, Pd* pd, const NDK_SGE* sgl, ULONG nSge, ULONG maxSge,
                            ReceiveRequest* out) {
  if (nSge > maxSge) return self->reject(fn, STATUS_INVALID_PARAMETER, "nSge above MaxReceiveRequestSge (R68)");
  return checkSges(self, fn, pd, sgl, nSge, true, &out->sges, &out->totalLength);
}

namespace {

constexpr ULONG kAllOpFlags = 0x3FF;
constexpr ULONG kRemoteRights = NDK_OP_FLAG_ALLOW_REMOTE_READ | 0x20;

// Common front half of Send / SendAndInvalidate / Write / Read.
NTSTATUS buildTransfer(Qp* qp, const char* fn, NDK_OPERATION_TYPE type, PVOID ctx, const NDK_SGE* sgl, ULONG nSge,
                       ULONG flags, WorkRequest* wr) {
  if (flags & ~kAllOpFlags) return qp->reject(fn, STATUS_INVALID_PARAMETER, "unknown NDK_OP_FLAG bits");
  wr->type = type;
  wr->requestContext = ctx;
  wr->flags = flags;
  if (flags & NDK_OP_FLAG_INLINE) {
    if (type == NdkOperationTypeRead) return qp->reject(fn, STATUS_INVALID_PARAMETER, "INLINE on a read");
    return qp->copyInline(fn, sgl, nSge, wr);
  }
  ULONG maxSge = qp->params().maxInitSge;
  if (type == NdkOperationTypeRead) maxSge = std::min(maxSge, qp->adapter()->info().MaxReadRequestSge);
  // The local buffers of a read are written (its sink).
  return qp->checkSgl(fn, sgl, nSge, maxSge, type == NdkOperationTypeRead, &wr->sges, &wr->totalLength);
}

#define QP_THUNK_PROLOGUE(fn) NDK_RESOLVE_OR_RETURN(Qp, o, qp, fn, Object::statusFor(o_why))

VOID flushThunk(NDK_QP* qp) {
  NDK_RESOLVE_OR_RETURN(Qp, o, qp, "NdkFlush", );
  o->flush();
}

NTSTATUS sendThunk(NDK_QP* qp, PVOID ctx, const NDK_SGE* sgl, ULONG nSge, ULONG flags) {
  QP_THUNK_PROLOGUE("NdkSend");
  WorkRequest wr;
  NTSTATUS s = buildTransfer(o, "NdkSend", NdkOperationTypeSend, ctx, sgl, nSge, flags, &wr);
  if (s != STATUS_SUCCESS) return o->postInitiator(nullptr, WorkRequest{}), s;
  return o->postInitiator("NdkSend", std::move(wr));
}

NTSTATUS sendInvThunk(NDK_QP* qp, PVOID ctx, const NDK_SGE* sgl, ULONG nSge, ULONG flags, UINT32 remoteToken) {
  QP_THUNK_PROLOGUE("NdkSendAndInvalidate");
  WorkRequest wr;
  NTSTATUS s = buildTransfer(o, "NdkSendAndInvalidate", NdkOperationTypeSend, ctx, sgl, nSge, flags, &wr);
  if (s != STATUS_SUCCESS) return o->postInitiator(nullptr, WorkRequest{}), s;
  wr.remoteToken = remoteToken;  // type stays Send for the sender's completion (R57)
  return o->postInitiator("NdkSendAndInvalidate", std::move(wr));
}

NTSTATUS readThunk(NDK_QP* qp, PVOID ctx, const NDK_SGE* sgl, ULONG nSge, UINT64 raddr, UINT32 rtoken, ULONG flags) {
  QP_THUNK_PROLOGUE("NdkRead");
  WorkRequest wr;
  NTSTATUS s = buildTransfer(o, "NdkRead", NdkOperationTypeRead, ctx, sgl, nSge, flags, &wr);
  if (s != STATUS_SUCCESS) return o->postInitiator(nullptr, WorkRequest{}), s;
  wr.remoteAddress = raddr;
  wr.remoteToken = rtoken;
  return o->postInitiator("NdkRead", std::move(wr));
}

NTSTATUS writeThunk(NDK_QP* qp, PVOID ctx, const NDK_SGE* sgl, ULONG nSge, UINT64 raddr, UINT32 rtoken, ULONG flags) {
  QP_THUNK_PROLOGUE("NdkWrite");
  WorkRequest wr;
  NTSTATUS s = buildTransfer(o, "NdkWrite", NdkOperationTypeWrite, ctx, sgl, nSge, flags, &wr);
  if (s != STATUS_SUCCESS) return o->postInitiator(nullptr, WorkRequest{}), s;
  wr.remoteAddress = raddr;
  wr.remoteToken = rtoken;
  return o->postInitiator("NdkWrite", std::move(wr));
}

NTSTATUS receiveThunk(NDK_QP* qp, PVOID ctx, const NDK_SGE* sgl, ULONG nSge) {
  QP_THUNK_PROLOGUE("NdkReceive");
  return o->postReceive(ctx, sgl, nSge);
}

NTSTATUS bindThunk(NDK_QP* qp, PVOID ctx, NDK_MR* pMr, NDK_MW* pMw, PVOID va, SIZE_T length, ULONG flags) {
  const char* fn = "NdkBind";
  QP_THUNK_PROLOGUE(fn);
  auto fail = [&](NTSTATUS s) { return o->postInitiator(nullptr, WorkRequest{}), s; };
  NTSTATUS s;
  if (flags & ~kAllOpFlags) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "unknown NDK_OP_FLAG bits"));
  Mr* mr = argumentAs<Mr>(o, pMr, fn, "pMr is not a usable MR", &s);
  if (!mr) return fail(s);
  Mw* mw = argumentAs<Mw>(o, pMw, fn, "pMw is not a usable MW", &s);
  if (!mw) return fail(s);
  if (mr->fast()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "windows bind to normally registered MRs (R133)"));
  if (mr->pd() != o->pd() || mw->pd() != o->pd())
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR or MW of another PD"));
  auto e = mr->entry();
  if (!e) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR is not registered (R133)"));
  if (length == 0) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "Length is 0"));
  if (length > o->adapter()->info().MaxWindowSize)
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "Length above MaxWindowSize (R133, R139)"));
  if (!e->covers(reinterpret_cast<std::uint64_t>(va), length))
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "window range outside the MR (R133)"));
  if ((flags & 0x20) && !(e->access & kAccessLocalWrite))
    return fail(o->reject(fn, STATUS_ACCESS_VIOLATION, "remote write on an MR without local write (R133)"));
  WorkRequest wr;
  wr.type = NdkOperationTypeBind;
  wr.requestContext = ctx;
  wr.flags = flags;
  wr.mr = mr;
  wr.mw = mw;
  wr.virtualAddress = reinterpret_cast<std::uint64_t>(va);
  wr.length = length;
  return o->postInitiator(fn, std::move(wr));
}

NTSTATUS fastRegisterThunk(NDK_QP* qp, PVOID ctx, NDK_MR* pMr, ULONG pageCount, const NDK_LOGICAL_ADDRESS* pages,
                           ULONG fbo, SIZE_T length, PVOID baseVa, ULONG flags) {
  const char* fn = "NdkFastRegister";
  QP_THUNK_PROLOGUE(fn);
  auto fail = [&](NTSTATUS s) { return o->postInitiator(nullptr, WorkRequest{}), s; };
  NTSTATUS s;
  if (flags & ~kAllOpFlags) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "unknown NDK_OP_FLAG bits"));
  Mr* mr = argumentAs<Mr>(o, pMr, fn, "pMr is not a usable MR", &s);
  if (!mr) return fail(s);
  ULONG maxPages = 0;
  bool remote = false;
  if (!mr->fast()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR was not created for fast registration (R120)"));
  if (!mr->fastInitialized(&maxPages, &remote))
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR not initialized for fast registration (R128)"));
  if (mr->pd() != o->pd()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR of another PD"));
  if (pageCount == 0 || pageCount > maxPages)
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "AdapterPageCount is 0 or above the initialized count (R130)"));
  if (!pages) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "NULL AdapterPageArray"));
  if (fbo >= PAGE_SIZE) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "FBO >= PAGE_SIZE (R130)"));
  if (length == 0) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "Length is 0"));
  if (length > o->adapter()->info().MaxRegistrationSize)
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "Length above MaxRegistrationSize (R139)"));
  if (length > static_cast<std::uint64_t>(pageCount) * PAGE_SIZE - fbo)
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "Length beyond the pages (R130)"));
  if (reinterpret_cast<std::uint64_t>(baseVa) % PAGE_SIZE != fbo)
    return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "BaseVirtualAddress is not FBO + n * PAGE_SIZE (R130)"));
  if ((flags & kRemoteRights) && !remote)
    return fail(o->reject(fn, STATUS_ACCESS_VIOLATION, "remote access on an MR initialized without RemoteAccess (R129)"));
  WorkRequest wr;
  wr.pages.reserve(pageCount);
  for (ULONG i = 0; i < pageCount; ++i) {
    auto pg = static_cast<std::uint64_t>(pages[i].QuadPart);
    if (pg % PAGE_SIZE != 0) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "page address not PAGE_SIZE aligned (R130)"));
    if (!o->adapter()->lamCovers(pg, PAGE_SIZE))
      return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "page is not a logical address of a LAM (R136)"));
    wr.pages.push_back(pg);
  }
  wr.type = NdkOperationTypeFastRegister;
  wr.requestContext = ctx;
  wr.flags = flags;
  wr.mr = mr;
  wr.fbo = fbo;
  wr.length = length;
  wr.virtualAddress = reinterpret_cast<std::uint64_t>(baseVa);
  return o->postInitiator(fn, std::move(wr));
}

NTSTATUS invalidateThunk(NDK_QP* qp, PVOID ctx, NDK_OBJECT_HEADER* target, ULONG flags) {
  const char* fn = "NdkInvalidate";
  QP_THUNK_PROLOGUE(fn);
  auto fail = [&](NTSTATUS s) { return o->postInitiator(nullptr, WorkRequest{}), s; };
  if (flags & ~kAllOpFlags) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "unknown NDK_OP_FLAG bits"));
  Lookup why = Lookup::Ok;
  Object* t = Object::resolve(target, &why);
  if (!t) return fail(o->reject(fn, Object::statusFor(why), "pNdkMrOrMw is not a live object"));
  if (t->type() == NdkObjectTypeMr) {
    auto* mr = static_cast<Mr*>(t);
    if (!mr->fast()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR registered with NdkRegisterMr (R132)"));
    if (mr->pd() != o->pd()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MR of another PD"));
  } else if (t->type() == NdkObjectTypeMw) {
    if (static_cast<Mw*>(t)->pd() != o->pd()) return fail(o->reject(fn, STATUS_INVALID_PARAMETER, "MW of another PD"));
  } else {
    return fail(o->reject(fn, STATUS_OBJECT_TYPE_MISMATCH, "pNdkMrOrMw is neither an MR nor an MW"));
  }
  WorkRequest wr;
  wr.type = NdkOperationTypeInvalidate;
  wr.requestContext = ctx;
  wr.flags = flags;
  wr.target = target;
  return o->postInitiator(fn, std::move(wr));
}

const NDK_QP_DISPATCH kDispatch = {
    closeThunk<Qp>, queryExtensionThunk<Qp>, flushThunk,  sendThunk,  receiveThunk, bindThunk,
    fastRegisterThunk, invalidateThunk,     readThunk,   writeThunk, sendInvThunk,
};

}  // namespace

const NDK_QP_DISPATCH* Qp::dispatch() { return &kDispatch; }

Qp::Qp(Adapter* adapter, Pd* pd, Cq* rcq, Cq* icq, Srq* srq, const Params& p)
    : Object(kType, adapter, &kDispatch, adapter->version()), pd_(pd), rcq_(rcq), icq_(icq), srq_(srq), p_(p) {
  attachTo(pd);
  attachTo(rcq);
  if (icq != rcq) attachTo(icq);
  if (srq) attachTo(srq);
}

Qp::~Qp() { device_.releaseResource(Resource::Qp); }

NTSTATUS Qp::checkSgl(const char* fn, const NDK_SGE* sgl, ULONG nSge, ULONG maxSge, bool needLocalWrite,
                      SgeList* out, std::uint64_t* total) const {
  if (nSge > maxSge) return reject(fn, STATUS_INVALID_PARAMETER, "nSge above the QP's limit (R68)");
  return checkSges(this, fn, pd_, sgl, nSge, needLocalWrite, out, total);
}

NTSTATUS Qp::copyInline(const char* fn, const NDK_SGE* sgl, ULONG nSge, WorkRequest* wr) const {
  if (nSge > 0 && !sgl) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pSgl with nSge > 0");
  std::uint64_t total = 0;
  for (ULONG i = 0; i < nSge; ++i) {
    total += sgl[i].Length;
    if (sgl[i].Length > 0 && !sgl[i].VirtualAddress) return reject(fn, STATUS_INVALID_PARAMETER, "NULL inline buffer");
  }
  if (total > p_.inlineSize) return reject(fn, STATUS_INVALID_PARAMETER, "inline data above the QP's InlineDataSize (R71)");
  wr->isInline = true;
  wr->totalLength = total;
  wr->inlineData.resize(total);
  std::size_t off = 0;
  for (ULONG i = 0; i < nSge; ++i) {  // R71: copied before the call returns; tokens ignored
    if (sgl[i].Length) std::memcpy(wr->inlineData.data() + off, sgl[i].VirtualAddress, sgl[i].Length);
    off += sgl[i].Length;
  }
  return STATUS_SUCCESS;
}

void Qp::handOverDeferredLocked() {
  for (auto& w : deferred_) handoff_.push_back(std::move(w));
  deferred_.clear();
}

void Qp::submitHandoffLocked(QpTransport& t) {
  if (!handoff_.empty()) t.submit(handoff_);
  handoff_.clear();  // moved-from records; the vector keeps its capacity
}

// R47 / R147: a QP whose CQ overran or failed, or whose SRQ failed, is unusable; a post could not
// keep R40's promise of one CQ entry, so it is refused inline.
static bool queuesBroken(const Cq* rcq, const Cq* icq, const Srq* srq) {
  return rcq->broken() || icq->broken() || (srq && srq->failed());
}

NTSTATUS Qp::postInitiator(const char* fn, WorkRequest&& wr) {
  std::unique_lock lock(iq_mu_);
  NTSTATUS status = STATUS_SUCCESS;
  if (!fn) {
    status = STATUS_INVALID_PARAMETER;  // the thunk already rejected (and logged) the call
  } else if (queuesBroken(rcq_, icq_, srq_)) {
    status = reject(fn, STATUS_INVALID_DEVICE_STATE, "a CQ of this QP overran or failed, or its SRQ failed (R47, R147)");
  } else if (iq_outstanding_.load() >= p_.iqDepth) {
    status = reject(fn, STATUS_INSUFFICIENT_RESOURCES, "initiator queue full (R67)");
  } else if (!transport_ || disconnected_) {
    status = reject(fn, STATUS_CONNECTION_INVALID, "QP is not connected (R66, R81)");
  }
  if (status != STATUS_SUCCESS) {
    // R60: deferred requests still held go to the engine first.
    if (!deferred_.empty() && transport_) {
      handOverDeferredLocked();
      std::shared_ptr<QpTransport> t = transport_;
      submitHandoffLocked(*t);
      lock.unlock();
      t->kick();
    }
    return status;
  }
  if (wr.type == NdkOperationTypeFastRegister) {
    // R126: the token valid for this registration is visible once the call returned; a still
    // valid registration keeps its token and the request completes with an error (R131).
    wr.newToken = wr.mr->fastValid() ? 0 : wr.mr->reserveFastToken();
  } else if (wr.type == NdkOperationTypeBind) {
    wr.newToken = wr.mw->reserveToken();
  }
  ++iq_outstanding_;
  OPENNDK_PROBE4(post, static_cast<void*>(this), wr.requestContext, static_cast<unsigned>(wr.type), static_cast<unsigned long long>(wr.totalLength));
  const bool defer = (wr.flags & NDK_OP_FLAG_DEFER) &&
                     (adapter()->version().Major > 1 || adapter()->version().Minor >= 2);
  if (defer) {
    deferred_.push_back(std::move(wr));  // R58: held until a non-deferred request (R61)
    return STATUS_SUCCESS;
  }
  handOverDeferredLocked();
  handoff_.push_back(std::move(wr));
  std::shared_ptr<QpTransport> t = transport_;
  submitHandoffLocked(*t);
  lock.unlock();
  t->kick();  // may transmit in this thread (no QP lock held)
  return STATUS_SUCCESS;
}

NTSTATUS Qp::postReceive(PVOID ctx, const NDK_SGE* sgl, ULONG nSge) {
  const char* fn = "NdkReceive";
  if (srq_) return reject(fn, STATUS_INVALID_PARAMETER, "QP takes its receives from an SRQ (R149)");
  if (queuesBroken(rcq_, icq_, srq_))
    return reject(fn, STATUS_INVALID_DEVICE_STATE, "a CQ of this QP overran or failed, or its SRQ failed (R47, R147)");
  ReceiveRequest r;
  r.requestContext = ctx;
  NTSTATUS s = validateReceiveSgl(this, fn, pd_, sgl, nSge, p_.maxRecvSge, &r);
  if (s != STATUS_SUCCESS) return s;
  std::lock_guard lock(rq_mu_);
  if (rq_.size() + rq_inflight_ >= p_.rqDepth) return reject(fn, STATUS_INSUFFICIENT_RESOURCES, "receive queue full (R67)");
  OPENNDK_PROBE3(post_receive, static_cast<void*>(this), ctx, static_cast<unsigned long long>(r.totalLength));
  rq_.push_back(std::move(r));  // R66 [I]: receives are accepted connected or not
  return STATUS_SUCCESS;
}

ULONG Qp::receiveOutstanding() const {
  std::lock_guard lock(rq_mu_);
  return static_cast<ULONG>(rq_.size() + rq_inflight_);
}

void Qp::flush() {
  // R77: everything pending at the time of the call, each exactly once, in posting order.
  // Receives the transport holds (a message being placed) complete first: the queued ones wait
  // for them in rq_cancel_ (finishReceive cancels them when the last one is done).
  std::vector<ReceiveRequest> receives;
  {
    std::lock_guard lock(rq_mu_);
    rq_inflight_ += rq_.size();
    for (; !rq_.empty(); rq_.pop_front()) rq_cancel_.push_back(std::move(rq_.front()));
    if (rq_taken_ == 0) receives.swap(rq_cancel_);
  }
  for (auto& r : receives) finishReceive(r, STATUS_CANCELLED, 0, false, 0, false);
  std::vector<WorkRequest> held;
  {
    std::lock_guard lock(iq_mu_);
    if (transport_) {
      handOverDeferredLocked();  // R61 [D]
      submitHandoffLocked(*transport_);
      transport_->flush();
    } else {
      held.swap(deferred_);
    }
  }
  for (auto& w : held) completeInitiator(w, STATUS_CANCELLED);
}

bool Qp::associate(Connector*) {
  bool expected = false;
  return associated_.compare_exchange_strong(expected, true);
}

void Qp::attachTransport(std::shared_ptr<QpTransport> t) {
  std::lock_guard lock(iq_mu_);
  transport_ = std::move(t);
  disconnected_ = false;
}

void Qp::markDisconnected() {
  std::lock_guard lock(iq_mu_);
  disconnected_ = true;
}

void Qp::detachTransport() {
  std::shared_ptr<QpTransport> t;
  std::lock_guard lock(iq_mu_);
  t = std::move(transport_);
  transport_.reset();
}

bool Qp::connected() const {
  std::lock_guard lock(iq_mu_);
  return transport_ != nullptr && !disconnected_;
}

void Qp::completeInitiator(const WorkRequest& wr, NTSTATUS status) {
  // Outstanding until its entry is queued (R67): the slot is free before the consumer can see the
  // entry, so a request posted in response to this completion never finds the queue full.
  --iq_outstanding_;
  if (wr.type == NdkOperationTypeFastRegister && status != STATUS_SUCCESS && wr.newToken && wr.mr)
    wr.mr->abandonFastToken(wr.newToken);  // R131: the MR can be fast-registered again
  if (!(status == STATUS_SUCCESS && (wr.flags & NDK_OP_FLAG_SILENT_SUCCESS))) {  // R40
    CompletionEntry e;
    e.status = status;
    e.qpContext = p_.context;
    e.requestContext = wr.requestContext;
    e.type = wr.type;  // R38, also when flushed
    icq_->complete(e);
  }
}

bool Qp::takeReceive(ReceiveRequest* out) {
  if (srq_) return srq_->consume(out);
  std::lock_guard lock(rq_mu_);
  if (rq_.empty()) return false;
  *out = std::move(rq_.front());
  rq_.pop_front();
  ++rq_inflight_;
  ++rq_taken_;
  return true;
}

void Qp::completeReceive(const ReceiveRequest& r, NTSTATUS status, ULONG bytes, bool solicited, UINT32 invalidated) {
  finishReceive(r, status, bytes, solicited, invalidated, true);
}

void Qp::finishReceive(const ReceiveRequest& r, NTSTATUS status, ULONG bytes, bool solicited, UINT32 invalidated,
                       bool fromTransport) {
  std::vector<ReceiveRequest> cancelNow;  // flushed behind this one (R77 order)
  CompletionEntry e;
  e.status = status;
  e.bytesTransferred = bytes;
  e.qpContext = p_.context;  // R34, R149: this QP's context also for SRQ receives
  e.requestContext = r.requestContext;
  e.type = invalidated ? NdkOperationTypeReceiveAndInvalidate : NdkOperationTypeReceive;
  e.typeSpecific = invalidated;
  e.solicited = solicited;
  if (!srq_) {  // the slot is free before the entry is visible (R67, see completeInitiator)
    std::lock_guard lock(rq_mu_);
    --rq_inflight_;
    if (fromTransport && --rq_taken_ == 0) cancelNow.swap(rq_cancel_);
  }
  rcq_->complete(e);
  for (auto& c : cancelNow) finishReceive(c, STATUS_CANCELLED, 0, false, 0, false);
}

void Qp::onCloseStarted() { flush(); }  // R30

}  // namespace openndk::provider
