/*
 * wdk/wdm.h - the Windows kernel APIs an NDK consumer uses besides NDKPI, for
 * user space on Linux (libopenndk_kcompat). A consumer written for the WDK
 * replaces `#include <wdm.h>` / `<ntddk.h>` by `#include <wdk/wdm.h>` /
 * `<wdk/ntddk.h>` (and <wsk.h>, <wskndk.h>, <netioapi.h> by their wdk/
 * counterparts); nothing else changes. Semantics follow the public Windows
 * documentation; docs/porting.md lists what is emulated and what is not.
 *
 * IRQL: there is no real IRQL. Each thread has an emulated IRQL (PASSIVE_LEVEL
 * by default) that KeRaiseIrql/KeLowerIrql and the spin-lock routines raise to
 * DISPATCH_LEVEL and restore, so KeGetCurrentIrql(), PAGED_CODE() and NT_ASSERTs
 * on the IRQL see what they would on Windows for the consumer's own code paths.
 * Spinning does not disable preemption. A wait with a non-zero timeout at an
 * emulated IRQL above APC_LEVEL (a bug check on Windows) returns
 * STATUS_INVALID_DEVICE_STATE without waiting. NDK callbacks of libopenndk run
 * at the emulated PASSIVE_LEVEL on provider threads (on Windows: <= DISPATCH_LEVEL).
 */
#ifndef OPENNDK_WDK_WDM_H
#define OPENNDK_WDK_WDM_H

#include <ndk/ndk.h> /* NTSTATUS, base types, SAL subset, MDL, PAGE_SIZE, KIRQL */

#include <stddef.h>
#include <string.h>
#include <wchar.h>

#if defined(__GNUC__) || defined(__clang__)
#define OPENNDK_KCOMPAT_API __attribute__((visibility("default")))
#else
#define OPENNDK_KCOMPAT_API
#endif

#ifdef __cplusplus
/* RTL_CONSTANT_STRING points a string's Buffer (non-const, as in the WDK) at a literal. */
template <class T, size_t N>
constexpr T *OpenNdkLiteralBuffer(const T (&literal)[N]) {
  return const_cast<T *>(literal);
}
#define OPENNDK_LITERAL_BUFFER(s) OpenNdkLiteralBuffer(s)
#else
#define OPENNDK_LITERAL_BUFFER(s) (s)
#endif

OPENNDK_EXTERN_C_BEGIN

/* ---- Statuses this library returns beyond ndk/ntstatus.h ------------------ */
#ifndef STATUS_WAIT_0
#define STATUS_WAIT_0 ((NTSTATUS)0x00000000L)
#endif
#ifndef STATUS_ALERTED
#define STATUS_ALERTED ((NTSTATUS)0x00000101L)
#endif
#ifndef STATUS_TIMEOUT
#define STATUS_TIMEOUT ((NTSTATUS)0x00000102L)
#endif
#ifndef STATUS_USER_APC
#define STATUS_USER_APC ((NTSTATUS)0x000000C0L)
#endif
#ifndef STATUS_NOINTERFACE
#define STATUS_NOINTERFACE ((NTSTATUS)0xC00002B9L)
#endif
#ifndef STATUS_INVALID_BUFFER_SIZE
#define STATUS_INVALID_BUFFER_SIZE ((NTSTATUS)0xC0000206L)
#endif

/* ---- Declaration decorations and SAL annotations (no-ops) ----------------- */
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef OPTIONAL
#define OPTIONAL
#endif
#ifndef CONST
#define CONST const
#endif
#ifndef FORCEINLINE
#define FORCEINLINE static inline __attribute__((always_inline))
#endif
#ifndef NTKERNELAPI
#define NTKERNELAPI
#endif
#ifndef NTSYSAPI
#define NTSYSAPI
#endif
#ifndef NTSYSCALLAPI
#define NTSYSCALLAPI
#endif
#ifndef FASTCALL
#define FASTCALL
#endif
#ifndef DECLSPEC_ALIGN
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#endif
#ifndef DECLSPEC_NOINLINE
#define DECLSPEC_NOINLINE __attribute__((noinline))
#endif
#ifndef C_ASSERT
#define C_ASSERT(e) _Static_assert(e, #e)
#endif
#ifdef __cplusplus
#undef C_ASSERT
#define C_ASSERT(e) static_assert(e, #e)
#endif

