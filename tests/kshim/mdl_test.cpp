// tests/kshim/mdl_test.cpp - the MDL routines of src/kshim (ndk/mdl.h,
// NDKPI.md 7.3/7.4): allocation and span, byte offsets, PFN = VA >> PAGE_SHIFT,
// chains, partial MDLs and NULL / degenerate inputs.
#include <ndk/mdl.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

// A heap buffer aligned to PAGE_SIZE so tests control the byte offset.
class PageBuffer {
 public:
  explicit PageBuffer(size_t pages)
      : base_(static_cast<char *>(std::aligned_alloc(PAGE_SIZE, pages * PAGE_SIZE))) {}
  ~PageBuffer() { std::free(base_); }
  PageBuffer(const PageBuffer &) = delete;
  PageBuffer &operator=(const PageBuffer &) = delete;
  char *at(size_t offset) const { return base_ + offset; }

 private:
  char *base_;
};

uintptr_t pfn_of(const void *va) { return reinterpret_cast<uintptr_t>(va) >> PAGE_SHIFT; }

TEST(KshimMdl, AllocateDescribesTheBuffer) {
  PageBuffer buf(4);
  char *va = buf.at(100);
  PMDL mdl = IoAllocateMdl(va, 2 * PAGE_SIZE, FALSE, FALSE, nullptr);
  ASSERT_NE(mdl, nullptr);
  EXPECT_EQ(mdl->Next, nullptr);
  EXPECT_EQ(mdl->Process, nullptr);
  EXPECT_EQ(MmGetMdlVirtualAddress(mdl), va);
  EXPECT_EQ(MmGetMdlBaseVa(mdl), buf.at(0));
  EXPECT_EQ(MmGetMdlByteOffset(mdl), 100u);
  EXPECT_EQ(MmGetMdlByteCount(mdl), 2u * PAGE_SIZE);
  // 100 + 8192 bytes touch 3 pages.
  EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, 2 * PAGE_SIZE), 3u);
  EXPECT_EQ(mdl->Size, static_cast<CSHORT>(sizeof(MDL) + 3 * sizeof(PFN_NUMBER)));
  EXPECT_EQ(MmSizeOfMdl(va, 2 * PAGE_SIZE), sizeof(MDL) + 3 * sizeof(PFN_NUMBER));
  EXPECT_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
  IoFreeMdl(mdl);
}

TEST(KshimMdl, BuildForNonPagedPoolFillsPfns) {
  PageBuffer buf(4);
  char *va = buf.at(PAGE_SIZE - 1);  // last byte of page 0 ...
  PMDL mdl = IoAllocateMdl(va, 2, FALSE, FALSE, nullptr);  // ... and first of page 1
  ASSERT_NE(mdl, nullptr);
  MmBuildMdlForNonPagedPool(mdl);
  EXPECT_NE(mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL, 0);
  EXPECT_EQ(mdl->MappedSystemVa, va);
  PPFN_NUMBER pfns = MmGetMdlPfnArray(mdl);
  EXPECT_EQ(reinterpret_cast<char *>(pfns), reinterpret_cast<char *>(mdl) + sizeof(MDL));
  EXPECT_EQ(pfns[0], pfn_of(buf.at(0)));
  EXPECT_EQ(pfns[1], pfn_of(buf.at(PAGE_SIZE)));
  EXPECT_EQ(pfns[1], pfns[0] + 1);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute), va);
  IoFreeMdl(mdl);
}

TEST(KshimMdl, ByteOffsetsAndSpans) {
  PageBuffer buf(8);
  struct Case {
    size_t offset;
    ULONG length;
    size_t pages;
  } cases[] = {
      {0, 1, 1},
      {0, PAGE_SIZE, 1},
      {0, PAGE_SIZE + 1, 2},
      {1, PAGE_SIZE, 2},
      {PAGE_SIZE - 1, 1, 1},
      {PAGE_SIZE - 1, 2, 2},
      {3 * PAGE_SIZE + 5, 3 * PAGE_SIZE, 4},
  };
  for (const Case &c : cases) {
    char *va = buf.at(c.offset);
    PMDL mdl = IoAllocateMdl(va, c.length, FALSE, FALSE, nullptr);
    ASSERT_NE(mdl, nullptr);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    EXPECT_NE(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
    EXPECT_EQ(MmGetMdlByteOffset(mdl), c.offset % PAGE_SIZE) << c.offset;
    EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl),
                                             MmGetMdlByteCount(mdl)),
              c.pages)
        << c.offset << "+" << c.length;
    PPFN_NUMBER pfns = MmGetMdlPfnArray(mdl);
    for (size_t i = 0; i < c.pages; ++i) {
      EXPECT_EQ(pfns[i], pfn_of(PAGE_ALIGN(va)) + i);
    }
    MmUnlockPages(mdl);
    EXPECT_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
    IoFreeMdl(mdl);
  }
}

