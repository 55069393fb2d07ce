#include "provider/connector.h"

#include <algorithm>
#include <cstring>

#include "base/config.h"
#include "base/log.h"
#include "base/probes.h"
#include "provider/cq.h"
#include "provider/link.h"
#include "provider/adapter.h"
#include "provider/qp.h"
#include "provider/shared_endpoint.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

#define CONN_PROLOGUE(fn) NDK_RESOLVE_OR_RETURN(Connector, o, c, fn, Object::statusFor(o_why))

NTSTATUS connectThunk(NDK_CONNECTOR* c, NDK_QP* qp, const PSOCKADDR src, ULONG srcLen, const PSOCKADDR dst,
                      ULONG dstLen, ULONG ird, ULONG ord, const PVOID pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb,
                      PVOID ctx) {
  CONN_PROLOGUE("NdkConnect");
  return o->connect("NdkConnect", qp, src, srcLen, nullptr, dst, dstLen, ird, ord, pd, pdLen, cb, ctx);
}
NTSTATUS connectSeThunk(NDK_CONNECTOR* c, NDK_QP* qp, NDK_SHARED_ENDPOINT* se, const PSOCKADDR dst, ULONG dstLen,
                        ULONG ird, ULONG ord, const PVOID pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkConnectWithSharedEndpoint");
  if (!se) return o->reject("NdkConnectWithSharedEndpoint", STATUS_INVALID_PARAMETER, "NULL pNdkSharedEndpoint");
  return o->connect("NdkConnectWithSharedEndpoint", qp, nullptr, 0, se, dst, dstLen, ird, ord, pd, pdLen, cb, ctx);
}
NTSTATUS completeConnectThunk(NDK_CONNECTOR* c, NDK_FN_DISCONNECT_EVENT_CALLBACK ev, PVOID evCtx,
                              NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkCompleteConnect");
  return o->completeConnect("NdkCompleteConnect", {ev, nullptr, evCtx}, cb, ctx);
}
NTSTATUS completeConnectExThunk(NDK_CONNECTOR* c, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX ev, PVOID evCtx,
                                NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkCompleteConnectEx");
  return o->completeConnect("NdkCompleteConnectEx", {nullptr, ev, evCtx}, cb, ctx);
}
NTSTATUS acceptThunk(NDK_CONNECTOR* c, NDK_QP* qp, ULONG ird, ULONG ord, const PVOID pd, ULONG pdLen,
                     NDK_FN_DISCONNECT_EVENT_CALLBACK ev, PVOID evCtx, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkAccept");
  return o->accept("NdkAccept", qp, ird, ord, pd, pdLen, {ev, nullptr, evCtx}, cb, ctx);
}
NTSTATUS acceptExThunk(NDK_CONNECTOR* c, NDK_QP* qp, ULONG ird, ULONG ord, const PVOID pd, ULONG pdLen,
                       NDK_FN_DISCONNECT_EVENT_CALLBACK_EX ev, PVOID evCtx, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkAcceptEx");
  return o->accept("NdkAcceptEx", qp, ird, ord, pd, pdLen, {nullptr, ev, evCtx}, cb, ctx);
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
NTSTATUS disconnectThunk(NDK_CONNECTOR* c, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  CONN_PROLOGUE("NdkDisconnect");
  return o->disconnect(cb, ctx);
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
Connector::~Connector() {
  if (qp_) qp_->detachTransport();
  if (shared_) shared_->removeDestination(sharedDest_);
  if (endpointHeld_) device_.releaseEndpoint(endpoint_);  // R113, R116, R117
}

engine::Endpoint toEndpoint(const SOCKADDR_INET& a) {
  engine::Endpoint e;
  const std::size_t n = a.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6);
  std::memcpy(&e.addr, &a, n);
  e.len = static_cast<socklen_t>(a.si_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  return e;
}

SOCKADDR_INET fromEndpoint(const engine::Endpoint& e) {
  SOCKADDR_INET a{};
  std::memcpy(&a, &e.addr, e.family() == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6));
  return a;
}

namespace {
NTSTATUS statusFromNet(engine::NetError e) {
  switch (e) {
    case engine::NetError::Refused: return STATUS_CONNECTION_REFUSED;
    case engine::NetError::NetUnreachable: return STATUS_NETWORK_UNREACHABLE;
    case engine::NetError::HostUnreachable: return STATUS_HOST_UNREACHABLE;
    case engine::NetError::TimedOut: return STATUS_IO_TIMEOUT;
    case engine::NetError::AddrInUse: return STATUS_SHARING_VIOLATION;
    case engine::NetError::AddrNotAvail: return STATUS_ADDRESS_ALREADY_EXISTS;
    case engine::NetError::Reset: return STATUS_CONNECTION_RESET;
    case engine::NetError::NoResources: return STATUS_INSUFFICIENT_RESOURCES;  // §2.13: resource exhaustion
    default: return STATUS_CONNECTION_ABORTED;
  }
}

// The sentence OpenNdkGetConnectorFailure (ndk/openndk.h) returns: NDKPI has no field for why a
// connection could not be set up, and a bare STATUS_CONNECTION_ABORTED does not tell a non-iWARP
// peer from a timeout.
std::string failureText(const engine::CloseInfo& info) {
  using iwarp::Error;
  const auto e = static_cast<unsigned>(info.error);
  const bool mpa = e >= static_cast<unsigned>(Error::MpaBadKey) && e <= static_cast<unsigned>(Error::MpaInvalidFrameAfterQp);
  std::string what;
  switch (info.error) {
    case Error::MpaBadKey: what = "peer sent non-MPA data (no MPA Request/Reply key: not an iWARP peer?)"; break;
    case Error::MpaTimeout: what = "no MPA answer from the peer in time"; break;
    case Error::MpaPeerClosed: what = "the peer closed the TCP connection during the MPA exchange"; break;
    case Error::MpaRejectedByPeer: what = "rejected by the peer (MPA Reply with R=1)"; break;
    default: what = std::string(iwarp::to_string(info.error)); break;
  }
  if (info.terminate_received)
    return fmt::format("{}Terminate received: {}", mpa ? "MPA exchange failed: " : "",
                       iwarp::describe_term(info.peer_terminate.layer, info.peer_terminate.etype, info.peer_terminate.code));
  if (mpa) return "MPA exchange failed: " + what;
  if (info.net != engine::NetError::None) return fmt::format("socket: {}", engine::to_string(info.net));
  return what;
}
}  // namespace

void Connector::completeRequest(NDK_FN_REQUEST_COMPLETION cb, PVOID ctx, NTSTATUS status) {
  if (!cb) return;
  hold();
  deliverCallback([this, cb, ctx, status] {
    cb(ctx, status);
    release();
  });
}

void Connector::startConnected() {
  state_ = State::Connected;
  counted_ = true;
  counters_.activeConnection.fetch_add(1);
  ConnectionRecord r;
  r.local = local_;
  r.remote = peer_;
  registration_ = ActivityRegistration::connection(device_.ifIndex(), r);
}

void Connector::onCloseStarted() {
  // R31: abortive teardown; pending requests complete (CANCELLED) before the close completes.
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mu_);
    link = link_;
  }
  if (link) link->abort();
  if (qp_) qp_->flush();
}

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
  // R156 (amended): consumers open one adapter instance per socket and accept from a shared
  // listener, so a QP of any instance on the same interface (device) is accepted.
  if (&q->device() != &device_)
    return reject(fn, STATUS_INVALID_PARAMETER, "QP of another interface (R156)");
  if (q->associated()) return reject(fn, STATUS_INVALID_PARAMETER, "QP is already associated with a connector (R93)");
  *out = q;
  return STATUS_SUCCESS;
}