/* One list of annotations; each is defined only where a header has not already. */
#define OPENNDK_SAL_NOOP_0
#ifndef _In_z_
#define _In_z_
#endif
#ifndef _In_opt_z_
#define _In_opt_z_
#endif
#ifndef _In_reads_opt_
#define _In_reads_opt_(s)
#endif
#ifndef _In_reads_bytes_opt_
#define _In_reads_bytes_opt_(s)
#endif
#ifndef _Out_writes_bytes_
#define _Out_writes_bytes_(s)
#endif
#ifndef _Out_writes_opt_
#define _Out_writes_opt_(s)
#endif
#ifndef _Out_writes_to_
#define _Out_writes_to_(s, c)
#endif
#ifndef _Out_writes_bytes_to_
#define _Out_writes_bytes_to_(s, c)
#endif
#ifndef _Out_writes_bytes_all_
#define _Out_writes_bytes_all_(s)
#endif
#ifndef _Inout_updates_
#define _Inout_updates_(s)
#endif
#ifndef _Inout_updates_bytes_
#define _Inout_updates_bytes_(s)
#endif
#ifndef _Inout_z_
#define _Inout_z_
#endif
#ifndef _Outptr_opt_
#define _Outptr_opt_
#endif
#ifndef _Outptr_result_maybenull_
#define _Outptr_result_maybenull_
#endif
#ifndef _Outptr_result_bytebuffer_
#define _Outptr_result_bytebuffer_(s)
#endif
#ifndef _Out_range_
#define _Out_range_(l, h)
#endif
#ifndef _In_range_
#define _In_range_(l, h)
#endif
#ifndef _Ret_maybenull_
#define _Ret_maybenull_
#endif
#ifndef _Ret_notnull_
#define _Ret_notnull_
#endif
#ifndef _Post_writable_byte_size_
#define _Post_writable_byte_size_(s)
#endif
#ifndef _Post_invalid_
#define _Post_invalid_
#endif
#ifndef _Post_satisfies_
#define _Post_satisfies_(e)
#endif
#ifndef _Pre_satisfies_
#define _Pre_satisfies_(e)
#endif
#ifndef _Success_
#define _Success_(e)
#endif
#ifndef _When_
#define _When_(e, a)
#endif
#ifndef _At_
#define _At_(t, a)
#endif
#ifndef _Check_return_
#define _Check_return_
#endif
#ifndef _Null_terminated_
#define _Null_terminated_
#endif
#ifndef _Frees_ptr_
#define _Frees_ptr_
#endif
#ifndef _Frees_ptr_opt_
#define _Frees_ptr_opt_
#endif
#ifndef _Field_size_
#define _Field_size_(s)
#endif
#ifndef _Field_size_bytes_
#define _Field_size_bytes_(s)
#endif
#ifndef _Field_size_part_
#define _Field_size_part_(s, c)
#endif
#ifndef _Printf_format_string_
#define _Printf_format_string_
#endif
#ifndef _Analysis_assume_
#define _Analysis_assume_(e)
#endif
#ifndef _Interlocked_operand_
#define _Interlocked_operand_
#endif
#ifndef _Guarded_by_
#define _Guarded_by_(l)
#endif
#ifndef _Requires_lock_held_
#define _Requires_lock_held_(l)
#endif
#ifndef _Requires_lock_not_held_
#define _Requires_lock_not_held_(l)
#endif
#ifndef _Acquires_lock_
#define _Acquires_lock_(l)
#endif
#ifndef _Releases_lock_
#define _Releases_lock_(l)
#endif
#ifndef _Acquires_exclusive_lock_
#define _Acquires_exclusive_lock_(l)
#endif
#ifndef _Releases_exclusive_lock_
#define _Releases_exclusive_lock_(l)
#endif
#ifndef _IRQL_raises_
#define _IRQL_raises_(i)
#endif
#ifndef _IRQL_saves_
#define _IRQL_saves_
#endif
#ifndef _IRQL_restores_
#define _IRQL_restores_
#endif
#ifndef _IRQL_saves_global_
#define _IRQL_saves_global_(k, p)
#endif
#ifndef _IRQL_restores_global_
#define _IRQL_restores_global_(k, p)
#endif
#ifndef _IRQL_requires_min_
#define _IRQL_requires_min_(i)
#endif
#ifndef _IRQL_requires_same_
#define _IRQL_requires_same_
#endif
#ifndef _IRQL_always_function_min_
#define _IRQL_always_function_min_(i)
#endif
#ifndef _IRQL_always_function_max_
#define _IRQL_always_function_max_(i)
#endif
#ifndef _IRQL_uses_cancel_
#define _IRQL_uses_cancel_
#endif
#ifndef _Dispatch_type_
#define _Dispatch_type_(t)
#endif
#ifndef _Kernel_float_saved_
#define _Kernel_float_saved_
#endif
#ifndef _Kernel_requires_resource_held_
#define _Kernel_requires_resource_held_(r)
#endif
#ifndef _Strict_type_match_
#define _Strict_type_match_
#endif
#ifndef _Reserved_
#define _Reserved_
#endif
#ifndef __drv_aliasesMem
#define __drv_aliasesMem
#endif
#ifndef __drv_allocatesMem
#define __drv_allocatesMem(k)
#endif
#ifndef __drv_freesMem
#define __drv_freesMem(k)
#endif
#ifndef __drv_when
#define __drv_when(c, a)
#endif
#ifndef __drv_maxIRQL
#define __drv_maxIRQL(i)
#endif
#ifndef __drv_requiresIRQL
#define __drv_requiresIRQL(i)
#endif
#ifndef __drv_dispatchType
#define __drv_dispatchType(t)
#endif
#ifndef __in
#define __in
#endif
#ifndef __in_opt
#define __in_opt
#endif
#ifndef __out
#define __out
#endif
#ifndef __out_opt
#define __out_opt
#endif
#ifndef __inout
#define __inout
#endif
#ifndef __inout_opt
#define __inout_opt
#endif
#ifndef __deref_out
#define __deref_out
#endif

