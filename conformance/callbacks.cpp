// Conformance: consumer callbacks versus the provider's own progress (NDKPI.md R13 a callback may
// run before the initiating call returned, the call then returns STATUS_PENDING; R17 callbacks run
// on any thread and the provider does not rely on them returning quickly; R167 functions callable
// at DISPATCH level never block, also not on a consumer callback that is held).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

// One asynchronous call under observation: the callback records whether the initiating function
// had returned when it ran (R13) and how often it ran (R9).
struct Probe {
  std::string what;
  std::atomic<bool> returned{false};
  std::atomic<int> calls{0};
  std::atomic<int> beforeReturn{0};
  std::atomic<NTSTATUS> status{STATUS_SUCCESS};
  std::atomic<NDK_OBJECT_HEADER*> object{nullptr};
  NTSTATUS inlineStatus = STATUS_SUCCESS;
  Event done;

  void hit(NTSTATUS s, NDK_OBJECT_HEADER* o) {
    if (!returned.load()) beforeReturn.fetch_add(1);
    status.store(s);
    object.store(o);
    calls.fetch_add(1);
    done.set();
  }
  static VOID onRequest(PVOID c, NTSTATUS s) { static_cast<Probe*>(c)->hit(s, nullptr); }
  static VOID onCreate(PVOID c, NTSTATUS s, NDK_OBJECT_HEADER* o) { static_cast<Probe*>(c)->hit(s, o); }
  static VOID onClose(PVOID c) { static_cast<Probe*>(c)->hit(STATUS_SUCCESS, nullptr); }
};

class Probes {
 public:
  // Runs `f(probe)`; marks the probe returned; PENDING → waits for the callback and returns its
  // status, anything else is returned as is (its callback must never come: checked by verify()).
  template <class F>
  NTSTATUS run(const std::string& what, F&& f) {
    Probe& p = start(what, f);
    if (p.inlineStatus != STATUS_PENDING) return p.inlineStatus;
    EXPECT_TRUE(p.done.wait()) << what << ": no completion for a pending call (R9)";
    return p.status.load();
  }
  // Runs `f(probe)` and returns the probe without waiting (the call may pend).
  template <class F>
  Probe& start(const std::string& what, F&& f) {
    probes_.emplace_back();
    Probe& p = probes_.back();
    p.what = what;
    p.inlineStatus = f(p);
    p.returned.store(true);
    return p;
  }
  // After every object involved is closed (R21/R22: no callback can come any more).
  void verify() {
    for (Probe& p : probes_) {
      SCOPED_TRACE(p.what);
      if (p.inlineStatus == STATUS_PENDING) {
        EXPECT_EQ(1, p.calls.load()) << "R9: one callback per pending call";
      } else {
        EXPECT_EQ(0, p.calls.load()) << "R13/R9: a callback ran for a call that returned "
                                     << statusName(p.inlineStatus) << " instead of STATUS_PENDING";
        EXPECT_EQ(0, p.beforeReturn.load());
      }
    }
  }
  // Waits for the completion of every pending call; `onObject` receives objects of pended creates.
  template <class F>
  void verifyPendingCompleted(F&& onObject) {
    for (Probe& p : probes_) {
      if (p.inlineStatus != STATUS_PENDING) continue;
      EXPECT_TRUE(p.done.wait()) << p.what << ": no completion for a pending call (R9)";
      if (NDK_OBJECT_HEADER* o = p.object.load()) onObject(o);
    }
  }
  int beforeReturnCount() {
    int n = 0;
    for (Probe& p : probes_) n += p.beforeReturn.load();
    return n;
  }
  size_t pendingCount() {
    size_t n = 0;
    for (Probe& p : probes_) n += p.inlineStatus == STATUS_PENDING;
    return n;
  }

 private:
  std::deque<Probe> probes_;
};

// ---- R13 -------------------------------------------------------------------------------------

// All threads this test starts (the adapter instance's threads included, which are created by
// OpenNdkOpenAdapter on the calling thread) share one CPU: a provider thread woken to run a callback
// then often preempts the caller before it has returned, so the "callback before return" case of
// R13 happens for real instead of only in theory. Affinity is restored in TearDown.
class CallbackOrder : public NdkTest {
 protected:
  void SetUp() override {
    pinned_ = pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0;
    if (pinned_) {
      cpu_set_t one;
      CPU_ZERO(&one);
      int cpu = sched_getcpu();
      CPU_SET(cpu < 0 ? 0 : cpu, &one);
      pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
    NdkTest::SetUp();
  }
  void TearDown() override {
    NdkTest::TearDown();
    if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }
  // An address of the adapter where nobody listens any more (a listener's, closed).
  SOCKADDR_IN deadPort() {
    SOCKADDR_IN dead{};
    Recorder& events = newRecorder();
    NDK_LISTENER* l = makeListener(&events);
    if (!l) return dead;
    EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(listenOn(l, loopback4(0), &dead)));
    closeNow(l);
    return dead;
  }
  bool pinned_ = false;
  cpu_set_t saved_{};
};

