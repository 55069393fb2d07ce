// Mixed soak (issue 7): many connected QP pairs on the loopback interface, each driven by its own
// thread until the duration ends, with a random mix of
//   Send (receive checked byte for byte), RDMA Write + Read back (both checked, and the target
//   memory itself), fast register -> remote Write/Read through the new token -> local Invalidate,
//   memory window Bind -> remote Write/Read -> Send with Invalidate of the window (remote invalidate).
// Every posted request goes through a ledger (tests/faults/consumer.h): at the end each one
// completed exactly once, none failed. Open fds must return to the baseline after teardown; fd
// count and RSS are reported.
//
//   soak --seconds 45 [--pairs 8] [--mode blocking|poll|adaptive|all] [--seed N]
// --mode all (default) runs the three progress modes one after the other, each in a child process
// (progress_mode is read once per process), splitting the duration. Exit 0 = pass.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "consumer.h"

using namespace ndktest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kRecvSlot = 16384;
constexpr int kRecvSlots = 8;
constexpr std::size_t kWriteArea = 64 * 1024;  // sbuf [0, 64K): plain Writes; [64K, 128K): window
constexpr std::size_t kWindowOff = 64 * 1024, kWindowLen = 64 * 1024;
constexpr std::size_t kRecvArea = 128 * 1024;  // sbuf [128K, 256K): receive slots

struct Totals {
  std::atomic<std::uint64_t> sends{0}, writes{0}, fastRegs{0}, binds{0}, bytes{0}, errors{0};
};

// Completions arrive in any order across kinds; the stash keeps them by request id.
class Waiter {
 public:
  explicit Waiter(Endpoint& e) : ep_(e) {}
  bool wait(std::uint64_t id, NDK_RESULT_EX* out, Ms t = 30s) {
    const auto deadline = Clock::now() + t;
    for (;;) {
      auto it = stash_.find(id);
      if (it != stash_.end()) {
        *out = it->second;
        stash_.erase(it);
        return true;
      }
      const auto now = Clock::now();
      if (now >= deadline) return false;
      std::vector<NDK_RESULT_EX> got;
      ep_.waitSome(std::chrono::duration_cast<Ms>(deadline - now), &got);
      for (const auto& r : got) stash_[reinterpret_cast<std::uintptr_t>(r.RequestContext)] = r;
    }
  }

 private:
  Endpoint& ep_;
  std::map<std::uint64_t, NDK_RESULT_EX> stash_;
};