/* ---- More base types -------------------------------------------------------- */
/* WCHAR is wchar_t so that L"..." literals work: 4 bytes on Linux (2 on
 * Windows). UNICODE_STRING lengths count bytes of WCHAR, as on Windows; code
 * that hard-codes 2 bytes per character does not port unchanged. */
typedef wchar_t WCHAR;
typedef WCHAR *PWCHAR, *PWCH, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWCH, *PCWSTR, *LPCWSTR;
typedef CHAR *PSTR, *LPSTR;
typedef const CHAR *PCSTR, *LPCSTR, *PCCH;
typedef int BOOL;
typedef int INT;
typedef unsigned int UINT;
typedef LONG *PLONG;
typedef LONG64 *PLONG64;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef KIRQL *PKIRQL;
typedef LONG KPRIORITY;
typedef ULONG LOGICAL;
typedef LARGE_INTEGER *PLARGE_INTEGER;
typedef ULONG64 POOL_FLAGS;

#ifndef HIGH_LEVEL
#define HIGH_LEVEL 15
#endif

typedef enum _KWAIT_REASON {
  Executive,
  FreePage,
  PageIn,
  PoolAllocation,
  DelayExecution,
  Suspended,
  UserRequest,
  WrExecutive,
  WrFreePage,
  WrPageIn,
  WrPoolAllocation,
  WrDelayExecution,
  WrSuspended,
  WrUserRequest,
  MaximumWaitReason = 40
} KWAIT_REASON;

/* ---- Helpers ---------------------------------------------------------------- */
#ifndef DBG
#define DBG 0
#endif
#ifndef ARGUMENT_PRESENT
#define ARGUMENT_PRESENT(ArgumentPointer) ((CHAR *)((ULONG_PTR)(ArgumentPointer)) != (CHAR *)NULL)
#endif
#ifndef DBG_UNREFERENCED_PARAMETER
#define DBG_UNREFERENCED_PARAMETER(P) ((void)(P))
#endif
#ifndef DBG_UNREFERENCED_LOCAL_VARIABLE
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#endif
#ifndef RTL_NUMBER_OF
#define RTL_NUMBER_OF(A) (sizeof(A) / sizeof((A)[0]))
#endif
#ifndef ARRAYSIZE
#define ARRAYSIZE(A) RTL_NUMBER_OF(A)
#endif
#define FlagOn(_F, _SF) ((_F) & (_SF))
#define BooleanFlagOn(F, SF) ((BOOLEAN)(((F) & (SF)) != 0))
#define SetFlag(_F, _SF) ((_F) |= (_SF))
#define ClearFlag(_F, _SF) ((_F) &= ~(_SF))
#define ALIGN_DOWN_BY(length, alignment) ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment) - 1))
#define ALIGN_UP_BY(length, alignment) (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment) - 1), alignment))

/* NT_ASSERT / ASSERT: checked only when DBG is non-zero (as in a Windows free
 * build otherwise); a failure prints the expression and aborts (a break into
 * the debugger on Windows). NT_VERIFY always evaluates its expression. */