// R13 (with R9): whatever the provider does — complete inline, fail inline, or run the callback
// before the initiating function returned — a call whose callback ran returned STATUS_PENDING,
// and a call that returned anything else never gets its callback. Every asynchronous function the
// suite can drive is exercised over full connection lifecycles and refused connects (the spec's
// own example of an early failure).
TEST_F(CallbackOrder, R9_R13_CallbackBeforeReturnOnlyWithPending) {
  Probes probes;
  constexpr int kRounds = 25;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<NDK_OBJECT_HEADER*> objs;  // closed in reverse order at the end of the round
    auto mk = [&](const std::string& what, auto&& call) -> NDK_OBJECT_HEADER* {
      NDK_OBJECT_HEADER* out = nullptr;
      Probe* probe = nullptr;
      NTSTATUS st = probes.run(what, [&](Probe& p) {
        probe = &p;
        return call(&Probe::onCreate, &p, &out);
      });
      if (st == STATUS_SUCCESS && !out && probe) out = probe->object.load();  // pended (R11)
      EXPECT_EQ(statusName(STATUS_SUCCESS), statusName(st)) << what;
      if (out) objs.push_back(out);
      return out;
    };
    auto* pd = reinterpret_cast<NDK_PD*>(mk("NdkCreatePd", [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
      return adapter_->Dispatch->NdkCreatePd(adapter_, cb, c, reinterpret_cast<NDK_PD**>(o));
    }));
    Recorder& notify = newRecorder();
    auto* cq = reinterpret_cast<NDK_CQ*>(mk("NdkCreateCq", [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
      return adapter_->Dispatch->NdkCreateCq(adapter_, 32, &Recorder::onCqNotify, &notify, nullptr, cb, c,
                                             reinterpret_cast<NDK_CQ**>(o));
    }));
    ASSERT_TRUE(pd && cq);
    EXPECT_EQ(STATUS_SUCCESS, probes.run("NdkResizeCq", [&](Probe& p) {
      return cq->Dispatch->NdkResizeCq(cq, 48, &Probe::onRequest, &p);
    }));
    auto mkQp = [&](const char* what) {
      return reinterpret_cast<NDK_QP*>(mk(what, [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
        return pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 8, 8, 2, 2, 0, cb, c, reinterpret_cast<NDK_QP**>(o));
      }));
    };
    NDK_QP* aqp = mkQp("NdkCreateQp (active)");
    NDK_QP* pqp = mkQp("NdkCreateQp (passive)");
    NDK_QP* rqp = mkQp("NdkCreateQp (refused)");  // a pended, failed connect may keep its QP until closed
    auto* mr = reinterpret_cast<NDK_MR*>(mk("NdkCreateMr", [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
      return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, c, reinterpret_cast<NDK_MR**>(o));
    }));
    auto* fmr = reinterpret_cast<NDK_MR*>(mk("NdkCreateMr (fast)", [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
      return pd->Dispatch->NdkCreateMr(pd, TRUE, cb, c, reinterpret_cast<NDK_MR**>(o));
    }));
    Recorder& events = newRecorder();
    auto* listener = reinterpret_cast<NDK_LISTENER*>(mk("NdkCreateListener", [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
      return adapter_->Dispatch->NdkCreateListener(adapter_, &Recorder::onConnectEvent, &events, cb, c,
                                                   reinterpret_cast<NDK_LISTENER**>(o));
    }));
    auto mkCon = [&](const char* what) {
      return reinterpret_cast<NDK_CONNECTOR*>(mk(what, [&](auto cb, PVOID c, NDK_OBJECT_HEADER** o) {
        return adapter_->Dispatch->NdkCreateConnector(adapter_, cb, c, reinterpret_cast<NDK_CONNECTOR**>(o));
      }));
    };
    NDK_CONNECTOR* refusedCon = mkCon("NdkCreateConnector (refused)");
    NDK_CONNECTOR* acon = mkCon("NdkCreateConnector (active)");
    ASSERT_TRUE(aqp && pqp && rqp && mr && fmr && listener && refusedCon && acon);

    // Memory requests.
    MdlBuffer buf(2 * PAGE_SIZE);
    EXPECT_EQ(STATUS_SUCCESS, probes.run("NdkRegisterMr", [&](Probe& p) {
      return mr->Dispatch->NdkRegisterMr(mr, buf.mdl(), buf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &Probe::onRequest, &p);
    }));
    EXPECT_EQ(STATUS_SUCCESS, probes.run("NdkDeregisterMr", [&](Probe& p) {
      return mr->Dispatch->NdkDeregisterMr(mr, &Probe::onRequest, &p);
    }));
    EXPECT_EQ(STATUS_SUCCESS, probes.run("NdkInitializeFastRegisterMr", [&](Probe& p) {
      return fmr->Dispatch->NdkInitializeFastRegisterMr(fmr, 2, FALSE, &Probe::onRequest, &p);
    }));
    std::vector<unsigned char> lamMem(OPENNDK_LAM_SIZE(4));
    auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lamMem.data());
    ULONG lamSize = static_cast<ULONG>(lamMem.size()), fbo = 0;
    EXPECT_EQ(STATUS_SUCCESS, probes.run("NdkBuildLAM", [&](Probe& p) {
      return adapter_->Dispatch->NdkBuildLAM(adapter_, buf.mdl(), buf.size(), &Probe::onRequest, &p, lam, &lamSize, &fbo);
    }));
    adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);

    // Listen; a refused connect (a port nobody listens on any more: another listener's, closed).
    SOCKADDR_IN addr = loopback4(0);
    NTSTATUS st = probes.run("NdkListen", [&](Probe& p) {
      return listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&addr), sizeof addr,
                                           &Probe::onRequest, &p);
    });
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    SOCKADDR_IN laddr{};
    ULONG alen = sizeof laddr;
    CONF_ASSERT_STATUS(STATUS_SUCCESS,
                       listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<PSOCKADDR>(&laddr), &alen));
    SOCKADDR_IN dead = deadPort();
    ASSERT_NE(0, dead.sin_port);
    SOCKADDR_IN src = loopback4(0);
    st = probes.run("NdkConnect (refused)", [&](Probe& p) {
      return refusedCon->Dispatch->NdkConnect(refusedCon, rqp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                              reinterpret_cast<PSOCKADDR>(&dead), sizeof dead, 2, 2, nullptr, 0,
                                              &Probe::onRequest, &p);
    });
    EXPECT_FALSE(NT_SUCCESS(st)) << "connect to a closed port: " << statusName(st);

    // A full connection: connect, accept, complete, disconnect from both ends.
    Probe& connect = probes.start("NdkConnect", [&](Probe& p) {
      return acon->Dispatch->NdkConnect(acon, aqp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                        reinterpret_cast<PSOCKADDR>(&laddr), sizeof laddr, 2, 2, nullptr, 0,
                                        &Probe::onRequest, &p);
    });
    ASSERT_TRUE(connect.inlineStatus == STATUS_PENDING || connect.inlineStatus == STATUS_SUCCESS)
        << statusName(connect.inlineStatus);
    ASSERT_TRUE(events.waitFor(1));
    auto* pcon = reinterpret_cast<NDK_CONNECTOR*>(events.last().object);
    ASSERT_NE(nullptr, pcon);
    objs.push_back(&pcon->Header);
    Recorder& pdisc = newRecorder();
    Recorder& adisc = newRecorder();
    Probe& accept = probes.start("NdkAccept", [&](Probe& p) {
      return pcon->Dispatch->NdkAccept(pcon, pqp, 2, 2, nullptr, 0, &Recorder::onDisconnect, &pdisc, &Probe::onRequest, &p);
    });
    if (connect.inlineStatus == STATUS_PENDING) {
      ASSERT_TRUE(connect.done.wait());
      CONF_ASSERT_STATUS(STATUS_SUCCESS, connect.status.load());
    }
    CONF_ASSERT_STATUS(STATUS_SUCCESS, probes.run("NdkCompleteConnect", [&](Probe& p) {
      return acon->Dispatch->NdkCompleteConnect(acon, &Recorder::onDisconnect, &adisc, &Probe::onRequest, &p);
    }));
    if (accept.inlineStatus == STATUS_PENDING) {
      ASSERT_TRUE(accept.done.wait());
    }
    CONF_ASSERT_STATUS(STATUS_SUCCESS,
                       accept.inlineStatus == STATUS_PENDING ? accept.status.load() : accept.inlineStatus);
    CONF_EXPECT_STATUS(STATUS_SUCCESS, probes.run("NdkDisconnect (active)", [&](Probe& p) {
      return acon->Dispatch->NdkDisconnect(acon, &Probe::onRequest, &p);
    }));
    ASSERT_TRUE(pdisc.waitFor(1)) << "R110";
    NTSTATUS pd2 = probes.run("NdkDisconnect (passive, after the peer's)", [&](Probe& p) {
      return pcon->Dispatch->NdkDisconnect(pcon, &Probe::onRequest, &p);
    });
    EXPECT_TRUE(pd2 == STATUS_SUCCESS || pd2 == STATUS_CONNECTION_INVALID) << statusName(pd2);

    // Close everything of the round through probes (closes may pend, R18).
    for (auto it = objs.rbegin(); it != objs.rend(); ++it) {
      NDK_OBJECT_HEADER* h = *it;
      Probe& c = probes.start("close of object type " + std::to_string(h->ObjectType), [&](Probe& p) {
        return closeFnOf(h)(h, &Probe::onClose, &p);
      });
      EXPECT_TRUE(c.inlineStatus == STATUS_SUCCESS || c.inlineStatus == STATUS_PENDING) << statusName(c.inlineStatus);
      if (c.inlineStatus == STATUS_PENDING) {
        EXPECT_TRUE(c.done.wait()) << "R18";
      }
    }
  }
  // Every object is closed (R22): no callback can still come for any call made above.
  probes.verify();
  RecordProperty("callbacks_before_return", probes.beforeReturnCount());
  RecordProperty("pending_calls", static_cast<int>(probes.pendingCount()));
}

