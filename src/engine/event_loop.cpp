#include "engine/event_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "base/config.h"
#include "base/log.h"

namespace openndk::engine {
namespace {
thread_local const EventLoop* t_current = nullptr;
thread_local int t_depth = 0;  // progress contexts this thread is inside (nested: tryRun of another domain)
thread_local std::vector<EventLoop::Task>* t_deferred = nullptr;  // EventLoop::deferToContextExit
// On an engine's own thread: that Engine (null on consumer threads, also when they drive progress).
thread_local const void* t_engine_self = nullptr;
constexpr std::uint64_t kDoorbellKey = 0;

struct ContextGuard {
  explicit ContextGuard(const EventLoop* l) : prev(t_current) {
    t_current = l;
    ++t_depth;
  }
  ~ContextGuard() {
    t_current = prev;
    --t_depth;
  }
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;
  const EventLoop* prev;
};

// After a token was released: what deferToContextExit() queued, once the thread is outside every
// progress context (the deferred work may enter contexts again, and defer more).
thread_local std::uint64_t t_deferred_ran = 0;  // deferred tasks this thread ran (the engine: notifications delivered)
void runDeferred() {
  while (t_depth == 0 && t_deferred && !t_deferred->empty()) {
    std::vector<EventLoop::Task> batch;
    batch.swap(*t_deferred);
    for (EventLoop::Task& f : batch) f();
    t_deferred_ran += batch.size();
  }
}

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::int64_t toNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
constexpr std::int64_t kQuietNs = std::chrono::nanoseconds(EventLoop::kConsumerQuiet).count();

ProgressMode modeFromTunable() {
  ProgressMode m = ProgressMode::Adaptive;
  const std::string s = base::tunableString(base::Tunable::ProgressMode);
  if (!parseProgressMode(s, m)) NDK_LOG_WARN("engine", "unknown progress_mode '{}', using adaptive", s);
  return m;
}
}  // namespace

bool parseProgressMode(std::string_view s, ProgressMode& out) {
  if (s == "blocking") out = ProgressMode::Blocking;
  else if (s == "adaptive") out = ProgressMode::Adaptive;
  else if (s == "poll") out = ProgressMode::Poll;
  else return false;
  return true;
}

// ---- the engine: thread, epoll set, doorbell, timer heap, runnable domains ----------------------

class Engine {
 public:
  Engine(int index, ProgressMode mode, std::chrono::microseconds spin)
      : mode_(mode), spin_(spin), name_("ndk-engine-" + std::to_string(index)) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    doorbell_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (doorbell_ < 0) {
      const int e = errno;
      ::close(epfd_);
      throw std::system_error(e, std::generic_category(), "eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kDoorbellKey;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, doorbell_, &ev);
  }
  ~Engine() {
    ::close(doorbell_);
    ::close(epfd_);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start() { thread_ = std::thread([this] { run(); }); }
  void stop() {
    std::lock_guard slk(stop_mu_);
    {
      std::lock_guard lk(task_mu_);
      stopping_ = true;
    }
    rung_.store(false);
    ring();
    if (thread_.joinable()) thread_.join();
  }

  void ring() {
    // The engine's own thread (e.g. a consumer callback it delivers posts to another domain) never
    // rings itself: run() looks at runnable_ before it sleeps. Saves a write and a read of the
    // eventfd plus a wake-up per such post (issue 12: hand-offs during connection setup).
    if (t_engine_self == this) return;
    if (rung_.exchange(true)) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(doorbell_, &one, sizeof one);
  }

  // Domain side --------------------------------------------------------------------------------
  // Queues a task of `d`; schedules the domain on the engine unless `inContext` (it then runs
  // before the context is left). False once the engine has drained for good.
  bool postTask(EventLoop& d, EventLoop::Task&& task, bool inContext) {
    bool ringIt = false;
    {
      std::lock_guard lk(task_mu_);
      if (closed_) return false;
      d.tasks_.push_back(std::move(task));
      d.has_tasks_.store(true, std::memory_order_release);
      ringIt = !inContext && scheduleLocked(d);
    }
    if (ringIt) ring();
    return true;
  }
  // task_mu_ held: puts `d` on the runnable list unless it is there already; true if it was put.
  bool scheduleLocked(EventLoop& d) {
    if (d.scheduled_) return false;
    d.scheduled_ = true;
    runnable_.push_back(d.weak_from_this());
    return true;
  }
  // requestPoll(): schedules `d` for a run of its poll handlers on the engine, also from inside its
  // progress context (postTask would run a task there before the context is left). While the
  // engine has parked domains it wakes every kBackstop anyway and takes the request then: no
  // doorbell. Otherwise it may sleep without a timeout, so it is rung.
  void requestPoll(EventLoop& d) {
    d.poll_wanted_.store(true);
    bool ringIt = false;
    {
      std::lock_guard lk(task_mu_);
      if (closed_) return;
      // Read after the push: an engine that unparked its last domain looks at runnable_ before it
      // sleeps without a timeout, or this read sees the count it left (0) and rings.
      ringIt = scheduleLocked(d) && parked_count_.load() == 0;
    }
    if (ringIt) ring();
  }
  // Swaps the domain's queued tasks into `batch` (empty; the domain keeps batch's storage).
  void takeTasks(EventLoop& d, std::vector<EventLoop::Task>& batch) {
    std::lock_guard lk(task_mu_);
    batch.swap(d.tasks_);
    d.has_tasks_.store(false, std::memory_order_relaxed);
  }
  void reschedule(EventLoop& d) {
    {
      std::lock_guard lk(task_mu_);
      if (d.tasks_.empty() || !scheduleLocked(d)) return;
    }
    ring();
  }
  EventLoop::WatchId addWatch(EventLoop& d, int fd, std::uint32_t events) {
    const EventLoop::WatchId id = next_watch_.fetch_add(1);
    {
      std::lock_guard lk(reg_mu_);
      watch_owner_.emplace(id, d.weak_from_this());
    }
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      NDK_LOG_ERROR("engine", "epoll_ctl ADD fd {} failed: errno {}", fd, errno);
      std::lock_guard lk(reg_mu_);
      watch_owner_.erase(id);
      return 0;
    }
    return id;
  }
  bool setInterest(EventLoop::WatchId id, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
  }
  void removeWatch(EventLoop::WatchId id, int fd) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    std::lock_guard lk(reg_mu_);
    watch_owner_.erase(id);
  }
  void addDue(EventLoop& d, std::chrono::steady_clock::time_point due) {
    const std::int64_t ns = toNs(due);
    {
      std::lock_guard lk(reg_mu_);
      due_.emplace(due, d.weak_from_this());
      if (ns < next_due_ns_.load()) next_due_ns_.store(ns);
    }
    // The engine may sleep with a longer timeout: let it recompute.
    if (std::this_thread::get_id() != thread_.get_id()) ring();
  }
  void noteParked(EventLoop& d) {
    std::lock_guard lk(reg_mu_);
    parked_.push_back(d.weak_from_this());
    parked_count_.store(parked_.size());
  }
  void notePoll(std::int64_t now) {
    if (now - last_consumer_poll_ns_.load(std::memory_order_relaxed) > kQuietNs / 4)
      last_consumer_poll_ns_.store(now, std::memory_order_relaxed);
  }
  bool closed() {
    std::lock_guard lk(task_mu_);
    return closed_;
  }
  bool spinning() const { return spinning_.load(std::memory_order_relaxed); }
  bool onEngineThread() const { return std::this_thread::get_id() == thread_.get_id(); }
  // Engine side, for poll() of a domain without a poll handler: the owner of a ready watch.
  std::shared_ptr<EventLoop> ownerOf(EventLoop::WatchId id) {
    std::lock_guard lk(reg_mu_);
    auto it = watch_owner_.find(id);
    return it == watch_owner_.end() ? nullptr : it->second.lock();
  }

