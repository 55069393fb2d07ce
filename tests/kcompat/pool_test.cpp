// Pool allocation: alignment like Windows x64 (>= PAGE_SIZE page-aligned, else 16 bytes),
// ExAllocatePool2 zeroing and flag rules, and bad frees that Windows bug-checks on.
#include <gtest/gtest.h>

#include <cstdint>

#include "wdk/wdm.h"

namespace {

constexpr ULONG kTag = 0x74736554;  // 'Test'

TEST(ExPool, AlignmentLikeWindows) {
  for (SIZE_T size : {SIZE_T{1}, SIZE_T{15}, SIZE_T{16}, SIZE_T{100}, SIZE_T{PAGE_SIZE - 1}}) {
    PVOID p = ExAllocatePoolWithTagPriority(NonPagedPoolNx, size, kTag, NormalPoolPriority);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(0u, reinterpret_cast<std::uintptr_t>(p) % 16) << size;
    memset(p, 0x5a, size);
    ExFreePoolWithTag(p, kTag);
  }
  for (SIZE_T size : {SIZE_T{PAGE_SIZE}, SIZE_T{PAGE_SIZE + 1}, SIZE_T{64 * PAGE_SIZE}}) {
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, size, kTag);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(0u, BYTE_OFFSET(p)) << "a first-byte offset of 0 for " << size;
    memset(p, 0x5a, size);
    ExFreePoolWithTag(p, kTag);
  }
}

TEST(ExPool, Pool2ZeroesUnlessUninitialized) {
  auto* p = static_cast<unsigned char*>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 256, kTag));
  ASSERT_NE(nullptr, p);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(0, p[i]);
  memset(p, 0xff, 256);
  ExFreePoolWithTag(p, kTag);
  PVOID big = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED, 3 * PAGE_SIZE, kTag);
  ASSERT_NE(nullptr, big);
  EXPECT_EQ(0u, BYTE_OFFSET(big));
  ExFreePool(big);
}

TEST(ExPool, BadRequestsFail) {
  EXPECT_EQ(nullptr, ExAllocatePool2(0, 16, kTag)) << "no pool kind";
  EXPECT_EQ(nullptr, ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, kTag)) << "two kinds";
  EXPECT_EQ(nullptr, ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0)) << "zero tag";
  EXPECT_EQ(nullptr, ExAllocatePoolWithTag(static_cast<POOL_TYPE>(77), 16, kTag)) << "unknown type";
  EXPECT_EQ(nullptr, ExAllocatePoolWithTag(NonPagedPoolNx, ~SIZE_T{0}, kTag)) << "impossible size";
  PVOID zero = ExAllocatePool(NonPagedPool, 0);
  EXPECT_NE(nullptr, zero) << "a zero-byte block is a valid block";
  ExFreePool(zero);
}

TEST(ExPool, BadFreesAreCountedNotFatal) {
  const ULONG64 before = OpenNdkKcompatPoolErrors();
  ExFreePool(nullptr);
  PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, kTag);
  ASSERT_NE(nullptr, p);
  ExFreePoolWithTag(p, kTag + 1);  // wrong tag: refused, block stays allocated
  EXPECT_EQ(before + 2, OpenNdkKcompatPoolErrors());
  ExFreePoolWithTag(p, kTag);
  EXPECT_EQ(before + 2, OpenNdkKcompatPoolErrors());
  PVOID big = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, kTag);
  ASSERT_NE(nullptr, big);
  ExFreePoolWithTag(big, 0x21212121);
  EXPECT_EQ(before + 3, OpenNdkKcompatPoolErrors());
  ExFreePoolWithTag(big, kTag);
  alignas(16) static unsigned char notPool[64] = {};
  ExFreePool(notPool + 16);
  EXPECT_EQ(before + 4, OpenNdkKcompatPoolErrors());
  ExFreePool(notPool + 3);  // misaligned
  EXPECT_EQ(before + 5, OpenNdkKcompatPoolErrors());
}

}  // namespace