// R14, R16 (its exception): the consumer closes the connector from inside the completion of its
// NdkConnect — with the pinned CPU, often while NdkConnect itself has not returned yet. The close
// must neither crash, deadlock nor touch freed memory (ASan/TSan runs), and complete (R18).
TEST_F(CallbackOrder, R14_R16_CloseConnectorFromInsideItsConnectCompletion) {
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq(16);
  ASSERT_TRUE(pd && cq);
  SOCKADDR_IN dead = deadPort();
  ASSERT_NE(0, dead.sin_port);
  SOCKADDR_IN src = loopback4(0);
  int pended = 0, closedBeforeReturn = 0;
  // Per attempt; outlives the loop (the hook may still be returning when the test moves on).
  struct Attempt {
    std::atomic<bool> returned{false};
    std::atomic<bool> before{false};
    std::atomic<NTSTATUS> inside{STATUS_UNSUCCESSFUL};
    Event hookDone;
  };
  std::deque<Attempt> attempts;
  for (int i = 0; i < 40; ++i) {
    SCOPED_TRACE("attempt " + std::to_string(i));
    NDK_QP* qp = makeQp(pd, cq, cq, nullptr, 2, 2, 1, 1);
    NDK_CONNECTOR* con = makeConnector();
    ASSERT_TRUE(qp && con);
    untrack(&con->Header);  // closed by the test (inside the callback, or below)
    Recorder& done = newRecorder();
    Recorder& closed = newRecorder();
    Attempt& a = attempts.emplace_back();
    std::atomic<bool>& returned = a.returned;
    std::atomic<bool>& before = a.before;
    std::atomic<NTSTATUS>& inside = a.inside;
    done.hook = [&a, con, &closed](const CallRecord&) {
      a.before.store(!a.returned.load());
      a.inside.store(con->Dispatch->NdkCloseConnector(&con->Header, &Recorder::onClose, &closed));
      a.hookDone.set();
    };
    NTSTATUS st = con->Dispatch->NdkConnect(con, qp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                            reinterpret_cast<PSOCKADDR>(&dead), sizeof dead, 1, 1, nullptr, 0,
                                            &Recorder::onRequest, &done);
    returned.store(true);
    if (st == STATUS_PENDING) {
      ++pended;
      ASSERT_TRUE(done.waitFor(1)) << "R9";
      ASSERT_TRUE(a.hookDone.wait());
      EXPECT_FALSE(NT_SUCCESS(done.last().status)) << statusName(done.last().status);
      NTSTATUS c = inside.load();
      EXPECT_TRUE(c == STATUS_SUCCESS || c == STATUS_PENDING) << "R18: " << statusName(c);
      if (c == STATUS_PENDING) {
        EXPECT_TRUE(closed.waitFor(1)) << "R18: the close from inside the completion never completed";
      }
      closedBeforeReturn += before.load() ? 1 : 0;
    } else {
      EXPECT_FALSE(NT_SUCCESS(st)) << statusName(st);
      EXPECT_EQ(0u, done.count()) << "R9";
      closeSync(con);
    }
    closeNow(qp);
  }
  RecordProperty("pending_connects", pended);
  RecordProperty("closed_before_connect_returned", closedBeforeReturn);
  // The rule is only exercised by a connect that pended (its completion is where the close
  // happens): a run in which every NdkConnect failed inline checked nothing.
  EXPECT_GT(pended, 0) << "R14: no NdkConnect pended in 40 attempts: the close from inside a completion never ran";
}