  const ProgressMode mode_;
  const std::chrono::microseconds spin_;
  const std::string name_;
  int epfd_ = -1;
  int doorbell_ = -1;
  std::thread thread_;

 private:
  void run();
  bool runRunnable();
  bool runDueTimers();
  void serviceParked();
  void dropAll();
  int timeoutMs();

  std::mutex stop_mu_;
  std::atomic<bool> rung_{false};
  std::atomic<EventLoop::WatchId> next_watch_{1};
  std::atomic<std::int64_t> last_consumer_poll_ns_{0};  // any domain of this engine
  // The engine thread is inside its spin on epoll_wait(0) (adaptive mode): it sees every unparked
  // watch at once. Cleared as soon as it dispatches anything (a handler or a consumer callback it
  // delivers may take long, R17).
  std::atomic<bool> spinning_{false};

  std::mutex task_mu_;  // every domain's tasks_ and scheduled_, runnable_, stopping_, closed_
  std::vector<std::weak_ptr<EventLoop>> runnable_;
  std::vector<std::weak_ptr<EventLoop>> runnable_scan_;  // runRunnable's copy (engine thread only)
  bool stopping_ = false;
  bool closed_ = false;

  std::mutex reg_mu_;  // watch_owner_, due_, parked_ (never held while taking a domain's token)
  std::unordered_map<EventLoop::WatchId, std::weak_ptr<EventLoop>> watch_owner_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<EventLoop>> due_;
  std::atomic<std::int64_t> next_due_ns_{INT64_MAX};
  std::vector<std::weak_ptr<EventLoop>> parked_;
  // Engine thread only (serviceParked): the lists it works on, capacity kept between rounds (the
  // park check runs every millisecond while consumers poll; it must not allocate each time).
  std::vector<std::weak_ptr<EventLoop>> parked_scan_, parked_keep_;
  std::atomic<std::size_t> parked_count_{0};
};

int Engine::timeoutMs() {
  const std::int64_t due_ns = next_due_ns_.load();
  int t = -1;
  if (due_ns != INT64_MAX) {
    const std::int64_t left = due_ns - nowNs();
    if (left <= 0) return 0;
    const std::int64_t ms = (left + 999999) / 1000000;
    t = ms > 60000 ? 60000 : static_cast<int>(ms);
  }
  // Parked domains are looked at every kBackstop: once nobody polls them, the engine serves them.
  if (parked_count_.load() > 0) {
    const int b = static_cast<int>(EventLoop::kBackstop.count());
    if (t < 0 || t > b) t = b;
  }
  return t;
}

bool Engine::runRunnable() {
  std::vector<std::weak_ptr<EventLoop>>& list = runnable_scan_;  // engine thread only; storage kept
  list.clear();
  {
    std::lock_guard lk(task_mu_);
    if (runnable_.empty()) return false;
    list.swap(runnable_);
  }
  bool ran = false;
  for (auto& w : list) {
    std::shared_ptr<EventLoop> d = w.lock();
    if (!d) continue;
    {
      std::lock_guard lk(task_mu_);
      d->scheduled_ = false;  // posts from now on schedule it again
    }
    // A poll request a consumer's poll has answered meanwhile (the usual case) costs nothing more:
    // the token, which that consumer may hold again, is not asked for.
    const bool pollIt = d->poll_wanted_.exchange(false);
    if (!pollIt && !d->has_tasks_.load(std::memory_order_acquire)) continue;
    {
      std::lock_guard tk(d->token_);
      ContextGuard guard(d.get());
      ran |= d->drainTasks() > 0;
      if (pollIt) ran |= d->runPollHandlers() > 0;
    }
    runDeferred();
  }
  list.clear();
  return ran;
}

bool Engine::runDueTimers() {
  if (next_due_ns_.load() > nowNs()) return false;
  std::vector<std::shared_ptr<EventLoop>> due;
  {
    std::lock_guard lk(reg_mu_);
    const auto now = std::chrono::steady_clock::now();
    while (!due_.empty() && due_.begin()->first <= now) {
      if (auto d = due_.begin()->second.lock()) due.push_back(std::move(d));
      due_.erase(due_.begin());
    }
    next_due_ns_.store(due_.empty() ? INT64_MAX : toNs(due_.begin()->first));
  }
  bool ran = false;
  for (auto& d : due) {
    {
      std::lock_guard tk(d->token_);
      ContextGuard guard(d.get());
      ran |= d->runTimers() > 0;
      d->drainTasks();
    }
    runDeferred();
  }
  return ran;
}

void Engine::serviceParked() {
  if (parked_count_.load() == 0) return;
  std::vector<std::weak_ptr<EventLoop>>& list = parked_scan_;
  std::vector<std::weak_ptr<EventLoop>>& keep = parked_keep_;
  list.clear();
  keep.clear();
  {
    std::lock_guard lk(reg_mu_);
    list.swap(parked_);  // parked_ takes the scan list's (empty) storage
    parked_count_.store(0);
  }
  for (auto& w : list) {
    std::shared_ptr<EventLoop> d = w.lock();
    if (!d || !d->parked_.load()) continue;
    if (d->consumersPolling()) {
      keep.push_back(std::move(w));
      continue;
    }
    std::lock_guard tk(d->token_);
    ContextGuard guard(d.get());
    d->unparkWatches();
  }
  if (keep.empty()) return;
  std::lock_guard lk(reg_mu_);
  for (auto& w : keep) parked_.push_back(std::move(w));
  parked_count_.store(parked_.size());
}

void Engine::dropAll() {
  // Drained: nothing can be posted any more. Drop every domain's timers and watches (their
  // handlers hold references, e.g. a connection's watch holds the connection).
  std::vector<std::shared_ptr<EventLoop>> domains;
  {
    std::lock_guard lk(reg_mu_);
    for (auto& [id, w] : watch_owner_)
      if (auto d = w.lock()) domains.push_back(std::move(d));
    for (auto& [t, w] : due_)
      if (auto d = w.lock()) domains.push_back(std::move(d));
    due_.clear();
    next_due_ns_.store(INT64_MAX);
  }
  for (auto& d : domains) {
    std::lock_guard tk(d->token_);
    ContextGuard guard(d.get());
    d->timers_.clear();
    d->timer_order_.clear();
    d->poll_handlers_.clear();
    d->has_poll_handler_.store(false);
    d->next_due_ns_.store(INT64_MAX);
    for (auto& [id, w] : d->watches_) removeWatch(id, w.fd);
    d->watches_.clear();
  }
}

void Engine::run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  t_engine_self = this;
  auto last_active = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_notified{};  // a CQ notification was delivered (a deferred task ran)
  epoll_event evs[64];
  for (;;) {
    bool self_posted = false;
    {
      std::lock_guard lk(task_mu_);
      if (stopping_ && runnable_.empty()) {
        closed_ = true;
        break;
      }
      self_posted = !runnable_.empty();  // posted by this thread, which does not ring itself
    }
    int timeout = self_posted ? 0 : timeoutMs();
    // Adaptive: spin on epoll_wait(0) for a while after activity — not while consumers drive
    // progress themselves (the CPUs are theirs), unless this engine has just delivered a CQ
    // notification: its consumer waits for notifications, and the next message for it comes
    // through this thread (a sleeping engine would add a wake-up to each one; the consumer's own
    // polls of such a domain leave the socket to the spinning engine, see poll()).
    bool spinning = false;
    if (mode_ == ProgressMode::Adaptive && timeout != 0) {
      const auto now = std::chrono::steady_clock::now();  // one clock read per spin round
      spinning = now - last_active < spin_ &&
                 (now - last_notified < spin_ ||
                  toNs(now) - last_consumer_poll_ns_.load(std::memory_order_relaxed) > kQuietNs);
      if (spinning) timeout = 0;
    }
    spinning_.store(spinning, std::memory_order_relaxed);
    int n = epoll_wait(epfd_, evs, 64, timeout);
    if (n < 0) n = 0;  // EINTR
    // Only an engine inside its spin sees the fds at once: from here it dispatches, and may be held
    // there (R17: a consumer callback that does not return) — consumer polls must do the I/O then.
    if (n > 0) spinning_.store(false, std::memory_order_relaxed);
    if (n == 0 && spinning) {
      serviceParked();  // a domain its consumers stopped polling is served while spinning too
      continue;
    }
    bool active = false;
    const std::uint64_t notified_before = t_deferred_ran;
    for (int i = 0; i < n; ++i) {
      // epoll_event is packed: copy the key out instead of binding a reference to a misaligned field.
      const std::uint64_t key = evs[i].data.u64;
      if (key == kDoorbellKey) {
        // Consume the counter first, then re-arm: a post() racing with us either saw rung_ still
        // set (its domain is on runnable_ before runRunnable() swaps it) or rings again.
        std::uint64_t v = 0;
        [[maybe_unused]] const ssize_t r = ::read(doorbell_, &v, sizeof v);
        rung_.store(false);
        continue;
      }
      std::shared_ptr<EventLoop> d = ownerOf(key);
      if (!d) continue;  // removed by an earlier handler of this batch
      {
        std::lock_guard tk(d->token_);
        ContextGuard guard(d.get());
        active |= d->dispatchWatch(key, evs[i].events) > 0;
        d->drainTasks();
      }
      runDeferred();
    }
    active |= runRunnable();
    active |= runDueTimers();
    serviceParked();
    const bool notified = t_deferred_ran != notified_before;
    if (active || notified) {
      const auto now = std::chrono::steady_clock::now();
      if (active) last_active = now;
      if (notified) last_notified = now;
    }
  }
  spinning_.store(false);
  dropAll();
}

