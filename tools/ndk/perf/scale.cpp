#include "scale.h"

#include <ndk/ndk_host.h>
#include <ndk/openndk.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <mutex>
#include <vector>

#include "ndk_endpoint.h"

namespace ndkperf {
namespace {

using Clock = std::chrono::steady_clock;

// Events queued to the driving thread outside the connect phase (which its callbacks drive).
enum Kind { kListenDone, kIncoming, kDisconnectDone, kCloseDone };

struct Ev {
  Kind kind;
  std::size_t idx;
  NTSTATUS status;
  NDK_CONNECTOR* conn;
};

class Driver;
struct Ctx {
  Driver* d = nullptr;
  Kind kind = kCloseDone;
  std::size_t idx = 0;
};

// Provider callbacks only queue events; the driver thread makes every NDK call.
class Driver {
 public:
  void push(const Ev& e) {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(e);
    cv_.notify_one();
  }
  // Moves the queued events to `out`; waits up to timeoutMs for the first one.
  void take(std::vector<Ev>* out, int timeoutMs) {
    out->clear();
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(timeoutMs), [&] { return !q_.empty(); });
    out->assign(q_.begin(), q_.end());
    q_.clear();
  }
  static VOID onRequest(PVOID c, NTSTATUS s) {
    auto* x = static_cast<Ctx*>(c);
    x->d->push(Ev{x->kind, x->idx, s, nullptr});
  }
  static VOID onClose(PVOID c) {
    auto* x = static_cast<Ctx*>(c);
    x->d->push(Ev{kCloseDone, x->idx, STATUS_SUCCESS, nullptr});
  }
  static VOID onIncoming(PVOID c, NDK_CONNECTOR* conn) {
    auto* d = static_cast<Driver*>(c);
    if (IncomingHook* h = d->incomingHook.load()) {
      h->fn(h->ctx, conn);
      return;
    }
    d->push(Ev{kIncoming, 0, STATUS_SUCCESS, conn});
  }
  // While set (the connect phase), connection requests go to it instead of the event queue.
  struct IncomingHook {
    void (*fn)(void*, NDK_CONNECTOR*);
    void* ctx;
  };
  std::atomic<IncomingHook*> incomingHook{nullptr};
  static VOID onDisconnectEvent(PVOID) {}
  static VOID onCq(PVOID, NTSTATUS) {}  // never armed: no request is ever posted

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Ev> q_;
};

// A create that may complete inline (SUCCESS) or later (PENDING + callback).
struct CreateWait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_SUCCESS;
  NDK_OBJECT_HEADER* obj = nullptr;
  static VOID cb(PVOID c, NTSTATUS s, NDK_OBJECT_HEADER* o) {
    auto* w = static_cast<CreateWait*>(c);
    std::lock_guard<std::mutex> l(w->mu);
    w->done = true;
    w->status = s;
    w->obj = o;
    w->cv.notify_all();
  }
};

template <class T, class F>
T* createSync(const char* fn, F&& f, std::string* err) {
  CreateWait w;
  T* obj = nullptr;
  NTSTATUS s = f(&CreateWait::cb, &w, &obj);
  if (s == STATUS_PENDING) {
    std::unique_lock<std::mutex> l(w.mu);
    if (!w.cv.wait_for(l, std::chrono::seconds(30), [&] { return w.done; })) {
      *err = fmt::format("{} never completed", fn);
      return nullptr;
    }
    s = w.status;
    obj = reinterpret_cast<T*>(w.obj);
  }
  if (!NT_SUCCESS(s)) {
    *err = fmt::format("{} returned 0x{:08X} ({})", fn, static_cast<std::uint32_t>(s), ntStatusName(s));
    return nullptr;
  }
  return obj;
}

long statusField(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string k = std::string(key) + ":";
  for (std::string line; std::getline(f, line);)
    if (line.rfind(k, 0) == 0) return std::strtol(line.c_str() + k.size(), nullptr, 10);
  return 0;
}

long openFds() {
  long n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n - 1;  // the directory stream itself
}

