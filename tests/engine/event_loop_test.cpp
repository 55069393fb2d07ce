// The progress engine: doorbell tasks, timers, fd watches, shutdown, progress modes.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "base/config.h"
#include "engine/event_loop.h"

using namespace openndk::engine;
using namespace std::chrono_literals;

namespace {
constexpr auto kWait = 10s;  // generous: only reached when something is broken

class Modes : public ::testing::TestWithParam<ProgressMode> {};

std::string modeName(const ::testing::TestParamInfo<ProgressMode>& i) {
  switch (i.param) {
    case ProgressMode::Blocking: return "Blocking";
    case ProgressMode::Adaptive: return "Adaptive";
    case ProgressMode::Poll: return "Poll";
  }
  return "?";
}
}  // namespace

TEST_P(Modes, DoorbellTasksRunInPostingOrder) {
  EventLoop loop(0, GetParam(), 50us);
  std::mutex mu;
  std::vector<int> seen;
  std::promise<void> done;
  // Posted from several threads: each thread's own tasks must keep their order.
  constexpr int kThreads = 4, kPer = 500;
  std::atomic<int> total{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i)
        ASSERT_TRUE(loop.post([&, t, i] {
          std::lock_guard lk(mu);
          seen.push_back(t * kPer + i);
          if (++total == kThreads * kPer) done.set_value();
        }));
    });
  for (auto& th : ts) th.join();
  ASSERT_EQ(done.get_future().wait_for(kWait), std::future_status::ready);
  std::vector<int> last(kThreads, -1);
  for (int v : seen) {
    EXPECT_GT(v % kPer, last[v / kPer]);
    last[v / kPer] = v % kPer;
  }
}

TEST_P(Modes, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  EventLoop loop(1, GetParam(), 50us);
  std::promise<std::vector<int>> result;
  std::vector<int> order;
  std::atomic<bool> cancelled_fired{false};
  loop.post([&] {
    ASSERT_TRUE(loop.inProgressContext());
    loop.addTimer(30ms, [&] { order.push_back(3); });
    loop.addTimer(10ms, [&] { order.push_back(1); });
    const auto victim = loop.addTimer(15ms, [&] { cancelled_fired = true; });
    loop.addTimer(20ms, [&] { order.push_back(2); });
    loop.addTimer(60ms, [&] { result.set_value(order); });
    EXPECT_TRUE(loop.cancelTimer(victim));
    EXPECT_FALSE(loop.cancelTimer(victim));  // twice: already gone
  });
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(cancelled_fired);
}

TEST_P(Modes, TimerDoesNotFireEarly) {
  EventLoop loop(2, GetParam(), 50us);
  std::promise<std::chrono::steady_clock::duration> p;
  loop.post([&] {
    const auto t0 = std::chrono::steady_clock::now();
    loop.addTimer(25ms, [&p, t0] { p.set_value(std::chrono::steady_clock::now() - t0); });
  });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_GE(f.get(), 25ms);
}

TEST_P(Modes, WatchReportsReadableFdAndUnwatchStopsIt) {
  EventLoop loop(3, GetParam(), 50us);
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  std::promise<int> p;
  std::atomic<int> calls{0};
  loop.post([&] {
    auto id = std::make_shared<EventLoop::WatchId>(0);
    *id = loop.watch(efd, EPOLLIN, [&, efd, id](std::uint32_t) {
      std::uint64_t v = 0;
      EXPECT_EQ(::read(efd, &v, sizeof v), 8);
      ++calls;
      EXPECT_TRUE(loop.unwatch(*id));  // a handler may remove itself
      p.set_value(static_cast<int>(v));
    });
    ASSERT_NE(*id, 0u);
  });
  const std::uint64_t seven = 7;
  ASSERT_EQ(::write(efd, &seven, 8), 8);
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), 7);
  // Readable again, but nobody watches any more: a barrier task proves no further call was made.
  ASSERT_EQ(::write(efd, &seven, 8), 8);
  std::promise<void> barrier;
  loop.post([&] { barrier.set_value(); });
  ASSERT_EQ(barrier.get_future().wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(calls.load(), 1);
  ::close(efd);
}

