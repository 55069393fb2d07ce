// Adapter-wide table of memory tokens (STags): what the data path consults for every local SGE and
// every incoming remote access.
//
// A token is (index << kKeyBits) | key, like a hardware STag: the index (20 bits) names a slot, the
// key (12 bits) is random per (re)registration, so a stale or guessed token does not match
// (R126). Index 0 is never given to a region: the privileged token of the adapter is
// (0 << kKeyBits) | random non-zero key, so region tokens are never 0 and never equal to it.
#pragma once
#include <ndk/ndk.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <vector>

namespace openndk::provider {

class Object;
class Pd;

// Access rights of a registration.
inline constexpr std::uint32_t kAccessLocalRead = 0;  // always granted
inline constexpr std::uint32_t kAccessLocalWrite = 1;
inline constexpr std::uint32_t kAccessRemoteRead = 2;
inline constexpr std::uint32_t kAccessRemoteWrite = 4;

enum class StagKind { Mr, FastMr, Mw };

// One virtually contiguous piece of a registration: `length` bytes starting `offset` bytes into
// the region are at `system` (recorded from the MDL or the logical page addresses, R122).
struct MemSegment {
  std::uint64_t offset;
  std::uint8_t* system;
  std::uint64_t length;
};

struct StagEntry {
  UINT32 token = 0;
  StagKind kind = StagKind::Mr;
  Pd* pd = nullptr;
  Object* owner = nullptr;  // the Mr or Mw
  std::uint64_t va = 0;     // first address (not zero-based, R123)
  std::uint64_t length = 0;
  std::uint32_t access = 0;
  std::shared_ptr<const std::vector<MemSegment>> segments;
  std::uint64_t segOffset = 0;  // region offset 0 is segment offset segOffset (windows)
  // [va, va+len) inside the registration?
  bool covers(std::uint64_t addr, std::uint64_t len) const {
    return addr >= va && len <= length && addr - va <= length - len;
  }
};

class StagTable {
 public:
  static constexpr unsigned kKeyBits = 12;
  static constexpr UINT32 kKeyMask = (1u << kKeyBits) - 1;
  static constexpr UINT32 kMaxIndex = (1u << (32 - kKeyBits)) - 1;

  StagTable();

  UINT32 privilegedToken() const { return privileged_; }
  // Allocates a slot and a token for `e` (e.token is set). Returns 0 when the table is full.
  UINT32 insert(StagEntry e);
  // Gives the slot of `token` a fresh key (new token value, R126); the new token is reserved but
  // not valid until update(). Returns the new token, 0 if `token` does not name a slot.
  UINT32 rekey(UINT32 token);
  // Replaces the contents keeping the token (invalid → false).
  bool update(UINT32 token, const StagEntry& e);
  // Invalidates `token` (the slot keeps reserving its index until remove()).
  bool invalidate(UINT32 token);
  // Frees the slot of `token` (valid or invalidated).
  void remove(UINT32 token);
  std::optional<StagEntry> lookup(UINT32 token) const;
  std::size_t size() const;

 private:
  struct Slot {
    UINT32 key = 0;     // current key; valid only if `valid`
    bool used = false;  // index allocated to some object
    bool valid = false;
    StagEntry entry;
  };
  UINT32 freshKey(UINT32 previous);

  mutable std::shared_mutex mu_;
  std::vector<Slot> slots_;  // slots_[0] unused (privileged)
  std::vector<UINT32> free_;
  std::mt19937 rng_;
  UINT32 privileged_;
};

}  // namespace openndk::provider
