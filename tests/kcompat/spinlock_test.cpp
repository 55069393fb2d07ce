// Spin locks (classic and in-stack queued), the emulated IRQL they raise, Interlocked*.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "wdk/wdm.h"

namespace {

TEST(KeSpinLock, MutualExclusionAcrossThreads) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  long counter = 0;  // plain: protected by the lock only
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        if ((i + t) % 2) {
          KLOCK_QUEUE_HANDLE h;
          KeAcquireInStackQueuedSpinLock(&lock, &h);
          ++counter;
          KeReleaseInStackQueuedSpinLock(&h);
        } else {
          KIRQL old;
          KeAcquireSpinLock(&lock, &old);
          ++counter;
          KeReleaseSpinLock(&lock, old);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(80000, counter);
}

TEST(KeSpinLock, RaisesToDispatchAndRestores) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
  KIRQL old = HIGH_LEVEL;
  KeAcquireSpinLock(&lock, &old);
  EXPECT_EQ(PASSIVE_LEVEL, old);
  EXPECT_EQ(DISPATCH_LEVEL, KeGetCurrentIrql());
  EXPECT_FALSE(KeTryToAcquireSpinLockAtDpcLevel(&lock)) << "held";
  KeReleaseSpinLock(&lock, old);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&lock, &h);
  EXPECT_EQ(DISPATCH_LEVEL, KeGetCurrentIrql());
  KLOCK_QUEUE_HANDLE inner;
  KSPIN_LOCK second;
  KeInitializeSpinLock(&second);
  KeAcquireInStackQueuedSpinLockAtDpcLevel(&second, &inner);
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&inner);
  EXPECT_EQ(DISPATCH_LEVEL, KeGetCurrentIrql());
  KeReleaseInStackQueuedSpinLock(&h);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
  EXPECT_TRUE(KeTryToAcquireSpinLockAtDpcLevel(&lock));
  KeReleaseSpinLockFromDpcLevel(&lock);
}

TEST(KeSpinLock, IrqlIsPerThreadAndCannotBeLoweredByRaise) {
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  KIRQL seen = HIGH_LEVEL;
  std::thread([&] { seen = KeGetCurrentIrql(); }).join();
  EXPECT_EQ(PASSIVE_LEVEL, seen);
  KIRQL old2;
  KeRaiseIrql(PASSIVE_LEVEL, &old2);  // a raise to a lower level is ignored
  EXPECT_EQ(APC_LEVEL, KeGetCurrentIrql());
  EXPECT_EQ(APC_LEVEL, KeRaiseIrqlToDpcLevel());
  KeLowerIrql(old);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
}

TEST(KeSpinLock, NullArgumentsDoNotCrash) {
  KeInitializeSpinLock(nullptr);
  KeAcquireSpinLockAtDpcLevel(nullptr);
  KeReleaseSpinLockFromDpcLevel(nullptr);
  EXPECT_FALSE(KeTryToAcquireSpinLockAtDpcLevel(nullptr));
  KeAcquireInStackQueuedSpinLock(nullptr, nullptr);
  KeReleaseInStackQueuedSpinLock(nullptr);
  EXPECT_EQ(PASSIVE_LEVEL, KeGetCurrentIrql());
}

TEST(Interlocked, ReturnValuesAsDocumented) {
  LONG volatile v = 5;
  EXPECT_EQ(6, InterlockedIncrement(&v));
  EXPECT_EQ(5, InterlockedDecrement(&v));
  EXPECT_EQ(5, InterlockedExchange(&v, 9));
  EXPECT_EQ(9, InterlockedExchangeAdd(&v, 1));
  EXPECT_EQ(12, InterlockedAdd(&v, 2));
  EXPECT_EQ(12, InterlockedCompareExchange(&v, 1, 7)) << "no exchange: returns the current value";
  EXPECT_EQ(12, v);
  EXPECT_EQ(12, InterlockedCompareExchange(&v, 1, 12));
  EXPECT_EQ(1, v);
  EXPECT_EQ(1, InterlockedOr(&v, 6));
  EXPECT_EQ(7, InterlockedAnd(&v, 3));
  EXPECT_EQ(3, InterlockedXor(&v, 1));
  EXPECT_EQ(2, v);
  LONG64 volatile w = 1LL << 40;
  EXPECT_EQ((1LL << 40) + 1, InterlockedIncrement64(&w));
  EXPECT_EQ((1LL << 40) + 1, InterlockedCompareExchange64(&w, 0, (1LL << 40) + 1));
  EXPECT_EQ(0, w);
  int a = 0, b = 0;
  PVOID volatile p = &a;
  EXPECT_EQ(&a, InterlockedCompareExchangePointer(&p, &b, &a));
  EXPECT_EQ(&b, InterlockedExchangePointer(&p, nullptr));
  EXPECT_EQ(nullptr, p);
}

TEST(Interlocked, ConcurrentIncrementsAreNotLost) {
  LONG volatile v = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) InterlockedIncrement(&v);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(200000, v);
}

}  // namespace
