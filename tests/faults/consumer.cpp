#include "consumer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ndktest {

std::string statusName(NTSTATUS s) {
  switch (s) {
#define N(x) \
  case x: return #x;
    N(STATUS_SUCCESS) N(STATUS_PENDING) N(STATUS_CANCELLED) N(STATUS_CONNECTION_ABORTED)
    N(STATUS_CONNECTION_RESET) N(STATUS_CONNECTION_REFUSED) N(STATUS_CONNECTION_INVALID) N(STATUS_IO_TIMEOUT)
    N(STATUS_CONNECTION_DISCONNECTED) N(STATUS_ACCESS_VIOLATION) N(STATUS_REMOTE_RESOURCES)
    N(STATUS_HOST_UNREACHABLE) N(STATUS_NETWORK_UNREACHABLE) N(STATUS_INVALID_DEVICE_STATE)
    N(STATUS_DEVICE_NOT_READY) N(STATUS_DATA_ERROR) N(STATUS_REQUEST_ABORTED) N(STATUS_INVALID_PARAMETER)
    N(NDIS_STATUS_ADAPTER_NOT_READY) N(NDIS_STATUS_ADAPTER_NOT_FOUND)
#undef N
    default: {
      char b[16];
      std::snprintf(b, sizeof b, "0x%08X", static_cast<unsigned>(s));
      return b;
    }
  }
}

void Latch::set(NTSTATUS s, NDK_OBJECT_HEADER* o) {
  std::lock_guard l(mu);
  ++count;
  status = s;
  object = o;
  cv.notify_all();
}
bool Latch::wait(int n, Ms t) {
  std::unique_lock l(mu);
  return cv.wait_for(l, t, [&] { return count >= n; });
}
int Latch::value() {
  std::lock_guard l(mu);
  return count;
}

namespace {
VOID onCreate(PVOID ctx, NTSTATUS s, NDK_OBJECT_HEADER* o) { static_cast<Latch*>(ctx)->set(s, o); }
VOID onRequest(PVOID ctx, NTSTATUS s) { static_cast<Latch*>(ctx)->set(s); }
VOID onClose(PVOID ctx) { static_cast<Latch*>(ctx)->set(); }
}  // namespace

NTSTATUS createSync(const std::function<NTSTATUS(NDK_FN_CREATE_COMPLETION, PVOID)>& call, NDK_OBJECT_HEADER** out,
                    Ms t) {
  Latch w;
  NTSTATUS s = call(onCreate, &w);
  if (s == STATUS_PENDING) {
    if (!w.wait(1, t)) return STATUS_IO_TIMEOUT;
    std::lock_guard l(w.mu);
    s = w.status;
    *out = w.object;
  }
  return s;
}

NTSTATUS requestSync(const std::function<NTSTATUS(NDK_FN_REQUEST_COMPLETION, PVOID)>& call, Ms t) {
  Latch w;
  NTSTATUS s = call(onRequest, &w);
  if (s == STATUS_PENDING) {
    if (!w.wait(1, t)) return STATUS_PENDING;
    std::lock_guard l(w.mu);
    s = w.status;
  }
  return s;
}

NTSTATUS closeSync(NDK_OBJECT_HEADER* h, Ms t) {
  if (!h) return STATUS_SUCCESS;
  // Every NDK dispatch table starts with its NdkClose* function (R3).
  auto fn = *reinterpret_cast<const NDK_FN_CLOSE_OBJECT* const*>(reinterpret_cast<const char*>(h) + offsetof(NDK_CQ, Dispatch));
  Latch w;
  NTSTATUS s = (*fn)(h, onClose, &w);
  if (s == STATUS_PENDING && !w.wait(1, t)) return STATUS_IO_TIMEOUT;
  return s == STATUS_PENDING ? STATUS_SUCCESS : s;
}