// `connector`: the connector whose failure reason (OpenNdkGetConnectorFailure) follows the status.
std::string fail(const char* fn, std::size_t pair, NTSTATUS s, const NDK_CONNECTOR* connector = nullptr) {
  char reason[512];
  const bool why = connector && OpenNdkGetConnectorFailure(connector, reason, sizeof reason) > 0;
  return fmt::format("pair {}: {} 0x{:08X} ({}){}{}", pair, fn, static_cast<std::uint32_t>(s), ntStatusName(s),
                     why ? ": " : "", why ? reason : "");
}

class Progress {
 public:
  Progress(bool on, const char* phase) : on_(on), phase_(phase), t0_(Clock::now()), last_(t0_) {}
  void show(std::size_t done, std::size_t total) {
    auto now = Clock::now();
    if (!on_ || now - t0_ < std::chrono::seconds(3) || now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    shown_ = true;
    fmt::print(stderr, "{}[ndk perf] connect-rate: {} {}/{} ({:.0f} s){}", isatty(2) ? "\r" : "", phase_, done, total,
               std::chrono::duration<double>(now - t0_).count(), isatty(2) ? "   " : "\n");
    std::fflush(stderr);
  }
  ~Progress() {
    if (shown_ && isatty(2)) fmt::print(stderr, "\n");
  }

 private:
  bool on_;
  const char* phase_;
  Clock::time_point t0_, last_;
  bool shown_ = false;
};

double cpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The figures of the all-connected state; first releases the two descriptors kept aside so that
// /proc can be read even when the connections used up the limit.
void snapshotConnected(ScaleResult* r, const int (&reserve)[2]) {
  for (int fd : reserve)
    if (fd >= 0) ::close(fd);
  r->rssConnectedKb = statusField("VmRSS");
  r->fdsConnected = openFds();
  r->threadsConnected = statusField("Threads");
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The connect phase, driven from the callbacks as an NDK consumer such as SMB Direct drives its
// connections: the connect event accepts, the connect completion completes the connect, and each
// finished establishment starts the next NdkConnect (up to `window` in flight). The provider runs
// these callbacks on the engine thread that made the MPA exchange, so one establishment runs in one
// thread context; the driving thread only waits for the end (no hand-off per step).
class ConnectPhase {
 public:
  ConnectPhase(std::size_t total, unsigned window, std::vector<NDK_CONNECTOR*>& cconn, std::vector<NDK_QP*>& cqp,
               std::vector<NDK_QP*>& sqp, const SOCKADDR_INET& src, const SOCKADDR_INET& dest, ULONG alen)
      : total_(total), window_(window), cconn_(cconn), cqp_(cqp), sqp_(sqp), src_(src), dest_(dest), alen_(alen),
        connectCtx_(total), completeCtx_(total), acceptCtx_(total), clientUp_(total, 0) {
    for (std::size_t i = 0; i < total; ++i) {
      connectCtx_[i] = {this, i};
      completeCtx_[i] = {this, i};
      acceptCtx_[i] = {this, i};
    }
    sconn_.reserve(total);
  }
  Driver::IncomingHook* hook() { return &hook_; }

  // Issues the first `window` connects, then waits until every pair is up, a step failed, or
  // nothing progressed for stallMs.
  void run(int stallMs, Progress& prog) {
    issueMore();
    std::unique_lock<std::mutex> l(mu_);
    std::size_t last = SIZE_MAX;
    auto lastProgress = Clock::now();
    while (err_.empty() && (cliDone_ < total_ || srvDone_ < total_)) {
      cv_.wait_for(l, std::chrono::seconds(1));
      const std::size_t now = cliDone_ + srvDone_ + connDone_ + sconn_.size();
      if (now != last) last = now, lastProgress = Clock::now();
      else if (since(lastProgress) * 1000 > stallMs)
        err_ = fmt::format(
            "stalled for {} s: {} NdkConnect issued, {} completed, {} NdkCompleteConnect completed; {} connection "
            "requests reached the listener, {} NdkAccept completed",
            stallMs / 1000, issued_, connDone_, cliDone_, sconn_.size(), srvDone_);
      const std::size_t up = std::min(cliDone_, srvDone_);
      l.unlock();
      prog.show(up, total_);
      l.lock();
    }
    // Callbacks of requests still in flight after a failure may still come: they only count.
  }

  // After run(): read by the driving thread.
  std::string error() {
    std::lock_guard<std::mutex> l(mu_);
    return err_;
  }
  std::size_t connected() {
    std::lock_guard<std::mutex> l(mu_);
    return std::min(cliDone_, srvDone_);
  }
  std::vector<char> clientUp() {
    std::lock_guard<std::mutex> l(mu_);
    return clientUp_;
  }
  std::vector<NDK_CONNECTOR*> accepted() {
    std::lock_guard<std::mutex> l(mu_);
    return sconn_;
  }
  std::vector<NDK_CONNECTOR*> rejected() {
    std::lock_guard<std::mutex> l(mu_);
    return rejected_;
  }
  // When the last establishment step succeeded: with a failure (e.g. the descriptor limit, whose
  // victim waits out the MPA timeout) the rate is taken over the time the successes took.
  Clock::time_point lastSuccess() {
    std::lock_guard<std::mutex> l(mu_);
    return lastSuccess_;
  }

 private:
  struct Ctx {
    ConnectPhase* p;
    std::size_t idx;
  };

  void failWith(std::string e) {
    std::lock_guard<std::mutex> l(mu_);
    if (err_.empty()) err_ = std::move(e);
    cv_.notify_one();
  }
  // Starts connects while fewer than `window` establishments are in flight.
  void issueMore() {
    for (;;) {
      std::size_t i;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!err_.empty() || issued_ >= total_ || issued_ - std::min(cliDone_, srvDone_) >= window_) return;
        i = issued_++;
      }
      SOCKADDR_INET sa = src_, da = dest_;
      NDK_CONNECTOR* c = cconn_[i];
      const NTSTATUS s = c->Dispatch->NdkConnect(c, cqp_[i], reinterpret_cast<PSOCKADDR>(&sa), alen_,
                                                 reinterpret_cast<PSOCKADDR>(&da), alen_, 1, 1, nullptr, 0,
                                                 &ConnectPhase::onConnectDone, &connectCtx_[i]);
      if (s == STATUS_PENDING) continue;
      if (!NT_SUCCESS(s)) return failWith(fail("NdkConnect returned", i, s));
      onConnectDone(&connectCtx_[i], s);
    }
  }
  static VOID onConnectDone(PVOID c, NTSTATUS s) {
    auto* x = static_cast<Ctx*>(c);
    ConnectPhase& p = *x->p;
    NDK_CONNECTOR* conn = p.cconn_[x->idx];
    if (!NT_SUCCESS(s)) return p.failWith(fail("NdkConnect completed with", x->idx, s, conn));
    {
      std::lock_guard<std::mutex> l(p.mu_);
      ++p.connDone_;
    }
    s = conn->Dispatch->NdkCompleteConnect(conn, &Driver::onDisconnectEvent, nullptr, &ConnectPhase::onCompleteDone,
                                           &p.completeCtx_[x->idx]);
    if (s == STATUS_PENDING) return;
    if (!NT_SUCCESS(s)) return p.failWith(fail("NdkCompleteConnect returned", x->idx, s, conn));
    onCompleteDone(&p.completeCtx_[x->idx], s);
  }
  static VOID onCompleteDone(PVOID c, NTSTATUS s) {
    auto* x = static_cast<Ctx*>(c);
    ConnectPhase& p = *x->p;
    if (!NT_SUCCESS(s)) return p.failWith(fail("NdkCompleteConnect completed with", x->idx, s, p.cconn_[x->idx]));
    p.finished([&] { p.clientUp_[x->idx] = 1, ++p.cliDone_; });
  }
  static void onIncoming(void* c, NDK_CONNECTOR* conn) {
    auto& p = *static_cast<ConnectPhase*>(c);
    std::size_t k;
    {
      std::lock_guard<std::mutex> l(p.mu_);
      if (p.sconn_.size() >= p.total_) {
        conn->Dispatch->NdkReject(conn, nullptr, 0);
        p.rejected_.push_back(conn);
        return;
      }
      k = p.sconn_.size();
      p.sconn_.push_back(conn);
    }
    const NTSTATUS s = conn->Dispatch->NdkAccept(conn, p.sqp_[k], 1, 1, nullptr, 0, &Driver::onDisconnectEvent, nullptr,
                                                 &ConnectPhase::onAcceptDone, &p.acceptCtx_[k]);
    if (s == STATUS_PENDING) return;
    if (!NT_SUCCESS(s)) return p.failWith(fail("NdkAccept returned", k, s, conn));
    onAcceptDone(&p.acceptCtx_[k], s);
  }
  static VOID onAcceptDone(PVOID c, NTSTATUS s) {
    auto* x = static_cast<Ctx*>(c);
    ConnectPhase& p = *x->p;
    if (!NT_SUCCESS(s))
      return p.failWith(fmt::format("accepted connection {}: NdkAccept completed with 0x{:08X} ({})", x->idx,
                                    static_cast<std::uint32_t>(s), ntStatusName(s)));
    p.finished([&] { ++p.srvDone_; });
  }
  // Counts one finished half (under the lock), wakes the driving thread at the end, starts more.
  template <class F>
  void finished(F count) {
    {
      std::lock_guard<std::mutex> l(mu_);
      count();
      lastSuccess_ = Clock::now();
      if (cliDone_ == total_ && srvDone_ == total_) cv_.notify_one();
    }
    issueMore();
  }