TEST(KshimMdl, InitializeMdlInCallerStorage) {
  PageBuffer buf(2);
  alignas(MDL) unsigned char storage[sizeof(MDL) + 2 * sizeof(PFN_NUMBER)];
  PMDL mdl = reinterpret_cast<PMDL>(storage);
  char *va = buf.at(10);
  ASSERT_LE(MmSizeOfMdl(va, PAGE_SIZE), sizeof(storage));
  MmInitializeMdl(mdl, va, PAGE_SIZE);
  MmBuildMdlForNonPagedPool(mdl);
  EXPECT_EQ(MmGetMdlVirtualAddress(mdl), va);
  EXPECT_EQ(MmGetMdlPfnArray(mdl)[1], pfn_of(buf.at(PAGE_SIZE)));
}

TEST(KshimMdl, ChainCoversTheWholeBuffer) {
  PageBuffer buf(8);
  char *va = buf.at(300);
  const SIZE_T length = 5 * PAGE_SIZE + 17;
  PMDL chain = OpenNdkAllocateMdlChain(va, length, PAGE_SIZE + 100);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(OpenNdkGetMdlChainByteCount(chain), length);
  // Each MDL continues exactly where the previous one ended.
  char *expect = va;
  size_t count = 0;
  for (PMDL m = chain; m != nullptr; m = m->Next, ++count) {
    EXPECT_EQ(MmGetMdlVirtualAddress(m), expect);
    EXPECT_LE(MmGetMdlByteCount(m), PAGE_SIZE + 100u);
    EXPECT_NE(m->MdlFlags & MDL_PAGES_LOCKED, 0);
    EXPECT_EQ(MmGetMdlByteOffset(m), BYTE_OFFSET(expect));
    EXPECT_EQ(MmGetMdlPfnArray(m)[0], pfn_of(expect));
    expect += MmGetMdlByteCount(m);
  }
  EXPECT_EQ(expect, va + length);
  EXPECT_EQ(count, 5u);  // ceil((5*4096+17) / 4196)
  OpenNdkFreeMdlChain(chain);
}

TEST(KshimMdl, ChainWithoutLimitIsOneMdl) {
  PageBuffer buf(4);
  PMDL chain = OpenNdkAllocateMdlChain(buf.at(1), 3 * PAGE_SIZE, 0);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Next, nullptr);
  EXPECT_EQ(MmGetMdlByteCount(chain), 3u * PAGE_SIZE);
  OpenNdkFreeMdlChain(chain);
}

TEST(KshimMdl, ManuallyLinkedChain) {
  PageBuffer a(2);
  PageBuffer b(2);
  PMDL first = IoAllocateMdl(a.at(0), PAGE_SIZE, FALSE, FALSE, nullptr);
  PMDL second = IoAllocateMdl(b.at(0), 100, FALSE, FALSE, nullptr);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  first->Next = second;
  EXPECT_EQ(OpenNdkGetMdlChainByteCount(first), PAGE_SIZE + 100u);
  OpenNdkFreeMdlChain(first);
}