// ---- EventLoop: a progress domain -------------------------------------------------------------------

EventLoop::EventLoop(int index)
    : EventLoop(index, modeFromTunable(), std::chrono::microseconds(base::tunableU64(base::Tunable::PollSpinUs))) {}

EventLoop::EventLoop(int index, ProgressMode mode, std::chrono::microseconds spin)
    : engine_(std::make_shared<Engine>(index, mode, spin)), owns_engine_(true) {
  // A non-owning handle, so that the engine can refer to its default domain like to any other.
  self_ = std::shared_ptr<EventLoop>(this, [](EventLoop*) {});
  engine_->start();
}

EventLoop::EventLoop(std::shared_ptr<Engine> engine) : engine_(std::move(engine)) {}

EventLoop::~EventLoop() {
  if (owns_engine_) {
    stop();
  } else {
    // Nobody refers to this domain any more: its watches leave the epoll set (the engine stopped
    // already has dropped them).
    for (auto& [id, w] : watches_) engine_->removeWatch(id, w.fd);
  }
}

std::shared_ptr<EventLoop> EventLoop::makeDomain() {
  return std::shared_ptr<EventLoop>(new EventLoop(engine_));
}

ProgressMode EventLoop::mode() const noexcept { return engine_->mode_; }
const std::string& EventLoop::name() const noexcept { return engine_->name_; }
std::thread::id EventLoop::threadId() const noexcept { return engine_->thread_.get_id(); }
bool EventLoop::inProgressContext() const noexcept { return t_current == this; }

