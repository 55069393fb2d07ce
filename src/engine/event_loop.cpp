#include "engine/event_loop.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "base/config.h"
#include "base/log.h"

namespace openndk::engine {
namespace {
thread_local const EventLoop* t_current = nullptr;
constexpr std::uint64_t kDoorbellKey = 0;

struct ContextGuard {
  explicit ContextGuard(const EventLoop* l) : prev(t_current) { t_current = l; }
  ~ContextGuard() { t_current = prev; }
  const EventLoop* prev;
};

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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

EventLoop::EventLoop(int index)
    : EventLoop(index, modeFromTunable(),
                std::chrono::microseconds(base::tunableU64(base::Tunable::PollSpinUs))) {}

EventLoop::EventLoop(int index, ProgressMode mode, std::chrono::microseconds spin)
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
  thread_ = std::thread([this] { run(); });
}

EventLoop::~EventLoop() {
  stop();
  ::close(doorbell_);
  ::close(epfd_);
}

bool EventLoop::post(Task task) {
  {
    std::lock_guard lk(task_mu_);
    if (closed_) return false;
    tasks_.push_back(std::move(task));
  }
  // In the progress context the task runs before the context is left (drainTasks()).
  if (!inProgressContext()) ring();
  return true;
}

bool EventLoop::tryRun(void (*fn)(void*), void* ctx) {
  if (inProgressContext()) {
    fn(ctx);
    return true;
  }
  std::unique_lock lk(progress_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return false;
  ContextGuard guard(this);
  fn(ctx);
  drainTasks();
  return true;
}

bool EventLoop::consumersPolling() const noexcept {
  const std::int64_t last = last_consumer_poll_ns_.load();
  return last != 0 && nowNs() - last < std::chrono::nanoseconds(kConsumerQuiet).count();
}

std::size_t EventLoop::consumerPoll() {
  if (mode_ == ProgressMode::Blocking) return 0;
  last_consumer_poll_ns_.store(nowNs(), std::memory_order_relaxed);
  return poll();
}

void EventLoop::consumerIdle() {
  if (mode_ == ProgressMode::Blocking) return;
  last_consumer_poll_ns_.store(0);  // seq_cst with quiet_: the engine sees one or the other
  if (quiet_.load()) {
    std::lock_guard lk(quiet_mu_);  // the engine checks its predicate under quiet_mu_: no lost wake-up
    quiet_cv_.notify_all();
  }
}

void EventLoop::ring() {
  if (rung_.exchange(true)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(doorbell_, &one, sizeof one);
}

void EventLoop::stop() {
  std::lock_guard slk(stop_mu_);
  {
    std::lock_guard lk(task_mu_);
    stopping_ = true;
  }
  stop_requested_.store(true);
  {
    std::lock_guard lk(quiet_mu_);
    quiet_cv_.notify_all();
  }
  rung_.store(false);
  ring();
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::inProgressContext() const noexcept { return t_current == this; }

EventLoop::TimerId EventLoop::addTimer(std::chrono::milliseconds delay, Task fn) {
  const auto due = std::chrono::steady_clock::now() + delay;
  const TimerId id = next_timer_++;
  timer_order_.emplace(due, id);
  publishNextDue();
  timers_.emplace(id, std::make_pair(due, std::move(fn)));
  // A consumer thread inside poll() may add a timer while the engine thread sleeps with a longer
  // timeout: wake it so it recomputes.
  if (std::this_thread::get_id() != thread_.get_id()) ring();
  return id;
}

bool EventLoop::cancelTimer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  auto range = timer_order_.equal_range(it->second.first);
  for (auto o = range.first; o != range.second; ++o) {
    if (o->second == id) {
      timer_order_.erase(o);
      break;
    }
  }
  publishNextDue();
  timers_.erase(it);
  return true;
}

EventLoop::WatchId EventLoop::watch(int fd, std::uint32_t events, IoHandler fn) {
  const WatchId id = next_watch_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    NDK_LOG_ERROR("engine", "epoll_ctl ADD fd {} failed: errno {}", fd, errno);
    return 0;
  }
  watches_.emplace(id, Watch{fd, std::make_shared<IoHandler>(std::move(fn))});
  return id;
}

bool EventLoop::modify(WatchId id, std::uint32_t events) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return false;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, it->second.fd, &ev) == 0;
}

bool EventLoop::unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return false;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  // The handler may be the one running right now: destroy it after the dispatch loop.
  watches_.erase(it);
  return true;
}

