#include "ndk_endpoint.h"

#include <ndk/ndk_host.h>
#include <ndk/openndk.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <netdb.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <fmt/format.h>

namespace ndkperf {

std::string ntStatusName(NTSTATUS s) {
  switch (s) {
#define N(x) \
  case x: return #x;
    N(STATUS_SUCCESS) N(STATUS_PENDING) N(STATUS_BUFFER_OVERFLOW) N(STATUS_ACCESS_VIOLATION)
    N(STATUS_INVALID_PARAMETER) N(STATUS_BUFFER_TOO_SMALL) N(STATUS_INVALID_PARAMETER_MIX)
    N(STATUS_SHARING_VIOLATION) N(STATUS_INSUFFICIENT_RESOURCES) N(STATUS_IO_TIMEOUT) N(STATUS_NOT_SUPPORTED)
    N(STATUS_INTERNAL_ERROR) N(STATUS_CANCELLED) N(STATUS_REMOTE_RESOURCES) N(STATUS_INVALID_ADDRESS)
    N(STATUS_TOO_MANY_ADDRESSES) N(STATUS_ADDRESS_ALREADY_EXISTS) N(STATUS_CONNECTION_REFUSED)
    N(STATUS_CONNECTION_INVALID) N(STATUS_NETWORK_UNREACHABLE) N(STATUS_HOST_UNREACHABLE)
    N(STATUS_CONNECTION_ABORTED) N(STATUS_IMPLEMENTATION_LIMIT) N(STATUS_UNSUCCESSFUL) N(STATUS_NOT_IMPLEMENTED)
    N(STATUS_INVALID_HANDLE) N(STATUS_INVALID_DEVICE_REQUEST) N(STATUS_NO_MEMORY) N(STATUS_OBJECT_TYPE_MISMATCH)
    N(STATUS_REQUEST_ABORTED) N(STATUS_CONNECTION_RESET) N(STATUS_CONNECTION_DISCONNECTED) N(STATUS_DATA_ERROR)
    N(STATUS_DEVICE_NOT_READY) N(STATUS_INVALID_DEVICE_STATE) N(STATUS_NOT_FOUND) N(NDIS_STATUS_BAD_VERSION)
    N(NDIS_STATUS_ADAPTER_NOT_READY) N(NDIS_STATUS_ADAPTER_NOT_FOUND)
#undef N
    default: return fmt::format("{:#010x}", static_cast<std::uint32_t>(s));
  }
}

namespace {
// Why a connection could not be set up (MPA exchange, Terminate, socket error): the provider's
// own sentence (OpenNdkGetConnectorFailure, an OpenNDK extension: NDKPI has no field for it),
// else a pointer to its log.
std::string connectFailureHint(const std::string& fn, NTSTATUS s, const NDK_CONNECTOR* connector) {
  if (s == STATUS_SUCCESS || (fn != "NdkConnect" && fn != "NdkAccept" && fn != "NdkCompleteConnect")) return "";
  char reason[512];
  if (connector && OpenNdkGetConnectorFailure(connector, reason, sizeof reason) > 0) return std::string(": ") + reason;
  const char* level = std::getenv("OPENNDK_LOG");
  const std::string_view l = level ? level : "";
  if (l == "info" || l == "debug" || l == "trace") return " - the provider's reason is logged above";
  return " - run with OPENNDK_LOG=info for the provider's reason (MPA exchange, Terminate, socket)";
}
}  // namespace

NdkCallError::NdkCallError(const std::string& fn, NTSTATUS s, const NDK_CONNECTOR* connector)
    : PerfError(fmt::format("provider: {} returned 0x{:08X} ({}){}", fn, static_cast<std::uint32_t>(s), ntStatusName(s),
                            connectFailureHint(fn, s, connector))),
      status(s) {}

bool parseAddress(const std::string& text, std::uint16_t port, SOCKADDR_INET* out) {
  std::memset(out, 0, sizeof *out);
  std::string t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  if (inet_pton(AF_INET, t.c_str(), &out->Ipv4.sin_addr) == 1) {
    out->Ipv4.sin_family = AF_INET;
    out->Ipv4.sin_port = htons(port);
    return true;
  }
  if (inet_pton(AF_INET6, t.c_str(), &out->Ipv6.sin6_addr) == 1) {
    out->Ipv6.sin6_family = AF_INET6;
    out->Ipv6.sin6_port = htons(port);
    return true;
  }
  // A host name (rping and perftest take them): the first IPv4 address, else the first IPv6 one.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (t.empty() || ::getaddrinfo(t.c_str(), nullptr, &hints, &res) != 0) return false;
  const addrinfo* pick = nullptr;
  for (const addrinfo* r = res; r; r = r->ai_next)
    if (r->ai_family == AF_INET && !pick) pick = r;
  for (const addrinfo* r = res; r && !pick; r = r->ai_next)
    if (r->ai_family == AF_INET6) pick = r;
  if (pick && pick->ai_family == AF_INET) {
    out->Ipv4 = *reinterpret_cast<const sockaddr_in*>(pick->ai_addr);
    out->Ipv4.sin_port = htons(port);
  } else if (pick) {
    out->Ipv6 = *reinterpret_cast<const sockaddr_in6*>(pick->ai_addr);
    out->Ipv6.sin6_port = htons(port);
  }
  ::freeaddrinfo(res);
  return pick != nullptr;
}

std::string formatAddress(const SOCKADDR_INET& a) {
  char b[INET6_ADDRSTRLEN] = {};
  if (a.si_family == AF_INET) {
    inet_ntop(AF_INET, &a.Ipv4.sin_addr, b, sizeof b);
    return fmt::format("{}:{}", b, ntohs(a.Ipv4.sin_port));
  }
  inet_ntop(AF_INET6, &a.Ipv6.sin6_addr, b, sizeof b);
  return fmt::format("[{}]:{}", b, ntohs(a.Ipv6.sin6_port));
}

static bool sameIp(const SOCKADDR_INET& a, const SOCKADDR_INET& b) {
  if (a.si_family != b.si_family) return false;
  if (a.si_family == AF_INET) return a.Ipv4.sin_addr.s_addr == b.Ipv4.sin_addr.s_addr;
  return std::memcmp(&a.Ipv6.sin6_addr, &b.Ipv6.sin6_addr, sizeof(in6_addr)) == 0;
}

static bool isWildcard(const SOCKADDR_INET& a) {
  if (a.si_family == AF_INET) return a.Ipv4.sin_addr.s_addr == htonl(INADDR_ANY);
  return std::memcmp(&a.Ipv6.sin6_addr, &in6addr_any, sizeof(in6_addr)) == 0;
}

NET_IFINDEX interfaceFor(const SOCKADDR_INET& local) {
  NET_IFINDEX idx[64];
  ULONG n = std::min<ULONG>(OpenNdkEnumerateInterfaces(idx, 64), 64);
  NET_IFINDEX firstNonLo = 0;
  for (ULONG i = 0; i < n; ++i) {
    SOCKADDR_INET addrs[32];
    ULONG count = 0;
    if (OpenNdkQueryInterfaceAddresses(idx[i], addrs, 32, &count) != NDIS_STATUS_SUCCESS) continue;
    NDK_HOST_INTERFACE_INFO info{};
    if (OpenNdkQueryInterfaceInfo(idx[i], &info) == NDIS_STATUS_SUCCESS && std::strcmp(info.Name, "lo") != 0 && !firstNonLo)
      firstNonLo = idx[i];
    for (ULONG k = 0; k < std::min<ULONG>(count, 32); ++k)
      if (sameIp(addrs[k], local)) return idx[i];
  }
  if (isWildcard(local)) return firstNonLo ? firstNonLo : (n ? idx[0] : 0);
  return 0;
}

bool sourceAddressFor(const SOCKADDR_INET& dest, SOCKADDR_INET* src) {
  int fd = ::socket(dest.si_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t len = dest.si_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&dest), len) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(src), &len) == 0;
  ::close(fd);
  if (ok) {
    if (src->si_family == AF_INET) src->Ipv4.sin_port = 0;
    else src->Ipv6.sin6_port = 0;
  }
  return ok;
}