bool EventLoop::post(Task task) { return engine_->postTask(*this, std::move(task), inProgressContext()); }

bool EventLoop::tryRun(void (*fn)(void*), void* ctx) {
  if (inProgressContext()) {
    fn(ctx);
    return true;
  }
  {
    std::unique_lock lk(token_, std::try_to_lock);
    if (!lk.owns_lock()) return false;
    ContextGuard guard(this);
    fn(ctx);
    drainTasks();
  }
  runDeferred();
  return true;
}

bool EventLoop::canDeferToContextExit() noexcept {
  // Only on an engine thread: a consumer's thread inside NdkSend or NdkGetCqResults must not find
  // another object's consumer callback running inside its call (it may hold its own locks there).
  return t_depth > 0 && t_engine_self != nullptr;
}

bool EventLoop::deferToContextExit(Task fn) {
  if (!canDeferToContextExit()) return false;
  thread_local std::vector<Task> deferred;
  t_deferred = &deferred;
  deferred.push_back(std::move(fn));
  return true;
}

void EventLoop::stop() { engine_->stop(); }

bool EventLoop::consumersPolling() const noexcept {
  const std::int64_t last = last_consumer_poll_ns_.load(std::memory_order_relaxed);
  return last != 0 && nowNs() - last < kQuietNs;
}