// ---- R17, R167 -------------------------------------------------------------------------------

// Two loopback connections of one adapter instance. A consumer callback of connection A (its
// passive CQ's notification, or a listener's connect event) is held inside the consumer on a gate
// while the test works with connection B and with fresh objects from another thread.
class HeldCallback : public NdkTest {
 protected:
  void SetUp() override {
    NdkTest::SetUp();
    if (HasFatalFailure()) return;
    a_ = &newPair();
    b_ = &newPair();
    NTSTATUS st = connectPair(*a_, 4, 4, nullptr, 0, nullptr, 0, 32);
    CONF_REQUIRE_NETWORKING(st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, connectPair(*b_, 4, 4, nullptr, 0, nullptr, 0, 32));
    abuf_ = std::make_unique<MdlBuffer>(4 * PAGE_SIZE);
    bbuf_ = std::make_unique<MdlBuffer>(4 * PAGE_SIZE);
    amr_ = makeMr(a_->pd, false);
    bmr_ = makeMr(b_->pd, false);
    ASSERT_TRUE(amr_ && bmr_);
    const ULONG all = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                      NDK_MR_FLAG_RDMA_READ_SINK;
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr_, *abuf_, abuf_->size(), all));
    CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(bmr_, *bbuf_, bbuf_->size(), all));
  }
  void TearDown() override {
    // Never leave a callback held: the teardown closes would wait for it (R21).
    if (held_) held_->release.set();
    NdkTest::TearDown();
  }

  // Holds A's passive CQ notification inside the consumer: arm, one Send A.active → A.passive.
  void holdCqNotification() {
    held_ = notifierOf(a_->passive.cq);
    ASSERT_NE(nullptr, held_);
    held_->gate = true;
    NDK_CQ* cq = a_->passive.cq;
    cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
    NDK_SGE r = sgeIn(*abuf_, amr_, PAGE_SIZE, 64);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, a_->passive.qp->Dispatch->NdkReceive(a_->passive.qp, ctx(900), &r, 1));
    NDK_SGE s = sgeIn(*abuf_, amr_, 0, 16);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, a_->active.qp->Dispatch->NdkSend(a_->active.qp, ctx(901), &s, 1, 0));
    ASSERT_TRUE(held_->entered.wait()) << "the CQ notification never came (R42)";
  }

  // Holds a connect event inside the consumer: a new listener whose event handler is gated, and a
  // connect to it.
  void holdConnectEvent() {
    held_ = &newRecorder();
    held_->gate = true;
    NDK_LISTENER* l = makeListener(held_);
    ASSERT_NE(nullptr, l);
    SOCKADDR_IN at{};
    CONF_ASSERT_STATUS(STATUS_SUCCESS, listenOn(l, loopback4(0), &at));
    heldQp_ = makeQp(a_->pd, a_->active.cq, a_->active.cq, nullptr, 4, 4, 1, 1);
    heldCon_ = makeConnector();
    ASSERT_TRUE(heldQp_ && heldCon_);
    SOCKADDR_IN src = loopback4(0);
    heldConnect_ = &newRecorder();
    NTSTATUS st = heldCon_->Dispatch->NdkConnect(heldCon_, heldQp_, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                                 reinterpret_cast<PSOCKADDR>(&at), sizeof at, 1, 1, nullptr, 0,
                                                 &Recorder::onRequest, heldConnect_);
    ASSERT_EQ(statusName(STATUS_PENDING), statusName(st));
    ASSERT_TRUE(held_->entered.wait()) << "the connect event never came (R101)";
  }
  // After the held connect event was released: refuse the request, the connect completes.
  void finishHeldConnect() {
    if (!heldCon_) return;
    auto* pcon = reinterpret_cast<NDK_CONNECTOR*>(held_->last().object);
    ASSERT_NE(nullptr, pcon);
    track(pcon);
    CONF_EXPECT_STATUS(STATUS_SUCCESS, pcon->Dispatch->NdkReject(pcon, nullptr, 0));
    ASSERT_TRUE(heldConnect_->waitFor(1)) << "the held connect never completed after the reject (R100)";
    EXPECT_FALSE(NT_SUCCESS(heldConnect_->last().status)) << statusName(heldConnect_->last().status);
  }

  Pair* a_ = nullptr;
  Pair* b_ = nullptr;
  std::unique_ptr<MdlBuffer> abuf_, bbuf_;
  NDK_MR* amr_ = nullptr;
  NDK_MR* bmr_ = nullptr;
  Recorder* held_ = nullptr;
  NDK_QP* heldQp_ = nullptr;
  NDK_CONNECTOR* heldCon_ = nullptr;
  Recorder* heldConnect_ = nullptr;
};

