#include "provider/stag_table.h"

namespace openndk::provider {

StagTable::StagTable() : slots_(1), rng_(std::random_device{}()) {
  privileged_ = freshKey(0);  // index 0, key 1..4095
}

UINT32 StagTable::freshKey(UINT32 previous) {
  UINT32 k;
  do {
    k = static_cast<UINT32>(rng_()) & kKeyMask;
  } while (k == 0 || k == previous);
  return k;
}

UINT32 StagTable::insert(StagEntry e) {
  std::unique_lock lock(mu_);
  UINT32 index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() > kMaxIndex) return 0;
    index = static_cast<UINT32>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  s.key = freshKey(s.key);
  s.used = true;
  s.valid = true;
  e.token = (index << kKeyBits) | s.key;
  s.entry = std::move(e);
  return s.entry.token;
}

UINT32 StagTable::rekey(UINT32 token) {
  std::unique_lock lock(mu_);
  UINT32 index = token >> kKeyBits;
  if (index == 0 || index >= slots_.size() || !slots_[index].used || slots_[index].key != (token & kKeyMask)) return 0;
  Slot& s = slots_[index];
  s.key = freshKey(s.key);
  s.valid = false;
  s.entry.token = (index << kKeyBits) | s.key;
  return s.entry.token;
}

bool StagTable::update(UINT32 token, const StagEntry& e) {
  std::unique_lock lock(mu_);
  UINT32 index = token >> kKeyBits;
  if (index == 0 || index >= slots_.size() || !slots_[index].used || slots_[index].key != (token & kKeyMask)) return false;
  slots_[index].entry = e;
  slots_[index].entry.token = token;
  slots_[index].valid = true;
  return true;
}

bool StagTable::invalidate(UINT32 token) {
  std::unique_lock lock(mu_);
  UINT32 index = token >> kKeyBits;
  if (index == 0 || index >= slots_.size()) return false;
  Slot& s = slots_[index];
  if (!s.used || !s.valid || s.key != (token & kKeyMask)) return false;
  s.valid = false;
  return true;
}

void StagTable::remove(UINT32 token) {
  std::unique_lock lock(mu_);
  UINT32 index = token >> kKeyBits;
  if (index == 0 || index >= slots_.size()) return;
  Slot& s = slots_[index];
  if (!s.used || s.key != (token & kKeyMask)) return;
  s.used = false;
  s.valid = false;
  s.entry = StagEntry{};
  free_.push_back(index);
}

std::optional<StagEntry> StagTable::lookup(UINT32 token) const {
  std::shared_lock lock(mu_);
  UINT32 index = token >> kKeyBits;
  if (index == 0 || index >= slots_.size()) return std::nullopt;
  const Slot& s = slots_[index];
  if (!s.used || !s.valid || s.key != (token & kKeyMask)) return std::nullopt;
  return s.entry;
}

std::size_t StagTable::size() const {
  std::shared_lock lock(mu_);
  return slots_.size() - 1 - free_.size();
}

}  // namespace openndk::provider