// ---- waits ----------------------------------------------------------------------------------

void NdkEndpoint::Wait::done(NTSTATUS s, NDK_OBJECT_HEADER* o) {
  std::lock_guard<std::mutex> l(mu);
  ++count;
  status = s;
  object = o;
  cv.notify_all();
}

bool NdkEndpoint::Wait::wait(int timeoutMs) {
  std::unique_lock<std::mutex> l(mu);
  return cv.wait_for(l, std::chrono::milliseconds(timeoutMs), [&] { return count > 0; });
}

VOID NdkEndpoint::onCreate(PVOID ctx, NTSTATUS s, NDK_OBJECT_HEADER* o) { static_cast<Wait*>(ctx)->done(s, o); }
VOID NdkEndpoint::onRequest(PVOID ctx, NTSTATUS s) { static_cast<Wait*>(ctx)->done(s, nullptr); }
VOID NdkEndpoint::onClose(PVOID ctx) { static_cast<Wait*>(ctx)->done(STATUS_SUCCESS, nullptr); }
VOID NdkEndpoint::onCq(PVOID ctx, NTSTATUS s) {
  // The CQ's Wait lives as long as the endpoint (longer than the CQ), so it may be notified after
  // the lock is released: the woken waiter then finds the mutex free instead of blocking on it
  // again (one futex call less per notification; --event measures this path).
  auto* w = static_cast<Wait*>(ctx);
  {
    std::lock_guard<std::mutex> l(w->mu);
    ++w->count;
    w->status = s;
  }
  w->cv.notify_one();
}
VOID NdkEndpoint::onConnectEvent(PVOID ctx, NDK_CONNECTOR* c) {
  auto* self = static_cast<NdkEndpoint*>(ctx);
  std::lock_guard<std::mutex> l(self->connectEvent_.mu);
  if (self->incoming_) {
    // One connection per endpoint: turn further requests away (R100: reject, then close).
    c->Dispatch->NdkReject(c, nullptr, 0);
    self->extra_.push_back(c);  // closed with the endpoint
    return;
  }
  self->incoming_ = c;
  ++self->connectEvent_.count;
  self->connectEvent_.cv.notify_all();
}
VOID NdkEndpoint::onDisconnect(PVOID ctx) { static_cast<NdkEndpoint*>(ctx)->peerDisconnected_.store(true); }

