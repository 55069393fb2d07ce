/*
 * src/kshim/mdl.c - MDL routines of include/ndk/mdl.h for a user-space
 * provider.
 *
 * There is no physical memory here: the "page frame number" of a page is its
 * virtual address >> PAGE_SHIFT, so a PFN array maps back to the virtual
 * pages it describes (docs/decisions.md, "MDL logical addresses"). Nothing is
 * pinned; the owner of the buffer keeps it alive while an MDL describes it.
 */
#include <ndk/mdl.h>

#include <stdlib.h>

/* Largest byte count one MDL describes when the caller sets no limit. */
#define KSHIM_MAX_MDL_BYTES ((ULONG)(MAXULONG & ~((ULONG)PAGE_SIZE - 1)))

/* A buffer is describable when it is non-empty, not at address 0 and does
 * not wrap around the end of the address space. */
static int kshim_range_ok(PVOID VirtualAddress, SIZE_T Length) {
  ULONG_PTR start = (ULONG_PTR)VirtualAddress;
  if (start == 0 || Length == 0) {
    return 0;
  }
  return start + (Length - 1) >= start;
}

/* Number of PFN entries the MDL's current description needs. */
static SIZE_T kshim_span_pages(const MDL *Mdl) {
  return ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), Mdl->ByteCount);
}

/* Number of PFN entries the MDL's storage can hold. Both estimates are lower
 * bounds of the allocation: Size may be truncated (never overstated), and the
 * description was valid for the storage when the MDL was initialized. */
static SIZE_T kshim_pfn_capacity(const MDL *Mdl) {
  SIZE_T by_size = 0;
  SIZE_T by_span = kshim_span_pages(Mdl);
  if (Mdl->Size >= (CSHORT)sizeof(MDL)) {
    by_size = ((SIZE_T)Mdl->Size - sizeof(MDL)) / sizeof(PFN_NUMBER);
  }
  return by_size > by_span ? by_size : by_span;
}

static void kshim_fill_pfns(PMDL Mdl) {
  PPFN_NUMBER pfns = MmGetMdlPfnArray(Mdl);
  PFN_NUMBER first = (PFN_NUMBER)((ULONG_PTR)Mdl->StartVa >> PAGE_SHIFT);
  SIZE_T pages = kshim_span_pages(Mdl);
  for (SIZE_T i = 0; i < pages; ++i) {
    pfns[i] = first + i;
  }
}

OPENNDK_API PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                               BOOLEAN ChargeQuota, PIRP Irp) {
  (void)SecondaryBuffer;
  (void)ChargeQuota;
  if (Irp != NULL || !kshim_range_ok(VirtualAddress, Length)) {
    return NULL;
  }
  PMDL mdl = (PMDL)calloc(1, MmSizeOfMdl(VirtualAddress, Length));
  if (mdl == NULL) {
    return NULL;
  }
  MmInitializeMdl(mdl, VirtualAddress, Length);
  return mdl;
}

OPENNDK_API VOID IoFreeMdl(PMDL Mdl) {
  free(Mdl);
}

OPENNDK_API VOID MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList) {
  if (MemoryDescriptorList == NULL) {
    return;
  }
  kshim_fill_pfns(MemoryDescriptorList);
  MemoryDescriptorList->MappedSystemVa = MmGetMdlVirtualAddress(MemoryDescriptorList);
  MemoryDescriptorList->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}

OPENNDK_API VOID MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                     LOCK_OPERATION Operation) {
  (void)AccessMode;
  (void)Operation;
  if (MemoryDescriptorList == NULL) {
    return;
  }
  kshim_fill_pfns(MemoryDescriptorList);
  MemoryDescriptorList->MdlFlags |= MDL_PAGES_LOCKED;
}

OPENNDK_API VOID MmUnlockPages(PMDL MemoryDescriptorList) {
  if (MemoryDescriptorList == NULL) {
    return;
  }
  MemoryDescriptorList->MdlFlags &= (CSHORT)~MDL_PAGES_LOCKED;
}

OPENNDK_API VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress,
                                   ULONG Length) {
  if (SourceMdl == NULL || TargetMdl == NULL) {
    return;
  }
  ULONG_PTR src_start = (ULONG_PTR)MmGetMdlVirtualAddress(SourceMdl);
  ULONG_PTR src_end = src_start + SourceMdl->ByteCount;
  ULONG_PTR va = (ULONG_PTR)VirtualAddress;
  if (va < src_start || va >= src_end) {
    return;
  }
  if (Length == 0) {
    Length = (ULONG)(src_end - va);
  }
  if (Length > src_end - va) {
    return;
  }
  SIZE_T pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(VirtualAddress, Length);
  if (pages > kshim_pfn_capacity(TargetMdl)) {
    return;
  }
  SIZE_T first = ((ULONG_PTR)PAGE_ALIGN(VirtualAddress) - (ULONG_PTR)SourceMdl->StartVa) >>
                 PAGE_SHIFT;
  const PFN_NUMBER *src_pfns = MmGetMdlPfnArray(SourceMdl);
  PPFN_NUMBER dst_pfns = MmGetMdlPfnArray(TargetMdl);
  for (SIZE_T i = 0; i < pages; ++i) {
    dst_pfns[i] = src_pfns[first + i];
  }
  TargetMdl->Process = SourceMdl->Process;
  TargetMdl->StartVa = PAGE_ALIGN(VirtualAddress);
  TargetMdl->ByteOffset = BYTE_OFFSET(VirtualAddress);
  TargetMdl->ByteCount = Length;
  TargetMdl->MdlFlags = (CSHORT)(MDL_PARTIAL |
                                 (SourceMdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL));
  if (SourceMdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) {
    /* The same offset into the source's system mapping (= VirtualAddress unless the
     * source's virtual address names another mapping of its pages, R122). */
    TargetMdl->MappedSystemVa = (PCHAR)SourceMdl->MappedSystemVa + (va - src_start);
    if (SourceMdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) {
      TargetMdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    }
  } else {
    TargetMdl->MappedSystemVa = NULL;
  }
}

OPENNDK_API VOID OpenNdkFreeMdlChain(PMDL MdlChain) {
  while (MdlChain != NULL) {
    PMDL next = MdlChain->Next;
    IoFreeMdl(MdlChain);
    MdlChain = next;
  }
}

OPENNDK_API PMDL OpenNdkAllocateMdlChain(PVOID VirtualAddress, SIZE_T Length,
                                         ULONG MaxBytesPerMdl) {
  if (!kshim_range_ok(VirtualAddress, Length)) {
    return NULL;
  }
  ULONG chunk_max = MaxBytesPerMdl != 0 ? MaxBytesPerMdl : KSHIM_MAX_MDL_BYTES;
  PMDL head = NULL;
  PMDL *link = &head;
  PCHAR cursor = (PCHAR)VirtualAddress;
  while (Length != 0) {
    ULONG chunk = Length < chunk_max ? (ULONG)Length : chunk_max;
    PMDL mdl = IoAllocateMdl(cursor, chunk, FALSE, FALSE, NULL);
    if (mdl == NULL) {
      OpenNdkFreeMdlChain(head);
      return NULL;
    }
    MmProbeAndLockPages(mdl, KernelMode, IoModifyAccess);
    *link = mdl;
    link = &mdl->Next;
    cursor += chunk;
    Length -= chunk;
  }
  return head;
}

OPENNDK_API SIZE_T OpenNdkGetMdlChainByteCount(const MDL *MdlChain) {
  SIZE_T total = 0;
  for (; MdlChain != NULL; MdlChain = MdlChain->Next) {
    total += MdlChain->ByteCount;
  }
  return total;
}