std::size_t EventLoop::poll() {
  if (inProgressContext()) return 0;  // already inside a handler of this loop
  // Look without the token (an idle poll must not keep posting threads and the other pollers out);
  // take it only when there is something to do.
  epoll_event evs[64];
  int n = epoll_wait(epfd_, evs, 64, 0);
  if (n < 0) n = 0;
  if (n == 0 && nextTimeoutMs() != 0) return 0;
  std::unique_lock lk(progress_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return 0;  // level-triggered: whoever holds the token sees them too
  return dispatchLocked(evs, n);
}

void EventLoop::publishNextDue() {
  next_due_ns_.store(timer_order_.empty() ? INT64_MAX
                                          : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                timer_order_.begin()->first.time_since_epoch())
                                                .count());
}

int EventLoop::nextTimeoutMs() {
  const std::int64_t due_ns = next_due_ns_.load();
  if (due_ns == INT64_MAX) return -1;
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::steady_clock::time_point due{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(due_ns))};
  if (due <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
  return ms > 60000 ? 60000 : static_cast<int>(ms);
}

std::size_t EventLoop::runTimers() {
  std::size_t n = 0;
  const auto now = std::chrono::steady_clock::now();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
    const TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    publishNextDue();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    Task fn = std::move(it->second.second);
    timers_.erase(it);
    fn();
    ++n;
  }
  return n;
}

std::size_t EventLoop::runTasks() {
  std::deque<Task> batch;
  {
    std::lock_guard lk(task_mu_);
    if (tasks_.empty()) return 0;
    batch.swap(tasks_);
  }
  for (Task& t : batch) t();
  return batch.size();
}

std::size_t EventLoop::drainTasks() {
  std::size_t count = 0;
  for (int pass = 0; pass < 16; ++pass) {
    const std::size_t n = runTasks();
    if (n == 0) return count;
    count += n;
  }
  bool left;
  {
    std::lock_guard lk(task_mu_);
    left = !tasks_.empty();
  }
  if (left) ring();  // tasks posting tasks without end: let the next round take them
  return count;
}

std::size_t EventLoop::progressLocked(int timeout_ms) {
  epoll_event evs[64];
  int n = epoll_wait(epfd_, evs, 64, timeout_ms);
  if (n < 0) n = 0;  // EINTR
  return dispatchLocked(evs, n);
}

std::size_t EventLoop::dispatchLocked(const epoll_event* evs, int n) {
  ContextGuard guard(this);
  std::size_t count = 0;
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 == kDoorbellKey) {
      // Consume the counter first, then re-arm: a post() racing with us either saw rung_ still
      // set (its task is queued before the runTasks() swap below) or rings again.
      std::uint64_t v = 0;
      [[maybe_unused]] const ssize_t r = ::read(doorbell_, &v, sizeof v);
      rung_.store(false);
      continue;
    }
    // epoll_event is packed: copy the key out instead of binding a reference to a misaligned field.
    const std::uint64_t watch_id = evs[i].data.u64;
    auto it = watches_.find(watch_id);
    if (it == watches_.end()) continue;  // removed by an earlier handler of this batch
    const std::shared_ptr<IoHandler> fn = it->second.fn;  // the handler may unwatch (destroy) itself
    (*fn)(evs[i].events);
    ++count;
  }
  count += runTimers();
  count += drainTasks();
  return count;
}

void EventLoop::run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  auto last_active = std::chrono::steady_clock::now();
  epoll_event evs[64];
  for (;;) {
    {
      std::lock_guard lk(task_mu_);
      if (stopping_ && tasks_.empty()) {
        closed_ = true;
        break;
      }
    }
    int timeout = nextTimeoutMs();  // 0: a timer is due
    if (mode_ != ProgressMode::Blocking && !stop_requested_.load() && consumersPolling()) {
      // Consumers drive progress (their polls see the sockets, the doorbell and due timers): do not
      // compete with them for the CPUs or the token. Sleep until consumerIdle()/stop() or kBackstop,
      // then look again; once nobody polled for kConsumerQuiet, back to full duty below.
      std::unique_lock lk(quiet_mu_);
      quiet_.store(true);
      quiet_cv_.wait_for(lk, kBackstop, [this] { return stop_requested_.load() || !consumersPolling(); });
      quiet_.store(false);
      continue;
    }
    // Sleep (or spin) without the token so posting threads and polling consumers can take it.
    bool spinning = false;
    if (mode_ == ProgressMode::Adaptive && timeout != 0 && std::chrono::steady_clock::now() - last_active < spin_) {
      spinning = true;
      timeout = 0;
    }
    int n = epoll_wait(epfd_, evs, 64, timeout);
    if (n < 0) n = 0;  // EINTR
    if (n == 0 && spinning) continue;  // nothing ready: no need for the token
    std::lock_guard lk(progress_mu_);
    if (dispatchLocked(evs, n) > 0) last_active = std::chrono::steady_clock::now();
  }
  // Drained: nothing can be posted any more. Drop timers and watches in the loop's context.
  std::lock_guard lk(progress_mu_);
  ContextGuard guard(this);
  timers_.clear();
  timer_order_.clear();
  publishNextDue();
  watches_.clear();
}

}  // namespace openndk::engine
