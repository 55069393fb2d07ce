// OpenNDK conformance suite: the synchronous consumer (see consumer.h). C ABI only.
#include "consumer.h"

#include <ndk/ndk_host.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace conf {

NET_IFINDEX interfaceUnderTest() {
  if (const char* e = std::getenv("OPENNDK_CONFORMANCE_IFINDEX"); e && *e) {
    return static_cast<NET_IFINDEX>(std::strtoul(e, nullptr, 0));
  }
  return static_cast<NET_IFINDEX>(if_nametoindex("lo"));
}

bool strict() {
  const char* e = std::getenv("OPENNDK_CONFORMANCE_STRICT");
  return !(e && std::strcmp(e, "0") == 0);
}

bool hostHasBindableIpv6(NET_IFINDEX ifx) {
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(ifx, name)) return false;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 || std::strcmp(i->ifa_name, name) != 0) continue;
    sockaddr_in6 a = *reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    a.sin6_port = 0;
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) continue;
    found = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
  }
  freeifaddrs(list);
  return found;
}

bool allowNotImplemented() {
  const char* e = std::getenv("OPENNDK_CONFORMANCE_ALLOW_NOT_IMPLEMENTED");
  return e && std::strcmp(e, "1") == 0;
}

std::string statusName(NTSTATUS s) {
  struct Name {
    NTSTATUS v;
    const char* n;
  };
  static const Name names[] = {
#define N(x) {x, #x}
      N(STATUS_SUCCESS), N(STATUS_PENDING), N(STATUS_BUFFER_OVERFLOW), N(STATUS_ACCESS_VIOLATION),
      N(STATUS_INVALID_PARAMETER), N(STATUS_BUFFER_TOO_SMALL), N(STATUS_INVALID_PARAMETER_MIX),
      N(STATUS_SHARING_VIOLATION), N(STATUS_INSUFFICIENT_RESOURCES), N(STATUS_IO_TIMEOUT),
      N(STATUS_NOT_SUPPORTED), N(STATUS_INTERNAL_ERROR), N(STATUS_CANCELLED), N(STATUS_REMOTE_RESOURCES),
      N(STATUS_INVALID_ADDRESS), N(STATUS_TOO_MANY_ADDRESSES), N(STATUS_ADDRESS_ALREADY_EXISTS),
      N(STATUS_CONNECTION_REFUSED), N(STATUS_CONNECTION_INVALID), N(STATUS_NETWORK_UNREACHABLE),
      N(STATUS_HOST_UNREACHABLE), N(STATUS_CONNECTION_ABORTED), N(STATUS_IMPLEMENTATION_LIMIT),
      N(STATUS_UNSUCCESSFUL), N(STATUS_NOT_IMPLEMENTED), N(STATUS_INVALID_HANDLE),
      N(STATUS_INVALID_DEVICE_REQUEST), N(STATUS_NO_MEMORY), N(STATUS_OBJECT_TYPE_MISMATCH),
      N(STATUS_REQUEST_ABORTED), N(STATUS_CONNECTION_RESET), N(STATUS_CONNECTION_DISCONNECTED),
      N(STATUS_DATA_ERROR), N(STATUS_DEVICE_NOT_READY), N(STATUS_INVALID_DEVICE_STATE),
      N(STATUS_NOT_FOUND), N(NDIS_STATUS_BAD_VERSION), N(NDIS_STATUS_ADAPTER_NOT_READY),
      N(NDIS_STATUS_ADAPTER_NOT_FOUND), N(NDIS_STATUS_INVALID_LENGTH), N(NDIS_STATUS_INVALID_DATA),
      N(NDIS_STATUS_BUFFER_TOO_SHORT), N(NDIS_STATUS_INVALID_OID),
#undef N
  };
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", static_cast<unsigned>(s));
  for (const Name& n : names) {
    if (n.v == s) return std::string(hex) + " " + n.n;
  }
  return hex;
}

// ---- Event ------------------------------------------------------------------------------------

void Event::set() {
  std::lock_guard<std::mutex> l(mu_);
  set_ = true;
  cv_.notify_all();
}

bool Event::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return set_; });
}