NTSTATUS Connector::connect(const char* fn, NDK_QP* qp, const SOCKADDR* src, ULONG srcLen, NDK_SHARED_ENDPOINT* se,
                            const SOCKADDR* dst, ULONG dstLen, ULONG ird, ULONG ord, const void* pd, ULONG pdLen,
                            NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  if (state() != State::Idle) return reject(fn, STATUS_CONNECTION_INVALID, "connector already used (R112)");
  Qp* q = nullptr;
  NTSTATUS s = checkQp(fn, qp, &q);
  if (s != STATUS_SUCCESS) return s;
  SOCKADDR_INET local{}, remote{};
  SharedEndpoint* shared = nullptr;
  if (se) {
    shared = argumentAs<SharedEndpoint>(this, se, fn, "pNdkSharedEndpoint is not a usable shared endpoint", &s);
    if (!shared) return s;
    if (shared->adapter() != adapter()) return reject(fn, STATUS_INVALID_PARAMETER, "shared endpoint of another adapter instance");
    local = shared->local();
  } else {
    s = checkSockaddr(this, fn, src, srcLen, &local);
    if (s != STATUS_SUCCESS) return s;
    if (!device_.ownsAddress(src, false))
      return reject(fn, STATUS_INVALID_ADDRESS, "source address is not one of the adapter's (R95)");
  }
  s = checkSockaddr(this, fn, dst, dstLen, &remote);
  if (s != STATUS_SUCCESS) return s;
  if (remote.si_family != local.si_family)
    return reject(fn, STATUS_INVALID_PARAMETER, "source and destination address families differ");
  s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCallerData);
  if (s != STATUS_SUCCESS) return s;
  Device* dev = &device_;
  if (shared && !shared->addDestination(remote))
    return reject(fn, STATUS_ADDRESS_ALREADY_EXISTS, "shared endpoint already connects to this destination (R119)");
  // Local endpoint (R116 / R117) and the socket bound to it; port 0 retries ports the host uses.
  engine::Socket sock;
  engine::NetError ne = engine::NetError::None;
  const engine::Endpoint to = toEndpoint(remote);
  engine::Endpoint from;
  auto connectFrom = [&](const SOCKADDR_INET& a) {
    from = toEndpoint(a);
    ne = engine::startConnect(to, sock, &from);
    return ne == engine::NetError::AddrInUse;
  };
  if (shared) {
    dev->retainEndpoint(local);
    connectFrom(local);
  } else {
    s = dev->reserveEndpointFreeOnHost(&local, connectFrom);
  }
  if (s != STATUS_SUCCESS) {
    if (shared) shared->removeDestination(remote);
    return reject(fn, s, "local endpoint unavailable (R94, R114)");
  }
  if (shared) attachTo(shared);  // R24 (the shared endpoint's close pends on us, R118)
  {
    std::lock_guard lock(mu_);
    shared_ = shared;
    sharedDest_ = remote;
    endpointHeld_ = true;
    endpoint_ = local;
    local_ = local;
    peer_ = remote;
    haveLocal_ = havePeer_ = true;
    if (ne != engine::NetError::None && ne != engine::NetError::InProgress) {
      state_ = State::Failed;
    } else {
      state_ = State::Connecting;
    }
  }
  if (ne != engine::NetError::None && ne != engine::NetError::InProgress) {
    counters_.connectFailure.fetch_add(1);
    return statusFromNet(ne);  // R95, R96 inline
  }
  q->associate(this);
  attachTo(q);  // R93
  const ULONG maxRead = adapter()->info().MaxInboundReadLimit;
  engine::ConnectionOptions opts;
  opts.role = iwarp::SetupRole::Initiator;
  opts.ird = std::min(ird, maxRead);  // R82, R83
  opts.ord = std::min(ord, adapter()->info().MaxOutboundReadLimit);
  reqIrd_ = opts.ird;
  reqOrd_ = opts.ord;
  opts.private_data.assign(static_cast<const std::uint8_t*>(pd), static_cast<const std::uint8_t*>(pd) + pdLen);
  opts.hold_tx_after_setup = true;  // the RTR waits for NdkCompleteConnect (docs/decisions.md)
  auto link = std::make_shared<Link>(adapter()->stags(), counters_, dev->engineFor(&q->initiatorCq()->affinity()));
  link->setQp(q);
  {
    std::lock_guard lock(mu_);
    qp_ = q;
    link_ = link;
    pendingCb_ = cb;
    pendingCtx_ = ctx;
    linkAlive_ = true;
  }
  hold();  // for the link, until closed()
  OPENNDK_PROBE4(connect, static_cast<void*>(this), static_cast<unsigned>(opts.ird), static_cast<unsigned>(opts.ord),
                 static_cast<unsigned>(pdLen));
  const auto timeout = std::chrono::milliseconds(base::tunableU64(base::Tunable::ConnectTimeoutMs));
  // Both addresses are known here (we bound the socket): the link learns them once, no
  // getsockname/getpeername per connection.
  engine::asyncFinishConnect(link->loop(), std::move(sock), to, &from, timeout,
                             [this, link, from, to, opts = std::move(opts)](engine::NetError e, engine::Socket so) mutable {
                               if (e == engine::NetError::None && closing()) e = engine::NetError::Other;
                               if (e != engine::NetError::None) {
                                 engine::CloseInfo info;
                                 info.net = e;
                                 info.error = iwarp::Error::LlpConnectionLost;
                                 linkClosed(info);
                                 return;
                               }
                               link->setOwner(this);
                               link->start(std::move(so), std::move(opts), from, to);
                             });
  return STATUS_PENDING;
}

