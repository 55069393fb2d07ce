/*
 * ndk/mdl.h - memory descriptor lists (MDL) and their accessors (wdm.h).
 *
 * Spec: NDKPI.md section 7.3 and 7.4. An MDL describes one virtually
 * contiguous buffer: StartVa (page aligned) + ByteOffset is the first byte,
 * ByteCount its length. The header is followed in memory by one PFN_NUMBER
 * per page the buffer touches, i.e.
 *   ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), ByteCount)
 * entries. Longer buffers are described by chains linked through Next.
 *
 * OpenNDK runs in user space (docs/decisions.md, "MDL logical addresses"):
 *  - a PFN is the page's virtual address >> PAGE_SHIFT (no physical memory);
 *  - "locking" pins nothing: the caller keeps the buffer alive and mapped;
 *  - the system address of an MDL is its virtual address.
 * The accessor macros are those of wdm.h; the functions are exported by
 * libopenndk (implemented in src/kshim/).
 *
 * Size is a CSHORT as on Windows; for MDLs of more than about 4080 pages the
 * stored value is truncated exactly as Windows' MmInitializeMdl truncates it.
 * Always size the PFN array from ByteOffset and ByteCount, never from Size.
 */
#ifndef OPENNDK_NDK_MDL_H
#define OPENNDK_NDK_MDL_H

#include <ndk/nt_types.h>
#include <ndk/openndk_api.h>

OPENNDK_EXTERN_C_BEGIN

typedef ULONG_PTR PFN_NUMBER, *PPFN_NUMBER;

/* Opaque kernel objects that MDL functions mention but OpenNDK never uses. */
typedef struct _EPROCESS *PEPROCESS;
typedef struct _IRP IRP, *PIRP;

typedef struct _MDL {
  struct _MDL *Next;         /* next MDL of a chain, or NULL */
  CSHORT Size;               /* header + PFN array, bytes (see above) */
  CSHORT MdlFlags;           /* MDL_* */
  struct _EPROCESS *Process; /* always NULL in OpenNDK */
  PVOID MappedSystemVa;      /* valid when MDL_MAPPED_TO_SYSTEM_VA or _NONPAGED_POOL */
  PVOID StartVa;             /* page-aligned address of the first page */
  ULONG ByteCount;           /* bytes described by this MDL */
  ULONG ByteOffset;          /* offset of the first byte within the first page */
} MDL, *PMDL;

/* MdlFlags bits (wdm.h values). */
#define MDL_MAPPED_TO_SYSTEM_VA 0x0001
#define MDL_PAGES_LOCKED 0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE 0x0008
#define MDL_PARTIAL 0x0010

/* Page priorities of MmGetSystemAddressForMdlSafe (accepted and ignored). */
typedef enum _MM_PAGE_PRIORITY {
  LowPagePriority = 0,
  NormalPagePriority = 16,
  HighPagePriority = 32
} MM_PAGE_PRIORITY;
#define MdlMappingNoWrite 0x80000000
#define MdlMappingNoExecute 0x40000000

/* Arguments of MmProbeAndLockPages (accepted and ignored). */
typedef CCHAR KPROCESSOR_MODE;
typedef enum _MODE { KernelMode = 0, UserMode = 1, MaximumMode = 2 } MODE;
typedef enum _LOCK_OPERATION {
  IoReadAccess = 0,
  IoWriteAccess = 1,
  IoModifyAccess = 2
} LOCK_OPERATION;

/* ---- Accessors (macros, as in wdm.h) ---- */
#define MmGetMdlVirtualAddress(Mdl) \
  ((PVOID)((PCHAR)((Mdl)->StartVa) + (Mdl)->ByteOffset))
#define MmGetMdlByteCount(Mdl) ((Mdl)->ByteCount)
#define MmGetMdlByteOffset(Mdl) ((Mdl)->ByteOffset)
#define MmGetMdlBaseVa(Mdl) ((Mdl)->StartVa)
#define MmGetMdlPfnArray(Mdl) ((PPFN_NUMBER)((Mdl) + 1))

/* Bytes needed for an MDL describing [Base, Base + Length). */
#define MmSizeOfMdl(Base, Length) \
  ((SIZE_T)(sizeof(MDL) + \
            sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES((Base), (Length))))