OPENNDK_KCOMPAT_API void OpenNdkKcompatAssertFailed(const char *Expression, const char *Message, const char *File,
                                                    int Line);
/* Functions, not bare conditionals: used as statements they draw no unused-value warning. */
FORCEINLINE BOOLEAN OpenNdkKcompatVerified(int Value) { return Value ? TRUE : FALSE; }
FORCEINLINE BOOLEAN OpenNdkKcompatChecked(int Value, const char *Message, const char *Expression,
                                          const char *File, int Line) {
  if (!Value) OpenNdkKcompatAssertFailed(Expression, Message, File, Line);
  return Value ? TRUE : FALSE;
}
#if DBG
#define NT_ASSERTMSG(Msg, Exp) OpenNdkKcompatChecked(!!(Exp), Msg, #Exp, __FILE__, __LINE__)
#define NT_ASSERT(Exp) NT_ASSERTMSG(NULL, Exp)
#define NT_VERIFYMSG(Msg, Exp) NT_ASSERTMSG(Msg, Exp)
#define NT_VERIFY(Exp) NT_ASSERT(Exp)
#else
#define NT_ASSERTMSG(Msg, Exp) ((void)0)
#define NT_ASSERT(Exp) ((void)0)
#define NT_VERIFYMSG(Msg, Exp) OpenNdkKcompatVerified(!!(Exp))
#define NT_VERIFY(Exp) OpenNdkKcompatVerified(!!(Exp))
#endif
#ifndef ASSERT
#define ASSERT(Exp) NT_ASSERT(Exp)
#endif
#ifndef ASSERTMSG
#define ASSERTMSG(Msg, Exp) NT_ASSERTMSG(Msg, Exp)
#endif

/* ---- IRQL (emulated per thread, see the top of this file) ------------------- */
OPENNDK_KCOMPAT_API KIRQL KeGetCurrentIrql(void);
OPENNDK_KCOMPAT_API VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql);
OPENNDK_KCOMPAT_API VOID KeLowerIrql(KIRQL NewIrql);
OPENNDK_KCOMPAT_API KIRQL KeRaiseIrqlToDpcLevel(void);

/* PAGED_CODE: with DBG, asserts that the emulated IRQL is <= APC_LEVEL. */
#if DBG
#define PAGED_CODE() NT_ASSERTMSG("PAGED_CODE at IRQL > APC_LEVEL", KeGetCurrentIrql() <= APC_LEVEL)
#else
#define PAGED_CODE() ((void)0)
#endif
#define PAGED_CODE_LOCKED() ((void)0)

/* ---- Dispatcher objects: events ------------------------------------------------ */
typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;

/* The first member of every waitable object. Opaque: initialise through the Ke
 * routines only. */
typedef struct _DISPATCHER_HEADER {
  UCHAR Type;             /* EVENT_TYPE */
  UCHAR Reserved[3];
  volatile LONG SignalState; /* 0 not signaled, 1 signaled (the futex word) */
  ULONG Magic;            /* set by KeInitializeEvent: what KeWaitForSingleObject accepts */
  ULONG Reserved2;
} DISPATCHER_HEADER;

typedef struct _KEVENT {
  DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT, *PRKEVENT;

#define IO_NO_INCREMENT 0
#define EVENT_INCREMENT 1

OPENNDK_KCOMPAT_API VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
/* Returns the previous signal state. Increment and Wait are accepted and ignored. */
OPENNDK_KCOMPAT_API LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
OPENNDK_KCOMPAT_API VOID KeClearEvent(PRKEVENT Event);
OPENNDK_KCOMPAT_API LONG KeResetEvent(PRKEVENT Event);
OPENNDK_KCOMPAT_API LONG KeReadStateEvent(PRKEVENT Event);
/* Waits for a KEVENT. Timeout in 100 ns units: NULL waits forever, negative is
 * relative, positive is an absolute system time (100 ns since 1601-01-01 UTC,
 * as KeQuerySystemTime gives), 0 tests without waiting. STATUS_SUCCESS when
 * signaled (a SynchronizationEvent is reset by the satisfied wait),
 * STATUS_TIMEOUT when the time elapsed; STATUS_INVALID_PARAMETER for NULL or an
 * object that is not an initialised KEVENT. WaitReason, WaitMode and Alertable
 * are ignored (there are no APCs). */
OPENNDK_KCOMPAT_API NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                                   BOOLEAN Alertable, PLARGE_INTEGER Timeout);
/* Sleeps for Interval (same encoding as the timeout above). STATUS_SUCCESS. */
OPENNDK_KCOMPAT_API NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                    PLARGE_INTEGER Interval);
/* System time (100 ns since 1601-01-01 UTC) and a monotonic interrupt time. */
OPENNDK_KCOMPAT_API VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime);
OPENNDK_KCOMPAT_API VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);
OPENNDK_KCOMPAT_API ULONGLONG KeQueryInterruptTime(void);

