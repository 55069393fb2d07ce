// Progress engines and progress domains.
//
// An *engine* is one thread ("ndk-engine-N") around an epoll set, an eventfd doorbell and a timer
// heap. An EventLoop is a *progress domain* on an engine: its own progress lock (the token), task
// queue, timers and fd watches. Handlers of one domain (posted tasks, timer callbacks, fd
// callbacks) never run concurrently with each other; handlers of different domains do. The
// EventLoop constructed with an index owns its engine (the engine's default domain: listeners,
// connection setup); makeDomain() adds a domain on the same engine — the provider gives every
// connection its own, so that two connections, e.g. both ends of a loopback pair, progress in
// parallel on two CPUs (docs/engine.md "Progress domains").
//
// Progress modes (tunable progress_mode):
//   blocking  the engine thread sleeps in epoll_wait until an fd, the doorbell or a timer is due;
//             consumer polls do nothing.
//   adaptive  after activity the engine thread polls epoll_wait(0) for poll_spin_us, then sleeps
//             (not while consumers poll, unless it has just delivered a CQ notification).
//   poll      as adaptive without the spin: the engine thread is the backstop.
// In adaptive and poll mode a consumer polling a CQ drives the domains of that CQ's connections in
// its own thread (consumerPoll()): the domain's poll handler performs non-blocking I/O on its own
// socket — no epoll_wait in that path. While a domain is being polled by consumers, the engine
// thread parks the domain's fd watches (no wake-ups for them) and unparks them once nobody polled
// for kConsumerQuiet, or at once when a consumer announces it goes to sleep (consumerIdle()).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace openndk::engine {

enum class ProgressMode : std::uint8_t { Blocking, Adaptive, Poll };
// "blocking" | "adaptive" | "poll"; false for anything else.
bool parseProgressMode(std::string_view s, ProgressMode& out);

class Engine;

class EventLoop : public std::enable_shared_from_this<EventLoop> {
 public:
  using Task = std::function<void()>;
  using IoHandler = std::function<void(std::uint32_t events)>;
  // A consumer-driven progress step (non-blocking I/O of the domain's connection); returns whether
  // it made progress. Runs in the domain's progress context.
  using PollHandler = std::function<bool()>;
  using TimerId = std::uint64_t;
  using WatchId = std::uint64_t;

  // An engine of its own (thread "ndk-engine-<index>") with this loop as its default domain. Mode
  // and spin time from the tunables (progress_mode, poll_spin_us).
  explicit EventLoop(int index = 0);
  EventLoop(int index, ProgressMode mode, std::chrono::microseconds spin);
  ~EventLoop();  // the default domain: stop(); another domain: leaves the engine
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Any thread: a new progress domain on this loop's engine. It lives as long as its owners hold it.
  [[nodiscard]] std::shared_ptr<EventLoop> makeDomain();

  // Any thread. Tasks run in posting order (per domain). Returns false once the engine's stop() has
  // drained (the task is then not run and is destroyed in the caller's thread). From the progress
  // context the doorbell is not rung: the task runs before the context is left.
  bool post(Task task);
  // Any thread: run fn(ctx) in the progress context right now if the token is free (or the caller
  // already holds it), then drain the tasks it posted; false (fn not called) if another thread
  // holds the token.
  bool tryRun(void (*fn)(void*), void* ctx);
  // Runs every task posted (to any domain of the engine) before stop() and every task those tasks
  // post, then joins the engine thread. Pending timers are dropped without firing. Idempotent; must
  // not be called from a handler. On a domain that does not own its engine: stops the engine too.
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
  // Progress context only: what consumerPoll() runs for this domain, e.g. a connection's
  // non-blocking receive and transmit (a domain without one never has its watches parked, and a
  // consumer's poll looks at the engine's fds for it). Returns a key for removePollHandler().
  std::uint64_t addPollHandler(PollHandler fn);
  void removePollHandler(std::uint64_t key);