template <class T, class F>
T* NdkEndpoint::create(const char* fn, F&& f) {
  Wait w;
  T* obj = nullptr;
  NTSTATUS s = f(&NdkEndpoint::onCreate, &w, &obj);
  if (s == STATUS_PENDING) {
    if (!w.wait(30000)) throw PerfError(fmt::format("provider: {} never completed", fn));
    s = w.status;
    obj = reinterpret_cast<T*>(w.object);
  }
  if (!NT_SUCCESS(s)) throw NdkCallError(fn, s);
  return obj;
}

template <class F>
void NdkEndpoint::request(const char* fn, F&& f, int timeoutMs) {
  Wait w;
  NTSTATUS s = f(&NdkEndpoint::onRequest, &w);
  if (s == STATUS_PENDING) {
    if (!w.wait(timeoutMs)) throw PerfError(fmt::format("provider: {} never completed", fn));
    s = w.status;
  }
  if (!NT_SUCCESS(s)) throw NdkCallError(fn, s, connector_);
}

NDK_FN_CLOSE_OBJECT closeFunctionOf(NDK_OBJECT_HEADER* h) {
  switch (h->ObjectType) {
    case NdkObjectTypeCq: return reinterpret_cast<NDK_CQ*>(h)->Dispatch->NdkCloseCq;
    case NdkObjectTypePd: return reinterpret_cast<NDK_PD*>(h)->Dispatch->NdkClosePd;
    case NdkObjectTypeMr: return reinterpret_cast<NDK_MR*>(h)->Dispatch->NdkCloseMr;
    case NdkObjectTypeQp: return reinterpret_cast<NDK_QP*>(h)->Dispatch->NdkCloseQp;
    case NdkObjectTypeConnector: return reinterpret_cast<NDK_CONNECTOR*>(h)->Dispatch->NdkCloseConnector;
    case NdkObjectTypeListener: return reinterpret_cast<NDK_LISTENER*>(h)->Dispatch->NdkCloseListener;
    default: return nullptr;
  }
}

