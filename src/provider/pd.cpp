#include "provider/pd.h"

#include <new>

#include "provider/adapter.h"
#include "provider/cq.h"
#include "provider/mr.h"
#include "provider/qp.h"
#include "provider/srq.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS createMrThunk(NDK_PD* pd, BOOLEAN fast, NDK_FN_CREATE_COMPLETION, PVOID, NDK_MR** out) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkCreateMr", Object::statusFor(o_why));
  return o->createMr(fast, out);
}
NTSTATUS createMwThunk(NDK_PD* pd, NDK_FN_CREATE_COMPLETION, PVOID, NDK_MW** out) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkCreateMw", Object::statusFor(o_why));
  return o->createMw(out);
}
NTSTATUS createSrqThunk(NDK_PD* pd, ULONG depth, ULONG maxSge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb,
                        PVOID ctx, GROUP_AFFINITY* affinity, NDK_FN_CREATE_COMPLETION, PVOID, NDK_SRQ** out) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkCreateSrq", Object::statusFor(o_why));
  return o->createSrq(depth, maxSge, threshold, cb, ctx, affinity, out);
}
NTSTATUS createQpThunk(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, PVOID qpContext, ULONG rqDepth, ULONG iqDepth,
                       ULONG maxRecvSge, ULONG maxInitSge, ULONG inlineSize, NDK_FN_CREATE_COMPLETION, PVOID,
                       NDK_QP** out) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkCreateQp", Object::statusFor(o_why));
  return o->createQp(rcq, icq, nullptr, qpContext, rqDepth, iqDepth, maxRecvSge, maxInitSge, inlineSize, "NdkCreateQp",
                     out);
}
NTSTATUS createQpWithSrqThunk(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq, PVOID qpContext, ULONG iqDepth,
                              ULONG maxInitSge, ULONG inlineSize, NDK_FN_CREATE_COMPLETION, PVOID, NDK_QP** out) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkCreateQpWithSrq", Object::statusFor(o_why));
  if (!srq) return o->reject("NdkCreateQpWithSrq", STATUS_INVALID_PARAMETER, "NULL pSrq");
  return o->createQp(rcq, icq, srq, qpContext, 0, iqDepth, 0, maxInitSge, inlineSize, "NdkCreateQpWithSrq", out);
}
VOID privilegedTokenThunk(NDK_PD* pd, UINT32* pToken) {
  NDK_RESOLVE_OR_RETURN(Pd, o, pd, "NdkGetPrivilegedMemoryRegionToken", );
  if (!pToken) {
    o->reject("NdkGetPrivilegedMemoryRegionToken", STATUS_INVALID_PARAMETER, "NULL pToken");
    return;
  }
  *pToken = o->adapter()->privilegedToken();  // R134: one value per adapter instance
}

const NDK_PD_DISPATCH kDispatch = {
    closeThunk<Pd>, queryExtensionThunk<Pd>, createMrThunk, createMwThunk, createSrqThunk,
    createQpThunk,  createQpWithSrqThunk,    privilegedTokenThunk,
};

}  // namespace

const NDK_PD_DISPATCH* Pd::dispatch() { return &kDispatch; }

Pd::Pd(Adapter* adapter) : Object(kType, adapter, &kDispatch, adapter->version()) { attachTo(adapter); }
Pd::~Pd() { device_.releaseResource(Resource::Pd); }

