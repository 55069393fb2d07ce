// IO_WORKITEM on the worker pool: routines run on another thread at PASSIVE_LEVEL with their
// context; a routine may queue its own item again or free it; bad input does not crash.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "wdk/wdm.h"

namespace {

struct Ctx {
  KEVENT done;
  std::atomic<int> runs{0};
  std::thread::id thread;
  KIRQL irql = HIGH_LEVEL;
  PVOID ioObject = nullptr;
  PIO_WORKITEM item = nullptr;
  int requeues = 0;
  bool freeInside = false;
};

VOID classicRoutine(PDEVICE_OBJECT device, PVOID context) {
  auto* c = static_cast<Ctx*>(context);
  c->ioObject = device;
  c->thread = std::this_thread::get_id();
  c->irql = KeGetCurrentIrql();
  ++c->runs;
  KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
}

VOID exRoutine(PVOID ioObject, PVOID context, PIO_WORKITEM item) {
  auto* c = static_cast<Ctx*>(context);
  c->ioObject = ioObject;
  EXPECT_EQ(c->item, item);
  if (++c->runs <= c->requeues) {
    IoQueueWorkItemEx(item, exRoutine, DelayedWorkQueue, context);  // again, from inside
    return;
  }
  if (c->freeInside) IoFreeWorkItem(item);
  KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
}

TEST(IoWorkItem, RunsOnAWorkerThreadAtPassiveLevel) {
  DEVICE_OBJECT device{};
  Ctx c;
  KeInitializeEvent(&c.done, NotificationEvent, FALSE);
  PIO_WORKITEM item = IoAllocateWorkItem(&device);
  ASSERT_NE(nullptr, item);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);  // queuing is legal at DISPATCH_LEVEL
  IoQueueWorkItem(item, classicRoutine, DelayedWorkQueue, &c);
  KeLowerIrql(old);
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&c.done, Executive, KernelMode, FALSE, nullptr));
  EXPECT_EQ(1, c.runs.load());
  EXPECT_NE(std::this_thread::get_id(), c.thread);
  EXPECT_EQ(PASSIVE_LEVEL, c.irql);
  EXPECT_EQ(&device, c.ioObject);
  IoFreeWorkItem(item);
}

TEST(IoWorkItem, RequeueFromInsideThenFreeInside) {
  DEVICE_OBJECT device{};
  Ctx c;
  KeInitializeEvent(&c.done, NotificationEvent, FALSE);
  c.item = IoAllocateWorkItem(&device);
  ASSERT_NE(nullptr, c.item);
  c.requeues = 3;
  c.freeInside = true;
  IoQueueWorkItemEx(c.item, exRoutine, CriticalWorkQueue, &c);
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&c.done, Executive, KernelMode, FALSE, nullptr));
  EXPECT_EQ(4, c.runs.load());
  EXPECT_EQ(&device, c.ioObject);
}

VOID blockingRoutine(PDEVICE_OBJECT, PVOID context) {
  auto* gates = static_cast<KEVENT*>(context);
  KeSetEvent(&gates[0], IO_NO_INCREMENT, FALSE);                           // entered
  KeWaitForSingleObject(&gates[1], Executive, KernelMode, FALSE, nullptr);  // held
  KeSetEvent(&gates[2], IO_NO_INCREMENT, FALSE);                           // returning
}

TEST(IoWorkItem, DoubleQueueIsIgnoredAndBadInputCounted) {
  EXPECT_EQ(nullptr, IoAllocateWorkItem(nullptr));
  const ULONG64 before = OpenNdkKcompatWorkItemErrors();
  IoQueueWorkItem(nullptr, classicRoutine, DelayedWorkQueue, nullptr);
  IoFreeWorkItem(nullptr);
  EXPECT_EQ(before + 1, OpenNdkKcompatWorkItemErrors());

  DEVICE_OBJECT device{};
  KEVENT gates[3];
  for (auto& g : gates) KeInitializeEvent(&g, NotificationEvent, FALSE);
  PIO_WORKITEM blocker = IoAllocateWorkItem(&device);
  ASSERT_NE(nullptr, blocker);
  IoQueueWorkItem(blocker, nullptr, DelayedWorkQueue, nullptr);  // NULL routine
  EXPECT_EQ(before + 2, OpenNdkKcompatWorkItemErrors());
  // Keep every worker busy so that a second item stays queued, then queue it twice.
  constexpr int kWorkersMax = 4;
  PIO_WORKITEM busy[kWorkersMax];
  KEVENT busyGates[kWorkersMax][3];
  for (int i = 0; i < kWorkersMax; ++i) {
    for (auto& g : busyGates[i]) KeInitializeEvent(&g, NotificationEvent, FALSE);
    busy[i] = IoAllocateWorkItem(&device);
    IoQueueWorkItem(busy[i], blockingRoutine, DelayedWorkQueue, busyGates[i]);
  }
  IoQueueWorkItem(blocker, blockingRoutine, DelayedWorkQueue, gates);
  // FIFO behind items that block every worker (at most 4): the first queue is still pending.
  IoQueueWorkItem(blocker, blockingRoutine, DelayedWorkQueue, gates);
  EXPECT_EQ(before + 3, OpenNdkKcompatWorkItemErrors()) << "queued twice";
  for (int i = 0; i < kWorkersMax; ++i) KeSetEvent(&busyGates[i][1], IO_NO_INCREMENT, FALSE);
  KeSetEvent(&gates[1], IO_NO_INCREMENT, FALSE);
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&gates[2], Executive, KernelMode, FALSE, nullptr));
  for (int i = 0; i < kWorkersMax; ++i) {
    ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&busyGates[i][2], Executive, KernelMode, FALSE, nullptr));
    IoFreeWorkItem(busy[i]);  // returning or returned: freed now or by the worker
  }
  IoFreeWorkItem(blocker);
}

}  // namespace