bool Event::isSet() {
  std::lock_guard<std::mutex> l(mu_);
  return set_;
}

void Event::reset() {
  std::lock_guard<std::mutex> l(mu_);
  set_ = false;
}

// ---- Recorder ---------------------------------------------------------------------------------

void Recorder::record(const CallRecord& r) {
  in_callback_.store(true);
  {
    std::lock_guard<std::mutex> l(mu_);
    calls_.push_back(r);
  }
  entered.set();
  if (hook) hook(r);
  if (gate) release.wait();
  in_callback_.store(false);
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

bool Recorder::waitFor(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  // Counted only once the callback body (hook, gate) finished, so that the waiter knows the
  // callback is about to return.
  return cv_.wait_for(l, timeout, [&] { return calls_.size() >= n && !in_callback_.load(); });
}

size_t Recorder::count() {
  std::lock_guard<std::mutex> l(mu_);
  return calls_.size();
}

std::vector<CallRecord> Recorder::calls() {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

CallRecord Recorder::last() {
  std::lock_guard<std::mutex> l(mu_);
  return calls_.empty() ? CallRecord{} : calls_.back();
}

VOID Recorder::onClose(PVOID ctx) {
  static_cast<Recorder*>(ctx)->record({ctx, STATUS_SUCCESS, nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onCreate(PVOID ctx, NTSTATUS st, NDK_OBJECT_HEADER* obj) {
  static_cast<Recorder*>(ctx)->record({ctx, st, obj, 0, std::this_thread::get_id()});
}
VOID Recorder::onRequest(PVOID ctx, NTSTATUS st) {
  static_cast<Recorder*>(ctx)->record({ctx, st, nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onCqNotify(PVOID ctx, NTSTATUS st) {
  static_cast<Recorder*>(ctx)->record({ctx, st, nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onSrqNotify(PVOID ctx, NTSTATUS st) {
  static_cast<Recorder*>(ctx)->record({ctx, st, nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onConnectEvent(PVOID ctx, NDK_CONNECTOR* c) {
  static_cast<Recorder*>(ctx)->record(
      {ctx, STATUS_SUCCESS, c ? &c->Header : nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onDisconnect(PVOID ctx) {
  static_cast<Recorder*>(ctx)->record({ctx, STATUS_SUCCESS, nullptr, 0, std::this_thread::get_id()});
}
VOID Recorder::onDisconnectEx(PVOID ctx, ULONG reason) {
  static_cast<Recorder*>(ctx)->record({ctx, STATUS_SUCCESS, nullptr, reason, std::this_thread::get_id()});
}

// ---- close ------------------------------------------------------------------------------------

NDK_FN_CLOSE_OBJECT closeFnOf(NDK_OBJECT_HEADER* h) {
  switch (h->ObjectType) {
    case NdkObjectTypeCq: return reinterpret_cast<NDK_CQ*>(h)->Dispatch->NdkCloseCq;
    case NdkObjectTypePd: return reinterpret_cast<NDK_PD*>(h)->Dispatch->NdkClosePd;
    case NdkObjectTypeMr: return reinterpret_cast<NDK_MR*>(h)->Dispatch->NdkCloseMr;
    case NdkObjectTypeMw: return reinterpret_cast<NDK_MW*>(h)->Dispatch->NdkCloseMw;
    case NdkObjectTypeQp: return reinterpret_cast<NDK_QP*>(h)->Dispatch->NdkCloseQp;
    case NdkObjectTypeSrq: return reinterpret_cast<NDK_SRQ*>(h)->Dispatch->NdkCloseSrq;
    case NdkObjectTypeConnector: return reinterpret_cast<NDK_CONNECTOR*>(h)->Dispatch->NdkCloseConnector;
    case NdkObjectTypeListener: return reinterpret_cast<NDK_LISTENER*>(h)->Dispatch->NdkCloseListener;
    case NdkObjectTypeSharedEndpoint:
      return reinterpret_cast<NDK_SHARED_ENDPOINT*>(h)->Dispatch->NdkCloseSharedEndpoint;
    default: return nullptr;
  }
}

NTSTATUS closeSync(NDK_OBJECT_HEADER* h) {
  NDK_FN_CLOSE_OBJECT fn = closeFnOf(h);
  EXPECT_NE(nullptr, fn) << "object type " << h->ObjectType << " has no close";
  if (!fn) return STATUS_INVALID_PARAMETER;
  Recorder rec;
  NTSTATUS st = fn(h, &Recorder::onClose, &rec);
  EXPECT_TRUE(st == STATUS_SUCCESS || st == STATUS_PENDING) << "R18: close returned " << statusName(st);
  if (st == STATUS_PENDING) {
    EXPECT_TRUE(rec.waitFor(1)) << "NdkCloseCompletion never came (R18)";
    EXPECT_EQ(static_cast<PVOID>(&rec), rec.last().context) << "R9: close context";
  } else {
    EXPECT_EQ(0u, rec.count()) << "R18: close completion after inline success";
  }
  return st;
}

// ---- MdlBuffer --------------------------------------------------------------------------------

MdlBuffer::MdlBuffer(size_t bytes, size_t offset) : offset_(offset), bytes_(bytes) {
  size_t total = ((bytes + offset + PAGE_SIZE - 1) / PAGE_SIZE + 1) * PAGE_SIZE;
  base_ = static_cast<char*>(std::aligned_alloc(PAGE_SIZE, total));
  std::memset(base_, 0, total);
  mdl_ = IoAllocateMdl(data(), static_cast<ULONG>(bytes), FALSE, FALSE, nullptr);
  if (mdl_) MmBuildMdlForNonPagedPool(mdl_);
}

MdlBuffer::~MdlBuffer() {
  IoFreeMdl(mdl_);
  std::free(base_);
}

// ---- NdkTest ----------------------------------------------------------------------------------

void NdkTest::SetUp() {
  NET_IFINDEX ifx = interfaceUnderTest();
  ASSERT_NE(0u, ifx) << "no interface under test (set OPENNDK_CONFORMANCE_IFINDEX)";
  NTSTATUS st = OpenNdkOpenAdapter(ifx, nullptr, &adapter_);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  ASSERT_NE(nullptr, adapter_);
  ULONG size = sizeof(info_);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, adapter_->Dispatch->NdkQueryAdapterInfo(adapter_, &info_, &size));
}

void NdkTest::TearDown() {
  while (!tracked_.empty()) {
    NDK_OBJECT_HEADER* h = tracked_.back();
    tracked_.pop_back();
    closeSync(h);
  }
  if (adapter_) OpenNdkCloseAdapter(adapter_);
  adapter_ = nullptr;
}

void NdkTest::track(NDK_OBJECT_HEADER* h) {
  if (h) tracked_.push_back(h);
}

void NdkTest::untrack(NDK_OBJECT_HEADER* h) {
  auto it = std::find(tracked_.begin(), tracked_.end(), h);
  if (it != tracked_.end()) tracked_.erase(it);
}

NTSTATUS NdkTest::closeNow(NDK_OBJECT_HEADER* h) {
  untrack(h);
  return closeSync(h);
}

Recorder* NdkTest::notifierOf(NDK_CQ* cq) {
  for (auto& [c, r] : cqNotify_) {
    if (c == cq) return r;
  }
  return nullptr;
}

NDK_CQ* NdkTest::makeCq(ULONG depth, Recorder* notify) {
  if (!notify) {
    owned_.push_back(std::make_unique<Recorder>());
    notify = owned_.back().get();
  }
  NDK_CQ* cq = nullptr;
  NTSTATUS st = createSync<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_CQ** out) {
        return adapter_->Dispatch->NdkCreateCq(adapter_, depth, &Recorder::onCqNotify, notify, nullptr, cb,
                                               ctx, out);
      },
      &cq);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateCq depth " << depth;
  track(cq);
  if (cq) cqNotify_.push_back({cq, notify});
  return cq;
}

NDK_PD* NdkTest::makePd() {
  NDK_PD* pd = nullptr;
  NTSTATUS st = createSync<NDK_PD>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_PD** out) {
        return adapter_->Dispatch->NdkCreatePd(adapter_, cb, ctx, out);
      },
      &pd);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreatePd";
  track(pd);
  return pd;
}

NDK_MR* NdkTest::makeMr(NDK_PD* pd, bool fast) {
  NDK_MR* mr = nullptr;
  NTSTATUS st = createSync<NDK_MR>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_MR** out) {
        return pd->Dispatch->NdkCreateMr(pd, fast ? TRUE : FALSE, cb, ctx, out);
      },
      &mr);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateMr";
  track(mr);
  return mr;
}

NDK_MW* NdkTest::makeMw(NDK_PD* pd) {
  NDK_MW* mw = nullptr;
  NTSTATUS st = createSync<NDK_MW>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_MW** out) {
        return pd->Dispatch->NdkCreateMw(pd, cb, ctx, out);
      },
      &mw);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateMw";
  track(mw);
  return mw;
}

NDK_SRQ* NdkTest::makeSrq(NDK_PD* pd, ULONG depth, ULONG sge, ULONG threshold, Recorder* notify) {
  NDK_SRQ* srq = nullptr;
  NTSTATUS st = createSync<NDK_SRQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_SRQ** out) {
        return pd->Dispatch->NdkCreateSrq(pd, depth, sge, threshold, notify ? &Recorder::onSrqNotify : nullptr,
                                          notify, nullptr, cb, ctx, out);
      },
      &srq);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateSrq";
  track(srq);
  return srq;
}

NDK_QP* NdkTest::makeQp(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, PVOID qpContext, ULONG rqDepth, ULONG iqDepth,
                        ULONG rsge, ULONG isge, ULONG inlineSize) {
  NDK_QP* qp = nullptr;
  NTSTATUS st = createSync<NDK_QP>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_QP** out) {
        return pd->Dispatch->NdkCreateQp(pd, rcq, icq, qpContext, rqDepth, iqDepth, rsge, isge, inlineSize, cb,
                                         ctx, out);
      },
      &qp);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateQp";
  track(qp);
  return qp;
}

NDK_QP* NdkTest::makeQpWithSrq(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq, PVOID qpContext,
                               ULONG iqDepth, ULONG isge, ULONG inlineSize) {
  NDK_QP* qp = nullptr;
  NTSTATUS st = createSync<NDK_QP>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_QP** out) {
        return pd->Dispatch->NdkCreateQpWithSrq(pd, rcq, icq, srq, qpContext, iqDepth, isge, inlineSize, cb,
                                                ctx, out);
      },
      &qp);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateQpWithSrq";
  track(qp);
  return qp;
}

NDK_CONNECTOR* NdkTest::makeConnector() {
  NDK_CONNECTOR* c = nullptr;
  NTSTATUS st = createSync<NDK_CONNECTOR>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_CONNECTOR** out) {
        return adapter_->Dispatch->NdkCreateConnector(adapter_, cb, ctx, out);
      },
      &c);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateConnector";
  track(c);
  return c;
}

