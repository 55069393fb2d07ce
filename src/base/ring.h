// Ring<T>: a FIFO of reusable slots (power-of-two capacity, grows by doubling when full).
//
// Why not std::deque: a deque allocates and frees a block every few hundred elements, and every
// pop destroys the element. A ring's slots live as long as the ring; push_back move-assigns into
// a slot and pop_front leaves the slot's resources in place, so a slot whose members own memory
// (an InlineVec that once outgrew its inline storage) is reused without allocating. The capacity
// is set once from a queue depth that is known up front (reserve), so in steady state nothing
// allocates.
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

namespace openndk::base {

template <class T>
class Ring {
 public:
  Ring() = default;
  explicit Ring(std::size_t capacity) { reserve(capacity); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }

  // i-th element from the front.
  T& operator[](std::size_t i) noexcept {
    assert(i < size_);
    return slots_[(head_ + i) & mask_];
  }
  const T& operator[](std::size_t i) const noexcept {
    assert(i < size_);
    return slots_[(head_ + i) & mask_];
  }
  T& front() noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }

  // Appends by move-assignment into the next slot (which keeps what it owned if T's assignment
  // does); grows if full.
  T& push_back(T&& v) {
    if (size_ == slots_.size()) grow(slots_.empty() ? 8 : slots_.size() * 2);
    T& slot = slots_[(head_ + size_) & mask_];
    slot = std::move(v);
    ++size_;
    return slot;
  }
  // Prepends (rare: e.g. a record that must be ahead of everything queued).
  T& push_front(T&& v) {
    if (size_ == slots_.size()) grow(slots_.empty() ? 8 : slots_.size() * 2);
    head_ = (head_ + mask_) & mask_;
    ++size_;
    T& slot = slots_[head_];
    slot = std::move(v);
    return slot;
  }
  // The slot itself stays (and is overwritten by a later push): move what must not outlive the
  // pop out of front() first.
  void pop_front() noexcept {
    assert(size_ > 0);
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  // Removes the i-th element, keeping the order of the others (the ones behind it move up).
  void erase(std::size_t i) {
    assert(i < size_);
    for (std::size_t k = i; k + 1 < size_; ++k) (*this)[k] = std::move((*this)[k + 1]);
    --size_;
  }
  void clear() noexcept {
    head_ = 0;
    size_ = 0;
  }
  void reserve(std::size_t n) {
    std::size_t cap = 8;
    while (cap < n) cap *= 2;
    if (cap > slots_.size()) grow(cap);
  }

  template <class F>
  void forEach(F&& f) {
    for (std::size_t i = 0; i < size_; ++i) f((*this)[i]);
  }

  // Front-to-back iteration (range-for).
  template <class R, class V>
  class Iter {
   public:
    Iter(R* r, std::size_t i) : r_(r), i_(i) {}
    V& operator*() const { return (*r_)[i_]; }
    V* operator->() const { return &(*r_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iter& o) const { return i_ == o.i_; }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }

   private:
    R* r_;
    std::size_t i_;
  };
  Iter<Ring, T> begin() { return {this, 0}; }
  Iter<Ring, T> end() { return {this, size_}; }
  Iter<const Ring, const T> begin() const { return {this, 0}; }
  Iter<const Ring, const T> end() const { return {this, size_}; }

 private:
  void grow(std::size_t cap) {
    std::vector<T> next(cap);
    for (std::size_t i = 0; i < size_; ++i) next[i] = std::move((*this)[i]);
    slots_.swap(next);
    head_ = 0;
    mask_ = cap - 1;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
};

}  // namespace openndk::base