void NdkEndpoint::closeObject(NDK_OBJECT_HEADER* h) {
  if (!h) return;
  NDK_FN_CLOSE_OBJECT fn = closeFunctionOf(h);
  if (!fn) return;
  Wait w;
  if (fn(h, &NdkEndpoint::onClose, &w) == STATUS_PENDING) w.wait(30000);
}

// ---- lifetime -------------------------------------------------------------------------------

NdkEndpoint::NdkEndpoint(NET_IFINDEX ifx, const Params& p) : p_(p) {
  NTSTATUS s = OpenNdkOpenAdapter(ifx, nullptr, &adapter_);
  if (s != NDIS_STATUS_SUCCESS) throw NdkCallError("OpenNdkOpenAdapter", s);
  setUp();
}

NdkEndpoint::NdkEndpoint(NdkEndpoint& shared, const Params& p) : p_(p), adapter_(shared.adapter_), ownsAdapter_(false) { setUp(); }

void NdkEndpoint::setUp() {
  try {
    ULONG size = sizeof info_;
    NTSTATUS s = adapter_->Dispatch->NdkQueryAdapterInfo(adapter_, &info_, &size);
    if (!NT_SUCCESS(s)) throw NdkCallError("NdkQueryAdapterInfo", s);
    ULONG depth = std::min<ULONG>(info_.MaxCqDepth, p_.rqDepth + p_.iqDepth + 8);
    cq_ = create<NDK_CQ>("NdkCreateCq", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_CQ** out) {
      return adapter_->Dispatch->NdkCreateCq(adapter_, depth, &NdkEndpoint::onCq, &cqEvent_, nullptr, cb, c, out);
    });
    pd_ = create<NDK_PD>("NdkCreatePd", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_PD** out) {
      return adapter_->Dispatch->NdkCreatePd(adapter_, cb, c, out);
    });
    bufLen_ = (p_.bufBytes + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
    buf_ = static_cast<char*>(std::aligned_alloc(PAGE_SIZE, bufLen_));
    if (!buf_) throw PerfError("out of memory");
    std::memset(buf_, 0, bufLen_);
    mdl_ = IoAllocateMdl(buf_, static_cast<ULONG>(bufLen_), FALSE, FALSE, nullptr);
    if (!mdl_) throw PerfError("IoAllocateMdl failed");
    MmBuildMdlForNonPagedPool(mdl_);
    mr_ = create<NDK_MR>("NdkCreateMr", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_MR** out) {
      return pd_->Dispatch->NdkCreateMr(pd_, FALSE, cb, c, out);
    });
    request("NdkRegisterMr", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return mr_->Dispatch->NdkRegisterMr(mr_, mdl_, bufLen_,
                                          NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                                              NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK,
                                          cb, c);
    });
    registered_ = true;
    localToken_ = mr_->Dispatch->NdkGetLocalTokenFromMr(mr_);
    remoteToken_ = mr_->Dispatch->NdkGetRemoteTokenFromMr(mr_);
    ULONG inl = std::min<ULONG>(p_.inlineSize, info_.MaxInlineDataSize);
    p_.inlineSize = inl;
    qp_ = create<NDK_QP>("NdkCreateQp", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_QP** out) {
      return pd_->Dispatch->NdkCreateQp(pd_, cq_, cq_, this, std::min(p_.rqDepth, info_.MaxReceiveQueueDepth),
                                        std::min(p_.iqDepth, info_.MaxInitiatorQueueDepth), 1, 1, inl, cb, c, out);
    });
  } catch (...) {
    cleanup();
    throw;
  }
}

NdkEndpoint::~NdkEndpoint() { cleanup(); }

