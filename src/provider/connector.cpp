#include "provider/connector.h"

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "provider/adapter.h"
#include "provider/qp.h"
#include "provider/shared_endpoint.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS notBuilt(const Object* self, const char* fn) {
  NDK_LOG_WARN("provider", "{}: arguments valid, but the data path is not built yet: STATUS_NOT_IMPLEMENTED", fn);
  self->adapter()->countRejected();
  return STATUS_NOT_IMPLEMENTED;
}

#define CONN_PROLOGUE(fn) NDK_RESOLVE_OR_RETURN(Connector, o, c, fn, Object::statusFor(o_why))

NTSTATUS connectThunk(NDK_CONNECTOR* c, NDK_QP* qp, const PSOCKADDR src, ULONG srcLen, const PSOCKADDR dst,
                      ULONG dstLen, ULONG, ULONG, const PVOID pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkConnect");
  return o->connect("NdkConnect", qp, src, srcLen, nullptr, dst, dstLen, pd, pdLen, cb);
}
NTSTATUS connectSeThunk(NDK_CONNECTOR* c, NDK_QP* qp, NDK_SHARED_ENDPOINT* se, const PSOCKADDR dst, ULONG dstLen,
                        ULONG, ULONG, const PVOID pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkConnectWithSharedEndpoint");
  if (!se) return o->reject("NdkConnectWithSharedEndpoint", STATUS_INVALID_PARAMETER, "NULL pNdkSharedEndpoint");
  return o->connect("NdkConnectWithSharedEndpoint", qp, nullptr, 0, se, dst, dstLen, pd, pdLen, cb);
}
NTSTATUS completeConnectThunk(NDK_CONNECTOR* c, NDK_FN_DISCONNECT_EVENT_CALLBACK, PVOID, NDK_FN_REQUEST_COMPLETION cb,
                              PVOID) {
  CONN_PROLOGUE("NdkCompleteConnect");
  return o->completeConnect("NdkCompleteConnect", cb);
}
NTSTATUS completeConnectExThunk(NDK_CONNECTOR* c, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, PVOID,
                                NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkCompleteConnectEx");
  return o->completeConnect("NdkCompleteConnectEx", cb);
}
NTSTATUS acceptThunk(NDK_CONNECTOR* c, NDK_QP* qp, ULONG, ULONG, const PVOID pd, ULONG pdLen,
                     NDK_FN_DISCONNECT_EVENT_CALLBACK, PVOID, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkAccept");
  return o->accept("NdkAccept", qp, pd, pdLen, cb);
}
NTSTATUS acceptExThunk(NDK_CONNECTOR* c, NDK_QP* qp, ULONG, ULONG, const PVOID pd, ULONG pdLen,
                       NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, PVOID, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkAcceptEx");
  return o->accept("NdkAcceptEx", qp, pd, pdLen, cb);
}
NTSTATUS rejectThunk(NDK_CONNECTOR* c, const PVOID pd, ULONG pdLen) {
  CONN_PROLOGUE("NdkReject");
  return o->rejectConnection(pd, pdLen);
}
NTSTATUS connectionDataThunk(NDK_CONNECTOR* c, ULONG* ird, ULONG* ord, PVOID pd, ULONG* pdLen) {
  CONN_PROLOGUE("NdkGetConnectionData");
  return o->getConnectionData(ird, ord, pd, pdLen);
}
NTSTATUS localAddressThunk(NDK_CONNECTOR* c, PSOCKADDR a, ULONG* len) {
  CONN_PROLOGUE("NdkGetLocalAddress");
  return o->getAddress("NdkGetLocalAddress", false, a, len);
}
NTSTATUS peerAddressThunk(NDK_CONNECTOR* c, PSOCKADDR a, ULONG* len) {
  CONN_PROLOGUE("NdkGetPeerAddress");
  return o->getAddress("NdkGetPeerAddress", true, a, len);
}
NTSTATUS disconnectThunk(NDK_CONNECTOR* c, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  CONN_PROLOGUE("NdkDisconnect");
  return o->disconnect(cb);
}

