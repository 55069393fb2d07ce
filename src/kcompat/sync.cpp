// Emulated IRQL, events, waits, spin locks and rundown protection of libopenndk_kcompat
// (include/wdk/wdm.h). Events and rundown references wait on futexes over their own words, so
// the structures need no destructor (Windows has none) and stay the size the consumer allocated.
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

#include "kcompat/internal.h"
#include "wdk/wdm.h"

namespace {

thread_local KIRQL t_irql = PASSIVE_LEVEL;

constexpr ULONG kEventMagic = 0x4b455654;  // "KEVT"
constexpr std::int64_t kEpochDelta100ns = 116444736000000000LL;  // 1601-01-01 to 1970-01-01

int futexWait(volatile LONG* word, LONG expected, const timespec* absDeadline, bool realtime) {
  const int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | (realtime ? FUTEX_CLOCK_REALTIME : 0);
  return static_cast<int>(
      syscall(SYS_futex, const_cast<LONG*>(word), op, expected, absDeadline, nullptr, FUTEX_BITSET_MATCH_ANY));
}
void futexWake(volatile LONG* word, int count) {
  syscall(SYS_futex, const_cast<LONG*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count, nullptr, nullptr, 0);
}

timespec addNs(timespec t, std::int64_t ns) {
  t.tv_sec += ns / 1000000000LL;
  t.tv_nsec += ns % 1000000000LL;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec += 1;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

// The deadline of a Windows timeout: relative ones on CLOCK_MONOTONIC, absolute ones (system
// time) on CLOCK_REALTIME, as Windows tracks clock changes only for absolute waits.
struct Deadline {
  bool infinite = true;
  bool realtime = false;
  timespec at{};
};
Deadline deadlineFor(const LARGE_INTEGER* timeout) {
  Deadline d;
  if (!timeout) return d;
  d.infinite = false;
  const std::int64_t v = timeout->QuadPart;
  if (v <= 0) {
    clock_gettime(CLOCK_MONOTONIC, &d.at);
    // -v * 100 ns; saturate far-future relative waits instead of overflowing.
    const std::int64_t ns = v < -(INT64_MAX / 100) ? INT64_MAX / 2 : -v * 100;
    d.at = addNs(d.at, ns);
  } else {
    d.realtime = true;
    const std::int64_t unix100 = v - kEpochDelta100ns;
    if (unix100 <= 0) {
      d.at = timespec{0, 0};
    } else {
      d.at.tv_sec = unix100 / 10000000LL;
      d.at.tv_nsec = (unix100 % 10000000LL) * 100;
    }
  }
  return d;
}

bool waitAllowed(const LARGE_INTEGER* timeout) {
  if (t_irql <= APC_LEVEL) return true;
  return timeout && timeout->QuadPart == 0;  // a test without waiting is legal at DISPATCH_LEVEL
}

std::atomic<LONG>& atomicWord(volatile LONG* p) { return *reinterpret_cast<std::atomic<LONG>*>(const_cast<LONG*>(p)); }

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API KIRQL KeGetCurrentIrql(void) { return t_irql; }

OPENNDK_KCOMPAT_API VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql) {
  if (OldIrql) *OldIrql = t_irql;
  if (NewIrql > t_irql) t_irql = NewIrql;  // lowering through KeRaiseIrql is a consumer bug: ignored
}

OPENNDK_KCOMPAT_API VOID KeLowerIrql(KIRQL NewIrql) {
  if (NewIrql <= t_irql) t_irql = NewIrql;
}

OPENNDK_KCOMPAT_API KIRQL KeRaiseIrqlToDpcLevel(void) {
  KIRQL old = PASSIVE_LEVEL;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  return old;
}

OPENNDK_KCOMPAT_API VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State) {
  if (!Event) return;
  Event->Header.Type = static_cast<UCHAR>(Type == SynchronizationEvent ? SynchronizationEvent : NotificationEvent);
  Event->Header.Reserved[0] = Event->Header.Reserved[1] = Event->Header.Reserved[2] = 0;
  Event->Header.Reserved2 = 0;
  atomicWord(&Event->Header.SignalState).store(State ? 1 : 0, std::memory_order_release);
  Event->Header.Magic = kEventMagic;
}

OPENNDK_KCOMPAT_API LONG KeSetEvent(PRKEVENT Event, KPRIORITY, BOOLEAN) {
  if (!Event || Event->Header.Magic != kEventMagic) return 0;
  // A notification event releases every waiter; a synchronization event one, whose satisfied
  // wait resets it (the others find it reset and wait again). Read before the store: once the
  // event is signaled a waiter may return and free it (a KEVENT on its stack, as Windows code
  // does), so after the store only the address is used - as a futex key, never dereferenced.
  const int wake = Event->Header.Type == SynchronizationEvent ? 1 : INT_MAX;
  volatile LONG* const word = &Event->Header.SignalState;
  const LONG previous = atomicWord(word).exchange(1, std::memory_order_acq_rel);
  if (previous == 0) futexWake(word, wake);
  return previous;
}