  const std::size_t total_;
  const unsigned window_;
  std::vector<NDK_CONNECTOR*>& cconn_;
  std::vector<NDK_QP*>& cqp_;
  std::vector<NDK_QP*>& sqp_;
  const SOCKADDR_INET src_, dest_;
  const ULONG alen_;
  std::vector<Ctx> connectCtx_, completeCtx_, acceptCtx_;
  Driver::IncomingHook hook_{&ConnectPhase::onIncoming, this};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string err_;
  std::size_t issued_ = 0, connDone_ = 0, cliDone_ = 0, srvDone_ = 0;
  std::vector<char> clientUp_;
  std::vector<NDK_CONNECTOR*> sconn_, rejected_;
  Clock::time_point lastSuccess_{};
};

}  // namespace

std::uint64_t raiseFileLimit(std::uint64_t needed) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < needed) {
    // Privileged processes may raise the hard limit up to fs.nr_open.
    std::uint64_t nrOpen = needed;
    std::ifstream f("/proc/sys/fs/nr_open");
    f >> nrOpen;
    rlimit want{std::min<rlim_t>(needed, nrOpen), std::min<rlim_t>(needed, nrOpen)};
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

ScaleResult runConnectScale(NET_IFINDEX ifx, const SOCKADDR_INET& loopback, const ScaleOptions& o) {
  ScaleResult r;
  r.requested = o.pairs;
  const std::size_t n = o.pairs;
  r.nofileLimit = raiseFileLimit(2 * n + 64);
  if (r.nofileLimit < 2 * n + 64)
    r.note = fmt::format("RLIMIT_NOFILE {} (hard limit, not raisable here) is below the ~{} descriptors {} pairs need "
                         "(2 TCP sockets per pair over loopback)",
                         r.nofileLimit, 2 * n + 64, n);
  // The driver outlives the run when an object could not be closed (its callbacks may still come).
  auto owned = std::make_unique<Driver>();
  Driver& d = *owned;
  Ctx lc;  // NdkListen's; a listen still pending after the wait is ended by the listener's close
  std::string& err = r.error;
  const ULONG alen = loopback.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6);

  NDK_ADAPTER* ad = nullptr;
  NTSTATUS s = OpenNdkOpenAdapter(ifx, nullptr, &ad);
  if (s != NDIS_STATUS_SUCCESS) {
    err = fmt::format("OpenNdkOpenAdapter returned 0x{:08X} ({})", static_cast<std::uint32_t>(s), ntStatusName(s));
    return r;
  }
  NDK_ADAPTER_INFO info{};
  ULONG isz = sizeof info;
  ad->Dispatch->NdkQueryAdapterInfo(ad, &info, &isz);
  NDK_CQ* cq = createSync<NDK_CQ>("NdkCreateCq", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_CQ** out) {
    return ad->Dispatch->NdkCreateCq(ad, std::max<ULONG>(1, info.MaxCqDepth), &Driver::onCq, nullptr, nullptr, cb, c, out);
  }, &err);
  NDK_PD* pd = cq ? createSync<NDK_PD>("NdkCreatePd", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_PD** out) {
    return ad->Dispatch->NdkCreatePd(ad, cb, c, out);
  }, &err) : nullptr;
  NDK_LISTENER* ls = pd ? createSync<NDK_LISTENER>("NdkCreateListener",
                                                   [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_LISTENER** out) {
    return ad->Dispatch->NdkCreateListener(ad, &Driver::onIncoming, &d, cb, c, out);
  }, &err) : nullptr;
  SOCKADDR_INET dest = loopback;
  if (ls) {
    // NdkListen completes inline or through the callback; wait for either (R106).
    lc = Ctx{&d, kListenDone, SIZE_MAX};
    SOCKADDR_INET la = loopback;
    s = ls->Dispatch->NdkListen(ls, reinterpret_cast<PSOCKADDR>(&la), alen, &Driver::onRequest, &lc);
    if (s == STATUS_PENDING) {
      std::vector<Ev> evs;
      for (auto t0 = Clock::now(); evs.empty() && since(t0) < 30;) d.take(&evs, 1000);
      s = evs.empty() ? STATUS_IO_TIMEOUT : evs[0].status;
    }
    ULONG blen = sizeof dest;
    if (NT_SUCCESS(s)) s = ls->Dispatch->NdkGetLocalAddress(ls, reinterpret_cast<PSOCKADDR>(&dest), &blen);
    if (!NT_SUCCESS(s)) err = fail("NdkListen", 0, s);
  }

  r.rssBaseKb = statusField("VmRSS");
  r.fdsBase = openFds();
  // Two descriptors kept aside, so that /proc can still be read when the connections used up
  // the descriptor limit.
  int reserve[2] = {::open("/dev/null", O_RDONLY | O_CLOEXEC), ::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  r.threadsBase = statusField("Threads");

  std::vector<NDK_QP*> cqp, sqp;
  std::vector<NDK_CONNECTOR*> cconn;
  cqp.reserve(n), sqp.reserve(n), cconn.reserve(n);
  auto t0 = Clock::now();
  auto makeQp = [&] {
    return createSync<NDK_QP>("NdkCreateQp", [&](NDK_FN_CREATE_COMPLETION cb, PVOID c, NDK_QP** out) {
      return pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 1, 1, 1, 1, 0, cb, c, out);
    }, &err);
  };
  for (std::size_t i = 0; err.empty() && i < n; ++i) {
    NDK_QP* a = makeQp();
    if (!a) break;
    cqp.push_back(a);
    NDK_QP* b = makeQp();
    if (!b) break;
    sqp.push_back(b);
    NDK_CONNECTOR* c = createSync<NDK_CONNECTOR>("NdkCreateConnector",
                                                 [&](NDK_FN_CREATE_COMPLETION cb, PVOID x, NDK_CONNECTOR** out) {
      return ad->Dispatch->NdkCreateConnector(ad, cb, x, out);
    }, &err);
    if (!c) break;
    cconn.push_back(c);
    r.created = i + 1;
  }
  if (!err.empty()) err = fmt::format("creating pair {}: {}", r.created, err);
  r.createSeconds = since(t0);
  r.rssCreatedKb = statusField("VmRSS");

  // ---- connect: up to `window` establishments in flight, driven by the callbacks ----
  std::vector<Ctx> discCtx(r.created);
  for (std::size_t i = 0; i < r.created; ++i) discCtx[i] = {&d, kDisconnectDone, i};
  SOCKADDR_INET src = loopback;
  if (src.si_family == AF_INET) src.Ipv4.sin_port = 0;
  else src.Ipv6.sin6_port = 0;
  const std::size_t total = err.empty() ? r.created : 0;
  // Outlives the run like the driver: callbacks of requests in flight after a failure may come.
  auto phaseOwned = std::make_unique<ConnectPhase>(total, std::max(1u, o.window), cconn, cqp, sqp, src, dest, alen);
  ConnectPhase& phase = *phaseOwned;
  std::vector<Ev> evs;
  {
    Progress prog(o.progress, "connected");
    d.incomingHook.store(phase.hook());
    t0 = Clock::now();
    const double cpu0 = cpuSeconds();
    if (total > 0) phase.run(o.stallTimeoutMs, prog);
    r.connectSeconds = since(t0);
    r.connectCpuSeconds = cpuSeconds() - cpu0;
    if (err.empty()) err = phase.error();
    const Clock::time_point last = phase.lastSuccess();
    if (!err.empty() && last > t0) r.connectSeconds = std::chrono::duration<double>(last - t0).count();
  }
  std::vector<char> clientUp = phase.clientUp();
  std::vector<NDK_CONNECTOR*> sconn = phase.accepted();
  std::vector<NDK_CONNECTOR*> rejected = phase.rejected();
  r.connected = phase.connected();
  snapshotConnected(&r, reserve);

  // ---- disconnect the client side of every established connection, `window` at a time ----
  // Requests still in flight after a failure are waited for (bounded) before anything is closed.
  {
    t0 = Clock::now();
    std::size_t next = 0, inflight = 0, lastDone = 0;
    auto lastProgress = Clock::now();
    std::vector<std::size_t> up;
    for (std::size_t i = 0; i < clientUp.size(); ++i)
      if (clientUp[i]) up.push_back(i);
    while (r.disconnected < up.size()) {
      while (next < up.size() && inflight < std::max(1u, o.window)) {
        NDK_CONNECTOR* c = cconn[up[next]];
        s = c->Dispatch->NdkDisconnect(c, &Driver::onRequest, &discCtx[up[next]]);
        ++next;
        if (s == STATUS_PENDING) ++inflight;
        else ++r.disconnected;
      }
      evs.clear();
      if (r.disconnected < up.size()) d.take(&evs, 1000);
      for (const Ev& e : evs)
        if (e.kind == kDisconnectDone) --inflight, ++r.disconnected;
      if (r.disconnected != lastDone) lastDone = r.disconnected, lastProgress = Clock::now();
      if (since(lastProgress) * 1000 > o.stallTimeoutMs) {
        if (err.empty()) err = fmt::format("disconnect stalled: {} of {} completed", r.disconnected, up.size());
        break;
      }
    }
    r.disconnectSeconds = since(t0);
  }

  // ---- close: connectors, then QPs, `window` closes in flight ----
  bool closedAll = false;
  {
    t0 = Clock::now();
    std::vector<NDK_OBJECT_HEADER*> objs;
    for (auto* c : cconn) objs.push_back(&c->Header);
    for (auto* c : sconn) objs.push_back(&c->Header);
    for (auto* c : rejected) objs.push_back(&c->Header);
    std::size_t connectors = objs.size();
    for (auto* q : cqp) objs.push_back(&q->Header);
    for (auto* q : sqp) objs.push_back(&q->Header);
    std::vector<Ctx> closeCtx(objs.size());
    std::size_t next = 0, done = 0;
    auto lastProgress = Clock::now();
    auto closeUntil = [&](std::size_t end) {
      while (done < end) {
        while (next < end && next - done < std::max(64u, o.window)) {
          closeCtx[next] = {&d, kCloseDone, next};
          NDK_OBJECT_HEADER* h = objs[next];
          NDK_FN_CLOSE_OBJECT fn = closeFunctionOf(h);
          s = fn ? fn(h, &Driver::onClose, &closeCtx[next]) : STATUS_SUCCESS;
          ++next;
          if (s != STATUS_PENDING) ++done;
        }
        std::size_t before = done;
        evs.clear();
        if (done < end) d.take(&evs, 1000);
        for (const Ev& e : evs)
          if (e.kind == kCloseDone) ++done;
        if (done != before) lastProgress = Clock::now();
        if (since(lastProgress) * 1000 > o.stallTimeoutMs) {
          if (err.empty()) err = fmt::format("close stalled: {} of {} objects closed", done, objs.size());
          return false;
        }
      }
      return true;
    };
    // Connectors first (a QP is closed only after its connector), then the QPs.
    closedAll = closeUntil(connectors) && closeUntil(objs.size());
    r.closeSeconds = since(t0);
  }
  for (NDK_OBJECT_HEADER* h : {ls ? &ls->Header : nullptr, pd ? &pd->Header : nullptr, cq ? &cq->Header : nullptr}) {
    if (!h) continue;
    Ctx c{&d, kCloseDone, SIZE_MAX};
    if (closeFunctionOf(h)(h, &Driver::onClose, &c) == STATUS_PENDING) {
      bool closed = false;
      for (auto tc = Clock::now(); !closed && since(tc) < 30;) {
        d.take(&evs, 1000);
        closed = std::any_of(evs.begin(), evs.end(), [](const Ev& e) { return e.kind == kCloseDone && e.idx == SIZE_MAX; });
      }
      closedAll = closedAll && closed;
    }
  }
  // OpenNdkCloseAdapter waits for every object of the adapter: with one still open it would never
  // return, so the adapter is then left to the process exit.
  if (closedAll) {
    OpenNdkCloseAdapter(ad);
  } else {
    if (err.empty()) err = "an object close never completed; adapter left open";
    (void)owned.release();  // left to the process exit, like the adapter
    (void)phaseOwned.release();
  }
  r.rssAfterKb = statusField("VmRSS");
  ::malloc_trim(0);  // freed memory the allocator keeps is not a leak: show what remains after a trim
  r.rssTrimmedKb = statusField("VmRSS");
  r.fdsAfter = openFds();
  return r;
}

