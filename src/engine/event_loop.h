// One progress engine: one thread ("ndk-engine-N") around an epoll set, with an eventfd doorbell
// (post a task from any thread), a steady-clock timer queue (one-shot, cancellable) and fd watches.
//
// Progress modes (tunable progress_mode):
//   blocking  the engine thread sleeps in epoll_wait until an fd, the doorbell or a timer is due.
//   adaptive  after activity the engine thread polls epoll_wait(0) for poll_spin_us, then sleeps.
//   poll      consumers call poll() to drive progress in their own thread; the engine thread never
//             spins, it sleeps in epoll_wait and only serves as the backstop when nobody polls.
// Whatever the mode, handlers (tasks, timers, fd callbacks) run under one progress lock (the
// progress token), so at most one thread runs them at a time and they never run concurrently with
// each other. The engine thread never holds the token while it sleeps: a posting thread can take it
// with tryRun() and transmit in place, a polling consumer with poll().
//
// Consumer-driven progress (adaptive and poll modes, docs/decisions.md "Fast path"): while some
// consumer thread calls consumerPoll() (a CQ being polled), the engine thread stops watching the
// sockets and the doorbell, never takes the token and neither spins nor wakes for socket events: it
// sleeps, at most kBackstop at a time, and goes back to full duty once nobody polled for
// kConsumerQuiet or a consumer announced it goes to sleep (consumerIdle(), e.g. a CQ being armed).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace openndk::engine {

enum class ProgressMode : std::uint8_t { Blocking, Adaptive, Poll };
// "blocking" | "adaptive" | "poll"; false for anything else.
bool parseProgressMode(std::string_view s, ProgressMode& out);

class EventLoop {
 public:
  using Task = std::function<void()>;
  using IoHandler = std::function<void(std::uint32_t events)>;
  using TimerId = std::uint64_t;
  using WatchId = std::uint64_t;

  // Mode and spin time from the tunables (progress_mode, poll_spin_us).
  explicit EventLoop(int index = 0);
  EventLoop(int index, ProgressMode mode, std::chrono::microseconds spin);
  ~EventLoop();  // stop()
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Any thread. Tasks run in posting order. Returns false once stop() has begun draining is over
  // (the task is then not run and is destroyed in the caller's thread). From the progress context
  // the doorbell is not rung: the task runs before the context is left.
  bool post(Task task);
  // Any thread: run fn(ctx) in the progress context right now if the token is free (or the caller
  // already holds it), then drain the tasks it posted; false (fn not called) if another thread
  // holds the token.
  bool tryRun(void (*fn)(void*), void* ctx);
  // Runs every task posted before stop() and every task those tasks post, then joins. Pending timers
  // are dropped without firing. Idempotent; must not be called from a handler.
  void stop();

  // Progress context only (a handler, or a thread inside poll()). One-shot timer; cancel before it
  // fired returns true.
  TimerId addTimer(std::chrono::milliseconds delay, Task fn);
  bool cancelTimer(TimerId id);
  // Progress context only. Level-triggered watch of fd (EPOLLIN/EPOLLOUT/...). The handler may
  // unwatch itself or others; a removed watch is never called again, even within the same batch.
  WatchId watch(int fd, std::uint32_t events, IoHandler fn);
  bool modify(WatchId id, std::uint32_t events);
  bool unwatch(WatchId id);

  // Poll mode: drive progress in the calling thread (no waiting). Returns the number of handlers
  // run; 0 if another thread is driving progress right now. Allowed in every mode.
  std::size_t poll();
  // A consumer's poll (a CQ poll hook): poll(), and in adaptive/poll mode record that consumers
  // are driving progress (the engine thread then stays quiet, see above). Blocking mode: no-op.
  std::size_t consumerPoll();
  // A consumer stops polling (it arms a CQ and sleeps): the engine thread resumes full duty now.
  void consumerIdle();
  // True while a consumer polled within kConsumerQuiet (adaptive/poll mode only).
  [[nodiscard]] bool consumersPolling() const noexcept;
  // True while the engine thread is quiet (tests, diagnostics).
  [[nodiscard]] bool engineQuiet() const noexcept { return quiet_.load(); }

  static constexpr std::chrono::microseconds kConsumerQuiet{200};
  static constexpr std::chrono::milliseconds kBackstop{1};

  // True while the calling thread runs this loop's handlers.
  [[nodiscard]] bool inProgressContext() const noexcept;
  [[nodiscard]] ProgressMode mode() const noexcept { return mode_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::thread::id threadId() const noexcept { return thread_.get_id(); }

 private:
  struct Timer {
    std::chrono::steady_clock::time_point due;
    Task fn;
  };
  struct Watch {
    int fd;
    std::shared_ptr<IoHandler> fn;  // shared: a running handler may unwatch itself
  };
  void run();
  std::size_t progressLocked(int timeout_ms);  // with progress_mu_ held
  // With progress_mu_ held: the events of an epoll_wait made without it (may be stale: handlers
  // are non-blocking and a watch removed meanwhile is skipped), then due timers and tasks.
  std::size_t dispatchLocked(const ::epoll_event* evs, int n);
  std::size_t runTasks();
  std::size_t drainTasks();  // runTasks() until empty (bounded; leftovers ring the doorbell)
  std::size_t runTimers();
  int nextTimeoutMs();    // any thread (next_due_ns_): -1 none, 0 due
  void publishNextDue();  // under progress_mu_, after timer_order_ changed
  void ring();

  const ProgressMode mode_;
  const std::chrono::microseconds spin_;
  std::string name_;
  int epfd_ = -1;
  int doorbell_ = -1;

  std::mutex task_mu_;
  std::deque<Task> tasks_;
  bool stopping_ = false;  // stop() called: the loop drains and exits
  bool closed_ = false;    // drained: post() refuses
  std::atomic<bool> rung_{false};
  std::atomic<std::int64_t> last_consumer_poll_ns_{0};  // steady clock; 0: consumers idle
  std::atomic<bool> quiet_{false};  // the engine thread is quiet (consumers drive progress)
  std::atomic<bool> stop_requested_{false};
  std::mutex quiet_mu_;  // with quiet_cv_: consumerIdle() / stop() end a quiet sleep at once
  std::condition_variable quiet_cv_;
  std::atomic<std::int64_t> next_due_ns_{INT64_MAX};  // first timer's due time (steady clock)

  std::mutex progress_mu_;  // held while handlers run
  // Below: only under progress_mu_.
  std::multimap<std::chrono::steady_clock::time_point, TimerId> timer_order_;
  std::unordered_map<TimerId, std::pair<std::chrono::steady_clock::time_point, Task>> timers_;
  std::unordered_map<WatchId, Watch> watches_;
  TimerId next_timer_ = 1;
  WatchId next_watch_ = 1;

  std::mutex stop_mu_;
  std::thread thread_;
};

}  // namespace openndk::engine