SOCKADDR_INET ipv4(const std::string& ip, std::uint16_t port) {
  SOCKADDR_INET a{};
  a.Ipv4.sin_family = AF_INET;
  inet_pton(AF_INET, ip.c_str(), &a.Ipv4.sin_addr);
  a.Ipv4.sin_port = htons(port);
  return a;
}

NET_IFINDEX interfaceForIp(const std::string& ip) {
  OpenNdkRefreshInterfaces();
  const SOCKADDR_INET want = ipv4(ip, 0);
  NET_IFINDEX idx[64];
  const ULONG n = std::min<ULONG>(OpenNdkEnumerateInterfaces(idx, 64), 64);
  for (ULONG i = 0; i < n; ++i) {
    SOCKADDR_INET addrs[16];
    ULONG count = 0;
    if (OpenNdkQueryInterfaceAddresses(idx[i], addrs, 16, &count) != NDIS_STATUS_SUCCESS) continue;
    for (ULONG k = 0; k < std::min<ULONG>(count, 16); ++k)
      if (addrs[k].si_family == AF_INET && addrs[k].Ipv4.sin_addr.s_addr == want.Ipv4.sin_addr.s_addr) return idx[i];
  }
  return 0;
}

Buffer::Buffer(std::size_t len) {
  n = (len + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
  p = static_cast<std::uint8_t*>(std::aligned_alloc(PAGE_SIZE, n));
  if (!p) return;
  std::memset(p, 0, n);
  mdl = IoAllocateMdl(p, static_cast<ULONG>(n), FALSE, FALSE, nullptr);
  if (mdl) MmBuildMdlForNonPagedPool(mdl);
}
Buffer::~Buffer() {
  if (mdl) IoFreeMdl(mdl);
  std::free(p);
}

Region::Region(NDK_PD* pd, Buffer& b, ULONG flags) {
  NDK_OBJECT_HEADER* o = nullptr;
  NTSTATUS s = createSync(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID c) {
        return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, c, &mr);
      },
      &o);
  if (o) mr = reinterpret_cast<NDK_MR*>(o);
  if (s != STATUS_SUCCESS || !mr) return;
  s = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
    return mr->Dispatch->NdkRegisterMr(mr, b.mdl, b.n, flags, cb, c);
  });
  if (s != STATUS_SUCCESS) return;
  registered = true;
  local = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  remote = mr->Dispatch->NdkGetRemoteTokenFromMr(mr);
}
Region::~Region() {
  if (registered)
    requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) { return mr->Dispatch->NdkDeregisterMr(mr, cb, c); });
  if (mr) closeSync(&mr->Header);
}

// ---- ledger ---------------------------------------------------------------------------------

std::uint64_t Ledger::post(NDK_OPERATION_TYPE kind) {
  std::lock_guard l(mu_);
  const std::uint64_t id = next_++;
  open_[id] = kind;
  ++posted_;
  return id;
}
void Ledger::unpost(std::uint64_t id) {
  std::lock_guard l(mu_);
  if (open_.erase(id)) --posted_;
}
void Ledger::complete(const NDK_RESULT_EX& r) {
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(r.RequestContext));
  std::lock_guard l(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) {
    if (done_.count(id)) ++dup_;
    else ++unknown_;
    return;
  }
  open_.erase(it);
  done_[id] = true;
  ++completed_;
  if (r.Status != STATUS_SUCCESS) ++failed_;
  ++statuses_[r.Status];
}
std::size_t Ledger::outstanding() {
  std::lock_guard l(mu_);
  return open_.size();
}
std::size_t Ledger::posted() {
  std::lock_guard l(mu_);
  return posted_;
}
std::size_t Ledger::completed() {
  std::lock_guard l(mu_);
  return completed_;
}
std::size_t Ledger::duplicates() {
  std::lock_guard l(mu_);
  return dup_;
}
std::size_t Ledger::unknown() {
  std::lock_guard l(mu_);
  return unknown_;
}
std::size_t Ledger::failed() {
  std::lock_guard l(mu_);
  return failed_;
}
std::map<NTSTATUS, std::size_t> Ledger::statuses() {
  std::lock_guard l(mu_);
  return statuses_;
}