ScaleResult runTcpConnectScale(const SOCKADDR_INET& loopback, const ScaleOptions& o) {
  ScaleResult r;
  r.requested = o.pairs;
  const std::size_t n = o.pairs;
  r.nofileLimit = raiseFileLimit(2 * n + 64);
  std::string& err = r.error;
  const socklen_t alen = loopback.si_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  const int fam = loopback.si_family;
  int lfd = ::socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  SOCKADDR_INET dest = loopback;
  socklen_t dlen = alen;
  if (lfd < 0 || ep < 0 || ::bind(lfd, reinterpret_cast<const sockaddr*>(&loopback), alen) != 0 ||
      ::listen(lfd, 4096) != 0 || ::getsockname(lfd, reinterpret_cast<sockaddr*>(&dest), &dlen) != 0) {
    err = fmt::format("tcp listener: {}", std::strerror(errno));
  }
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.u64 = UINT64_MAX;
  if (err.empty()) ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  r.rssBaseKb = r.rssCreatedKb = statusField("VmRSS");
  r.fdsBase = openFds();
  r.threadsBase = statusField("Threads");
  int reserve[2] = {::open("/dev/null", O_RDONLY | O_CLOEXEC), ::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  std::vector<int> cfd, sfd;
  cfd.reserve(n), sfd.reserve(n);
  std::size_t cliDone = 0;
  auto t0 = Clock::now();
  const double cpu0 = cpuSeconds();
  auto lastProgress = Clock::now();
  epoll_event evs[256];
  while (err.empty() && (cliDone < n || sfd.size() < n)) {
    while (cfd.size() < n && cfd.size() - std::min(cliDone, sfd.size()) < o.window) {
      int fd = ::socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        err = fmt::format("pair {}: socket: {}", cfd.size(), std::strerror(errno));
        break;
      }
      cfd.push_back(fd);
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&dest), alen) == 0) {
        ++cliDone;
        continue;
      }
      if (errno != EINPROGRESS) {
        err = fmt::format("pair {}: connect: {}", cfd.size() - 1, std::strerror(errno));
        break;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u64 = cfd.size() - 1;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    if (!err.empty()) break;
    int k = ::epoll_wait(ep, evs, 256, 1000);
    if (k <= 0) {
      if (since(lastProgress) * 1000 > o.stallTimeoutMs) err = fmt::format("stalled: {} connected, {} accepted", cliDone, sfd.size());
      continue;
    }
    lastProgress = Clock::now();
    for (int i = 0; i < k && err.empty(); ++i) {
      if (evs[i].data.u64 == UINT64_MAX) {
        for (int a; (a = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) sfd.push_back(a);
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = fmt::format("accept: {}", std::strerror(errno));
        continue;
      }
      int fd = cfd[evs[i].data.u64];
      int e = 0;
      socklen_t el = sizeof e;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
      if (e) err = fmt::format("pair {}: connect: {}", std::uint64_t{evs[i].data.u64}, std::strerror(e));
      ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      ++cliDone;
    }
  }
  r.created = cfd.size();
  r.connectSeconds = since(t0);
  r.connectCpuSeconds = cpuSeconds() - cpu0;
  r.connected = std::min(cliDone, sfd.size());
  snapshotConnected(&r, reserve);
  t0 = Clock::now();
  for (int fd : cfd) ::close(fd);
  for (int fd : sfd) ::close(fd);
  r.disconnected = r.connected;
  r.disconnectSeconds = since(t0);
  if (lfd >= 0) ::close(lfd);
  if (ep >= 0) ::close(ep);
  r.rssAfterKb = statusField("VmRSS");
  ::malloc_trim(0);
  r.rssTrimmedKb = statusField("VmRSS");
  r.fdsAfter = openFds();
  return r;
}