void Connector::linkEstablished(const iwarp::Negotiated& n, engine::ByteSpan peerPd) {
  NDK_LOG_DEBUG("provider",
                "connector {}: established ({}): MPA rev {} crc {} enhanced {} p2p {} rtr {}; peer IRD {} ORD {}; "
                "local IRD {} ORD {}; {} bytes of peer private data",
                static_cast<void*>(this), passive_ ? "passive" : "active", n.rev, n.crc, n.enhanced, n.p2p,
                static_cast<int>(n.rtr), n.peer_ird, n.peer_ord, n.ird, n.ord, peerPd.size());
  // MPA exchange done: the negotiated result, then "established".
  OPENNDK_PROBE6(mpa_exchange, static_cast<void*>(this), static_cast<unsigned>(n.rev), n.crc ? 1 : 0,
                 n.enhanced ? 1 : 0, static_cast<unsigned>(n.peer_ird), static_cast<unsigned>(n.peer_ord));
  OPENNDK_PROBE2(established, static_cast<void*>(this), passive_ ? 1 : 0);
  NDK_FN_REQUEST_COMPLETION cb = nullptr;
  PVOID ctx = nullptr;
  {
    std::lock_guard lock(mu_);
    // R82/R83: min(local request capped, the peer's opposite value). The engine's own IRD may be
    // higher (RFC 6581: it must cover the peer's ORD); the consumer sees the NDK values.
    ird_ = n.peer_ord != iwarp::mpa::kIrdOrdNoNegotiation ? std::min<ULONG>(reqIrd_, n.peer_ord) : reqIrd_;
    ord_ = n.ord;
    if (!passive_) {
      privateData_.assign(peerPd.begin(), peerPd.end());  // R91: the accept's private data
      state_ = State::ConnectCompleted;
      counters_.connect.fetch_add(1);
    } else {
      // Passive: the active side called NdkCompleteConnect (its RTR arrived) - R99.
      startConnected();
      counters_.accept.fetch_add(1);
      if (qp_) qp_->attachTransport(link_);
    }
    cb = std::exchange(pendingCb_, nullptr);
    ctx = pendingCtx_;
  }
  completeRequest(cb, ctx, STATUS_SUCCESS);
}

