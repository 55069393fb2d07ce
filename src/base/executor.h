// A serial executor: one thread that runs posted tasks in order. The provider uses one per adapter
// instance to deliver completion callbacks (close, create, request) outside of any provider call,
// so a consumer never sees a callback re-enter it while it is inside another provider function
// holding its own locks (R15, R17). Draining it is how the blocking adapter close knows that every
// callback has returned (R27).
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace openndk::base {

class SerialExecutor {
 public:
  explicit SerialExecutor(std::string name);
  ~SerialExecutor();  // drains, then joins
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void post(std::function<void()> task);
  // Blocks until every task posted before or during the wait has run. Must not be called from the
  // executor's own thread.
  void drain();
  bool onExecutorThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run();

  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> tasks_;
  bool running_task_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace openndk::base