std::string renderScaleTable(const ScaleResult& r, const ScaleOptions& o, const char* transport) {
  std::string s = fmt::format("# ndk perf: connect-rate, {}: {} pairs over loopback ({}), {} establishments in flight\n",
                              transport, r.requested, o.ipv6 ? "IPv6" : "IPv4", o.window);
  s += fmt::format("  {:<34}{}\n", "RLIMIT_NOFILE (soft):", r.nofileLimit);
  s += fmt::format("  {:<34}{} pairs in {:.3f} s\n", "created (2 QPs + connector each):", r.created, r.createSeconds);
  s += fmt::format("  {:<34}{} of {} pairs in {:.3f} s = {:.0f} connects/s\n", "connected:", r.connected, r.requested,
                   r.connectSeconds, r.connectsPerSec());
  s += fmt::format("  {:<34}{:.3f} s user+sys = {:.0f} us per connection ({:.0f} connects per CPU-second)\n",
                   "CPU time of the connect phase:", r.connectCpuSeconds,
                   r.connected ? r.connectCpuSeconds * 1e6 / double(r.connected) : 0.0,
                   r.connectCpuSeconds > 0 ? double(r.connected) / r.connectCpuSeconds : 0.0);
  s += fmt::format("  {:<34}{:.0f} bytes per QP ({:.1f} KiB per pair; RSS {} -> {} -> {} KiB)\n",
                   "memory per idle connected QP:", r.bytesPerIdleQp(), r.bytesPerIdleQp() * 2 / 1024, r.rssBaseKb,
                   r.rssCreatedKb, r.rssConnectedKb);
  s += fmt::format("  {:<34}{:.2f} per pair ({} -> {}); threads {} -> {}\n", "file descriptors:", r.fdsPerPair(),
                   r.fdsBase, r.fdsConnected, r.threadsBase, r.threadsConnected);
  s += fmt::format("  {:<34}{} in {:.3f} s; close {:.3f} s; after: RSS {} KiB ({} KiB after malloc_trim), {} fds\n",
                   "teardown (disconnect):", r.disconnected, r.disconnectSeconds, r.closeSeconds, r.rssAfterKb,
                   r.rssTrimmedKb, r.fdsAfter);
  if (!r.note.empty()) s += fmt::format("  note: {}\n", r.note);
  if (!r.error.empty()) s += fmt::format("  FAILED: {}\n", r.error);
  return s;
}