std::size_t EventLoop::consumerPoll() {
  if (engine_->mode_ == ProgressMode::Blocking) return 0;
  // The mark is refreshed when it is a quarter of the quiet time old, and the clock is read for it
  // on one poll in kPollsPerClockRead (at once when the mark was cleared): a clock read costs more
  // than the rest of an empty poll on a VM's clock source (kvm-clock), and a consumer spinning on
  // its CQ polls many times per microsecond of staleness. A slow poller's mark goes stale sooner,
  // which only makes the engine serve it (the safe side).
  const std::uint32_t k = polls_since_clock_.load(std::memory_order_relaxed);
  polls_since_clock_.store((k + 1) % kPollsPerClockRead, std::memory_order_relaxed);
  const std::int64_t mark = last_consumer_poll_ns_.load(std::memory_order_relaxed);
  if (k == 0 || mark == 0) {
    const std::int64_t now = nowNs();
    if (now - mark > kQuietNs / 4) {
      last_consumer_poll_ns_.store(now, std::memory_order_relaxed);
      engine_->notePoll(now);
    }
  }
  return poll();
}

void EventLoop::consumerIdle() {
  if (engine_->mode_ == ProgressMode::Blocking) return;
  last_consumer_poll_ns_.store(0);
  if (parked_.load()) engine_->ring();  // the engine unparks the watches at once
}