void NdkEndpoint::cleanup() {
  if (connected_) {
    try {
      disconnect();
    } catch (...) {
    }
  }
  closeObject(connector_ ? &connector_->Header : nullptr);
  connector_ = nullptr;
  // The listener's close refuses new requests at once (R105) but pends until the connectors it
  // delivered are closed (R24, R115): request it, then close those (also any delivered while it
  // started), then wait for it. A request that arrived meanwhile must not hold the exit for the
  // close timeout (issue 12).
  Wait listenerClosed;
  const bool listenerPending = listener_ &&
                         listener_->Dispatch->NdkCloseListener(&listener_->Header, &NdkEndpoint::onClose, &listenerClosed) ==
                             STATUS_PENDING;
  listener_ = nullptr;
  for (int rounds = 0;; ++rounds) {
    std::vector<NDK_CONNECTOR*> delivered;
    {
      std::lock_guard<std::mutex> l(connectEvent_.mu);
      if (incoming_) delivered.push_back(std::exchange(incoming_, nullptr));
      delivered.insert(delivered.end(), extra_.begin(), extra_.end());
      extra_.clear();
    }
    for (NDK_CONNECTOR* c : delivered) closeObject(&c->Header);
    // A wake-up bound, not synchronisation: the loop re-checks for late connect events.
    if (!listenerPending || listenerClosed.wait(100) || rounds == 300) break;
  }
  closeObject(qp_ ? &qp_->Header : nullptr);
  qp_ = nullptr;
  for (FastRegion& r : fastRegions_) {
    closeObject(r.mr ? &r.mr->Header : nullptr);
    if (r.lam) adapter_->Dispatch->NdkReleaseLAM(adapter_, r.lam);
    std::free(r.lam);
    if (r.mdl) IoFreeMdl(r.mdl);
  }
  fastRegions_.clear();
  if (registered_) {
    try {
      request("NdkDeregisterMr", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return mr_->Dispatch->NdkDeregisterMr(mr_, cb, c);
      });
    } catch (...) {
    }
    registered_ = false;
  }
  closeObject(mr_ ? &mr_->Header : nullptr);
  mr_ = nullptr;
  closeObject(pd_ ? &pd_->Header : nullptr);
  pd_ = nullptr;
  closeObject(cq_ ? &cq_->Header : nullptr);
  cq_ = nullptr;
  if (mdl_) IoFreeMdl(mdl_);
  mdl_ = nullptr;
  std::free(buf_);
  buf_ = nullptr;
  if (adapter_ && ownsAdapter_) OpenNdkCloseAdapter(adapter_);
  adapter_ = nullptr;
}

// ---- connection -----------------------------------------------------------------------------

static ULONG addrLen(const SOCKADDR_INET& a) {
  return a.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6);
}

std::uint16_t NdkEndpoint::listen(const SOCKADDR_INET& addr) {
  listener_ = create<NDK_LISTENER>("NdkCreateListener", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_LISTENER** out) {
    return adapter_->Dispatch->NdkCreateListener(adapter_, &NdkEndpoint::onConnectEvent, this, cb, c, out);
  });
  SOCKADDR_INET a = addr;
  request("NdkListen", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return listener_->Dispatch->NdkListen(listener_, reinterpret_cast<PSOCKADDR>(&a), addrLen(a), cb, c);
  });
  SOCKADDR_INET bound{};
  ULONG len = sizeof bound;
  NTSTATUS s = listener_->Dispatch->NdkGetLocalAddress(listener_, reinterpret_cast<PSOCKADDR>(&bound), &len);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkGetLocalAddress", s);
  return ntohs(bound.si_family == AF_INET ? bound.Ipv4.sin_port : bound.Ipv6.sin6_port);
}

void NdkEndpoint::readConnectionData() {
  ULONG ird = 0, ord = 0, len = 0;
  NDK_CONNECTOR* c = connector_;
  NTSTATUS s = c->Dispatch->NdkGetConnectionData(c, &ird, &ord, nullptr, &len);
  if (s == STATUS_BUFFER_TOO_SMALL || (NT_SUCCESS(s) && len)) {
    peerData_.assign(len, 0);
    s = c->Dispatch->NdkGetConnectionData(c, &ird, &ord, peerData_.data(), &len);
    peerData_.resize(len);
  }
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkGetConnectionData", s);
  ord_ = ord;
}

void NdkEndpoint::acceptOne(const void* privateData, ULONG len, int timeoutMs) { acceptFrom(*this, privateData, len, timeoutMs); }