  // Drive this domain in the calling thread (no waiting): tasks, due timers, the poll handler (or,
  // without one, a non-blocking look at the engine's fds for this domain's watches). Returns the
  // number of handlers run; 0 if another thread holds the token. Allowed in every mode.
  std::size_t poll();
  // A consumer's poll (a CQ poll hook): poll(), and in adaptive/poll mode record that consumers are
  // driving this domain (the engine then parks its watches, see above). Blocking mode: no-op.
  std::size_t consumerPoll();
  // A consumer stops polling (it arms a CQ and sleeps): the engine serves the domain again now.
  void consumerIdle();
  // Any thread, also from inside this domain's progress context: the engine thread runs the domain's
  // poll handlers unless a consumer's poll() runs them first — at once if the engine sleeps without
  // a timeout (one doorbell write), else at its next kBackstop wake-up (it has parked domains, i.e.
  // consumers are polling). The backstop of posts held for a consumer's next poll
  // (Connection::transmitPosted).
  void requestPoll();
  // True while a consumer polled this domain within kConsumerQuiet (adaptive/poll mode only).
  [[nodiscard]] bool consumersPolling() const noexcept;
  // True while the engine has parked this domain's watches (tests, diagnostics).
  [[nodiscard]] bool engineQuiet() const noexcept { return parked_.load(); }
  // True while the engine thread spins on epoll_wait(0) (adaptive mode; tests, diagnostics).
  [[nodiscard]] bool engineSpinning() const noexcept;

  static constexpr std::chrono::microseconds kConsumerQuiet{200};
  static constexpr std::chrono::milliseconds kBackstop{1};

  // True while the calling thread runs this domain's handlers.
  [[nodiscard]] bool inProgressContext() const noexcept;
  // On an engine thread, from any domain's progress context: run `fn` in this thread as soon as it
  // has left the progress context (every token released). Used to deliver a CQ notification from
  // the engine thread that placed the completion — no hop through another thread, and no consumer
  // code under a token. False elsewhere (outside a context, or on a consumer's thread driving
  // progress inside a provider call): the caller hands `fn` to another thread.
  static bool deferToContextExit(Task fn);
  // Whether deferToContextExit() would take a task on this thread now (an engine thread inside a
  // progress context).
  static bool canDeferToContextExit() noexcept;
  [[nodiscard]] ProgressMode mode() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] std::thread::id threadId() const noexcept;

 private:
  friend class Engine;
  struct Watch {
    int fd;
    std::uint32_t events;               // the interest the owner asked for
    std::shared_ptr<IoHandler> fn;      // shared: a running handler may unwatch itself
  };
  explicit EventLoop(std::shared_ptr<Engine> engine);
  // With token_ held (the caller set the context guard): due timers, then tasks.
  std::size_t runTimers();
  std::size_t runTasks();
  std::size_t drainTasks();  // runTasks() until empty (bounded; leftovers reschedule the domain)
  std::size_t runPollHandlers();  // token_ held: every poll handler once; how many made progress
  // Engine thread, with token_ held: one epoll event of watch `id`.
  std::size_t dispatchWatch(WatchId id, std::uint32_t events);
  void parkWatches();    // token_ held: epoll interest 0 for every watch (the consumers drive I/O)
  void unparkWatches();  // token_ held: every watch's interest back

  std::shared_ptr<Engine> engine_;
  bool owns_engine_ = false;
  std::shared_ptr<EventLoop> self_;  // the default domain: its own (non-owning) shared handle

  std::mutex token_;  // the progress token: held while handlers run
  // Below: tasks_ and scheduled_ under the engine's task lock.
  std::vector<Task> tasks_;
  // Progress context only (runTasks): the other half of the tasks_ double buffer. runTasks swaps
  // the queue out into it and hands it back empty, so queueing and running tasks allocate nothing
  // once both vectors have grown (a nested runTasks simply starts a vector of its own).
  std::vector<Task> spare_tasks_;
  bool scheduled_ = false;  // on the engine's runnable list
  // requestPoll() asked the engine to run the poll handlers; a consumer's poll() that ran them clears it.
  std::atomic<bool> poll_wanted_{false};
  std::atomic<bool> has_tasks_{false};
  // Below: only with token_ held.
  std::multimap<std::chrono::steady_clock::time_point, TimerId> timer_order_;
  std::unordered_map<TimerId, std::pair<std::chrono::steady_clock::time_point, Task>> timers_;
  std::unordered_map<WatchId, Watch> watches_;
  // Shared: a running handler may remove itself (a connection closing inside its own poll).
  std::vector<std::pair<std::uint64_t, std::shared_ptr<PollHandler>>> poll_handlers_;
  std::uint64_t next_poll_handler_ = 1;
  TimerId next_timer_ = 1;
  std::atomic<bool> has_poll_handler_{false};
  std::atomic<std::int64_t> next_due_ns_{INT64_MAX};  // first timer's due time (steady clock)
  std::atomic<std::int64_t> last_consumer_poll_ns_{0};  // steady clock; 0: consumers idle
  // consumerPoll(): polls since the clock was last read for the mark (lost updates between racing
  // consumers only shift when the next read happens).
  static constexpr std::uint32_t kPollsPerClockRead = 16;
  std::atomic<std::uint32_t> polls_since_clock_{0};
  std::atomic<bool> parked_{false};
};

}  // namespace openndk::engine