NDK_LISTENER* NdkTest::makeListener(Recorder* connectEvents) {
  NDK_LISTENER* l = nullptr;
  NTSTATUS st = createSync<NDK_LISTENER>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_LISTENER** out) {
        return adapter_->Dispatch->NdkCreateListener(adapter_, &Recorder::onConnectEvent, connectEvents, cb, ctx,
                                                     out);
      },
      &l);
  EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << "NdkCreateListener";
  track(l);
  return l;
}

NDK_SHARED_ENDPOINT* NdkTest::makeSharedEndpoint(const SOCKADDR* addr, ULONG len, NTSTATUS* status) {
  NDK_SHARED_ENDPOINT* se = nullptr;
  NTSTATUS st = createSync<NDK_SHARED_ENDPOINT>(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID ctx, NDK_SHARED_ENDPOINT** out) {
        return adapter_->Dispatch->NdkCreateSharedEndpoint(adapter_, const_cast<PSOCKADDR>(addr), len, cb, ctx,
                                                           out);
      },
      &se);
  if (status) *status = st;
  track(se);
  return se;
}

NTSTATUS NdkTest::registerMr(NDK_MR* mr, MdlBuffer& buf, SIZE_T len, ULONG flags) {
  return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
    return mr->Dispatch->NdkRegisterMr(mr, buf.mdl(), len, flags, cb, ctx);
  });
}

