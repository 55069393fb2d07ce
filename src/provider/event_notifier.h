// One-at-a-time delivery of an object's event callback on the adapter's callback executor: the CQ
// notification (R46) and the SRQ notification (R148) share it. A notification that becomes due
// while one is running is delivered after it returns; a close stops redelivery (R22).
//
// State is guarded by the owner's mutex: the *Locked calls expect it held; run() takes it between
// callbacks. The owner holds a busy reference around a delivery so a close waits for it (R21, R23).
#pragma once
#include <ndk/ndk.h>

#include <mutex>

namespace openndk::provider {

class EventNotifier {
 public:
  // True if the caller must start a delivery (post run() to the executor); false if one is running
  // and this status will be delivered after it.
  bool scheduleLocked(NTSTATUS status) {
    if (running_) {
      pending_ = true;
      pending_status_ = status;
      return false;
    }
    running_ = true;
    return true;
  }
  void cancelPendingLocked() { pending_ = false; }

  // Invokes `callback(status)` without the lock, then again for each status that became due
  // meanwhile, unless `stopped` (read under `mu`) was set by a close.
  template <class Callback>
  void run(std::mutex& mu, const bool& stopped, NTSTATUS status, Callback&& callback) {
    for (;;) {
      callback(status);
      std::lock_guard lock(mu);
      if (pending_ && !stopped) {
        pending_ = false;
        status = pending_status_;
        continue;
      }
      pending_ = false;
      running_ = false;
      return;
    }
  }

 private:
  bool running_ = false;
  bool pending_ = false;
  NTSTATUS pending_status_ = STATUS_SUCCESS;
};

}  // namespace openndk::provider