void Connector::linkRejected(engine::ByteSpan peerPd) {
  NDK_LOG_DEBUG("provider", "connector {}: rejected by the peer (MPA Reply with R=1), {} bytes of private data",
                static_cast<void*>(this), peerPd.size());
  OPENNDK_PROBE1(rejected, static_cast<void*>(this));
  NDK_FN_REQUEST_COMPLETION cb = nullptr;
  PVOID ctx = nullptr;
  {
    std::lock_guard lock(mu_);
    privateData_.assign(peerPd.begin(), peerPd.end());  // R91: the reject's private data
    state_ = State::Failed;
    cb = std::exchange(pendingCb_, nullptr);
    ctx = pendingCtx_;
  }
  counters_.connectFailure.fetch_add(1);
  completeRequest(cb, ctx, STATUS_CONNECTION_REFUSED);  // R96, R100
}

void Connector::linkClosed(const engine::CloseInfo& info) {
  NDK_FN_REQUEST_COMPLETION cb = nullptr, dcb = nullptr;
  PVOID ctx = nullptr, dctx = nullptr;
  DisconnectEvent ev{};
  std::shared_ptr<Link> link;
  bool raiseEvent = false;
  bool localDisc = false;  // read under mu_: NdkDisconnect writes it on the consumer's thread
  NTSTATUS pendStatus = STATUS_CONNECTION_ABORTED;
  ULONG reason = 0;
  {
    std::lock_guard lock(mu_);
    link = link_;
    localDisc = localDisconnect_;
    if (info.error == iwarp::Error::MpaTimeout || info.net == engine::NetError::TimedOut) pendStatus = STATUS_IO_TIMEOUT;
    else if (info.net == engine::NetError::Refused) pendStatus = STATUS_CONNECTION_REFUSED;
    else if (info.net != engine::NetError::None && info.net != engine::NetError::Closed) pendStatus = statusFromNet(info.net);
    // The stream died before any MPA Reply (reset or closed by a listener that is closing, R105,
    // or a backlog dropped): the connection was refused (R96).
    if (!passive_ && state_ == State::Connecting &&
        (info.net == engine::NetError::Reset || info.net == engine::NetError::Closed))
      pendStatus = STATUS_CONNECTION_REFUSED;
    if (closing()) pendStatus = STATUS_CANCELLED;  // R31
    cb = std::exchange(pendingCb_, nullptr);
    ctx = pendingCtx_;
    dcb = std::exchange(discCb_, nullptr);
    dctx = discCtx_;
    const bool wasConnected = state_ == State::Connected;
    if (info.terminate_received || info.error != iwarp::Error::None || (!wasConnected && info.net != engine::NetError::None)) failure_ = failureText(info);
    if (cb && state_ != State::Connected) counters_.connectFailure.fetch_add(1);
    if (wasConnected && !localDisconnect_ && !closing()) {
      raiseEvent = true;
      ev = event_;
      // A received Terminate (the peer's abortive close, R31, or an error, R53) is an abort.
      const bool graceful = !info.terminate_received &&
                            (info.error == iwarp::Error::None || info.net == engine::NetError::Closed);
      reason = graceful ? 1 : 2;  // R111
      if (!graceful) counters_.connectionError.fetch_add(1);
    }
    if (state_ == State::Connected) state_ = State::Disconnected;
    else if (state_ != State::Disconnected) state_ = State::Failed;
    if (counted_) {
      counted_ = false;
      counters_.activeConnection.fetch_sub(1);
    }
    registration_.reset();
    linkAlive_ = false;
  }
  {
    // The close reason (docs/openndk-provider.7.md LOGGING): debug for every close; a connect or
    // accept that fails because of it is also an info line, so the reason is not lost.
    std::string term = "no Terminate";
    if (info.terminate_received)
      term = fmt::format("Terminate received: {} (layer {} etype {:#x} code {:#x})",
                         iwarp::describe_term(info.peer_terminate.layer, info.peer_terminate.etype,
                                              info.peer_terminate.code),
                         static_cast<int>(info.peer_terminate.layer), info.peer_terminate.etype,
                         info.peer_terminate.code);
    else if (info.terminate_sent)
      term = "Terminate sent";
    if (info.terminate_received)
      OPENNDK_PROBE4(terminate_received, static_cast<void*>(this), static_cast<unsigned>(info.peer_terminate.layer),
                     static_cast<unsigned>(info.peer_terminate.etype), static_cast<unsigned>(info.peer_terminate.code));
    if (info.terminate_sent) OPENNDK_PROBE2(terminate_sent, static_cast<void*>(this), static_cast<unsigned>(info.error));
    OPENNDK_PROBE4(close, static_cast<void*>(this), static_cast<unsigned>(info.error), static_cast<unsigned>(info.net),
                   static_cast<std::uint32_t>(pendStatus));
    NDK_LOG_DEBUG("provider", "connector {}: closed: cause '{}', socket '{}', {}", static_cast<void*>(this),
                  iwarp::to_string(info.error), engine::to_string(info.net), term);
    if (cb)
      NDK_LOG_INFO("provider", "connector {}: {} fails with {:#010x}: {} (socket: {}; {})", static_cast<void*>(this),
                   passive_ ? "NdkAccept" : "NdkConnect", static_cast<std::uint32_t>(pendStatus),
                   iwarp::to_string(info.error), engine::to_string(info.net), term);
  }
  if (qp_) qp_->markDisconnected();  // R81
  if (link) {
    if (localDisc || closing()) {
      link->failPending(STATUS_CANCELLED);  // R79 implicit flush: initiator requests...
      if (localDisc && qp_) qp_->flush();  // ...and the receives still queued
    }
    else if (reason == 2) link->failPending(STATUS_CONNECTION_ABORTED);      // R53: errors
    // graceful peer disconnect: nothing is flushed (R80); the consumer's flush completes them.
  }
  completeRequest(cb, ctx, pendStatus);
  if (dcb) completeRequest(dcb, dctx, STATUS_SUCCESS);
  if (raiseEvent && (ev.plain || ev.ex)) {
    hold();
    deliverCallback([this, ev, reason] {
      if (!closing()) {  // R110: never after the close has completed (the close waits for us)
        if (ev.ex) ev.ex(ev.ctx, reason);
        else ev.plain(ev.ctx);
      }
      release();
    });
  }
  release();  // the link's reference
}