void NdkEndpoint::acceptFrom(NdkEndpoint& owner, const void* privateData, ULONG len, int timeoutMs, bool wait) {
  {
    std::unique_lock<std::mutex> l(owner.connectEvent_.mu);
    if (!owner.connectEvent_.cv.wait_for(l, std::chrono::milliseconds(timeoutMs), [&] { return owner.incoming_ != nullptr; }))
      throw PerfError("no NDK connection request arrived in time");
    connector_ = owner.incoming_;
    owner.incoming_ = nullptr;
  }
  readConnectionData();
  if (wait) {
    request("NdkAccept", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return connector_->Dispatch->NdkAccept(connector_, qp_, p_.ird, p_.ord, const_cast<PVOID>(privateData), len,
                                             &NdkEndpoint::onDisconnect, this, cb, c);
    });
    connected_ = true;
    return;
  }
  NTSTATUS s = connector_->Dispatch->NdkAccept(connector_, qp_, p_.ird, p_.ord, const_cast<PVOID>(privateData), len,
                                               &NdkEndpoint::onDisconnect, this, &NdkEndpoint::onRequest, &acceptWait_);
  if (s != STATUS_PENDING) acceptWait_.done(s, nullptr);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkAccept", s, connector_);
  connected_ = true;  // posting and disconnecting are allowed from here on; finishAccept() checks the outcome
}

void NdkEndpoint::finishAccept(int timeoutMs) {
  if (!acceptWait_.wait(timeoutMs)) throw PerfError("provider: NdkAccept never completed (the peer sent nothing on the connection)");
  if (!NT_SUCCESS(acceptWait_.status)) throw NdkCallError("NdkAccept", acceptWait_.status, connector_);
}

void NdkEndpoint::connect(const SOCKADDR_INET& dest, const void* privateData, ULONG len) {
  connector_ = create<NDK_CONNECTOR>("NdkCreateConnector", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_CONNECTOR** out) {
    return adapter_->Dispatch->NdkCreateConnector(adapter_, cb, c, out);
  });
  SOCKADDR_INET src{};
  if (!sourceAddressFor(dest, &src)) throw PerfError(fmt::format("no route to {}", formatAddress(dest)));
  SOCKADDR_INET d = dest;
  request("NdkConnect", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return connector_->Dispatch->NdkConnect(connector_, qp_, reinterpret_cast<PSOCKADDR>(&src), addrLen(src),
                                            reinterpret_cast<PSOCKADDR>(&d), addrLen(d), p_.ird, p_.ord,
                                            const_cast<PVOID>(privateData), len, cb, c);
  });
  readConnectionData();
  request("NdkCompleteConnect", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return connector_->Dispatch->NdkCompleteConnect(connector_, &NdkEndpoint::onDisconnect, this, cb, c);
  });
  connected_ = true;
}

void NdkEndpoint::disconnect() {
  if (!connected_) return;
  connected_ = false;
  request("NdkDisconnect", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return connector_->Dispatch->NdkDisconnect(connector_, cb, c);
  });
}

// ---- fast registration ----------------------------------------------------------------------

NdkEndpoint::FastRegion& NdkEndpoint::addFastRegion(char* p, std::size_t len) {
  FastRegion& r = fastRegions_.emplace_back();
  r.base = p;
  r.len = len;
  r.mdl = IoAllocateMdl(p, static_cast<ULONG>(len), FALSE, FALSE, nullptr);
  if (!r.mdl) throw PerfError("IoAllocateMdl failed");
  MmBuildMdlForNonPagedPool(r.mdl);
  ULONG lamSize = OPENNDK_LAM_SIZE(len / PAGE_SIZE + 2);
  r.lam = static_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(std::calloc(1, lamSize));
  if (!r.lam) throw PerfError("out of memory");
  request("NdkBuildLAM", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return adapter_->Dispatch->NdkBuildLAM(adapter_, r.mdl, len, cb, c, r.lam, &lamSize, &r.fbo);
  });
  r.mr = create<NDK_MR>("NdkCreateMr", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_MR** out) {
    return pd_->Dispatch->NdkCreateMr(pd_, TRUE, cb, c, out);
  });
  request("NdkInitializeFastRegisterMr", [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return r.mr->Dispatch->NdkInitializeFastRegisterMr(r.mr, r.lam->AdapterPageCount, TRUE, cb, c);
  });
  return r;
}