// R17: the provider must not rely on a callback returning quickly for correctness. While A's CQ
// notification is held inside the consumer, connection B carries a burst of Sends, a Write and a
// Read, and B's receive CQ is armed. Correctness (any provider): once the held callback returns,
// every request of B has completed exactly once, in order, with the data in place, and B's
// notification arrives. This provider also keeps the data path independent of consumer callbacks
// (they run on the adapter's callback thread, the data path on the engine threads,
// docs/decisions.md): in strict mode B's completions must all be retrievable while A's callback
// is still held — a provider running the data path under the callback would time out there.
TEST_F(HeldCallback, R17_HeldCallbackDoesNotBreakOtherConnections) {
  holdCqNotification();
  if (HasFatalFailure()) return;
  Recorder* bNotify = notifierOf(b_->passive.cq);
  ASSERT_NE(nullptr, bNotify);
  NDK_QP* bact = b_->active.qp;
  NDK_QP* bpas = b_->passive.qp;
  NDK_CQ* bacq = b_->active.cq;
  NDK_CQ* bpcq = b_->passive.cq;
  b_->passive.cq->Dispatch->NdkArmCq(bpcq, NDK_CQ_NOTIFY_ANY);
  constexpr ULONG kSends = 24;
  for (ULONG i = 0; i < kSends; ++i) {
    NDK_SGE r = sgeIn(*bbuf_, bmr_, 2 * PAGE_SIZE + i * 64, 64);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, bpas->Dispatch->NdkReceive(bpas, ctx(100 + i), &r, 1));
  }
  for (ULONG i = 0; i < kSends; ++i) {
    std::memset(bbuf_->data() + i * 64, static_cast<int>('a' + i), 64);
    NDK_SGE s = sgeIn(*bbuf_, bmr_, i * 64, 64);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, bact->Dispatch->NdkSend(bact, ctx(200 + i), &s, 1, 0));
  }
  // Write the first 64 bytes to the page at 3 * PAGE_SIZE, then read them back to offset 3 * PAGE_SIZE + 512.
  UINT32 rtok = bmr_->Dispatch->NdkGetRemoteTokenFromMr(bmr_);
  NDK_SGE ws = sgeIn(*bbuf_, bmr_, 0, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, bact->Dispatch->NdkWrite(bact, ctx(300), &ws, 1,
                                                             reinterpret_cast<UINT64>(bbuf_->data() + 3 * PAGE_SIZE),
                                                             rtok, 0));
  NDK_SGE rs = sgeIn(*bbuf_, bmr_, 3 * PAGE_SIZE + 512, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, bact->Dispatch->NdkRead(bact, ctx(301), &rs, 1,
                                                            reinterpret_cast<UINT64>(bbuf_->data() + 3 * PAGE_SIZE),
                                                            rtok, 0));
  // Collect without arming, bounded: the whole kTimeout in strict mode, 2 s otherwise (a provider
  // may legitimately stall until the callback returns; then the rest is collected afterwards).
  std::vector<NDK_RESULT_EX> sent, received;
  auto collect = [&](std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while ((sent.size() < kSends + 2 || received.size() < kSends) && std::chrono::steady_clock::now() < deadline) {
      NDK_RESULT_EX buf[16];
      ULONG n = bacq->Dispatch->NdkGetCqResultsEx(bacq, buf, 16);
      sent.insert(sent.end(), buf, buf + n);
      ULONG m = bpcq->Dispatch->NdkGetCqResultsEx(bpcq, buf, 16);
      received.insert(received.end(), buf, buf + m);
      if (n == 0 && m == 0) std::this_thread::yield();
    }
  };
  collect(strict() ? std::chrono::milliseconds(kTimeout) : std::chrono::milliseconds(2000));
  if (strict()) {
    EXPECT_EQ(kSends + 2, sent.size()) << "B's initiator requests did not complete while A's callback was held";
    EXPECT_EQ(kSends, received.size()) << "B's receives did not complete while A's callback was held";
    EXPECT_TRUE(held_->inCallback()) << "A's held callback returned on its own";
  }
  held_->release.set();
  collect(std::chrono::milliseconds(kTimeout));
  // A's notification returned; the entry that triggered it is intact.
  auto a = pollEx(a_->passive.cq, 1);
  ASSERT_EQ(1u, a.size());
  CONF_EXPECT_STATUS(STATUS_SUCCESS, a[0].Status);
  EXPECT_EQ(ctx(900), a[0].RequestContext);
  // B: every request exactly once, in posting order, data in place.
  ASSERT_EQ(kSends + 2, sent.size());
  ASSERT_EQ(kSends, received.size());
  for (ULONG i = 0; i < kSends + 2; ++i) {
    CONF_EXPECT_STATUS(STATUS_SUCCESS, sent[i].Status);
    EXPECT_EQ(ctx(i < kSends ? 200 + i : 300 + (i - kSends)), sent[i].RequestContext) << i;
  }
  for (ULONG i = 0; i < kSends; ++i) {
    CONF_EXPECT_STATUS(STATUS_SUCCESS, received[i].Status);
    EXPECT_EQ(ctx(100 + i), received[i].RequestContext) << i;
    EXPECT_EQ(64u, received[i].BytesTransferred);
    EXPECT_EQ(std::string(64, static_cast<char>('a' + i)), std::string(bbuf_->data() + 2 * PAGE_SIZE + i * 64, 64)) << i;
  }
  EXPECT_EQ(std::string(64, 'a'), std::string(bbuf_->data() + 3 * PAGE_SIZE + 512, 64)) << "Write/Read round trip";
  // B's armed CQ was notified (delayed by the held callback at most, never lost: R42).
  EXPECT_TRUE(bNotify->waitFor(1)) << "B's notification was lost";
  EXPECT_EQ(1u, bNotify->count()) << "R42: one notification per arm";
  // A still works after its callback returned.
  NDK_SGE r = sgeIn(*abuf_, amr_, 2 * PAGE_SIZE, 64);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, a_->passive.qp->Dispatch->NdkReceive(a_->passive.qp, ctx(902), &r, 1));
  NDK_SGE s = sgeIn(*abuf_, amr_, 0, 16);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, a_->active.qp->Dispatch->NdkSend(a_->active.qp, ctx(903), &s, 1, 0));
  auto more = drainEx(a_->passive.cq, 1);
  ASSERT_EQ(1u, more.size());
  EXPECT_EQ(ctx(902), more[0].RequestContext);
  EXPECT_EQ(2u, drainEx(a_->active.cq, 2).size());
}

