// InlineVec<T, N>: a vector of trivially copyable T whose first N elements live inside the object.
//
// Why: a work request carries a handful of SGEs and a little inline data; with std::vector every
// post paid a heap allocation (often two) and every completion a free. Requests sit in slots that
// are reused (the provider's ledger, the engine's transmit items), so with InlineVec a request of
// at most N SGEs costs no allocation at all, and a slot that once grew keeps its capacity.
// Only what the data path needs: contiguous storage (std::span converts), push/resize/clear.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <type_traits>

namespace openndk::base {

template <class T, std::size_t N>
class InlineVec {
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                "InlineVec moves its elements with memcpy");
  static_assert(N > 0);

 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  InlineVec() = default;
  InlineVec(std::initializer_list<T> init) { assign(init.begin(), init.end()); }
  InlineVec(const InlineVec& o) { assign(o.begin(), o.end()); }
  InlineVec& operator=(const InlineVec& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  // A move takes the other's heap block if it has one; inline elements are copied. The source is
  // left empty (and inline).
  InlineVec(InlineVec&& o) noexcept { take(o); }
  InlineVec& operator=(InlineVec&& o) noexcept {
    if (this != &o) {
      // Keep our own heap block when the elements fit in it (a reused slot keeps its capacity).
      if (heap_ && o.size_ <= cap_) {
        std::memcpy(static_cast<void*>(heap_.get()), o.data(), o.size_ * sizeof(T));
        size_ = o.size_;
        o.clear();
      } else {
        take(o);
      }
    }
    return *this;
  }
  ~InlineVec() = default;

  [[nodiscard]] T* data() noexcept { return heap_ ? heap_.get() : inline_; }
  [[nodiscard]] const T* data() const noexcept { return heap_ ? heap_.get() : inline_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }
  T& operator[](std::size_t i) noexcept {
    assert(i < size_);
    return data()[i];
  }
  const T& operator[](std::size_t i) const noexcept {
    assert(i < size_);
    return data()[i];
  }
  T& front() noexcept { return (*this)[0]; }
  const T& front() const noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }

  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    std::unique_ptr<T[]> block(new T[n]);
    std::memcpy(static_cast<void*>(block.get()), data(), size_ * sizeof(T));
    heap_ = std::move(block);
    cap_ = n;
  }
  void resize(std::size_t n) {
    if (n > cap_) reserve(std::max(n, cap_ * 2));
    if (n > size_) std::fill(data() + size_, data() + n, T{});
    size_ = n;
  }
  void push_back(const T& v) {
    if (size_ == cap_) reserve(cap_ * 2);
    data()[size_++] = v;
  }
  template <class... A>
  T& emplace_back(A&&... a) {
    push_back(T{std::forward<A>(a)...});
    return back();
  }
  template <class It>
  void assign(It first, It last) {
    clear();
    reserve(static_cast<std::size_t>(std::distance(first, last)));
    for (; first != last; ++first) data()[size_++] = *first;
  }

 private:
  void take(InlineVec& o) noexcept {
    if (o.heap_) {
      heap_ = std::move(o.heap_);
      cap_ = o.cap_;
    } else {
      heap_.reset();
      cap_ = N;
      std::memcpy(static_cast<void*>(inline_), o.inline_, o.size_ * sizeof(T));
    }
    size_ = o.size_;
    o.size_ = 0;
    o.cap_ = N;
  }

  std::size_t size_ = 0;
  std::size_t cap_ = N;
  std::unique_ptr<T[]> heap_;  // set once the elements outgrew the inline storage
  T inline_[N]{};
};

}  // namespace openndk::base