UINT32 NdkEndpoint::postFastRegister(std::uint64_t ctx, FastRegion& r) {
  NTSTATUS s = qp_->Dispatch->NdkFastRegister(qp_, reinterpret_cast<PVOID>(ctx), r.mr, r.lam->AdapterPageCount,
                                              r.lam->AdapterPageArray, r.fbo, r.len, r.base,
                                              NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkFastRegister", s);
  return r.mr->Dispatch->NdkGetRemoteTokenFromMr(r.mr);
}

// ---- data -----------------------------------------------------------------------------------

ULONG NdkEndpoint::flagsFor(ULONG len) const { return len && len <= p_.inlineSize ? NDK_OP_FLAG_INLINE : 0; }

void NdkEndpoint::postRecv(std::uint64_t ctx, char* p, ULONG len) {
  NDK_SGE sge{};
  sge.VirtualAddress = p;
  sge.Length = len;
  sge.MemoryRegionToken = localToken_;
  NTSTATUS s = qp_->Dispatch->NdkReceive(qp_, reinterpret_cast<PVOID>(ctx), &sge, 1);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkReceive", s);
}

void NdkEndpoint::postSend(std::uint64_t ctx, const char* p, ULONG len, ULONG extraFlags) {
  NDK_SGE sge{};
  sge.VirtualAddress = const_cast<char*>(p);
  sge.Length = len;
  sge.MemoryRegionToken = localToken_;
  NTSTATUS s = qp_->Dispatch->NdkSend(qp_, reinterpret_cast<PVOID>(ctx), &sge, 1, flagsFor(len) | extraFlags);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkSend", s);
}

void NdkEndpoint::postWrite(std::uint64_t ctx, const char* p, ULONG len, std::uint64_t raddr, UINT32 rtoken,
                            ULONG extraFlags) {
  NDK_SGE sge{};
  sge.VirtualAddress = const_cast<char*>(p);
  sge.Length = len;
  sge.MemoryRegionToken = localToken_;
  NTSTATUS s =
      qp_->Dispatch->NdkWrite(qp_, reinterpret_cast<PVOID>(ctx), &sge, 1, raddr, rtoken, flagsFor(len) | extraFlags);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkWrite", s);
}

void NdkEndpoint::postRead(std::uint64_t ctx, char* p, ULONG len, std::uint64_t raddr, UINT32 rtoken, ULONG extraFlags) {
  NDK_SGE sge{};
  sge.VirtualAddress = p;
  sge.Length = len;
  sge.MemoryRegionToken = localToken_;
  NTSTATUS s = qp_->Dispatch->NdkRead(qp_, reinterpret_cast<PVOID>(ctx), &sge, 1, raddr, rtoken, extraFlags);
  if (!NT_SUCCESS(s)) throw NdkCallError("NdkRead", s);
}

bool NdkEndpoint::tryNext(NDK_RESULT_EX* r) {
  if (pendingPos_ < pending_.size()) {
    *r = pending_[pendingPos_++];
    return true;
  }
  NDK_RESULT_EX batch[32];
  ULONG n = cq_->Dispatch->NdkGetCqResultsEx(cq_, batch, 32);
  if (!n) return false;
  pending_.assign(batch, batch + n);
  pendingPos_ = 1;
  *r = pending_[0];
  return true;
}

NDK_RESULT_EX NdkEndpoint::next(int timeoutMs) {
  NDK_RESULT_EX r{};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (unsigned spins = 0;; ++spins) {
    if (tryNext(&r)) return r;
    // Busy polling looks at the clock once per kPollsPerDeadlineCheck empty polls: a clock read
    // costs as much as an empty CQ poll on a VM's clock source, and the raw-TCP baseline's spin
    // reads none (the figures compare the two loops).
    if ((!p_.poll || spins % kPollsPerDeadlineCheck == 0) && std::chrono::steady_clock::now() > deadline)
      throw PerfError("timed out waiting for a completion");
    if (p_.poll) continue;
    // Event style: arm, look again (an entry may have raced the arm), then sleep on the callback.
    {
      std::lock_guard<std::mutex> l(cqEvent_.mu);
      cqEvent_.count = 0;
    }
    cq_->Dispatch->NdkArmCq(cq_, NDK_CQ_NOTIFY_ANY);
    if (tryNext(&r)) return r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    cqEvent_.wait(static_cast<int>(std::max<long long>(1, left.count())));
  }
}

}  // namespace ndkperf