template <class R, class G>
static std::vector<R> drainImpl(NDK_CQ* cq, size_t n, Recorder* notify, G get) {
  std::vector<R> out;
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (out.size() < n) {
    R buf[16];
    ULONG got = get(buf, static_cast<ULONG>(std::min<size_t>(16, n - out.size())));
    out.insert(out.end(), buf, buf + got);
    if (out.size() >= n) break;
    if (got) continue;
    if (!notify || std::chrono::steady_clock::now() > deadline) break;
    size_t before = notify->count();
    cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !notify->waitFor(before + 1, left)) {
      // Last look: entries that arrived without a notification are a separate (R42/R44) failure.
      got = get(buf, static_cast<ULONG>(std::min<size_t>(16, n - out.size())));
      out.insert(out.end(), buf, buf + got);
      break;
    }
  }
  return out;
}

std::vector<NDK_RESULT_EX> NdkTest::drainEx(NDK_CQ* cq, size_t n) {
  return drainImpl<NDK_RESULT_EX>(cq, n, notifierOf(cq), [&](NDK_RESULT_EX* b, ULONG k) {
    return cq->Dispatch->NdkGetCqResultsEx(cq, b, k);
  });
}

std::vector<NDK_RESULT> NdkTest::drain(NDK_CQ* cq, size_t n) {
  return drainImpl<NDK_RESULT>(cq, n, notifierOf(cq), [&](NDK_RESULT* b, ULONG k) {
    return cq->Dispatch->NdkGetCqResults(cq, b, k);
  });
}