// R167: every function callable at DISPATCH level returns without waiting for a consumer callback.
// While a callback is held inside the consumer (only the test releases it, and only after the
// calls returned), another thread calls the non-PASSIVE functions on the same adapter instance —
// on connection B, on fresh objects, and on the very CQ/connection whose callback is held. A
// provider that waits for the callback (a lock held across callbacks, a synchronous hand-off to
// the callback thread) deadlocks here until the watchdog (kTimeout) fails the test and releases
// the gate. Pending calls complete after the release (R9).
class HeldCallbackKind : public HeldCallback, public ::testing::WithParamInterface<bool> {};

TEST_P(HeldCallbackKind, R167_NonPassiveCallsDoNotWaitForAHeldCallback) {
  const bool cqNotification = GetParam();
  if (cqNotification) {
    holdCqNotification();
  } else {
    holdConnectEvent();
  }
  if (HasFatalFailure()) return;

  // Everything the worker creates is returned through these (the fixture closes it later).
  Probes probes;
  std::vector<NDK_OBJECT_HEADER*> made;
  std::vector<std::string> failures;
  std::mutex failMu;
  auto fail = [&](const std::string& f) {
    std::lock_guard<std::mutex> l(failMu);
    failures.push_back(f);
  };
  Event workerDone;
  std::vector<unsigned char> lamMem(OPENNDK_LAM_SIZE(4));
  MdlBuffer extra(2 * PAGE_SIZE);
  Recorder& newCqNotify = newRecorder();
  Recorder& newEvents = newRecorder();

  std::thread worker([&] {
    auto created = [&](const std::string& what, NTSTATUS st, NDK_OBJECT_HEADER* obj) {
      if (st == STATUS_SUCCESS && obj) made.push_back(obj);
      else if (st != STATUS_PENDING) fail(what + " returned " + statusName(st));
    };
    NDK_OBJECT_HEADER* o = nullptr;
    // Creates on the adapter and on B's PD.
    Probe& pdP = probes.start("NdkCreatePd", [&](Probe& p) {
      return adapter_->Dispatch->NdkCreatePd(adapter_, &Probe::onCreate, &p, reinterpret_cast<NDK_PD**>(&o));
    });
    created("NdkCreatePd", pdP.inlineStatus, o);
    o = nullptr;
    Probe& cqP = probes.start("NdkCreateCq", [&](Probe& p) {
      return adapter_->Dispatch->NdkCreateCq(adapter_, 16, &Recorder::onCqNotify, &newCqNotify, nullptr,
                                             &Probe::onCreate, &p, reinterpret_cast<NDK_CQ**>(&o));
    });
    created("NdkCreateCq", cqP.inlineStatus, o);
    NDK_CQ* newCq = cqP.inlineStatus == STATUS_SUCCESS ? reinterpret_cast<NDK_CQ*>(o) : nullptr;
    o = nullptr;
    Probe& mrP = probes.start("NdkCreateMr", [&](Probe& p) {
      return b_->pd->Dispatch->NdkCreateMr(b_->pd, FALSE, &Probe::onCreate, &p, reinterpret_cast<NDK_MR**>(&o));
    });
    created("NdkCreateMr", mrP.inlineStatus, o);
    NDK_MR* newMr = mrP.inlineStatus == STATUS_SUCCESS ? reinterpret_cast<NDK_MR*>(o) : nullptr;
    o = nullptr;
    Probe& mwP = probes.start("NdkCreateMw", [&](Probe& p) {
      return b_->pd->Dispatch->NdkCreateMw(b_->pd, &Probe::onCreate, &p, reinterpret_cast<NDK_MW**>(&o));
    });
    created("NdkCreateMw", mwP.inlineStatus, o);
    o = nullptr;
    Probe& conP = probes.start("NdkCreateConnector", [&](Probe& p) {
      return adapter_->Dispatch->NdkCreateConnector(adapter_, &Probe::onCreate, &p, reinterpret_cast<NDK_CONNECTOR**>(&o));
    });
    created("NdkCreateConnector", conP.inlineStatus, o);
    o = nullptr;
    Probe& lisP = probes.start("NdkCreateListener", [&](Probe& p) {
      return adapter_->Dispatch->NdkCreateListener(adapter_, &Recorder::onConnectEvent, &newEvents, &Probe::onCreate,
                                                   &p, reinterpret_cast<NDK_LISTENER**>(&o));
    });
    created("NdkCreateListener", lisP.inlineStatus, o);
    NDK_LISTENER* newListener = lisP.inlineStatus == STATUS_SUCCESS ? reinterpret_cast<NDK_LISTENER*>(o) : nullptr;
    // Memory.
    if (newMr) {
      Probe& reg = probes.start("NdkRegisterMr", [&](Probe& p) {
        return newMr->Dispatch->NdkRegisterMr(newMr, extra.mdl(), extra.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
                                              &Probe::onRequest, &p);
      });
      if (!(reg.inlineStatus == STATUS_SUCCESS || reg.inlineStatus == STATUS_PENDING)) fail("NdkRegisterMr");
    }
    auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lamMem.data());
    ULONG lamSize = static_cast<ULONG>(lamMem.size()), fbo = 0;
    Probe& lamP = probes.start("NdkBuildLAM", [&](Probe& p) {
      return adapter_->Dispatch->NdkBuildLAM(adapter_, extra.mdl(), extra.size(), &Probe::onRequest, &p, lam, &lamSize,
                                             &fbo);
    });
    if (lamP.inlineStatus == STATUS_SUCCESS) adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
    // CQ functions: a fresh CQ, B's CQ, and the CQ whose notification may be held.
    if (newCq) {
      newCq->Dispatch->NdkArmCq(newCq, NDK_CQ_NOTIFY_ANY);
      Probe& rs = probes.start("NdkResizeCq", [&](Probe& p) {
        return newCq->Dispatch->NdkResizeCq(newCq, 32, &Probe::onRequest, &p);
      });
      if (!(rs.inlineStatus == STATUS_SUCCESS || rs.inlineStatus == STATUS_PENDING)) fail("NdkResizeCq");
      if (info_.AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED) {
        NTSTATUS m = newCq->Dispatch->NdkControlCqInterruptModeration(newCq, 100, 4);
        if (m != STATUS_SUCCESS) fail("NdkControlCqInterruptModeration returned " + statusName(m));
      }
    }
    NDK_RESULT res[4];
    (void)a_->passive.cq->Dispatch->NdkGetCqResults(a_->passive.cq, res, 4);
    a_->passive.cq->Dispatch->NdkArmCq(a_->passive.cq, NDK_CQ_NOTIFY_ANY);  // R46: delivered after the held one
    (void)b_->active.cq->Dispatch->NdkGetCqResults(b_->active.cq, res, 4);
    b_->passive.cq->Dispatch->NdkArmCq(b_->passive.cq, NDK_CQ_NOTIFY_ERRORS);
    // Posting on B (and on A, whose callback may be held).
    for (int i = 0; i < 4; ++i) {
      NDK_SGE r = sgeIn(*bbuf_, bmr_, 2 * PAGE_SIZE + i * 64, 64);
      if (b_->passive.qp->Dispatch->NdkReceive(b_->passive.qp, ctx(10 + i), &r, 1) != STATUS_SUCCESS) fail("NdkReceive");
      NDK_SGE s = sgeIn(*bbuf_, bmr_, i * 64, 64);
      if (b_->active.qp->Dispatch->NdkSend(b_->active.qp, ctx(20 + i), &s, 1, 0) != STATUS_SUCCESS) fail("NdkSend");
    }
    UINT32 rtok = bmr_->Dispatch->NdkGetRemoteTokenFromMr(bmr_);
    NDK_SGE ws = sgeIn(*bbuf_, bmr_, 0, 64);
    if (b_->active.qp->Dispatch->NdkWrite(b_->active.qp, ctx(30), &ws, 1,
                                          reinterpret_cast<UINT64>(bbuf_->data() + 3 * PAGE_SIZE), rtok, 0) != STATUS_SUCCESS)
      fail("NdkWrite");
    NDK_SGE rsg = sgeIn(*bbuf_, bmr_, 3 * PAGE_SIZE + 512, 64);
    if (b_->active.qp->Dispatch->NdkRead(b_->active.qp, ctx(31), &rsg, 1,
                                         reinterpret_cast<UINT64>(bbuf_->data() + 3 * PAGE_SIZE), rtok, 0) != STATUS_SUCCESS)
      fail("NdkRead");
    NDK_SGE ar = sgeIn(*abuf_, amr_, 3 * PAGE_SIZE, 64);
    if (a_->passive.qp->Dispatch->NdkReceive(a_->passive.qp, ctx(41), &ar, 1) != STATUS_SUCCESS) fail("NdkReceive on A");
    // Connection getters.
    ULONG ird = 0, ord = 0, len = 0;
    if (b_->active.con->Dispatch->NdkGetConnectionData(b_->active.con, &ird, &ord, nullptr, &len) != STATUS_SUCCESS)
      fail("NdkGetConnectionData");
    SOCKADDR_IN sa{};
    ULONG salen = sizeof sa;
    if (b_->passive.con->Dispatch->NdkGetPeerAddress(b_->passive.con, reinterpret_cast<PSOCKADDR>(&sa), &salen) !=
        STATUS_SUCCESS)
      fail("NdkGetPeerAddress");
    // Listen on the fresh listener (a connect toward it would need the held callback thread).
    if (newListener) {
      SOCKADDR_IN la = loopback4(0);
      Probe& l = probes.start("NdkListen", [&](Probe& p) {
        return newListener->Dispatch->NdkListen(newListener, reinterpret_cast<PSOCKADDR>(&la), sizeof la,
                                                &Probe::onRequest, &p);
      });
      if (!(l.inlineStatus == STATUS_SUCCESS || l.inlineStatus == STATUS_PENDING)) fail("NdkListen");
    }
    // Flush A's passive QP (its CQ's notification may be held: the cancelled receive notifies it
    // again after the release) and disconnect B.
    a_->passive.qp->Dispatch->NdkFlush(a_->passive.qp);
    Probe& disc = probes.start("NdkDisconnect", [&](Probe& p) {
      return b_->active.con->Dispatch->NdkDisconnect(b_->active.con, &Probe::onRequest, &p);
    });
    if (!(disc.inlineStatus == STATUS_SUCCESS || disc.inlineStatus == STATUS_PENDING)) fail("NdkDisconnect");
    workerDone.set();
  });

  const bool returned = workerDone.wait(kTimeout);
  EXPECT_TRUE(returned) << "R167: a function callable at DISPATCH level waited for a held consumer callback";
  if (strict() || returned) {
    EXPECT_TRUE(held_->inCallback()) << "the held callback returned before the release";
  }
  held_->release.set();
  worker.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  // Track what the worker made so TearDown closes it (in creation order: reverse close).
  for (NDK_OBJECT_HEADER* h : made) track(h);
  // Pending calls complete after the release (R9); objects of pended creates are tracked too.
  finishHeldConnect();
  probes.verifyPendingCompleted([&](NDK_OBJECT_HEADER* h) { track(h); });
  // B's disconnect completes, A still delivers notifications (the re-arm made while held, R46).
  if (cqNotification) {
    EXPECT_TRUE(held_->waitFor(2)) << "R46: the arm made during the held callback was lost";
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, HeldCallbackKind, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "CqNotification" : "ConnectEvent");
                         });

}  // namespace
}  // namespace conf