/* ---- Spin locks ------------------------------------------------------------------ */
/* A test-and-set lock in the KSPIN_LOCK word: mutual exclusion as on Windows;
 * not FIFO (the in-stack queued routines take the same lock, without a queue). */
typedef struct _KSPIN_LOCK_QUEUE {
  struct _KSPIN_LOCK_QUEUE *volatile Next;
  PKSPIN_LOCK volatile Lock;
} KSPIN_LOCK_QUEUE, *PKSPIN_LOCK_QUEUE;

typedef struct _KLOCK_QUEUE_HANDLE {
  KSPIN_LOCK_QUEUE LockQueue;
  KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;

OPENNDK_KCOMPAT_API VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
OPENNDK_KCOMPAT_API VOID KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
#define KeAcquireSpinLock(SpinLock, OldIrql) KeAcquireSpinLockRaiseToDpc((SpinLock), (OldIrql))
OPENNDK_KCOMPAT_API VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
OPENNDK_KCOMPAT_API VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
OPENNDK_KCOMPAT_API VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
OPENNDK_KCOMPAT_API BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
OPENNDK_KCOMPAT_API VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
OPENNDK_KCOMPAT_API VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle);
OPENNDK_KCOMPAT_API VOID KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                                  PKLOCK_QUEUE_HANDLE LockHandle);
OPENNDK_KCOMPAT_API VOID KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle);