// ---- adapter / listener ---------------------------------------------------------------------

Adapter::Adapter(NET_IFINDEX ifx) {
  openStatus = OpenNdkOpenAdapter(ifx, nullptr, &a);
  if (openStatus != STATUS_SUCCESS) {
    a = nullptr;
    return;
  }
  ULONG size = sizeof info;
  a->Dispatch->NdkQueryAdapterInfo(a, &info, &size);
  NDK_OBJECT_HEADER* o = nullptr;
  if (createSync([&](NDK_FN_CREATE_COMPLETION cb, PVOID c) { return a->Dispatch->NdkCreatePd(a, cb, c, &pd); }, &o) !=
      STATUS_SUCCESS)
    pd = nullptr;
  else if (o)
    pd = reinterpret_cast<NDK_PD*>(o);
}
Adapter::~Adapter() { close(); }
void Adapter::close() {
  if (pd) closeSync(&pd->Header);
  pd = nullptr;
  if (a) OpenNdkCloseAdapter(a);
  a = nullptr;
}

Listener::Listener(Adapter& ad) {
  NDK_OBJECT_HEADER* o = nullptr;
  if (createSync(
          [&](NDK_FN_CREATE_COMPLETION cb, PVOID c) {
            return ad.a->Dispatch->NdkCreateListener(ad.a, onConnect, this, cb, c, &l);
          },
          &o) != STATUS_SUCCESS)
    l = nullptr;
  else if (o)
    l = reinterpret_cast<NDK_LISTENER*>(o);
}
Listener::~Listener() {
  beginClose();
  {
    std::lock_guard g(mu_);
    for (NDK_CONNECTOR* c : q_) closeSync(&c->Header);
    q_.clear();
  }
  waitClosed(Ms(30000));
}
VOID Listener::onConnect(PVOID ctx, NDK_CONNECTOR* c) {
  auto* self = static_cast<Listener*>(ctx);
  std::lock_guard g(self->mu_);
  self->q_.push_back(c);
  self->cv_.notify_all();
}
std::uint16_t Listener::listen(const std::string& ip, std::uint16_t port) {
  if (!l) return 0;
  SOCKADDR_INET a = ipv4(ip, port);
  if (requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return l->Dispatch->NdkListen(l, reinterpret_cast<PSOCKADDR>(&a), sizeof(SOCKADDR_IN), cb, c);
      }) != STATUS_SUCCESS)
    return 0;
  SOCKADDR_INET bound{};
  ULONG len = sizeof bound;
  if (l->Dispatch->NdkGetLocalAddress(l, reinterpret_cast<PSOCKADDR>(&bound), &len) != STATUS_SUCCESS) return 0;
  return ntohs(bound.Ipv4.sin_port);
}
NDK_CONNECTOR* Listener::next(Ms t) {
  std::unique_lock g(mu_);
  if (!cv_.wait_for(g, t, [&] { return !q_.empty(); })) return nullptr;
  NDK_CONNECTOR* c = q_.front();
  q_.pop_front();
  return c;
}
void Listener::beginClose() {
  if (!l || closing_) return;
  closing_ = true;
  if (l->Dispatch->NdkCloseListener(&l->Header, onClose, &closed_) != STATUS_PENDING) closed_.set();
}
bool Listener::waitClosed(Ms t) {
  if (!closing_) return true;
  const bool ok = closed_.wait(1, t);
  if (ok) l = nullptr;
  return ok;
}
NTSTATUS Listener::close() {
  beginClose();
  return waitClosed(Ms(30000)) ? STATUS_SUCCESS : STATUS_IO_TIMEOUT;
}

// ---- endpoint -------------------------------------------------------------------------------

VOID Endpoint::onCq(PVOID ctx, NTSTATUS s) { static_cast<Latch*>(ctx)->set(s); }
VOID Endpoint::onDisconnect(PVOID ctx) { static_cast<Latch*>(ctx)->set(); }

