// Work items of libopenndk_kcompat (include/wdk/wdm.h): a process-wide pool of worker threads,
// started on first use, runs queued items in FIFO order at the emulated PASSIVE_LEVEL.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "kcompat/internal.h"
#include "wdk/wdm.h"

struct _IO_WORKITEM {
  PVOID ioObject = nullptr;
  // Guarded by Pool::mu.
  bool queued = false;
  int running = 0;  // routines of this item executing (a re-queued item may run on two workers)
  bool freeAfterRun = false;
  PIO_WORKITEM_ROUTINE routine = nullptr;
  PIO_WORKITEM_ROUTINE_EX routineEx = nullptr;
  PVOID context = nullptr;
};

namespace {

std::atomic<ULONG64> g_workitem_errors{0};

class Pool {
 public:
  void queue(PIO_WORKITEM item) {
    {
      std::lock_guard lock(mu_);
      startLocked();
      items_.push_back(item);
    }
    cv_.notify_one();
  }
  std::mutex mu_;

 private:
  void startLocked() {
    if (started_) return;
    started_ = true;
    const unsigned n = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
    // Detached: the pool lives as long as the process, like the system worker threads.
    for (unsigned i = 0; i < n; ++i) std::thread([this] { run(); }).detach();
  }
  void run() {
    for (;;) {
      PIO_WORKITEM item;
      PIO_WORKITEM_ROUTINE routine;
      PIO_WORKITEM_ROUTINE_EX routineEx;
      PVOID context;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !items_.empty(); });
        item = items_.front();
        items_.pop_front();
        routine = item->routine;
        routineEx = item->routineEx;
        context = item->context;
        // Dequeued: the routine may queue the item again (a common pattern).
        item->queued = false;
        ++item->running;
      }
      if (routineEx) {
        routineEx(item->ioObject, context, item);
      } else if (routine) {
        routine(static_cast<PDEVICE_OBJECT>(item->ioObject), context);
      }
      bool free = false;
      {
        std::lock_guard lock(mu_);
        --item->running;
        free = item->freeAfterRun && !item->queued && item->running == 0;
      }
      if (free) delete item;
    }
  }
  std::condition_variable cv_;
  std::deque<PIO_WORKITEM> items_;
  bool started_ = false;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: workers outlive static teardown
  return *p;
}

void enqueue(PIO_WORKITEM item, PIO_WORKITEM_ROUTINE routine, PIO_WORKITEM_ROUTINE_EX routineEx, PVOID context) {
  if (!item || (!routine && !routineEx)) {
    g_workitem_errors.fetch_add(1);
    openndk::kcompat::report("IoQueueWorkItem: NULL work item or routine");
    return;
  }
  {
    std::lock_guard lock(pool().mu_);
    if (item->queued || item->freeAfterRun) {
      g_workitem_errors.fetch_add(1);
      openndk::kcompat::report("IoQueueWorkItem: the work item is already queued (or freed)");
      return;
    }
    item->queued = true;
    item->routine = routine;
    item->routineEx = routineEx;
    item->context = context;
  }
  pool().queue(item);
}

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject) {
  if (!DeviceObject) return nullptr;
  auto* item = new (std::nothrow) _IO_WORKITEM;
  if (item) item->ioObject = DeviceObject;
  return item;
}

OPENNDK_KCOMPAT_API VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem) {
  if (!IoWorkItem) return;
  {
    std::lock_guard lock(pool().mu_);
    // Freed while queued or from inside its own routine (a common pattern): the worker frees it
    // once the routine has returned.
    if (IoWorkItem->queued || IoWorkItem->running > 0) {
      IoWorkItem->freeAfterRun = true;
      return;
    }
  }
  delete IoWorkItem;
}

OPENNDK_KCOMPAT_API VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                                         WORK_QUEUE_TYPE, PVOID Context) {
  enqueue(IoWorkItem, WorkerRoutine, nullptr, Context);
}

OPENNDK_KCOMPAT_API VOID IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine,
                                           WORK_QUEUE_TYPE, PVOID Context) {
  enqueue(IoWorkItem, nullptr, WorkerRoutine, Context);
}

OPENNDK_KCOMPAT_API ULONG64 OpenNdkKcompatWorkItemErrors(void) { return g_workitem_errors.load(); }

}  // extern "C"