/* ---- Interlocked operations (full barriers, as on Windows) ------------------------ */
#define OPENNDK_SEQ __ATOMIC_SEQ_CST
FORCEINLINE LONG InterlockedIncrement(LONG volatile *Addend) { return __atomic_add_fetch(Addend, 1, OPENNDK_SEQ); }
FORCEINLINE LONG InterlockedDecrement(LONG volatile *Addend) { return __atomic_sub_fetch(Addend, 1, OPENNDK_SEQ); }
FORCEINLINE LONG InterlockedExchange(LONG volatile *Target, LONG Value) {
  return __atomic_exchange_n(Target, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG InterlockedExchangeAdd(LONG volatile *Addend, LONG Value) {
  return __atomic_fetch_add(Addend, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG InterlockedAdd(LONG volatile *Addend, LONG Value) {
  return __atomic_add_fetch(Addend, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG InterlockedCompareExchange(LONG volatile *Destination, LONG Exchange, LONG Comparand) {
  __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, OPENNDK_SEQ, OPENNDK_SEQ);
  return Comparand; /* the initial value of *Destination */
}
FORCEINLINE LONG InterlockedOr(LONG volatile *Destination, LONG Value) {
  return __atomic_fetch_or(Destination, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG InterlockedAnd(LONG volatile *Destination, LONG Value) {
  return __atomic_fetch_and(Destination, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG InterlockedXor(LONG volatile *Destination, LONG Value) {
  return __atomic_fetch_xor(Destination, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedIncrement64(LONG64 volatile *Addend) {
  return __atomic_add_fetch(Addend, 1, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedDecrement64(LONG64 volatile *Addend) {
  return __atomic_sub_fetch(Addend, 1, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedExchange64(LONG64 volatile *Target, LONG64 Value) {
  return __atomic_exchange_n(Target, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedExchangeAdd64(LONG64 volatile *Addend, LONG64 Value) {
  return __atomic_fetch_add(Addend, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedAdd64(LONG64 volatile *Addend, LONG64 Value) {
  return __atomic_add_fetch(Addend, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedCompareExchange64(LONG64 volatile *Destination, LONG64 Exchange, LONG64 Comparand) {
  __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, OPENNDK_SEQ, OPENNDK_SEQ);
  return Comparand;
}
FORCEINLINE LONG64 InterlockedOr64(LONG64 volatile *Destination, LONG64 Value) {
  return __atomic_fetch_or(Destination, Value, OPENNDK_SEQ);
}
FORCEINLINE LONG64 InterlockedAnd64(LONG64 volatile *Destination, LONG64 Value) {
  return __atomic_fetch_and(Destination, Value, OPENNDK_SEQ);
}
FORCEINLINE PVOID InterlockedExchangePointer(PVOID volatile *Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, OPENNDK_SEQ);
}
FORCEINLINE PVOID InterlockedCompareExchangePointer(PVOID volatile *Destination, PVOID Exchange, PVOID Comparand) {
  __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, OPENNDK_SEQ, OPENNDK_SEQ);
  return Comparand;
}
#define InterlockedIncrementNoFence InterlockedIncrement
#define InterlockedDecrementNoFence InterlockedDecrement
#define InterlockedIncrementAcquire InterlockedIncrement
#define InterlockedDecrementRelease InterlockedDecrement
#define InterlockedCompareExchangeAcquire InterlockedCompareExchange
#define InterlockedCompareExchangeRelease InterlockedCompareExchange
FORCEINLINE VOID KeMemoryBarrier(void) { __atomic_thread_fence(OPENNDK_SEQ); }
#define KeMemoryBarrierWithoutFence() __atomic_signal_fence(OPENNDK_SEQ)
FORCEINLINE LONG ReadAcquire(LONG const volatile *Source) { return __atomic_load_n(Source, __ATOMIC_ACQUIRE); }
FORCEINLINE VOID WriteRelease(LONG volatile *Destination, LONG Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELEASE);
}
FORCEINLINE LONG ReadNoFence(LONG const volatile *Source) { return __atomic_load_n(Source, __ATOMIC_RELAXED); }
FORCEINLINE VOID WriteNoFence(LONG volatile *Destination, LONG Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELAXED);
}

/* ---- Pool ---------------------------------------------------------------------- */
/* Every pool type is ordinary, non-paged, non-executable process memory.
 * Alignment as on Windows x64: a block of PAGE_SIZE bytes or more starts on a
 * page boundary, a smaller one on a 16-byte boundary. */
typedef enum _POOL_TYPE {
  NonPagedPool = 0,
  NonPagedPoolExecute = 0,
  PagedPool = 1,
  NonPagedPoolMustSucceed = 2,
  DontUseThisType = 3,
  NonPagedPoolCacheAligned = 4,
  PagedPoolCacheAligned = 5,
  NonPagedPoolCacheAlignedMustS = 6,
  MaxPoolType = 7,
  NonPagedPoolBase = 0,
  NonPagedPoolBaseMustSucceed = 2,
  NonPagedPoolBaseCacheAligned = 4,
  NonPagedPoolBaseCacheAlignedMustS = 6,
  NonPagedPoolSession = 32,
  PagedPoolSession = 33,
  NonPagedPoolNx = 512,
  NonPagedPoolNxCacheAligned = 516,
  NonPagedPoolSessionNx = 544
} POOL_TYPE;

typedef enum _EX_POOL_PRIORITY {
  LowPoolPriority,
  LowPoolPrioritySpecialPoolOverrun = 8,
  LowPoolPrioritySpecialPoolUnderrun = 9,
  NormalPoolPriority = 16,
  NormalPoolPrioritySpecialPoolOverrun = 24,
  NormalPoolPrioritySpecialPoolUnderrun = 25,
  HighPoolPriority = 32,
  HighPoolPrioritySpecialPoolOverrun = 40,
  HighPoolPrioritySpecialPoolUnderrun = 41
} EX_POOL_PRIORITY;

#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL

/* NULL when the size cannot be satisfied or the type is unknown. */
OPENNDK_KCOMPAT_API PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
OPENNDK_KCOMPAT_API PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                                        EX_POOL_PRIORITY Priority);
OPENNDK_KCOMPAT_API PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
/* Zeroed unless POOL_FLAG_UNINITIALIZED; exactly one of POOL_FLAG_NON_PAGED,
 * POOL_FLAG_NON_PAGED_EXECUTE, POOL_FLAG_PAGED is required, else NULL.
 * POOL_FLAG_RAISE_ON_FAILURE cannot raise here: it returns NULL as well. */
OPENNDK_KCOMPAT_API PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
/* A NULL or foreign pointer, a second free and a tag that does not match the
 * allocation's (all bug checks on Windows) are counted
 * (OpenNdkKcompatPoolErrors) and otherwise ignored. */
OPENNDK_KCOMPAT_API VOID ExFreePoolWithTag(PVOID P, ULONG Tag);
OPENNDK_KCOMPAT_API VOID ExFreePool(PVOID P);
OPENNDK_KCOMPAT_API ULONG64 OpenNdkKcompatPoolErrors(void);

/* ---- Rundown protection ------------------------------------------------------------ */
typedef struct _EX_RUNDOWN_REF {
  union {
    volatile ULONG_PTR Count; /* 2 x references | 1 while running down */
    volatile PVOID Ptr;
  };
} EX_RUNDOWN_REF, *PEX_RUNDOWN_REF;

OPENNDK_KCOMPAT_API VOID ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef);
OPENNDK_KCOMPAT_API VOID ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef);
OPENNDK_KCOMPAT_API BOOLEAN ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef);
OPENNDK_KCOMPAT_API BOOLEAN ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count);
OPENNDK_KCOMPAT_API VOID ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef);
OPENNDK_KCOMPAT_API VOID ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count);
/* Blocks new acquisitions, then waits until every acquired reference is released. */
OPENNDK_KCOMPAT_API VOID ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef);
OPENNDK_KCOMPAT_API VOID ExRundownCompleted(PEX_RUNDOWN_REF RunRef);

/* ---- Doubly and singly linked lists (inline, as in wdm.h) -------------------------- */
typedef struct _LIST_ENTRY {
  struct _LIST_ENTRY *Flink;
  struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY, *PRLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
  struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

FORCEINLINE VOID InitializeListHead(PLIST_ENTRY ListHead) { ListHead->Flink = ListHead->Blink = ListHead; }
FORCEINLINE BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead) { return (BOOLEAN)(ListHead->Flink == ListHead); }
/* TRUE when the list the entry was on is empty afterwards. */
FORCEINLINE BOOLEAN RemoveEntryList(PLIST_ENTRY Entry) {
  PLIST_ENTRY next = Entry->Flink, prev = Entry->Blink;
  prev->Flink = next;
  next->Blink = prev;
  return (BOOLEAN)(next == prev);
}
FORCEINLINE PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead) {
  PLIST_ENTRY first = ListHead->Flink;
  RemoveEntryList(first);
  return first; /* the head itself when the list was empty */
}
FORCEINLINE PLIST_ENTRY RemoveTailList(PLIST_ENTRY ListHead) {
  PLIST_ENTRY last = ListHead->Blink;
  RemoveEntryList(last);
  return last;
}
FORCEINLINE VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
  PLIST_ENTRY last = ListHead->Blink;
  Entry->Flink = ListHead;
  Entry->Blink = last;
  last->Flink = Entry;
  ListHead->Blink = Entry;
}
FORCEINLINE VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
  PLIST_ENTRY first = ListHead->Flink;
  Entry->Flink = first;
  Entry->Blink = ListHead;
  first->Blink = Entry;
  ListHead->Flink = Entry;
}
/* Appends the circular list that ListToAppend heads-less starts with. */
FORCEINLINE VOID AppendTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListToAppend) {
  PLIST_ENTRY last = ListHead->Blink;
  ListHead->Blink->Flink = ListToAppend;
  ListHead->Blink = ListToAppend->Blink;
  ListToAppend->Blink->Flink = ListHead;
  ListToAppend->Blink = last;
}
FORCEINLINE VOID PushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY Entry) {
  Entry->Next = ListHead->Next;
  ListHead->Next = Entry;
}
FORCEINLINE PSINGLE_LIST_ENTRY PopEntryList(PSINGLE_LIST_ENTRY ListHead) {
  PSINGLE_LIST_ENTRY first = ListHead->Next;
  if (first) ListHead->Next = first->Next;
  return first;
}

/* ---- Rtl memory ------------------------------------------------------------------- */
#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlSecureZeroMemory(Destination, Length) OpenNdkKcompatSecureZero((Destination), (Length))
#define RtlFillMemory(Destination, Length, Fill) memset((Destination), (Fill), (Length))
#define RtlCopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))
#define RtlEqualMemory(Destination, Source, Length) (!memcmp((Destination), (Source), (Length)))
/* Number of leading bytes that match (Length when all do). */
OPENNDK_KCOMPAT_API SIZE_T RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length);
OPENNDK_KCOMPAT_API PVOID OpenNdkKcompatSecureZero(PVOID Destination, SIZE_T Length);

/* ---- Strings -------------------------------------------------------------------------- */
typedef struct _UNICODE_STRING {
  USHORT Length;        /* bytes, without the terminator */
  USHORT MaximumLength; /* bytes of Buffer */
  PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
  USHORT Length;
  USHORT MaximumLength;
  PCHAR Buffer;
} STRING, ANSI_STRING, *PSTRING, *PANSI_STRING;
typedef const STRING *PCSTRING, *PCANSI_STRING;

#define RTL_CONSTANT_STRING(s) \
  { (USHORT)(sizeof(s) - sizeof((s)[0])), (USHORT)sizeof(s), OPENNDK_LITERAL_BUFFER(s) }
#define DECLARE_CONST_UNICODE_STRING(_var, _str) \
  const WCHAR _var##_buffer[] = _str;             \
  const UNICODE_STRING _var = {sizeof(_str) - sizeof(WCHAR), sizeof(_str), (PWCH)_var##_buffer}

/* Source NULL gives an empty string. A source longer than fits a USHORT byte
 * count is truncated at the largest whole character, as on Windows 10+. */
OPENNDK_KCOMPAT_API VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
OPENNDK_KCOMPAT_API VOID RtlInitAnsiString(PANSI_STRING DestinationString, PCSTR SourceString);
OPENNDK_KCOMPAT_API BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                                  BOOLEAN CaseInSensitive);

/* IPv4 text to address (ip2string.h). Strict: exactly four decimal parts;
 * otherwise also 1-3 parts and octal/hex parts (inet_aton rules). The Ex forms
 * take an optional ":port" (returned in network byte order, 0 when absent) and
 * require the string to end there; the plain forms stop at the first character
 * that cannot continue the address and return it in *Terminator.
 * STATUS_INVALID_PARAMETER for a malformed string or a NULL argument. */
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, PCWSTR *Terminator, IN_ADDR *Addr);
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR *Terminator, IN_ADDR *Addr);
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict, IN_ADDR *Address,
                                                       PUSHORT Port);
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict, IN_ADDR *Address,
                                                       PUSHORT Port);