TEST_P(Modes, StopRunsEveryAcceptedTaskIncludingTasksPostedByTasks) {
  std::atomic<int> ran{0};
  int accepted = 0;
  {
    EventLoop loop(4, GetParam(), 50us);
    for (int i = 0; i < 1000; ++i) {
      if (loop.post([&] {
            ++ran;
            loop.post([&] { ++ran; });  // chained: posted during the drain
          }))
        accepted += 2;
    }
    loop.stop();
    EXPECT_FALSE(loop.post([&] { ++ran; }));  // after stop: refused, not lost silently
    loop.stop();                               // idempotent
  }
  EXPECT_EQ(ran.load(), accepted);
  EXPECT_EQ(accepted, 2000);
}

// Fast path (docs/decisions.md "Fast path"): the engine thread never holds the progress token while
// it sleeps, so a posting thread takes it and runs its work in place.
namespace {
// The engine may hold the token for a moment (e.g. its start-up round); it never keeps it while idle.
bool tryRunSoon(EventLoop& loop, void (*fn)(void*), void* ctx) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline)
    if (loop.tryRun(fn, ctx)) return true;
  return false;
}
}  // namespace

TEST_P(Modes, TryRunRunsInTheCallingThreadWhenTheTokenIsFree) {
  EventLoop loop(10, GetParam(), 50us);
  struct Ctx {
    EventLoop* loop;
    std::thread::id ran_on;
    bool in_context = false;
  } c{&loop, {}, false};
  ASSERT_TRUE(tryRunSoon(loop,
                         [](void* p) {
                           auto* x = static_cast<Ctx*>(p);
                           x->ran_on = std::this_thread::get_id();
                           x->in_context = x->loop->inProgressContext();
                         },
                         &c));
  EXPECT_EQ(c.ran_on, std::this_thread::get_id());
  EXPECT_TRUE(c.in_context);
  EXPECT_FALSE(loop.inProgressContext());
}

TEST_P(Modes, TryRunRefusesWhileAnotherThreadHoldsTheToken) {
  EventLoop loop(11, GetParam(), 50us);
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  loop.post([&] {  // runs in the progress context, holding the token until released
    std::unique_lock lk(mu);
    inside = true;
    cv.notify_all();
    cv.wait_for(lk, kWait, [&] { return release; });
  });
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, kWait, [&] { return inside; }));
  }
  bool called = false;
  EXPECT_FALSE(loop.tryRun([](void* p) { *static_cast<bool*>(p) = true; }, &called));
  EXPECT_FALSE(called);
  EXPECT_EQ(loop.poll(), 0u);  // a consumer's poll does not wait for the token either
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
}

TEST_P(Modes, TasksPostedInsideTryRunRunBeforeItReturns) {
  EventLoop loop(12, GetParam(), 50us);
  struct Ctx {
    EventLoop* loop;
    std::vector<int> order;
    std::thread::id task_thread;
  } c{&loop, {}, {}};
  ASSERT_TRUE(tryRunSoon(
      loop,
      [](void* p) {
        auto* x = static_cast<Ctx*>(p);
        x->order.push_back(1);
        // From the progress context: no doorbell, and it runs before the context is left.
        x->loop->post([x] {
          x->order.push_back(3);
          x->task_thread = std::this_thread::get_id();
        });
        // Re-entrant: already in the context, runs inline.
        EXPECT_TRUE(x->loop->tryRun([](void* q) { static_cast<Ctx*>(q)->order.push_back(2); }, x));
      },
      &c));
  EXPECT_EQ(c.order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(c.task_thread, std::this_thread::get_id());
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Modes,
                         ::testing::Values(ProgressMode::Blocking, ProgressMode::Adaptive, ProgressMode::Poll),
                         modeName);

TEST(EventLoop, ThreadIsNamedNdkEngineN) {
  EventLoop loop(7, ProgressMode::Blocking, 0us);
  std::promise<std::string> p;
  loop.post([&] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    p.set_value(buf);
  });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), "ndk-engine-7");
  EXPECT_EQ(loop.name(), "ndk-engine-7");
}

TEST(EventLoop, PollDrivesProgressInTheCallingThread) {
  EventLoop loop(8, ProgressMode::Poll, 0us);
  std::atomic<bool> ran_here{false};
  const auto me = std::this_thread::get_id();
  std::atomic<bool> ran{false};
  loop.post([&] {
    ran_here = std::this_thread::get_id() == me;
    ran = true;
  });
  // Either we run it through poll() or the engine thread (the backstop) got there first.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!ran && std::chrono::steady_clock::now() < deadline) loop.poll();
  ASSERT_TRUE(ran);
  if (ran_here) SUCCEED() << "ran in the polling thread";
  EXPECT_FALSE(loop.inProgressContext());  // only while inside poll()
}