std::vector<NDK_RESULT_EX> NdkTest::pollEx(NDK_CQ* cq, size_t n) {
  std::vector<NDK_RESULT_EX> out;
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    NDK_RESULT_EX buf[16];
    ULONG got = cq->Dispatch->NdkGetCqResultsEx(cq, buf, static_cast<ULONG>(std::min<size_t>(16, n - out.size())));
    out.insert(out.end(), buf, buf + got);
    if (!got) std::this_thread::yield();
  }
  return out;
}

void NdkTest::waitWritesPlaced(NDK_QP* qp, NDK_CQ* cq, PVOID ctx) {
  // Zero length: the target never validates the token (RFC 5041 §5.2), any value will do.
  CONF_ASSERT_STATUS(STATUS_SUCCESS, qp->Dispatch->NdkRead(qp, ctx, nullptr, 0, 0, 0, 0));
  auto r = drainEx(cq, 1);
  ASSERT_EQ(1u, r.size());
  EXPECT_EQ(ctx, r[0].RequestContext);
  CONF_EXPECT_STATUS(STATUS_SUCCESS, r[0].Status);
}

NTSTATUS NdkTest::postEmptyReceive(NDK_QP* qp, PVOID ctx) {
  NDK_SGE dummy{};
  return qp->Dispatch->NdkReceive(qp, ctx, &dummy, 0);
}

NTSTATUS NdkTest::listenOn(NDK_LISTENER* l, const SOCKADDR_IN& addr, SOCKADDR_IN* bound) {
  SOCKADDR_IN a = addr;
  NTSTATUS st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return l->Dispatch->NdkListen(l, reinterpret_cast<PSOCKADDR>(&a), sizeof a, cb, c);
  });
  if (st != STATUS_SUCCESS || !bound) return st;
  ULONG len = sizeof *bound;
  return l->Dispatch->NdkGetLocalAddress(l, reinterpret_cast<PSOCKADDR>(bound), &len);
}