/* ---- Driver and device objects (just what work items and DriverEntry need) -------- */
typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef struct _DEVICE_OBJECT {
  CSHORT Type;
  USHORT Size;
  LONG ReferenceCount;
  PDRIVER_OBJECT DriverObject;
  PVOID DeviceExtension;
  ULONG Flags;
} DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef NTSTATUS DRIVER_INITIALIZE(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef VOID DRIVER_UNLOAD(PDRIVER_OBJECT DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
struct _DRIVER_OBJECT {
  CSHORT Type;
  CSHORT Size;
  PDEVICE_OBJECT DeviceObject;
  ULONG Flags;
  UNICODE_STRING DriverName;
  PDRIVER_INITIALIZE DriverInit;
  PDRIVER_UNLOAD DriverUnload;
};
/* IRP, PIRP, MODE, KPROCESSOR_MODE, LOCK_OPERATION come from ndk/mdl.h; IRPs are not emulated. */

/* ---- Work items ------------------------------------------------------------------------ */
/* Run on a process-wide pool of worker threads (emulated PASSIVE_LEVEL). Every
 * WORK_QUEUE_TYPE shares it. Queuing an item that is still queued is ignored
 * (a bug check on Windows) and counted in OpenNdkKcompatWorkItemErrors; freeing
 * a queued item frees it after its routine has run. */
typedef struct _IO_WORKITEM IO_WORKITEM, *PIO_WORKITEM;
typedef VOID IO_WORKITEM_ROUTINE(PDEVICE_OBJECT DeviceObject, PVOID Context);
typedef IO_WORKITEM_ROUTINE *PIO_WORKITEM_ROUTINE;
typedef VOID IO_WORKITEM_ROUTINE_EX(PVOID IoObject, PVOID Context, PIO_WORKITEM IoWorkItem);
typedef IO_WORKITEM_ROUTINE_EX *PIO_WORKITEM_ROUTINE_EX;
typedef enum _WORK_QUEUE_TYPE {
  CriticalWorkQueue,
  DelayedWorkQueue,
  HyperCriticalWorkQueue,
  NormalWorkQueue,
  BackgroundWorkQueue,
  RealTimeWorkQueue,
  SuperCriticalWorkQueue,
  MaximumWorkQueue,
  CustomPriorityWorkQueue = 32
} WORK_QUEUE_TYPE;

/* NULL for a NULL IoObject or when out of memory. */
OPENNDK_KCOMPAT_API PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject);
OPENNDK_KCOMPAT_API VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem);
OPENNDK_KCOMPAT_API VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                                         WORK_QUEUE_TYPE QueueType, PVOID Context);
OPENNDK_KCOMPAT_API VOID IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine,
                                           WORK_QUEUE_TYPE QueueType, PVOID Context);
OPENNDK_KCOMPAT_API ULONG64 OpenNdkKcompatWorkItemErrors(void);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_WDK_WDM_H */