namespace {
// An eventfd watched by a domain that also has a poll handler reading it (the shape of a provider
// connection): `handled` counts reads, `on_engine` tells whether the last one ran on the engine.
struct PolledFd {
  explicit PolledFd(EventLoop& l) : loop(l), fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~PolledFd() { ::close(fd); }
  bool install() {
    std::promise<void> done;
    loop.post([&] {
      watch = loop.watch(fd, EPOLLIN, [this](std::uint32_t) { readOnce(); });
      handler = loop.addPollHandler([this] {
        polled.fetch_add(1);
        return readOnce();
      });
      done.set_value();
    });
    return done.get_future().wait_for(kWait) == std::future_status::ready;
  }
  bool readOnce() {
    std::uint64_t v;
    if (::read(fd, &v, sizeof v) != sizeof v) return false;
    on_engine = std::this_thread::get_id() == loop.threadId();
    // As a provider CQ does for an armed CQ: the notification leaves the engine thread after the token.
    if (notify && on_engine) EventLoop::deferToContextExit([] {});
    handled.fetch_add(1);
    return true;
  }
  void ring() {
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(fd, &one, sizeof one), 8);
  }
  void uninstall() {
    std::promise<void> done;
    loop.post([&] {
      loop.unwatch(watch);
      loop.removePollHandler(handler);
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(kWait), std::future_status::ready);
  }
  EventLoop& loop;
  int fd;
  EventLoop::WatchId watch = 0;
  std::uint64_t handler = 0;
  std::atomic<int> handled{0};
  std::atomic<int> polled{0};        // poll handler runs (consumer polls that looked at the fd)
  std::atomic<bool> on_engine{false};
  bool notify = false;               // an engine read delivers a "CQ notification"
};

// Consumer polls (and makes the fd readable now and then) until the engine parked the domain.
bool pollUntilParked(EventLoop& loop, PolledFd& f) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
    if (i % 8 == 0) f.ring();   // an event the engine sees while consumers poll: it parks
    loop.consumerPoll();
    if (loop.engineQuiet()) return true;
  }
  return false;
}
}  // namespace