NTSTATUS NdkTest::connectPair(Pair& p, ULONG ird, ULONG ord, const void* callerData, ULONG callerLen,
                              const void* calleeData, ULONG calleeLen, ULONG depth, ULONG inlineSize, bool ex) {
  p.pd = makePd();
  p.active.cq = makeCq(2 * depth + 8);
  if (!p.passive.cq) p.passive.cq = makeCq(2 * depth + 8);  // preset: the caller's (R156 test)
  p.active.icq = p.separateCqs ? makeCq(2 * depth + 8) : p.active.cq;
  if (!p.passive.icq) p.passive.icq = p.separateCqs ? makeCq(2 * depth + 8) : p.passive.cq;
  if (!p.pd || !p.active.cq || !p.passive.cq || !p.active.icq || !p.passive.icq) return STATUS_UNSUCCESSFUL;
  p.active.qp = makeQp(p.pd, p.active.cq, p.active.icq, &p.active, depth, depth, 4, 4, inlineSize);
  if (!p.passive.qp) p.passive.qp = makeQp(p.pd, p.passive.cq, p.passive.icq, &p.passive, depth, depth, 4, 4, inlineSize);
  p.listener = makeListener(&p.connectEvents);
  if (!p.active.qp || !p.passive.qp || !p.listener) return STATUS_UNSUCCESSFUL;
  NTSTATUS st = listenOn(p.listener, loopback4(0), &p.listenAddr);
  if (st != STATUS_SUCCESS) return st;
  p.active.con = makeConnector();
  if (!p.active.con) return STATUS_UNSUCCESSFUL;
  SOCKADDR_IN src = loopback4(0);
  Recorder& connectDone = p.connectDone;
  st = p.active.con->Dispatch->NdkConnect(p.active.con, p.active.qp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                          reinterpret_cast<PSOCKADDR>(&p.listenAddr), sizeof p.listenAddr, ird, ord,
                                          const_cast<PVOID>(callerData), callerLen, &Recorder::onRequest,
                                          &connectDone);
  if (st != STATUS_PENDING && st != STATUS_SUCCESS) return st;
  if (!p.connectEvents.waitFor(1)) return STATUS_IO_TIMEOUT;
  p.passive.con = reinterpret_cast<NDK_CONNECTOR*>(p.connectEvents.last().object);
  if (!p.passive.con) return STATUS_UNSUCCESSFUL;
  track(p.passive.con);
  Recorder& acceptDone = p.acceptDone;
  NTSTATUS ast = ex ? p.passive.con->Dispatch->NdkAcceptEx(p.passive.con, p.passive.qp, ird, ord,
                                                           const_cast<PVOID>(calleeData), calleeLen,
                                                           &Recorder::onDisconnectEx, &p.passive.disconnects,
                                                           &Recorder::onRequest, &acceptDone)
                    : p.passive.con->Dispatch->NdkAccept(p.passive.con, p.passive.qp, ird, ord,
                                                         const_cast<PVOID>(calleeData), calleeLen,
                                                         &Recorder::onDisconnect, &p.passive.disconnects,
                                                         &Recorder::onRequest, &acceptDone);
  if (ast != STATUS_PENDING && ast != STATUS_SUCCESS) return ast;
  if (st == STATUS_PENDING) {
    if (!connectDone.waitFor(1)) return STATUS_IO_TIMEOUT;
    st = connectDone.last().status;
    if (st != STATUS_SUCCESS) return st;
  }
  st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return ex ? p.active.con->Dispatch->NdkCompleteConnectEx(p.active.con, &Recorder::onDisconnectEx,
                                                             &p.active.disconnects, cb, c)
              : p.active.con->Dispatch->NdkCompleteConnect(p.active.con, &Recorder::onDisconnect,
                                                           &p.active.disconnects, cb, c);
  });
  if (st != STATUS_SUCCESS) return st;
  if (ast == STATUS_PENDING) {
    if (!acceptDone.waitFor(1)) return STATUS_IO_TIMEOUT;
    ast = acceptDone.last().status;
  }
  return ast;
}

SOCKADDR_IN NdkTest::loopback4(USHORT port) {
  // The first IPv4 address of the interface under test (127.0.0.1 for "lo").
  SOCKADDR_IN a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SOCKADDR_INET addrs[16];
  ULONG count = 0;
  if (OpenNdkQueryInterfaceAddresses(interfaceUnderTest(), addrs, 16, &count) == NDIS_STATUS_SUCCESS) {
    for (ULONG i = 0; i < std::min<ULONG>(count, 16); ++i) {
      if (addrs[i].si_family == AF_INET) {
        a.sin_addr = addrs[i].Ipv4.sin_addr;
        break;
      }
    }
  }
  return a;
}

}  // namespace conf