Endpoint::Endpoint(Adapter& a, ULONG depth, ULONG ird_, ULONG ord_) : ad(a), ird(ird_), ord(ord_) {
  NDK_OBJECT_HEADER* o = nullptr;
  const ULONG cqDepth = std::min<ULONG>(ad.info.MaxCqDepth, 2 * depth + 8);
  if (createSync(
          [&](NDK_FN_CREATE_COMPLETION cb, PVOID c) {
            return ad.a->Dispatch->NdkCreateCq(ad.a, cqDepth, onCq, &cqEvent_, nullptr, cb, c, &cq);
          },
          &o) != STATUS_SUCCESS)
    return;
  if (o) cq = reinterpret_cast<NDK_CQ*>(o);
  o = nullptr;
  const ULONG d = std::min(depth, std::min(ad.info.MaxInitiatorQueueDepth, ad.info.MaxReceiveQueueDepth));
  if (createSync(
          [&](NDK_FN_CREATE_COMPLETION cb, PVOID c) {
            return ad.pd->Dispatch->NdkCreateQp(ad.pd, cq, cq, this, d, d, 4, 4, 0, cb, c, &qp);
          },
          &o) != STATUS_SUCCESS) {
    qp = nullptr;
    return;
  }
  if (o) qp = reinterpret_cast<NDK_QP*>(o);
}
Endpoint::~Endpoint() { closeAll(); }

NTSTATUS Endpoint::closeAll() {
  NTSTATUS s = STATUS_SUCCESS;
  if (conn) s = closeSync(&conn->Header);
  conn = nullptr;
  if (qp) closeSync(&qp->Header);
  qp = nullptr;
  if (cq) closeSync(&cq->Header);
  cq = nullptr;
  return s;
}

NTSTATUS Endpoint::connect(const std::string& srcIp, const std::string& dstIp, std::uint16_t port, Ms t) {
  NDK_OBJECT_HEADER* o = nullptr;
  NTSTATUS s = createSync(
      [&](NDK_FN_CREATE_COMPLETION cb, PVOID c) { return ad.a->Dispatch->NdkCreateConnector(ad.a, cb, c, &conn); }, &o);
  if (s != STATUS_SUCCESS) return s;
  if (o) conn = reinterpret_cast<NDK_CONNECTOR*>(o);
  SOCKADDR_INET src = ipv4(srcIp, 0), dst = ipv4(dstIp, port);
  s = requestSync(
      [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return conn->Dispatch->NdkConnect(conn, qp, reinterpret_cast<PSOCKADDR>(&src), sizeof(SOCKADDR_IN),
                                          reinterpret_cast<PSOCKADDR>(&dst), sizeof(SOCKADDR_IN), ird, ord, nullptr, 0,
                                          cb, c);
      },
      t);
  if (s != STATUS_SUCCESS) return s;
  return requestSync(
      [&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
        return conn->Dispatch->NdkCompleteConnect(conn, onDisconnect, &disconnected, cb, c);
      },
      t);
}

NTSTATUS Endpoint::accept(NDK_CONNECTOR* c, Ms t) {
  conn = c;
  return requestSync(
      [&](NDK_FN_REQUEST_COMPLETION cb, PVOID ctx) {
        return conn->Dispatch->NdkAccept(conn, qp, ird, ord, nullptr, 0, onDisconnect, &disconnected, cb, ctx);
      },
      t);
}

NTSTATUS Endpoint::disconnect(Ms t) {
  if (!conn) return STATUS_CONNECTION_INVALID;
  return requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) { return conn->Dispatch->NdkDisconnect(conn, cb, c); },
                     t);
}

NTSTATUS Endpoint::track(NTSTATUS s, std::uint64_t id, std::uint64_t* out) {
  if (s != STATUS_SUCCESS) ledger.unpost(id);
  else if (out) *out = id;
  return s;
}
static PVOID ctxOf(std::uint64_t id) { return reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(id)); }

