// A small timer thread (one per adapter, started on first use): runs a task after a delay.
// Used for CQ interrupt moderation (R51). Tasks run on the timer thread and must be short (they
// post to the adapter's callback executor).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace openndk::provider {

class Timer {
 public:
  Timer() = default;
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Returns an id (never 0).
  std::uint64_t schedule(std::chrono::microseconds delay, std::function<void()> task);
  // True if the task was removed before it ran (it will not run).
  bool cancel(std::uint64_t id);

 private:
  void run();
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>> tasks_;
  std::uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace openndk::provider