/* Initializes an MDL header in caller-provided storage of MmSizeOfMdl bytes. */
#define MmInitializeMdl(MemoryDescriptorList, BaseVa, Length)                  \
  do {                                                                         \
    (MemoryDescriptorList)->Next = (PMDL)NULL;                                 \
    (MemoryDescriptorList)->Size = (CSHORT)(sizeof(MDL) +                      \
        (sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES((BaseVa), (Length)))); \
    (MemoryDescriptorList)->MdlFlags = 0;                                      \
    (MemoryDescriptorList)->Process = (struct _EPROCESS *)NULL;                \
    (MemoryDescriptorList)->MappedSystemVa = (PVOID)NULL;                      \
    (MemoryDescriptorList)->StartVa = PAGE_ALIGN(BaseVa);                      \
    (MemoryDescriptorList)->ByteOffset = BYTE_OFFSET(BaseVa);                  \
    (MemoryDescriptorList)->ByteCount = (ULONG)(Length);                       \
  } while (0)

/* The system address of the buffer: MappedSystemVa when the MDL records a system
 * mapping (MDL_MAPPED_TO_SYSTEM_VA or MDL_SOURCE_IS_NONPAGED_POOL, as in wdm.h),
 * else (user space: nothing to map) its virtual address. An MDL whose
 * StartVa/ByteOffset name another mapping of the pages is reached through
 * MappedSystemVa (R122). */
#define MmGetSystemAddressForMdlSafe(Mdl, Priority)                          \
  ((void)(Priority),                                                         \
   (((Mdl)->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) \
        ? (Mdl)->MappedSystemVa                                              \
        : MmGetMdlVirtualAddress(Mdl)))

/* ---- Exported functions (src/kshim/mdl.c) ---- */

/* Allocates an MDL (header + PFN array) for [VirtualAddress, +Length).
 * The PFN array is not filled until MmBuildMdlForNonPagedPool or
 * MmProbeAndLockPages. Returns NULL when VirtualAddress is NULL, Length is 0,
 * the range wraps around the address space, or memory is short. Irp must be
 * NULL (OpenNDK has no IRPs); SecondaryBuffer and ChargeQuota are ignored. */
OPENNDK_API PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length,
                               BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota,
                               PIRP Irp);

/* Frees one MDL allocated by IoAllocateMdl (not the rest of its chain).
 * NULL is ignored. */
OPENNDK_API VOID IoFreeMdl(PMDL Mdl);

/* Fills the PFN array (PFN = VA >> PAGE_SHIFT), sets MappedSystemVa and
 * MDL_SOURCE_IS_NONPAGED_POOL. NULL is ignored. */
OPENNDK_API VOID MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList);

/* Fills the PFN array and sets MDL_PAGES_LOCKED (nothing is pinned; see the
 * header comment). NULL is ignored. */
OPENNDK_API VOID MmProbeAndLockPages(PMDL MemoryDescriptorList,
                                     KPROCESSOR_MODE AccessMode,
                                     LOCK_OPERATION Operation);

/* Clears MDL_PAGES_LOCKED. NULL is ignored. */
OPENNDK_API VOID MmUnlockPages(PMDL MemoryDescriptorList);

/* Makes TargetMdl describe [VirtualAddress, +Length) inside SourceMdl
 * (Length 0 = up to the end of SourceMdl), copying the PFNs; sets
 * MDL_PARTIAL. The range must lie inside SourceMdl and TargetMdl must be
 * large enough; otherwise TargetMdl is left unchanged. */
OPENNDK_API VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl,
                                   PVOID VirtualAddress, ULONG Length);

/* ---- OpenNDK helpers (section 7.4 [D]) ---- */

/* Describes [VirtualAddress, +Length) with a chain of MDLs of at most
 * MaxBytesPerMdl bytes each (0 = as large as one MDL can be), PFN arrays
 * filled and MDL_PAGES_LOCKED set. Returns the head or NULL (same argument
 * rules as IoAllocateMdl, with a SIZE_T length). Free with
 * OpenNdkFreeMdlChain. */
OPENNDK_API PMDL OpenNdkAllocateMdlChain(PVOID VirtualAddress, SIZE_T Length,
                                         ULONG MaxBytesPerMdl);

/* Frees every MDL of a chain (IoFreeMdl on each). NULL is ignored. */
OPENNDK_API VOID OpenNdkFreeMdlChain(PMDL MdlChain);

/* Sum of MmGetMdlByteCount over a chain (0 for NULL). */
OPENNDK_API SIZE_T OpenNdkGetMdlChainByteCount(const MDL *MdlChain);

OPENNDK_EXTERN_C_END

#endif /* OPENNDK_NDK_MDL_H */