struct Pair {
  Pair(Adapter& ca, Adapter& sa)
      : cli(ca, 32), srv(sa, 32), cbuf(256 * 1024), sbuf(256 * 1024), fbuf(2 * PAGE_SIZE),
        creg(ca.pd, cbuf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK),
        sreg(sa.pd, sbuf,
             NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
        cw(cli), sw(srv), sad(sa) {}
  Endpoint cli, srv;
  Buffer cbuf, sbuf, fbuf;
  Region creg, sreg;
  Waiter cw, sw;
  Adapter& sad;
  NDK_MR* fmr = nullptr;
  NDK_MW* mw = nullptr;
  std::vector<std::uint8_t> lamStorage;
  NDK_LOGICAL_ADDRESS_MAPPING* lam = nullptr;
  std::uint64_t recvIds[kRecvSlots] = {};
  int nextRecv = 0;  // receives complete in posting order (R: receive queue is FIFO)
  std::string failure;

  bool fail(const std::string& what) {
    if (failure.empty()) failure = what;
    return false;
  }
  NDK_SGE sge(Buffer& b, Region& r, std::size_t off, std::size_t len) {
    NDK_SGE g{};
    g.VirtualAddress = b.p + off;
    g.Length = static_cast<ULONG>(len);
    g.MemoryRegionToken = r.local;
    return g;
  }
  bool postRecv(int slot) {
    NDK_SGE g = sge(sbuf, sreg, kRecvArea + static_cast<std::size_t>(slot) * kRecvSlot, kRecvSlot);
    return srv.postReceive(&g, 1, &recvIds[slot]) == STATUS_SUCCESS;
  }
  bool setup() {
    if (!cli.ok() || !srv.ok() || !creg.ok() || !sreg.ok()) return fail("object creation");
    for (int i = 0; i < kRecvSlots; ++i)
      if (!postRecv(i)) return fail("NdkReceive");
    NDK_OBJECT_HEADER* o = nullptr;
    if (createSync([&](NDK_FN_CREATE_COMPLETION cb, PVOID c) { return sad.pd->Dispatch->NdkCreateMr(sad.pd, TRUE, cb, c, &fmr); },
                   &o) != STATUS_SUCCESS)
      return fail("NdkCreateMr(fast)");
    if (o) fmr = reinterpret_cast<NDK_MR*>(o);
    if (requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
          return fmr->Dispatch->NdkInitializeFastRegisterMr(fmr, 2, TRUE, cb, c);
        }) != STATUS_SUCCESS)
      return fail("NdkInitializeFastRegisterMr");
    ULONG lamSize = OPENNDK_LAM_SIZE(2), fbo = 0;
    lamStorage.resize(lamSize);
    lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lamStorage.data());
    if (sad.a->Dispatch->NdkBuildLAM(sad.a, fbuf.mdl, fbuf.n, nullptr, nullptr, lam, &lamSize, &fbo) != STATUS_SUCCESS)
      return fail("NdkBuildLAM");
    o = nullptr;
    if (createSync([&](NDK_FN_CREATE_COMPLETION cb, PVOID c) { return sad.pd->Dispatch->NdkCreateMw(sad.pd, cb, c, &mw); },
                   &o) != STATUS_SUCCESS)
      return fail("NdkCreateMw");
    if (o) mw = reinterpret_cast<NDK_MW*>(o);
    return true;
  }
  void release() {
    if (lam) sad.a->Dispatch->NdkReleaseLAM(sad.a, lam);
    lam = nullptr;
    if (mw) closeSync(&mw->Header);
    mw = nullptr;
    if (fmr) closeSync(&fmr->Header);
    fmr = nullptr;
  }

  bool expectOk(Waiter& w, std::uint64_t id, const char* what, NDK_RESULT_EX* res = nullptr) {
    NDK_RESULT_EX r{};
    if (!w.wait(id, &r)) return fail(std::string(what) + ": no completion");
    if (r.Status != STATUS_SUCCESS) return fail(std::string(what) + ": " + statusName(r.Status));
    if (res) *res = r;
    return true;
  }

  // Send of `len` bytes; the oldest posted receive gets it, checked byte for byte, and is reposted.
  bool send(std::mt19937_64& rng, Totals& t, bool invalidate = false, UINT32 invToken = 0) {
    const std::size_t len = invalidate ? 64 : rng() % (kRecvSlot + 1);
    for (std::size_t i = 0; i < len; ++i) cbuf.p[i] = static_cast<std::uint8_t>(rng());
    NDK_SGE g = sge(cbuf, creg, 0, len);
    std::uint64_t id = 0;
    const NTSTATUS s = invalidate ? cli.postSendInvalidate(&g, len ? 1 : 0, invToken, &id) : cli.postSend(&g, len ? 1 : 0, 0, &id);
    if (s != STATUS_SUCCESS) return fail("NdkSend " + statusName(s));
    if (!expectOk(cw, id, "Send")) return false;
    const int slot = nextRecv;
    NDK_RESULT_EX r{};
    if (!expectOk(sw, recvIds[slot], "Receive", &r)) return false;
    if (r.BytesTransferred != len) return fail("Receive length");
    if (invalidate && r.Type != NdkOperationTypeReceiveAndInvalidate) return fail("Receive type: no invalidate");
    if (std::memcmp(sbuf.p + kRecvArea + static_cast<std::size_t>(slot) * kRecvSlot, cbuf.p, len) != 0)
      return fail("Send payload corrupted");
    nextRecv = (nextRecv + 1) % kRecvSlots;
    if (!postRecv(slot)) return fail("NdkReceive repost");
    t.sends++;
    t.bytes += len;
    return true;
  }

  // Write `len` random bytes at remote (va, token), check the target memory, Read them back, check.
  bool writeRead(std::mt19937_64& rng, Totals& t, std::uint64_t va, UINT32 token, const std::uint8_t* target,
                 std::size_t span) {
    const std::size_t len = 1 + rng() % (span / 2);
    const std::size_t off = rng() % (span - len + 1);
    for (std::size_t i = 0; i < len; ++i) cbuf.p[i] = static_cast<std::uint8_t>(rng());
    NDK_SGE g = sge(cbuf, creg, 0, len);
    std::uint64_t wid = 0, rid = 0;
    NTSTATUS s = cli.postWrite(&g, 1, va + off, token, 0, &wid);
    if (s != STATUS_SUCCESS) return fail("NdkWrite " + statusName(s));
    NDK_SGE back = sge(cbuf, creg, 128 * 1024, len);
    s = cli.postRead(&back, 1, va + off, token, &rid);
    if (s != STATUS_SUCCESS) return fail("NdkRead " + statusName(s));
    if (!expectOk(cw, wid, "Write") || !expectOk(cw, rid, "Read")) return false;
    if (std::memcmp(target + off, cbuf.p, len) != 0) return fail("Write did not land");
    if (std::memcmp(cbuf.p + 128 * 1024, cbuf.p, len) != 0) return fail("Read returned other bytes");
    t.writes++;
    t.bytes += 2 * len;
    return true;
  }

  bool fastRegisterCycle(std::mt19937_64& rng, Totals& t, std::uint64_t base) {
    std::uint64_t id = 0;
    NTSTATUS s = srv.postFastRegister(fmr, 2, lam->AdapterPageArray, fbuf.n, reinterpret_cast<PVOID>(base),
                                      NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_WRITE |
                                          NDK_OP_FLAG_ALLOW_REMOTE_READ,
                                      &id);
    if (s != STATUS_SUCCESS) return fail("NdkFastRegister " + statusName(s));
    const UINT32 token = fmr->Dispatch->NdkGetRemoteTokenFromMr(fmr);  // R126
    if (!expectOk(sw, id, "FastRegister")) return false;
    if (!writeRead(rng, t, base, token, fbuf.p, fbuf.n)) return false;
    s = srv.postInvalidate(&fmr->Header, &id);
    if (s != STATUS_SUCCESS) return fail("NdkInvalidate " + statusName(s));
    if (!expectOk(sw, id, "Invalidate")) return false;
    t.fastRegs++;
    return true;
  }

  bool bindCycle(std::mt19937_64& rng, Totals& t) {
    std::uint64_t id = 0;
    NTSTATUS s = srv.postBind(sreg.mr, mw, sbuf.p + kWindowOff, kWindowLen,
                              NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE, &id);
    if (s != STATUS_SUCCESS) return fail("NdkBind " + statusName(s));
    const UINT32 token = mw->Dispatch->NdkGetRemoteTokenFromMw(mw);
    if (!expectOk(sw, id, "Bind")) return false;
    if (!writeRead(rng, t, sbuf.va() + kWindowOff, token, sbuf.p + kWindowOff, kWindowLen)) return false;
    if (!send(rng, t, true, token)) return false;  // the peer invalidates the window remotely
    t.binds++;
    return true;
  }

  bool step(std::mt19937_64& rng, Totals& t, std::uint64_t fastBase) {
    switch (rng() % 8) {
      case 0: case 1: case 2: return send(rng, t);
      case 3: case 4: case 5: return writeRead(rng, t, sbuf.va(), sreg.remote, sbuf.p, kWriteArea);
      case 6: return fastRegisterCycle(rng, t, fastBase);
      default: return bindCycle(rng, t);
    }
  }
};