const NDK_CONNECTOR_DISPATCH kDispatch = {
    closeThunk<Connector>, queryExtensionThunk<Connector>, connectThunk,     connectSeThunk,   completeConnectThunk,
    acceptThunk,           rejectThunk,                    connectionDataThunk, localAddressThunk, peerAddressThunk,
    disconnectThunk,       completeConnectExThunk,         acceptExThunk,
};

}  // namespace

NTSTATUS checkSockaddr(const Object* self, const char* fn, const SOCKADDR* a, ULONG len, SOCKADDR_INET* out) {
  if (!a) return self->reject(fn, STATUS_INVALID_PARAMETER, "NULL address");
  if (len < sizeof(ADDRESS_FAMILY)) return self->reject(fn, STATUS_INVALID_PARAMETER, "address length too small");
  std::memset(out, 0, sizeof(*out));
  if (a->sa_family == AF_INET) {
    if (len < sizeof(SOCKADDR_IN)) return self->reject(fn, STATUS_INVALID_PARAMETER, "address length below sizeof(SOCKADDR_IN)");
    std::memcpy(&out->Ipv4, a, sizeof(SOCKADDR_IN));
  } else if (a->sa_family == AF_INET6) {
    if (len < sizeof(SOCKADDR_IN6)) return self->reject(fn, STATUS_INVALID_PARAMETER, "address length below sizeof(SOCKADDR_IN6)");
    std::memcpy(&out->Ipv6, a, sizeof(SOCKADDR_IN6));
  } else {
    return self->reject(fn, STATUS_INVALID_ADDRESS, "address family is neither AF_INET nor AF_INET6 (R108)");
  }
  return STATUS_SUCCESS;
}

NTSTATUS copyAddressOut(const Object* self, const char* fn, const SOCKADDR_INET& a, SOCKADDR* out, ULONG* len) {
  if (!len) return self->reject(fn, STATUS_INVALID_PARAMETER, "NULL pAddressLength");
  const ULONG need = a.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6);
  if (*len < need) {
    *len = need;  // R107: nothing written to pAddress
    return STATUS_BUFFER_TOO_SMALL;
  }
  if (!out) return self->reject(fn, STATUS_INVALID_PARAMETER, "NULL pAddress");
  std::memcpy(out, &a, need);
  *len = need;
  return STATUS_SUCCESS;
}

const NDK_CONNECTOR_DISPATCH* Connector::dispatch() { return &kDispatch; }

Connector::Connector(Adapter* adapter) : Object(kType, adapter, &kDispatch, adapter->version()) { attachTo(adapter); }
Connector::~Connector() = default;

Connector::State Connector::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

NTSTATUS Connector::checkPrivateData(const char* fn, const void* pd, ULONG len, ULONG max) const {
  if (len > 0 && !pd) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pPrivateData with a non-zero length (R88)");
  if (len > max) return reject(fn, STATUS_INVALID_PARAMETER, "private data above MaxCallerData/MaxCalleeData (R87)");
  return STATUS_SUCCESS;
}

NTSTATUS Connector::checkQp(const char* fn, NDK_QP* qp, Qp** out) const {
  NTSTATUS s;
  Qp* q = argumentAs<Qp>(this, qp, fn, "pNdkQp is not a usable QP", &s);
  if (!q) return s;
  if (q->adapter() != adapter()) return reject(fn, STATUS_INVALID_PARAMETER, "QP of another adapter instance");
  if (q->associated()) return reject(fn, STATUS_INVALID_PARAMETER, "QP is already associated with a connector (R93)");
  *out = q;
  return STATUS_SUCCESS;
}