std::string Connector::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

NTSTATUS Connector::completeConnect(const char* fn, const DisconnectEvent& ev, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Failed && link_ && !linkAlive_) return STATUS_CONNECTION_ABORTED;  // R98
    if (state_ != State::ConnectCompleted) return reject(fn, STATUS_CONNECTION_INVALID, "connect has not completed (R98)");
    if (!linkAlive_) return STATUS_CONNECTION_ABORTED;
    event_ = ev;
    startConnected();
    link = link_;
  }
  qp_->attachTransport(link);
  link->connection()->releaseTx();  // the RTR tells the passive side (R99)
  return STATUS_SUCCESS;
}

NTSTATUS Connector::accept(const char* fn, NDK_QP* qp, ULONG ird, ULONG ord, const void* pd, ULONG pdLen,
                           const DisconnectEvent& ev, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  Qp* q = nullptr;
  NTSTATUS s = checkQp(fn, qp, &q);
  if (s != STATUS_SUCCESS) return s;
  s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCalleeData);
  if (s != STATUS_SUCCESS) return s;
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Incoming)
      return reject(fn, STATUS_CONNECTION_INVALID, "not a connector delivered by a connect event (R99, R112)");
    if (!linkAlive_) return STATUS_CONNECTION_ABORTED;
    state_ = State::Connecting;
    event_ = ev;
    qp_ = q;
    reqIrd_ = std::min(ird, adapter()->info().MaxInboundReadLimit);
    reqOrd_ = std::min(ord, adapter()->info().MaxOutboundReadLimit);
    pendingCb_ = cb;
    pendingCtx_ = ctx;
    link = link_;
  }
  q->associate(this);
  attachTo(q);  // R93
  std::vector<std::uint8_t> data(static_cast<const std::uint8_t*>(pd), static_cast<const std::uint8_t*>(pd) + pdLen);
  const ULONG myIrd = std::min(ird, adapter()->info().MaxInboundReadLimit);
  const ULONG myOrd = std::min(ord, adapter()->info().MaxOutboundReadLimit);
  auto conn = link->connection();
  link->loop().post([link, q] { link->setQp(q); });
  conn->accept(myIrd, myOrd, std::move(data));
  return STATUS_PENDING;  // R99 [D]
}

