// Pool allocation of libopenndk_kcompat (include/wdk/wdm.h). Windows x64 alignment: a block of
// PAGE_SIZE bytes or more starts on a page boundary (consumers rely on it, e.g. a first-byte
// offset of 0 in an MDL they build over it), a smaller one on 16 bytes. Small blocks carry a
// 16-byte header before the block; page-sized ones are mmap'ed and recorded in a table, so that
// their first byte is the page's.
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "kcompat/internal.h"
#include "wdk/wdm.h"

namespace {

constexpr std::uint32_t kLiveMagic = 0x4c4f4f50;  // "POOL"
constexpr std::uint32_t kFreedMagic = 0x44454546;  // "FEED"
constexpr SIZE_T kMaxPoolBytes = SIZE_T{1} << 40;  // larger requests fail like an exhausted pool

struct alignas(16) SmallHeader {
  std::uint32_t magic;
  std::uint32_t tag;
  std::uint64_t size;
};
static_assert(sizeof(SmallHeader) == 16, "keeps the 16-byte alignment of malloc");

struct Large {
  SIZE_T mapped;
  ULONG tag;
};

struct LargeTable {
  std::mutex mu;
  std::unordered_map<std::uintptr_t, Large> blocks;
};
LargeTable& large() {
  static LargeTable* t = new LargeTable;  // never destroyed: frees may run during static teardown
  return *t;
}

std::atomic<ULONG64> g_pool_errors{0};

void poolError(const char* what) {
  g_pool_errors.fetch_add(1, std::memory_order_relaxed);
  openndk::kcompat::report(what);
}

bool knownType(POOL_TYPE t) {
  switch (t) {
    case NonPagedPool:
    case PagedPool:
    case NonPagedPoolMustSucceed:
    case NonPagedPoolCacheAligned:
    case PagedPoolCacheAligned:
    case NonPagedPoolCacheAlignedMustS:
    case NonPagedPoolSession:
    case PagedPoolSession:
    case NonPagedPoolNx:
    case NonPagedPoolNxCacheAligned:
    case NonPagedPoolSessionNx:
      return true;
    default:
      return false;
  }
}

PVOID allocate(SIZE_T bytes, ULONG tag, bool zero) {
  if (bytes > kMaxPoolBytes) return nullptr;
  if (bytes >= PAGE_SIZE) {
    const SIZE_T mapped = (bytes + PAGE_SIZE - 1) & ~static_cast<SIZE_T>(PAGE_SIZE - 1);
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;  // fresh anonymous pages are zero either way
    std::lock_guard lock(large().mu);
    large().blocks[reinterpret_cast<std::uintptr_t>(p)] = Large{mapped, tag};
    return p;
  }
  auto* h = static_cast<SmallHeader*>(std::malloc(sizeof(SmallHeader) + (bytes ? bytes : 1)));
  if (!h) return nullptr;
  h->magic = kLiveMagic;
  h->tag = tag;
  h->size = bytes;
  if (zero) std::memset(h + 1, 0, bytes);
  return h + 1;
}

void release(PVOID p, bool checkTag, ULONG tag) {
  if (!p) {
    poolError("ExFreePool: NULL pointer");
    return;
  }
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  if ((addr & (PAGE_SIZE - 1)) == 0) {
    Large l{};
    bool found = false;
    {
      std::lock_guard lock(large().mu);
      auto it = large().blocks.find(addr);
      if (it != large().blocks.end()) {
        l = it->second;
        found = true;
        if (!checkTag || l.tag == tag) large().blocks.erase(it);
      }
    }
    if (found) {
      if (checkTag && l.tag != tag) {
        poolError("ExFreePoolWithTag: tag differs from the allocation's");
        return;
      }
      munmap(p, l.mapped);
      return;
    }
  }
  if ((addr & 15) != 0) {
    poolError("ExFreePool: not a pool block");
    return;
  }
  auto* h = static_cast<SmallHeader*>(p) - 1;
  if (h->magic == kFreedMagic) {
    poolError("ExFreePool: block freed twice");
    return;
  }
  if (h->magic != kLiveMagic) {
    poolError("ExFreePool: not a pool block");
    return;
  }
  if (checkTag && h->tag != tag) {
    poolError("ExFreePoolWithTag: tag differs from the allocation's");
    return;
  }
  h->magic = kFreedMagic;
  std::free(h);
}

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  if (!knownType(PoolType)) return nullptr;
  return allocate(NumberOfBytes, Tag, false);
}

OPENNDK_KCOMPAT_API PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                                        EX_POOL_PRIORITY) {
  return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

OPENNDK_KCOMPAT_API PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return ExAllocatePoolWithTag(PoolType, NumberOfBytes, 0x656e6f4e);  // 'None', as Windows tags it
}

OPENNDK_KCOMPAT_API PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) {
  const POOL_FLAGS kinds = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
  if (kinds != POOL_FLAG_NON_PAGED && kinds != POOL_FLAG_NON_PAGED_EXECUTE && kinds != POOL_FLAG_PAGED) return nullptr;
  if (Tag == 0) return nullptr;  // ExAllocatePool2 requires a non-zero tag
  return allocate(NumberOfBytes, Tag, (Flags & POOL_FLAG_UNINITIALIZED) == 0);
}

OPENNDK_KCOMPAT_API VOID ExFreePoolWithTag(PVOID P, ULONG Tag) { release(P, true, Tag); }

OPENNDK_KCOMPAT_API VOID ExFreePool(PVOID P) { release(P, false, 0); }

OPENNDK_KCOMPAT_API ULONG64 OpenNdkKcompatPoolErrors(void) { return g_pool_errors.load(); }

}  // extern "C"