NTSTATUS Connector::connect(const char* fn, NDK_QP* qp, const SOCKADDR* src, ULONG srcLen, NDK_SHARED_ENDPOINT* se,
                            const SOCKADDR* dst, ULONG dstLen, const void* pd, ULONG pdLen,
                            NDK_FN_REQUEST_COMPLETION cb) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  if (state() != State::Idle) return reject(fn, STATUS_CONNECTION_INVALID, "connector already used (R112)");
  Qp* q = nullptr;
  NTSTATUS s = checkQp(fn, qp, &q);
  if (s != STATUS_SUCCESS) return s;
  SOCKADDR_INET local{}, remote{};
  if (se) {
    SharedEndpoint* e = argumentAs<SharedEndpoint>(this, se, fn, "pNdkSharedEndpoint is not a usable shared endpoint", &s);
    if (!e) return s;
    if (e->adapter() != adapter()) return reject(fn, STATUS_INVALID_PARAMETER, "shared endpoint of another adapter instance");
    local = e->local();
  } else {
    s = checkSockaddr(this, fn, src, srcLen, &local);
    if (s != STATUS_SUCCESS) return s;
    if (!adapter()->device()->ownsAddress(src, false))
      return reject(fn, STATUS_INVALID_ADDRESS, "source address is not one of the adapter's (R95)");
  }
  s = checkSockaddr(this, fn, dst, dstLen, &remote);
  if (s != STATUS_SUCCESS) return s;
  if (remote.si_family != local.si_family)
    return reject(fn, STATUS_INVALID_PARAMETER, "source and destination address families differ");
  s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCallerData);
  if (s != STATUS_SUCCESS) return s;
  return notBuilt(this, fn);
}

NTSTATUS Connector::completeConnect(const char* fn, NDK_FN_REQUEST_COMPLETION cb) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  if (state() != State::ConnectCompleted) return reject(fn, STATUS_CONNECTION_INVALID, "connect has not completed (R98)");
  return notBuilt(this, fn);
}

NTSTATUS Connector::accept(const char* fn, NDK_QP* qp, const void* pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  Qp* q = nullptr;
  NTSTATUS s = checkQp(fn, qp, &q);
  if (s != STATUS_SUCCESS) return s;
  s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCalleeData);
  if (s != STATUS_SUCCESS) return s;
  if (state() != State::Incoming)
    return reject(fn, STATUS_CONNECTION_INVALID, "not a connector delivered by a connect event (R99, R112)");
  return notBuilt(this, fn);
}

NTSTATUS Connector::rejectConnection(const void* pd, ULONG pdLen) {
  const char* fn = "NdkReject";
  NTSTATUS s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCalleeData);
  if (s != STATUS_SUCCESS) return s;
  State st = state();
  if (st != State::Incoming && st != State::ConnectCompleted)
    return reject(fn, STATUS_CONNECTION_INVALID, "no connection request or completed connect to refuse (R100)");
  return notBuilt(this, fn);
}

NTSTATUS Connector::getConnectionData(ULONG* ird, ULONG* ord, void* pd, ULONG* pdLen) {
  const char* fn = "NdkGetConnectionData";
  if (!pdLen) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pPrivateDataLength");
  std::lock_guard lock(mu_);
  if (state_ == State::Idle || state_ == State::Connecting)
    return reject(fn, STATUS_CONNECTION_INVALID, "no connection data yet");
  const ULONG rds = static_cast<ULONG>(privateData_.size());  // R90 [D]
  if (!pd && *pdLen > 0) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pPrivateData with a non-zero length (R89b)");
  if (ird) *ird = ird_;
  if (ord) *ord = ord_;
  NTSTATUS s = STATUS_SUCCESS;
  if (pd) {
    std::memcpy(pd, privateData_.data(), std::min(*pdLen, rds));
    if (*pdLen < rds) s = STATUS_BUFFER_TOO_SMALL;  // R89c
  }
  *pdLen = rds;
  return s;
}

NTSTATUS Connector::getAddress(const char* fn, bool peer, SOCKADDR* addr, ULONG* len) {
  if (!len) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pAddressLength");
  std::lock_guard lock(mu_);
  if (peer ? !havePeer_ : !haveLocal_) return reject(fn, STATUS_CONNECTION_INVALID, "connector has no address yet (R107)");
  return copyAddressOut(this, fn, peer ? peer_ : local_, addr, len);
}

NTSTATUS Connector::disconnect(NDK_FN_REQUEST_COMPLETION cb) {
  if (!cb) return reject("NdkDisconnect", STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  if (state() != State::Connected) return reject("NdkDisconnect", STATUS_CONNECTION_INVALID, "connector is not connected");
  return notBuilt(this, "NdkDisconnect");
}

}  // namespace openndk::provider