std::size_t EventLoop::poll() {
  if (inProgressContext()) return 0;  // already inside a handler of this domain
  // The clock is read only when a timer is pending (a connection in steady state has none): with
  // consumerPoll()'s mark, one clock read per consumer poll instead of two.
  const std::int64_t due = next_due_ns_.load(std::memory_order_relaxed);
  const bool timerDue = due != INT64_MAX && due <= nowNs();
  if (has_poll_handler_.load(std::memory_order_acquire)) {
    // The engine spins over this domain's (unparked) watches right now: it sees the socket at once,
    // and a receive attempt here would only cost a system call and a fight for the token.
    if (!parked_.load(std::memory_order_relaxed) && engine_->spinning() && !timerDue &&
        !has_tasks_.load(std::memory_order_acquire))
      return 0;
    std::size_t n = 0;
    {
      std::unique_lock lk(token_, std::try_to_lock);
      if (!lk.owns_lock()) return 0;
      ContextGuard guard(this);
      if (timerDue) n += runTimers();
      n += runPollHandlers();
      // The engine's poll asked for by requestPoll() is done by this one.
      if (poll_wanted_.load(std::memory_order_relaxed)) poll_wanted_.store(false, std::memory_order_relaxed);
      if (has_tasks_.load(std::memory_order_acquire)) n += drainTasks();
    }
    runDeferred();
    return n;
  }
  // No poll handler (a generic domain): look at the engine's fds without the token, and take it
  // only when something of this domain is ready (events of other domains are left to the engine:
  // level-triggered, it sees them too).
  epoll_event evs[64];
  int n = epoll_wait(engine_->epfd_, evs, 64, 0);
  if (n < 0) n = 0;
  if (n == 0 && !timerDue && !has_tasks_.load(std::memory_order_acquire)) return 0;
  std::size_t count = 0;
  {
    std::unique_lock lk(token_, std::try_to_lock);
    if (!lk.owns_lock()) return 0;
    ContextGuard guard(this);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t key = evs[i].data.u64;
      if (key == kDoorbellKey) continue;
      auto it = watches_.find(key);
      if (it == watches_.end()) continue;
      const std::shared_ptr<IoHandler> fn = it->second.fn;
      (*fn)(evs[i].events);
      ++count;
    }
    count += runTimers();
    count += drainTasks();
  }
  runDeferred();
  return count;
}

EventLoop::TimerId EventLoop::addTimer(std::chrono::milliseconds delay, Task fn) {
  assert(inProgressContext());
  const auto due = std::chrono::steady_clock::now() + delay;
  const TimerId id = next_timer_++;
  timer_order_.emplace(due, id);
  timers_.emplace(id, std::make_pair(due, std::move(fn)));
  next_due_ns_.store(toNs(timer_order_.begin()->first), std::memory_order_relaxed);
  engine_->addDue(*this, due);
  return id;
}

bool EventLoop::cancelTimer(TimerId id) {
  assert(inProgressContext());
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  auto range = timer_order_.equal_range(it->second.first);
  for (auto o = range.first; o != range.second; ++o) {
    if (o->second == id) {
      timer_order_.erase(o);
      break;
    }
  }
  timers_.erase(it);
  // The engine's entry stays: a stale entry costs one wake-up that finds nothing due.
  next_due_ns_.store(timer_order_.empty() ? INT64_MAX : toNs(timer_order_.begin()->first), std::memory_order_relaxed);
  return true;
}

EventLoop::WatchId EventLoop::watch(int fd, std::uint32_t events, IoHandler fn) {
  assert(inProgressContext());
  const WatchId id = engine_->addWatch(*this, fd, parked_.load() ? 0 : events);
  if (!id) return 0;
  watches_.emplace(id, Watch{fd, events, std::make_shared<IoHandler>(std::move(fn))});
  return id;
}