// Consumer-driven progress (docs/engine.md "Progress domains"): a consumer's poll runs the domain's
// poll handler in its own thread (no epoll_wait); the engine, seeing the domain's fd while
// consumers poll it, parks the domain's watches; consumerIdle() (a CQ being armed) unparks them at
// once and the engine serves the fd again. Blocking mode ignores consumer polls.
TEST(EventLoop, ConsumerPollParksTheDomainAndConsumerIdleUnparksIt) {
  for (ProgressMode mode : {ProgressMode::Adaptive, ProgressMode::Poll}) {
    EventLoop engine(13, mode, 50us);
    auto domain = engine.makeDomain();
    PolledFd f(*domain);
    ASSERT_GE(f.fd, 0);
    ASSERT_TRUE(f.install());
    ASSERT_TRUE(pollUntilParked(*domain, f)) << "the engine did not park a domain its consumers poll";
    // Parked: the consumer's poll is what reads the fd now, in the consumer's thread.
    const int before = f.handled.load();
    f.ring();
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (f.handled.load() == before && std::chrono::steady_clock::now() < deadline) domain->consumerPoll();
    EXPECT_EQ(f.handled.load(), before + 1);
    EXPECT_FALSE(f.on_engine.load());
    domain->consumerIdle();
    EXPECT_FALSE(domain->consumersPolling());
    deadline = std::chrono::steady_clock::now() + kWait;
    while (domain->engineQuiet() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_FALSE(domain->engineQuiet());
    // Nobody polls now: the engine thread handles the fd on its own.
    f.ring();
    while (f.handled.load() < before + 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_EQ(f.handled.load(), before + 2);
    EXPECT_TRUE(f.on_engine.load());
    f.uninstall();
    engine.stop();
  }
}

// The backstop: a consumer that stops polling without arming anything (no consumerIdle()) still
// gets its events handled, by the engine thread, once the quiet time has passed.
TEST(EventLoop, BackstopHandlesEventsAfterConsumersStopPolling) {
  EventLoop engine(14, ProgressMode::Poll, 0us);
  auto domain = engine.makeDomain();
  PolledFd f(*domain);
  ASSERT_GE(f.fd, 0);
  ASSERT_TRUE(f.install());
  ASSERT_TRUE(pollUntilParked(*domain, f));
  const int before = f.handled.load();
  f.ring();  // only the engine can handle it now
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (f.handled.load() == before && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(f.handled.load(), before + 1);
  EXPECT_TRUE(f.on_engine.load());
  f.uninstall();
  engine.stop();
}

// A consumer waiting on notifications (adaptive mode): the engine that has just delivered one
// keeps spinning although the woken consumer polls (its next message comes through the engine: a
// sleeping engine would add a wake-up to each), and while it spins, the consumer's polls leave the
// fd to it (no receive attempt racing the engine's, no fight for the token).
TEST(EventLoop, AnEngineThatDeliveredANotificationSpinsAndConsumerPollsLeaveItTheFd) {
  EventLoop engine(15, ProgressMode::Adaptive, 30s);  // a long spin: the test looks while it lasts
  auto domain = engine.makeDomain();
  PolledFd f(*domain);
  f.notify = true;
  ASSERT_GE(f.fd, 0);
  ASSERT_TRUE(f.install());
  domain->consumerIdle();  // the consumer armed its CQ and sleeps
  f.ring();
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (f.handled.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(f.handled.load(), 1);
  EXPECT_TRUE(f.on_engine.load());
  // The consumer wakes up and polls its CQ, as it does after a notification (these polls may still
  // run the handler: the engine starts its spin when it is back from delivering).
  for (int i = 0; i < 100; ++i) domain->consumerPoll();
  EXPECT_TRUE(domain->consumersPolling());
  deadline = std::chrono::steady_clock::now() + kWait;
  while (!domain->engineSpinning() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_TRUE(domain->engineSpinning()) << "a fresh consumer mark stopped the spin after a notification";
  const int polled_before = f.polled.load();
  for (int i = 0; i < 100; ++i) domain->consumerPoll();
  EXPECT_EQ(f.polled.load(), polled_before) << "consumer polls ran the poll handler while the engine spins";
  EXPECT_FALSE(domain->engineQuiet());
  // The next message: the spinning engine takes it.
  f.ring();
  while (f.handled.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(f.handled.load(), 2);
  EXPECT_TRUE(f.on_engine.load());
  f.uninstall();
  engine.stop();
}

// Two domains of one engine progress in parallel: while a handler of one holds its token, the
// other runs tasks in another thread (the engine-wide token of old would serialise them).
TEST(EventLoop, DomainsOfOneEngineProgressInParallel) {
  EventLoop engine(16, ProgressMode::Poll, 0us);
  auto a = engine.makeDomain(), b = engine.makeDomain();
  std::promise<void> inA, releaseA;
  auto releaseF = releaseA.get_future().share();
  ASSERT_TRUE(a->post([&, releaseF] {
    inA.set_value();
    releaseF.wait_for(kWait);
  }));
  ASSERT_EQ(inA.get_future().wait_for(kWait), std::future_status::ready);
  bool ran = false;
  EXPECT_FALSE(a->tryRun([](void*) {}, nullptr));  // a's token is taken
  EXPECT_TRUE(b->tryRun([](void* p) { *static_cast<bool*>(p) = true; }, &ran));
  EXPECT_TRUE(ran);
  releaseA.set_value();
  engine.stop();
}

TEST(EventLoop, BlockingModeIgnoresConsumerPolls) {
  EventLoop loop(15, ProgressMode::Blocking, 0us);
  EXPECT_EQ(loop.consumerPoll(), 0u);
  EXPECT_FALSE(loop.consumersPolling());
  EXPECT_FALSE(loop.engineQuiet());
}

TEST(EventLoop, ProgressModeFromTunable) {
  ProgressMode m{};
  EXPECT_TRUE(parseProgressMode("blocking", m));
  EXPECT_EQ(m, ProgressMode::Blocking);
  EXPECT_TRUE(parseProgressMode("poll", m));
  EXPECT_EQ(m, ProgressMode::Poll);
  EXPECT_TRUE(parseProgressMode("adaptive", m));
  EXPECT_EQ(m, ProgressMode::Adaptive);
  EXPECT_FALSE(parseProgressMode("spin", m));
  EXPECT_EQ(m, ProgressMode::Adaptive);  // unchanged
  ASSERT_TRUE(openndk::base::setTunable("progress_mode", "blocking"));
  {
    EventLoop loop(9);
    EXPECT_EQ(loop.mode(), ProgressMode::Blocking);
  }
  openndk::base::resetTunables();
}
