#include "provider/timer.h"

namespace openndk::provider {

Timer::~Timer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Timer::schedule(std::chrono::microseconds delay, std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  std::uint64_t id = next_id_++;
  tasks_.emplace(Clock::now() + delay, std::make_pair(id, std::move(task)));
  cv_.notify_all();
  return id;
}

bool Timer::cancel(std::uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    if (it->second.first == id) {
      tasks_.erase(it);
      return true;
    }
  }
  return false;
}

void Timer::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto when = tasks_.begin()->first;
    if (Clock::now() < when) {
      cv_.wait_until(lock, when);
      continue;
    }
    auto task = std::move(tasks_.begin()->second.second);
    tasks_.erase(tasks_.begin());
    lock.unlock();
    task();
    task = nullptr;
    lock.lock();
  }
}

}  // namespace openndk::provider