bool EventLoop::modify(WatchId id, std::uint32_t events) {
  assert(inProgressContext());
  auto it = watches_.find(id);
  if (it == watches_.end()) return false;
  it->second.events = events;
  if (parked_.load()) return true;  // applied when the watches are unparked
  return engine_->setInterest(id, it->second.fd, events);
}

bool EventLoop::unwatch(WatchId id) {
  assert(inProgressContext());
  auto it = watches_.find(id);
  if (it == watches_.end()) return false;
  engine_->removeWatch(id, it->second.fd);
  // The handler may be the one running right now: the dispatcher holds its own reference.
  watches_.erase(it);
  return true;
}

std::uint64_t EventLoop::addPollHandler(PollHandler fn) {
  assert(inProgressContext());
  const std::uint64_t key = next_poll_handler_++;
  poll_handlers_.emplace_back(key, std::make_shared<PollHandler>(std::move(fn)));
  has_poll_handler_.store(true, std::memory_order_release);
  return key;
}

void EventLoop::removePollHandler(std::uint64_t key) {
  assert(inProgressContext());
  for (auto it = poll_handlers_.begin(); it != poll_handlers_.end(); ++it)
    if (it->first == key) {
      poll_handlers_.erase(it);
      break;
    }
  if (poll_handlers_.empty()) {
    has_poll_handler_.store(false, std::memory_order_release);
    unparkWatches();  // nobody drives them from a consumer's poll any more
  }
}

std::size_t EventLoop::dispatchWatch(WatchId id, std::uint32_t events) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return 0;  // removed by an earlier handler of this batch
  if (has_poll_handler_.load(std::memory_order_relaxed) && consumersPolling()) {
    // Consumers drive this domain: stop the engine's wake-ups for it until they stop.
    parkWatches();
    return 0;
  }
  const std::shared_ptr<IoHandler> fn = it->second.fn;  // the handler may unwatch (destroy) itself
  (*fn)(events);
  return 1;
}

void EventLoop::parkWatches() {
  if (parked_.load()) return;
  for (auto& [id, w] : watches_) engine_->setInterest(id, w.fd, 0);
  parked_.store(true);
  engine_->noteParked(*this);
}

void EventLoop::unparkWatches() {
  if (!parked_.load()) return;
  parked_.store(false);
  for (auto& [id, w] : watches_) engine_->setInterest(id, w.fd, w.events);
}

std::size_t EventLoop::runTimers() {
  std::size_t n = 0;
  const auto now = std::chrono::steady_clock::now();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
    const TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    Task fn = std::move(it->second.second);
    timers_.erase(it);
    fn();
    ++n;
  }
  next_due_ns_.store(timer_order_.empty() ? INT64_MAX : toNs(timer_order_.begin()->first), std::memory_order_relaxed);
  return n;
}

std::size_t EventLoop::runTasks() {
  if (!has_tasks_.load(std::memory_order_acquire)) return 0;
  assert(inProgressContext());
  std::vector<Task> batch = std::move(spare_tasks_);
  batch.clear();
  engine_->takeTasks(*this, batch);
  for (Task& t : batch) t();
  const std::size_t n = batch.size();
  batch.clear();
  if (batch.capacity() >= spare_tasks_.capacity()) spare_tasks_ = std::move(batch);
  return n;
}

std::size_t EventLoop::runPollHandlers() {
  assert(inProgressContext());
  std::size_t n = 0;
  // By index: a handler may remove itself (then the next one waits for the next poll).
  for (std::size_t i = 0; i < poll_handlers_.size(); ++i) {
    const std::shared_ptr<PollHandler> h = poll_handlers_[i].second;
    if ((*h)()) ++n;
  }
  return n;
}

void EventLoop::requestPoll() { engine_->requestPoll(*this); }

bool EventLoop::engineSpinning() const noexcept { return engine_->spinning(); }

std::size_t EventLoop::drainTasks() {
  std::size_t count = 0;
  for (int pass = 0; pass < 16; ++pass) {
    const std::size_t n = runTasks();
    if (n == 0) return count;
    count += n;
  }
  engine_->reschedule(*this);  // tasks posting tasks without end: let the next round take them
  return count;
}

}  // namespace openndk::engine