OPENNDK_KCOMPAT_API VOID KeClearEvent(PRKEVENT Event) {
  if (!Event || Event->Header.Magic != kEventMagic) return;
  atomicWord(&Event->Header.SignalState).store(0, std::memory_order_release);
}

OPENNDK_KCOMPAT_API LONG KeResetEvent(PRKEVENT Event) {
  if (!Event || Event->Header.Magic != kEventMagic) return 0;
  return atomicWord(&Event->Header.SignalState).exchange(0, std::memory_order_acq_rel);
}

OPENNDK_KCOMPAT_API LONG KeReadStateEvent(PRKEVENT Event) {
  if (!Event || Event->Header.Magic != kEventMagic) return 0;
  return atomicWord(&Event->Header.SignalState).load(std::memory_order_acquire);
}

OPENNDK_KCOMPAT_API NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON, KPROCESSOR_MODE, BOOLEAN,
                                                   PLARGE_INTEGER Timeout) {
  auto* ev = static_cast<PRKEVENT>(Object);
  if (!ev || ev->Header.Magic != kEventMagic) {
    openndk::kcompat::report("KeWaitForSingleObject: not an initialised KEVENT");
    return STATUS_INVALID_PARAMETER;
  }
  if (!waitAllowed(Timeout)) {
    openndk::kcompat::report("KeWaitForSingleObject: a wait at IRQL > APC_LEVEL (a bug check on Windows)");
    return STATUS_INVALID_DEVICE_STATE;
  }
  auto& state = atomicWord(&ev->Header.SignalState);
  const bool autoReset = ev->Header.Type == SynchronizationEvent;
  const Deadline d = deadlineFor(Timeout);
  for (;;) {
    if (autoReset) {
      LONG expected = 1;
      if (state.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return STATUS_SUCCESS;
    } else if (state.load(std::memory_order_acquire) != 0) {
      return STATUS_SUCCESS;
    }
    if (Timeout && Timeout->QuadPart == 0) return STATUS_TIMEOUT;
    const int rc = futexWait(&ev->Header.SignalState, 0, d.infinite ? nullptr : &d.at, d.realtime);
    if (rc == -1 && errno == ETIMEDOUT) {
      // One last look: a set racing with the timeout still satisfies the wait.
      if (autoReset) {
        LONG expected = 1;
        if (state.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return STATUS_SUCCESS;
      } else if (state.load(std::memory_order_acquire) != 0) {
        return STATUS_SUCCESS;
      }
      return STATUS_TIMEOUT;
    }
  }
}

OPENNDK_KCOMPAT_API NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE, BOOLEAN, PLARGE_INTEGER Interval) {
  if (!Interval) return STATUS_INVALID_PARAMETER;
  const Deadline d = deadlineFor(Interval);
  while (clock_nanosleep(d.realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, TIMER_ABSTIME, &d.at, nullptr) == EINTR) {
  }
  return STATUS_SUCCESS;
}

OPENNDK_KCOMPAT_API VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime) {
  if (!CurrentTime) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  CurrentTime->QuadPart = kEpochDelta100ns + static_cast<LONGLONG>(now.tv_sec) * 10000000LL + now.tv_nsec / 100;
}

OPENNDK_KCOMPAT_API VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime) { KeQuerySystemTime(CurrentTime); }

OPENNDK_KCOMPAT_API ULONGLONG KeQueryInterruptTime(void) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<ULONGLONG>(now.tv_sec) * 10000000ULL + static_cast<ULONGLONG>(now.tv_nsec) / 100;
}

// ---- Spin locks ---------------------------------------------------------------------------

OPENNDK_KCOMPAT_API VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock) {
  if (SpinLock) __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

OPENNDK_KCOMPAT_API VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  if (!SpinLock) return;
  for (unsigned spins = 0;; ++spins) {
    if (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) == 0 &&
        __atomic_exchange_n(SpinLock, static_cast<KSPIN_LOCK>(1), __ATOMIC_ACQUIRE) == 0)
      return;
    // Preemption is not disabled here: a holder may be descheduled, so after a short spin
    // the waiter yields its CPU instead of burning it.
    if (spins < 128) {
      __builtin_ia32_pause();
    } else {
      sched_yield();
    }
  }
}

OPENNDK_KCOMPAT_API VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) {
  if (SpinLock) __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

OPENNDK_KCOMPAT_API BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  if (!SpinLock) return FALSE;
  return __atomic_exchange_n(SpinLock, static_cast<KSPIN_LOCK>(1), __ATOMIC_ACQUIRE) == 0 ? TRUE : FALSE;
}

