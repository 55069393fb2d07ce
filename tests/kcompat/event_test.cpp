// KEVENT, KeWaitForSingleObject timeouts (100 ns units; negative relative, positive absolute,
// NULL infinite, 0 a test) and the emulated IRQL rule for waits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "wdk/wdm.h"

namespace {

LARGE_INTEGER relative100ns(LONGLONG units) {
  LARGE_INTEGER t;
  t.QuadPart = -units;
  return t;
}

TEST(KeEvent, InitialStateAndSetResetClear) {
  KEVENT e;
  KeInitializeEvent(&e, NotificationEvent, FALSE);
  EXPECT_EQ(0, KeReadStateEvent(&e));
  EXPECT_EQ(0, KeSetEvent(&e, IO_NO_INCREMENT, FALSE)) << "previous state";
  EXPECT_EQ(1, KeSetEvent(&e, IO_NO_INCREMENT, FALSE));
  EXPECT_EQ(1, KeReadStateEvent(&e));
  EXPECT_EQ(1, KeResetEvent(&e));
  EXPECT_EQ(0, KeReadStateEvent(&e));
  KeSetEvent(&e, IO_NO_INCREMENT, FALSE);
  KeClearEvent(&e);
  EXPECT_EQ(0, KeReadStateEvent(&e));
  KEVENT s;
  KeInitializeEvent(&s, SynchronizationEvent, TRUE);
  EXPECT_EQ(1, KeReadStateEvent(&s));
}

TEST(KeEvent, NotificationStaysSignaledSynchronizationResetsOnWait) {
  KEVENT n, s;
  KeInitializeEvent(&n, NotificationEvent, TRUE);
  KeInitializeEvent(&s, SynchronizationEvent, TRUE);
  LARGE_INTEGER zero{};
  EXPECT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero));
  EXPECT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero));
  EXPECT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero));
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero)) << "auto reset";
  EXPECT_EQ(0, KeReadStateEvent(&s));
}

TEST(KeEvent, RelativeTimeoutElapsesWithStatusTimeout) {
  KEVENT e;
  KeInitializeEvent(&e, NotificationEvent, FALSE);
  LARGE_INTEGER t = relative100ns(50 * 10000);  // 50 ms
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &t));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST(KeEvent, AbsoluteTimeoutInThePastAndFuture) {
  KEVENT e;
  KeInitializeEvent(&e, SynchronizationEvent, FALSE);
  LARGE_INTEGER now;
  KeQuerySystemTime(&now);
  EXPECT_GT(now.QuadPart, 116444736000000000LL) << "after 1970 in 1601-based 100 ns units";
  LARGE_INTEGER past = now;
  past.QuadPart -= 10000000;  // one second ago
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &past));
  LARGE_INTEGER soon = now;
  soon.QuadPart += 30 * 10000;  // 30 ms from now
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &soon));
  LARGE_INTEGER after;
  KeQuerySystemTime(&after);
  EXPECT_GE(after.QuadPart, soon.QuadPart);
}

TEST(KeEvent, InfiniteWaitReturnsWhenAnotherThreadSets) {
  KEVENT e, started;
  KeInitializeEvent(&e, NotificationEvent, FALSE);
  KeInitializeEvent(&started, NotificationEvent, FALSE);
  std::atomic<NTSTATUS> st{STATUS_PENDING};
  std::thread waiter([&] {
    KeSetEvent(&started, IO_NO_INCREMENT, FALSE);
    st = KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, nullptr);
  });
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&started, Executive, KernelMode, FALSE, nullptr));
  KeSetEvent(&e, IO_NO_INCREMENT, FALSE);
  waiter.join();
  EXPECT_EQ(STATUS_SUCCESS, st.load());
}

TEST(KeEvent, SynchronizationEventSatisfiesOneWaitPerSet) {
  KEVENT e;
  KeInitializeEvent(&e, SynchronizationEvent, FALSE);
  std::atomic<NTSTATUS> st{STATUS_PENDING};
  std::thread waiter([&] { st = KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, nullptr); });
  KeSetEvent(&e, IO_NO_INCREMENT, FALSE);
  waiter.join();
  EXPECT_EQ(STATUS_SUCCESS, st.load());
  EXPECT_EQ(0, KeReadStateEvent(&e)) << "the satisfied wait reset it";
  LARGE_INTEGER zero{};
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero));
}

TEST(KeEvent, BadInput) {
  EXPECT_EQ(STATUS_INVALID_PARAMETER, KeWaitForSingleObject(nullptr, Executive, KernelMode, FALSE, nullptr));
  KEVENT garbage;
  std::memset(&garbage, 0xa5, sizeof garbage);
  EXPECT_EQ(STATUS_INVALID_PARAMETER, KeWaitForSingleObject(&garbage, Executive, KernelMode, FALSE, nullptr));
  EXPECT_EQ(0, KeSetEvent(nullptr, IO_NO_INCREMENT, FALSE));
  EXPECT_EQ(0, KeReadStateEvent(nullptr));
  KeClearEvent(nullptr);
  KeInitializeEvent(nullptr, NotificationEvent, TRUE);
  EXPECT_EQ(STATUS_INVALID_PARAMETER, KeDelayExecutionThread(KernelMode, FALSE, nullptr));
}

TEST(KeEvent, WaitAtDispatchLevelIsRefusedButATestIsAllowed) {
  KEVENT e;
  KeInitializeEvent(&e, NotificationEvent, TRUE);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  EXPECT_EQ(STATUS_INVALID_DEVICE_STATE, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, nullptr));
  LARGE_INTEGER zero{};
  EXPECT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero));
  KeLowerIrql(old);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
}

TEST(KeEvent, DelayExecutionWaitsAtLeastTheInterval) {
  LARGE_INTEGER t = relative100ns(20 * 10000);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(STATUS_SUCCESS, KeDelayExecutionThread(KernelMode, FALSE, &t));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
  const ULONGLONG a = KeQueryInterruptTime();
  EXPECT_GE(KeQueryInterruptTime(), a);
}

}  // namespace