NTSTATUS Connector::rejectConnection(const void* pd, ULONG pdLen) {
  const char* fn = "NdkReject";
  NTSTATUS s = checkPrivateData(fn, pd, pdLen, adapter()->info().MaxCalleeData);
  if (s != STATUS_SUCCESS) return s;
  std::shared_ptr<Link> link;
  State st;
  {
    std::lock_guard lock(mu_);
    st = state_;
    if (st != State::Incoming && st != State::ConnectCompleted)
      return reject(fn, STATUS_CONNECTION_INVALID, "no connection request or completed connect to refuse (R100)");
    if (!linkAlive_) return STATUS_CONNECTION_ABORTED;
    state_ = State::Failed;
    link = link_;
  }
  if (st == State::Incoming)
    link->connection()->reject(std::vector<std::uint8_t>(static_cast<const std::uint8_t*>(pd),
                                                         static_cast<const std::uint8_t*>(pd) + pdLen));
  else
    link->connection()->disconnect(true);  // active side: the passive Accept fails (R100 [D])
  return STATUS_SUCCESS;
}

void Connector::initIncoming(std::shared_ptr<Link> link, const SOCKADDR_INET& local,
                             const SOCKADDR_INET& peer, engine::ByteSpan privateData) {
  std::lock_guard lock(mu_);
  passive_ = true;
  state_ = State::Incoming;
  local_ = local;
  peer_ = peer;
  haveLocal_ = havePeer_ = true;
  privateData_.assign(privateData.begin(), privateData.end());
  ird_ = adapter()->info().MaxInboundReadLimit;  // R84 [I]: what is known before the accept:
  ord_ = adapter()->info().MaxOutboundReadLimit;  // the adapter maxima, lowered to the peer's request
  std::uint32_t peerIrd = 0, peerOrd = 0;
  if (link->peerRequested(&peerIrd, &peerOrd)) {
    ird_ = std::min<ULONG>(ird_, peerOrd);
    ord_ = std::min<ULONG>(ord_, peerIrd);
  }
  link_ = std::move(link);
  link_->setOwner(this);
  linkAlive_ = true;
  endpointHeld_ = true;  // R113: +1 on the listener's endpoint
  endpoint_ = local;
  hold();  // for the link, until closed()
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

NTSTATUS Connector::disconnect(NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
  if (!cb) return reject("NdkDisconnect", STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  std::shared_ptr<Link> link;
  bool peerGone = false;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Disconnected && !localDisconnect_) {
      // The peer disconnected first (docs/decisions.md "Data path"): the consumer's disconnect
      // completes at once; it performs the implicit flush of R79.
      localDisconnect_ = true;
      peerGone = true;
    } else if (state_ != State::Connected || localDisconnect_) {
      return reject("NdkDisconnect", STATUS_CONNECTION_INVALID, "connector is not connected");
    }
    localDisconnect_ = true;
    link = link_;
    if (linkAlive_) {
      discCb_ = cb;
      discCtx_ = ctx;
    }
  }
  if (peerGone) {
    if (qp_) qp_->flush();
    return STATUS_SUCCESS;
  }
  link->connection()->disconnect(false);  // graceful (R79); the flush follows at closed()
  return STATUS_PENDING;
}

}  // namespace openndk::provider