OPENNDK_KCOMPAT_API VOID KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock, PKIRQL OldIrql) {
  KIRQL old = KeRaiseIrqlToDpcLevel();
  if (OldIrql) *OldIrql = old;
  KeAcquireSpinLockAtDpcLevel(SpinLock);
}

OPENNDK_KCOMPAT_API VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) {
  KeReleaseSpinLockFromDpcLevel(SpinLock);
  KeLowerIrql(NewIrql);
}

OPENNDK_KCOMPAT_API VOID KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                                  PKLOCK_QUEUE_HANDLE LockHandle) {
  if (!LockHandle) return;
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  KeAcquireSpinLockAtDpcLevel(SpinLock);
}

OPENNDK_KCOMPAT_API VOID KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle) {
  if (!LockHandle) return;
  KeReleaseSpinLockFromDpcLevel(LockHandle->LockQueue.Lock);
}

OPENNDK_KCOMPAT_API VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle) {
  if (!LockHandle) return;
  LockHandle->OldIrql = KeRaiseIrqlToDpcLevel();
  KeAcquireInStackQueuedSpinLockAtDpcLevel(SpinLock, LockHandle);
}

OPENNDK_KCOMPAT_API VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle) {
  if (!LockHandle) return;
  KeReleaseInStackQueuedSpinLockFromDpcLevel(LockHandle);
  KeLowerIrql(LockHandle->OldIrql);
}

// ---- Rundown protection -------------------------------------------------------------------
// Count = 2 x references | 1 (kActive) once the rundown started. The waiter sleeps on the low
// 32 bits of the word (little endian), which change with every release.

}  // extern "C": the helpers below return C++ types (clang: -Wreturn-type-c-linkage)

namespace {
constexpr ULONG_PTR kActive = 1;
std::atomic<ULONG_PTR>& rundownWord(PEX_RUNDOWN_REF r) {
  return *reinterpret_cast<std::atomic<ULONG_PTR>*>(const_cast<ULONG_PTR*>(&r->Count));
}
volatile LONG* rundownFutex(PEX_RUNDOWN_REF r) { return reinterpret_cast<volatile LONG*>(const_cast<ULONG_PTR*>(&r->Count)); }
}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API VOID ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef) {
  if (RunRef) rundownWord(RunRef).store(0, std::memory_order_release);
}

OPENNDK_KCOMPAT_API VOID ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef) { ExInitializeRundownProtection(RunRef); }

OPENNDK_KCOMPAT_API BOOLEAN ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count) {
  if (!RunRef) return FALSE;
  auto& w = rundownWord(RunRef);
  ULONG_PTR v = w.load(std::memory_order_relaxed);
  do {
    if (v & kActive) return FALSE;
  } while (!w.compare_exchange_weak(v, v + 2 * static_cast<ULONG_PTR>(Count), std::memory_order_acquire,
                                    std::memory_order_relaxed));
  return TRUE;
}

OPENNDK_KCOMPAT_API BOOLEAN ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef) {
  return ExAcquireRundownProtectionEx(RunRef, 1);
}

OPENNDK_KCOMPAT_API VOID ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count) {
  if (!RunRef) return;
  auto& w = rundownWord(RunRef);
  ULONG_PTR v = w.load(std::memory_order_relaxed);
  ULONG_PTR next;
  do {
    if (v / 2 < Count) {  // more releases than acquisitions: a consumer bug (bug check on Windows)
      openndk::kcompat::report("ExReleaseRundownProtection: released more often than acquired");
      return;
    }
    next = v - 2 * static_cast<ULONG_PTR>(Count);
  } while (!w.compare_exchange_weak(v, next, std::memory_order_release, std::memory_order_relaxed));
  if (next == kActive) futexWake(rundownFutex(RunRef), INT_MAX);  // the last one out wakes the waiter
}

OPENNDK_KCOMPAT_API VOID ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef) { ExReleaseRundownProtectionEx(RunRef, 1); }

OPENNDK_KCOMPAT_API VOID ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef) {
  if (!RunRef) return;
  auto& w = rundownWord(RunRef);
  ULONG_PTR v = w.fetch_or(kActive, std::memory_order_acq_rel) | kActive;
  while (v != kActive) {
    futexWait(rundownFutex(RunRef), static_cast<LONG>(static_cast<std::uint32_t>(v)), nullptr, false);
    v = w.load(std::memory_order_acquire);
  }
}

OPENNDK_KCOMPAT_API VOID ExRundownCompleted(PEX_RUNDOWN_REF RunRef) {
  if (RunRef) rundownWord(RunRef).store(kActive, std::memory_order_release);
}

}  // extern "C"