NTSTATUS Endpoint::postReceive(const NDK_SGE* sge, ULONG n, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeReceive);
  return track(qp->Dispatch->NdkReceive(qp, ctxOf(i), sge, n), i, id);
}
NTSTATUS Endpoint::postSend(const NDK_SGE* sge, ULONG n, ULONG flags, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeSend);
  return track(qp->Dispatch->NdkSend(qp, ctxOf(i), sge, n, flags), i, id);
}
NTSTATUS Endpoint::postWrite(const NDK_SGE* sge, ULONG n, std::uint64_t raddr, UINT32 rtoken, ULONG flags,
                             std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeWrite);
  return track(qp->Dispatch->NdkWrite(qp, ctxOf(i), sge, n, raddr, rtoken, flags), i, id);
}
NTSTATUS Endpoint::postRead(const NDK_SGE* sge, ULONG n, std::uint64_t raddr, UINT32 rtoken, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeRead);
  return track(qp->Dispatch->NdkRead(qp, ctxOf(i), sge, n, raddr, rtoken, 0), i, id);
}
NTSTATUS Endpoint::postFastRegister(NDK_MR* mr, ULONG pages, const NDK_LOGICAL_ADDRESS* arr, SIZE_T len, PVOID va,
                                    ULONG flags, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeFastRegister);
  return track(qp->Dispatch->NdkFastRegister(qp, ctxOf(i), mr, pages, arr, 0, len, va, flags), i, id);
}
NTSTATUS Endpoint::postBind(NDK_MR* mr, NDK_MW* mw, PVOID va, SIZE_T len, ULONG flags, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeBind);
  return track(qp->Dispatch->NdkBind(qp, ctxOf(i), mr, mw, va, len, flags), i, id);
}
NTSTATUS Endpoint::postInvalidate(NDK_OBJECT_HEADER* h, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeInvalidate);
  return track(qp->Dispatch->NdkInvalidate(qp, ctxOf(i), h, 0), i, id);
}
NTSTATUS Endpoint::postSendInvalidate(const NDK_SGE* sge, ULONG n, UINT32 rtoken, std::uint64_t* id) {
  const auto i = ledger.post(NdkOperationTypeSend);
  return track(qp->Dispatch->NdkSendAndInvalidate(qp, ctxOf(i), sge, n, 0, rtoken), i, id);
}

std::size_t Endpoint::poll(std::vector<NDK_RESULT_EX>* out) {
  std::size_t total = 0;
  NDK_RESULT_EX r[32];
  for (;;) {
    const ULONG n = cq->Dispatch->NdkGetCqResultsEx(cq, r, 32);
    for (ULONG i = 0; i < n; ++i) {
      ledger.complete(r[i]);
      if (out) out->push_back(r[i]);
    }
    total += n;
    if (n < 32) return total;
  }
}

bool Endpoint::waitSome(Ms t, std::vector<NDK_RESULT_EX>* out) {
  const auto deadline = std::chrono::steady_clock::now() + t;
  for (;;) {
    if (poll(out)) return true;
    const int seen = cqEvent_.value();
    cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
    if (poll(out)) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // The notification wakes us; the bounded slice only re-checks the deadline.
    cqEvent_.wait(seen + 1, std::min<Ms>(Ms(200), std::chrono::duration_cast<Ms>(deadline - now) + Ms(1)));
  }
}

bool Endpoint::waitAllCompleted(Ms t, std::vector<NDK_RESULT_EX>* out) {
  const auto deadline = std::chrono::steady_clock::now() + t;
  while (ledger.outstanding() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    waitSome(std::chrono::duration_cast<Ms>(deadline - now), out);
  }
  return true;
}

int openFdCount() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n - 3;  // ".", "..", the directory's own fd
}

std::size_t rssKiB() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, res = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &res);
  std::fclose(f);
  return got == 2 ? res * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) / 1024 : 0;
}

}  // namespace ndktest