int runMode(const std::string& mode, double seconds, int pairs, std::uint64_t seed) {
  ::setenv("OPENNDK_PROGRESS_MODE", mode.c_str(), 1);
  const NET_IFINDEX ifx = interfaceForIp("127.0.0.1");
  if (!ifx) {
    std::printf("soak[%s]: no NDK interface for 127.0.0.1\n", mode.c_str());
    return 2;
  }
  // Warm-up: engines and the host are created once per process; the fd baseline follows it.
  {
    Adapter a(ifx);
    if (!a.ok()) return std::printf("soak[%s]: OpenNdkOpenAdapter %s\n", mode.c_str(), statusName(a.openStatus).c_str()), 2;
    Listener l(a);
    const std::uint16_t port = l.listen("127.0.0.1");
    Endpoint c(a, 4), s(a, 4);
    std::thread acc([&] {
      if (NDK_CONNECTOR* x = l.next(30s)) (void)s.accept(x);
    });
    (void)c.connect("127.0.0.1", "127.0.0.1", port);
    acc.join();
    (void)c.disconnect();
  }
  const int fdBase = openFdCount();
  const std::size_t rssBase = rssKiB();
  Totals t;
  std::size_t posted = 0, completed = 0, dups = 0, unknown = 0, failed = 0, outstanding = 0;
  std::string failure;
  int fdPeak = 0;
  std::size_t rssPeak = 0;
  {
    Adapter ca(ifx), sa(ifx);
    if (!ca.ok() || !sa.ok()) return std::printf("soak[%s]: adapters\n", mode.c_str()), 2;
    Listener lis(sa);
    const std::uint16_t port = lis.listen("127.0.0.1");
    std::vector<std::unique_ptr<Pair>> ps;
    for (int i = 0; i < pairs; ++i) {
      ps.push_back(std::make_unique<Pair>(ca, sa));
      Pair& p = *ps.back();
      if (!p.setup()) return std::printf("soak[%s]: setup: %s\n", mode.c_str(), p.failure.c_str()), 2;
      std::thread acc([&] {
        NDK_CONNECTOR* x = lis.next(30s);
        if (!x || p.srv.accept(x) != STATUS_SUCCESS) p.fail("accept");
      });
      const NTSTATUS cs = p.cli.connect("127.0.0.1", "127.0.0.1", port);
      acc.join();
      if (cs != STATUS_SUCCESS || !p.failure.empty())
        return std::printf("soak[%s]: connect %s %s\n", mode.c_str(), statusName(cs).c_str(), p.failure.c_str()), 2;
    }
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> th;
    for (int i = 0; i < pairs; ++i)
      th.emplace_back([&, i] {
        std::mt19937_64 rng(seed * 1000003u + static_cast<std::uint64_t>(i));
        Pair& p = *ps[static_cast<std::size_t>(i)];
        const std::uint64_t fastBase = 0x40000000ull + (static_cast<std::uint64_t>(i) << 24);
        while (Clock::now() < end)
          if (!p.step(rng, t, fastBase)) {
            t.errors++;
            break;
          }
      });
    // Sample fds / RSS once a second while the threads run (a timed wait, not synchronisation).
    {
      std::mutex m;
      std::condition_variable cv;
      std::unique_lock<std::mutex> l(m);
      while (Clock::now() < end) {
        fdPeak = std::max(fdPeak, openFdCount());
        rssPeak = std::max(rssPeak, rssKiB());
        cv.wait_until(l, std::min(end, Clock::now() + 1s));
      }
    }
    for (auto& x : th) x.join();
    fdPeak = std::max(fdPeak, openFdCount());
    rssPeak = std::max(rssPeak, rssKiB());
    // Orderly end: disconnect, flush both sides, every request accounted for exactly once.
    for (auto& p : ps) {
      (void)p->cli.disconnect(30s);
      if (!p->srv.disconnected.wait(1, 30s)) p->fail("no disconnect event on the passive side (R110)");
      p->cli.flush();
      p->srv.flush();
      if (!p->cli.waitAllCompleted(30s) || !p->srv.waitAllCompleted(30s)) p->fail("requests never completed");
      for (Endpoint* e : {&p->cli, &p->srv}) {
        posted += e->ledger.posted();
        completed += e->ledger.completed();
        dups += e->ledger.duplicates();
        unknown += e->ledger.unknown();
        outstanding += e->ledger.outstanding();
        for (const auto& [s, n] : e->ledger.statuses())
          if (s != STATUS_SUCCESS && s != STATUS_CANCELLED) failed += n;  // receives flushed at the end
      }
      if (!p->failure.empty() && failure.empty()) failure = p->failure;
      p->release();
      p->cli.closeAll();
      p->srv.closeAll();
    }
    ps.clear();
  }
  const int fdEnd = openFdCount();
  const std::size_t rssEnd = rssKiB();
  const std::uint64_t ops = t.sends + t.writes + t.fastRegs + t.binds;
  std::printf(
      "soak[%s]: %.0f s, %d QP pairs: %" PRIu64 " ops (send %" PRIu64 ", write+read %" PRIu64 ", fast-register %" PRIu64
      ", bind %" PRIu64 "), %.1f MiB verified, %.0f ops/s\n",
      mode.c_str(), seconds, pairs, ops, t.sends.load(), t.writes.load(), t.fastRegs.load(), t.binds.load(),
      static_cast<double>(t.bytes.load()) / (1 << 20), static_cast<double>(ops) / seconds);
  std::printf("soak[%s]: requests posted %zu completed %zu duplicates %zu unknown %zu outstanding %zu failed %zu\n",
              mode.c_str(), posted, completed, dups, unknown, outstanding, failed);
  std::printf("soak[%s]: fds baseline %d peak %d end %d; RSS baseline %zu KiB peak %zu KiB end %zu KiB\n", mode.c_str(),
              fdBase, fdPeak, fdEnd, rssBase, rssPeak, rssEnd);
  bool ok = true;
  if (!failure.empty()) ok = false, std::printf("soak[%s]: FAILED: %s\n", mode.c_str(), failure.c_str());
  if (t.errors) ok = false;
  if (dups || unknown || outstanding || failed || posted != completed) ok = false;
  if (fdEnd != fdBase) ok = false, std::printf("soak[%s]: FAILED: fd leak (%d -> %d)\n", mode.c_str(), fdBase, fdEnd);
  if (ops == 0) ok = false;
  std::printf("soak[%s]: %s\n", mode.c_str(), ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 45;
  int pairs = 8;
  std::string mode = "all";
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--seconds") seconds = std::atof(v.c_str());
    else if (k == "--pairs") pairs = std::atoi(v.c_str());
    else if (k == "--mode") mode = v;
    else if (k == "--seed") seed = std::strtoull(v.c_str(), nullptr, 10);
    else return std::fprintf(stderr, "usage: soak --seconds S [--pairs N] [--mode blocking|poll|adaptive|all] [--seed N]\n"), 2;
  }
  if (mode != "all") return runMode(mode, seconds, pairs, seed);
  int rc = 0;
  for (const char* m : {"blocking", "adaptive", "poll"}) {
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string s = std::to_string(seconds / 3), n = std::to_string(pairs), sd = std::to_string(seed);
      ::execl(argv[0], argv[0], "--seconds", s.c_str(), "--pairs", n.c_str(), "--mode", m, "--seed", sd.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
  }
  std::printf("soak: %s\n", rc == 0 ? "PASS (blocking, adaptive, poll)" : "FAIL");
  return rc;
}
