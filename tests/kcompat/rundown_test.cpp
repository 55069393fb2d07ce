// Rundown protection: acquisitions fail once the rundown started; the wait returns only after
// the last release (synchronised with events, no sleeps).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "wdk/wdm.h"

namespace {

TEST(ExRundown, AcquireReleaseAndCompleted) {
  EX_RUNDOWN_REF r;
  ExInitializeRundownProtection(&r);
  EXPECT_TRUE(ExAcquireRundownProtection(&r));
  EXPECT_TRUE(ExAcquireRundownProtectionEx(&r, 3));
  ExReleaseRundownProtectionEx(&r, 3);
  ExReleaseRundownProtection(&r);
  ExWaitForRundownProtectionRelease(&r);  // nothing held: returns at once
  EXPECT_FALSE(ExAcquireRundownProtection(&r)) << "run down";
  ExRundownCompleted(&r);
  EXPECT_FALSE(ExAcquireRundownProtection(&r));
  ExReInitializeRundownProtection(&r);
  EXPECT_TRUE(ExAcquireRundownProtection(&r));
  ExReleaseRundownProtection(&r);
}

TEST(ExRundown, WaitBlocksUntilTheLastRelease) {
  EX_RUNDOWN_REF r;
  ExInitializeRundownProtection(&r);
  ASSERT_TRUE(ExAcquireRundownProtection(&r));
  ASSERT_TRUE(ExAcquireRundownProtection(&r));
  KEVENT waiting, done;
  KeInitializeEvent(&waiting, NotificationEvent, FALSE);
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  std::atomic<int> releases{0};
  std::atomic<int> releasesSeenByWaiter{-1};
  std::thread waiter([&] {
    KeSetEvent(&waiting, IO_NO_INCREMENT, FALSE);
    ExWaitForRundownProtectionRelease(&r);
    releasesSeenByWaiter = releases.load();
    KeSetEvent(&done, IO_NO_INCREMENT, FALSE);
  });
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&waiting, Executive, KernelMode, FALSE, nullptr));
  // Whether or not the waiter has started its wait, it cannot have returned: two are held.
  LARGE_INTEGER zero{};
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &zero));
  ++releases;
  ExReleaseRundownProtection(&r);
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &zero));
  ++releases;
  ExReleaseRundownProtection(&r);
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, nullptr));
  waiter.join();
  EXPECT_EQ(2, releasesSeenByWaiter.load());
}

TEST(ExRundown, BadInput) {
  EXPECT_FALSE(ExAcquireRundownProtection(nullptr));
  ExReleaseRundownProtection(nullptr);
  ExWaitForRundownProtectionRelease(nullptr);
  EX_RUNDOWN_REF r;
  ExInitializeRundownProtection(&r);
  ExReleaseRundownProtection(&r);  // more releases than acquisitions: ignored
  EXPECT_TRUE(ExAcquireRundownProtection(&r));
  ExReleaseRundownProtection(&r);
  ExWaitForRundownProtectionRelease(&r);
}

}  // namespace