TEST(KshimMdl, PartialMdl) {
  PageBuffer buf(4);
  PMDL source = IoAllocateMdl(buf.at(0), 4 * PAGE_SIZE, FALSE, FALSE, nullptr);
  ASSERT_NE(source, nullptr);
  MmBuildMdlForNonPagedPool(source);
  char *sub = buf.at(PAGE_SIZE + 7);
  PMDL target = IoAllocateMdl(sub, 2 * PAGE_SIZE, FALSE, FALSE, nullptr);
  ASSERT_NE(target, nullptr);
  IoBuildPartialMdl(source, target, sub, 2 * PAGE_SIZE);
  EXPECT_NE(target->MdlFlags & MDL_PARTIAL, 0);
  EXPECT_NE(target->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL, 0);
  EXPECT_EQ(MmGetMdlVirtualAddress(target), sub);
  EXPECT_EQ(MmGetMdlByteOffset(target), 7u);
  EXPECT_EQ(MmGetMdlPfnArray(target)[0], MmGetMdlPfnArray(source)[1]);
  EXPECT_EQ(MmGetMdlPfnArray(target)[2], MmGetMdlPfnArray(source)[3]);
  EXPECT_EQ(target->MappedSystemVa, sub);
  // Length 0 = to the end of the source (4*PAGE_SIZE - (PAGE_SIZE+7)).
  PMDL tail = IoAllocateMdl(sub, 3 * PAGE_SIZE, FALSE, FALSE, nullptr);
  ASSERT_NE(tail, nullptr);
  IoBuildPartialMdl(source, tail, sub, 0);
  EXPECT_EQ(MmGetMdlByteCount(tail), 3u * PAGE_SIZE - 7u);
  // Out of range and too-small targets leave the target unchanged.
  IoBuildPartialMdl(source, tail, buf.at(0) + 4 * PAGE_SIZE, 1);
  IoBuildPartialMdl(source, target, buf.at(0), 4 * PAGE_SIZE);
  EXPECT_EQ(MmGetMdlVirtualAddress(target), sub);
  EXPECT_EQ(MmGetMdlByteCount(tail), 3u * PAGE_SIZE - 7u);
  IoFreeMdl(tail);
  IoFreeMdl(target);
  IoFreeMdl(source);
}

TEST(KshimMdl, NullAndDegenerateInputs) {
  PageBuffer buf(1);
  EXPECT_EQ(IoAllocateMdl(nullptr, PAGE_SIZE, FALSE, FALSE, nullptr), nullptr);
  EXPECT_EQ(IoAllocateMdl(buf.at(0), 0, FALSE, FALSE, nullptr), nullptr);
  // Wrapping past the end of the address space.
  EXPECT_EQ(IoAllocateMdl(reinterpret_cast<PVOID>(UINTPTR_MAX - 10), 100, FALSE, FALSE, nullptr),
            nullptr);
  // OpenNDK has no IRPs.
  EXPECT_EQ(IoAllocateMdl(buf.at(0), 1, FALSE, FALSE, reinterpret_cast<PIRP>(buf.at(0))),
            nullptr);
  EXPECT_EQ(OpenNdkAllocateMdlChain(nullptr, 10, 0), nullptr);
  EXPECT_EQ(OpenNdkAllocateMdlChain(buf.at(0), 0, 0), nullptr);
  EXPECT_EQ(OpenNdkGetMdlChainByteCount(nullptr), 0u);
  // None of these may crash.
  IoFreeMdl(nullptr);
  MmBuildMdlForNonPagedPool(nullptr);
  MmProbeAndLockPages(nullptr, KernelMode, IoReadAccess);
  MmUnlockPages(nullptr);
  IoBuildPartialMdl(nullptr, nullptr, nullptr, 0);
  OpenNdkFreeMdlChain(nullptr);
}

TEST(KshimMdl, LargeMdlKeepsAllPfns) {
  // 64 MiB: more pages than a CSHORT Size can count; the PFN array must still
  // cover the span (Size is truncated as on Windows).
  const ULONG length = 64u << 20;
  std::vector<char> storage(length + PAGE_SIZE);
  char *va = static_cast<char *>(PAGE_ALIGN(storage.data() + PAGE_SIZE - 1));
  PMDL mdl = IoAllocateMdl(va, length, FALSE, FALSE, nullptr);
  ASSERT_NE(mdl, nullptr);
  MmBuildMdlForNonPagedPool(mdl);
  const size_t pages = length / PAGE_SIZE;
  EXPECT_EQ(MmGetMdlPfnArray(mdl)[pages - 1], pfn_of(va) + pages - 1);
  IoFreeMdl(mdl);
}

}  // namespace