NTSTATUS Pd::createMr(BOOLEAN fastRegister, NDK_MR** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateMr", &s)) return s;
  if (!device_.acquire(Resource::Mr))
    return reject("NdkCreateMr", STATUS_INSUFFICIENT_RESOURCES, "MaxMrCount reached (R155)");
  Mr* mr = new (std::nothrow) Mr(adapter(), this, fastRegister != FALSE);
  if (!mr) {
    device_.releaseResource(Resource::Mr);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = mr->ndk<NDK_MR>();
  return STATUS_SUCCESS;
}

NTSTATUS Pd::createMw(NDK_MW** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateMw", &s)) return s;
  if (!device_.acquire(Resource::Mw))
    return reject("NdkCreateMw", STATUS_INSUFFICIENT_RESOURCES, "MaxMwCount reached (R155)");
  Mw* mw = new (std::nothrow) Mw(adapter(), this);
  if (!mw) {
    device_.releaseResource(Resource::Mw);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = mw->ndk<NDK_MW>();
  return STATUS_SUCCESS;
}

NTSTATUS Pd::createSrq(ULONG depth, ULONG maxSge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb, PVOID ctx,
                       const GROUP_AFFINITY* affinity, NDK_SRQ** out) {
  const char* fn = "NdkCreateSrq";
  NTSTATUS s;
  if (!checkOut(this, out, fn, &s)) return s;
  const NDK_ADAPTER_INFO& info = adapter()->info();
  if (info.MaxSrqDepth == 0) return reject(fn, STATUS_NOT_SUPPORTED, "SRQs not supported (R142)");
  if (depth == 0 || depth > info.MaxSrqDepth) return reject(fn, STATUS_INVALID_PARAMETER, "SrqDepth is 0 or above MaxSrqDepth (R141)");
  if (maxSge > info.MaxReceiveRequestSge)
    return reject(fn, STATUS_INVALID_PARAMETER, "MaxReceiveRequestSge above the adapter's (R141)");
  if (!device_.acquire(Resource::Srq))
    return reject(fn, STATUS_INSUFFICIENT_RESOURCES, "MaxSrqCount reached (R155)");
  Srq* srq = new (std::nothrow) Srq(adapter(), this, depth, maxSge, threshold, cb, ctx, affinity);
  if (!srq) {
    device_.releaseResource(Resource::Srq);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = srq->ndk<NDK_SRQ>();
  return STATUS_SUCCESS;
}

NTSTATUS Pd::createQp(NDK_CQ* rcqp, NDK_CQ* icqp, NDK_SRQ* srqp, PVOID qpContext, ULONG rqDepth, ULONG iqDepth,
                      ULONG maxRecvSge, ULONG maxInitSge, ULONG inlineSize, const char* fn, NDK_QP** out) {
  NTSTATUS s;
  if (!checkOut(this, out, fn, &s)) return s;
  Cq* rcq = argumentAs<Cq>(this, rcqp, fn, "pReceiveCq is not a usable CQ", &s);
  if (!rcq) return s;
  Cq* icq = argumentAs<Cq>(this, icqp, fn, "pInitiatorCq is not a usable CQ", &s);
  if (!icq) return s;
  Srq* srq = nullptr;
  if (srqp) {
    srq = argumentAs<Srq>(this, srqp, fn, "pSrq is not a usable SRQ", &s);
    if (!srq) return s;
  }
  if (rcq->adapter() != adapter() || icq->adapter() != adapter())
    return reject(fn, STATUS_INVALID_PARAMETER, "CQ of another adapter instance (R156)");
  if (srq && srq->pd() != this) return reject(fn, STATUS_INVALID_PARAMETER, "SRQ of another PD (R156)");
  const NDK_ADAPTER_INFO& info = adapter()->info();
  if (!srq) {
    if (rqDepth == 0 || rqDepth > info.MaxReceiveQueueDepth)
      return reject(fn, STATUS_INVALID_PARAMETER, "ReceiveQueueDepth is 0 or above MaxReceiveQueueDepth (R156)");
    if (maxRecvSge > info.MaxReceiveRequestSge)
      return reject(fn, STATUS_INVALID_PARAMETER, "MaxReceiveRequestSge above the adapter's (R156)");
  }
  if (iqDepth == 0 || iqDepth > info.MaxInitiatorQueueDepth)
    return reject(fn, STATUS_INVALID_PARAMETER, "InitiatorQueueDepth is 0 or above MaxInitiatorQueueDepth (R156)");
  if (maxInitSge > info.MaxInitiatorRequestSge)
    return reject(fn, STATUS_INVALID_PARAMETER, "MaxInitiatorRequestSge above the adapter's (R156)");
  if (inlineSize > info.MaxInlineDataSize)
    return reject(fn, STATUS_INVALID_PARAMETER, "InlineDataSize above MaxInlineDataSize (R156)");
  if (!device_.acquire(Resource::Qp))
    return reject(fn, STATUS_INSUFFICIENT_RESOURCES, "MaxQpCount reached (R155)");
  Qp::Params p{qpContext, rqDepth, iqDepth, maxRecvSge, maxInitSge, inlineSize};
  Qp* qp = new (std::nothrow) Qp(adapter(), this, rcq, icq, srq, p);
  if (!qp) {
    device_.releaseResource(Resource::Qp);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = qp->ndk<NDK_QP>();
  return STATUS_SUCCESS;
}

}  // namespace openndk::provider