nlohmann::ordered_json renderScaleJson(const ScaleResult& r, const ScaleOptions& o) {
  nlohmann::ordered_json j;
  j["mode"] = "connect-rate";
  j["pairs_requested"] = r.requested;
  j["window"] = o.window;
  j["family"] = o.ipv6 ? "ipv6" : "ipv4";
  j["nofile_limit"] = r.nofileLimit;
  j["pairs_created"] = r.created;
  j["pairs_connected"] = r.connected;
  j["create_seconds"] = r.createSeconds;
  j["connect_seconds"] = r.connectSeconds;
  j["connects_per_s"] = r.connectsPerSec();
  j["connect_cpu_seconds"] = r.connectCpuSeconds;
  j["rss_kb"] = {{"base", r.rssBaseKb}, {"created", r.rssCreatedKb}, {"connected", r.rssConnectedKb}, {"after", r.rssAfterKb},
                 {"after_trim", r.rssTrimmedKb}};
  j["bytes_per_idle_qp"] = r.bytesPerIdleQp();
  j["fds"] = {{"base", r.fdsBase}, {"connected", r.fdsConnected}, {"after", r.fdsAfter}};
  j["fds_per_pair"] = r.fdsPerPair();
  j["threads"] = {{"base", r.threadsBase}, {"connected", r.threadsConnected}};
  j["disconnected"] = r.disconnected;
  j["disconnect_seconds"] = r.disconnectSeconds;
  j["close_seconds"] = r.closeSeconds;
  j["note"] = r.note.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.note);
  j["error"] = r.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.error);
  return j;
}

}  // namespace ndkperf
