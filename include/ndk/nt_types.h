/*
 * ndk/nt_types.h - Windows base types with their Windows (LLP64) widths.
 *
 * Spec: NDKPI.md section 7.1-7.3, 7.6. On Linux LP64 "long" is 64 bits, but
 * the NDKPI ABI needs ULONG/LONG to be 32 bits, so nothing here is defined in
 * terms of "long"; fixed-width types from <stdint.h> are used instead.
 * Pointer-sized types (ULONG_PTR, SIZE_T, KAFFINITY, PFN_NUMBER) are 64 bits.
 */
#ifndef OPENNDK_NDK_NT_TYPES_H
#define OPENNDK_NDK_NT_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* ---- Calling-convention and annotation macros (no meaning on Linux) ----
 * Empty stand-ins for the SAL annotations and calling conventions that NDK
 * code written for Windows commonly carries, so it compiles unchanged. Each
 * is defined only if nobody defined it before. */
#ifndef NTAPI
#define NTAPI
#endif
#ifndef NDIS_API
#define NDIS_API
#endif
#ifndef _In_
#define _In_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _Out_opt_
#define _Out_opt_
#endif
#ifndef _Inout_
#define _Inout_
#endif
#ifndef _Inout_opt_
#define _Inout_opt_
#endif
#ifndef _Outptr_
#define _Outptr_
#endif
#ifndef _In_reads_
#define _In_reads_(size)
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(size)
#endif
#ifndef _In_reads_bytes_opt_
#define _In_reads_bytes_opt_(size)
#endif
#ifndef _Out_writes_
#define _Out_writes_(size)
#endif
#ifndef _Out_writes_bytes_opt_
#define _Out_writes_bytes_opt_(size)
#endif
#ifndef _Must_inspect_result_
#define _Must_inspect_result_
#endif
#ifndef _Use_decl_annotations_
#define _Use_decl_annotations_
#endif
#ifndef _IRQL_requires_
#define _IRQL_requires_(irql)
#endif
#ifndef _IRQL_requires_max_
#define _IRQL_requires_max_(irql)
#endif
#ifndef _Function_class_
#define _Function_class_(name)
#endif
#ifndef UNREFERENCED_PARAMETER
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#endif

/* ---- Scalar types (7.1) ---- */
#ifndef VOID
#define VOID void
#endif
typedef void *PVOID;
typedef char CHAR;
typedef CHAR *PCHAR;
typedef signed char CCHAR;
typedef uint8_t UCHAR;
typedef UCHAR *PUCHAR;
typedef int16_t SHORT;
typedef int16_t CSHORT;
typedef uint16_t USHORT;
typedef USHORT *PUSHORT;
typedef int32_t LONG;
typedef LONG *PLONG;
typedef uint32_t ULONG;
typedef ULONG *PULONG;
typedef int32_t INT32;
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int64_t INT64;
typedef int64_t LONG64;
typedef uint64_t ULONG64;
typedef ULONG64 *PULONG64;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef ULONG_PTR *PULONG_PTR;
typedef ULONG_PTR SIZE_T;
typedef SIZE_T *PSIZE_T;

/* BOOLEAN is one byte (UCHAR), never C++ bool. */
typedef UCHAR BOOLEAN;
typedef BOOLEAN *PBOOLEAN;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* NTSTATUS is a signed 32-bit value; negative = error or warning. */
typedef LONG NTSTATUS;
typedef NTSTATUS *PNTSTATUS;
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

#define MAXUCHAR 0xFF
#define MAXUSHORT 0xFFFF
#define MAXULONG 0xFFFFFFFF
#define MAXLONG 0x7FFFFFFF

/* ---- GUID (7.1) ---- */
#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
  ULONG Data1;
  USHORT Data2;
  USHORT Data3;
  UCHAR Data4[8];
} GUID;
#endif
typedef GUID *PGUID;

/* ---- LARGE_INTEGER / PHYSICAL_ADDRESS (7.2) ---- */
/* The anonymous struct is standard C11 but an extension in C++;
 * __extension__ keeps -Wpedantic C++ consumers quiet. */
#if defined(__GNUC__) || defined(__clang__)
#define OPENNDK_ANONYMOUS_STRUCT __extension__ struct
#else
#define OPENNDK_ANONYMOUS_STRUCT struct
#endif
typedef union _LARGE_INTEGER {
  OPENNDK_ANONYMOUS_STRUCT {
    ULONG LowPart;
    LONG HighPart;
  };
  struct {
    ULONG LowPart;
    LONG HighPart;
  } u;
  LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

/* ---- Processor affinity (7.6) ---- */
typedef ULONG_PTR KAFFINITY;
typedef struct _GROUP_AFFINITY {
  KAFFINITY Mask;
  USHORT Group;
  USHORT Reserved[3];
} GROUP_AFFINITY, *PGROUP_AFFINITY;

/* ---- Network interface index (netioapi.h) ---- */
typedef ULONG NET_IFINDEX, *PNET_IFINDEX;

/* ---- Structure helpers ---- */
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_SIZEOF_THROUGH_FIELD(type, field) \
  (FIELD_OFFSET(type, field) + RTL_FIELD_SIZE(type, field))
#define CONTAINING_RECORD(address, type, field) \
  ((type *)((PCHAR)(address) - offsetof(type, field)))

/* ---- Pages (7.3) ----
 * PAGE_SIZE is the Windows x64/ARM64 value, 4096, whatever the Linux page
 * size is; it is the size of every adapter page of a LAM / fast-register
 * array and the granule of MDL PFN arrays. */
#ifndef PAGE_SIZE
#define PAGE_SIZE 0x1000
#endif
#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif
#define BYTE_OFFSET(Va) ((ULONG)((ULONG_PTR)(Va) & (PAGE_SIZE - 1)))
#define PAGE_ALIGN(Va) ((PVOID)((ULONG_PTR)(Va) & ~((ULONG_PTR)PAGE_SIZE - 1)))
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size) \
  ((BYTE_OFFSET(Va) + ((SIZE_T)(Size)) + (PAGE_SIZE - 1)) >> PAGE_SHIFT)
#define BYTES_TO_PAGES(Size) \
  (((SIZE_T)(Size) >> PAGE_SHIFT) + (((SIZE_T)(Size) & (PAGE_SIZE - 1)) != 0))
#define ROUND_TO_PAGES(Size) \
  (((ULONG_PTR)(Size) + PAGE_SIZE - 1) & ~((ULONG_PTR)PAGE_SIZE - 1))

/* ---- IRQL (7.8), informational only in user space ---- */
typedef UCHAR KIRQL;
#define PASSIVE_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

#endif /* OPENNDK_NDK_NT_TYPES_H */
