// base/inline_vec.h and base/ring.h: the request records of the data path live in them, so their
// contracts (no allocation within the inline capacity, storage kept on reuse, FIFO order across
// wrap-around and growth) are what "no heap allocation per request" rests on.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "base/inline_vec.h"
#include "base/ring.h"

using openndk::base::InlineVec;
using openndk::base::Ring;

TEST(InlineVec, StaysInlineUpToItsCapacityThenGrows) {
  InlineVec<int, 4> v;
  const int* inlineData = v.data();
  for (int i = 0; i < 4; ++i) v.push_back(i);
  EXPECT_EQ(v.data(), inlineData);
  EXPECT_EQ(v.capacity(), 4u);
  v.push_back(4);
  EXPECT_NE(v.data(), inlineData);
  EXPECT_GE(v.capacity(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(v[static_cast<std::size_t>(i)], i);
}

TEST(InlineVec, MoveAssignKeepsTheTargetsHeapBlockWhenTheElementsFit) {
  InlineVec<int, 2> slot;
  for (int i = 0; i < 8; ++i) slot.push_back(i);  // the slot grew once
  const int* block = slot.data();
  InlineVec<int, 2> req{7, 8, 9};
  slot = std::move(req);
  EXPECT_EQ(slot.data(), block);  // reused, not reallocated
  ASSERT_EQ(slot.size(), 3u);
  EXPECT_EQ(slot[0], 7);
  EXPECT_EQ(slot[2], 9);
  EXPECT_TRUE(req.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
}

TEST(InlineVec, MoveTakesTheSourcesHeapBlockAndCopiesInlineOnes) {
  InlineVec<int, 2> big{1, 2, 3, 4};
  const int* block = big.data();
  InlineVec<int, 2> taken(std::move(big));
  EXPECT_EQ(taken.data(), block);
  InlineVec<int, 2> small{5};
  InlineVec<int, 2> copied(std::move(small));
  ASSERT_EQ(copied.size(), 1u);
  EXPECT_EQ(copied[0], 5);
}

TEST(InlineVec, ResizeZeroFillsAndClearKeepsCapacity) {
  InlineVec<std::uint8_t, 4> v;
  v.resize(10);
  for (auto b : v) EXPECT_EQ(b, 0);
  const std::size_t cap = v.capacity();
  v.clear();
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.capacity(), cap);
}

TEST(Ring, FifoOrderAcrossWrapAroundAndGrowth) {
  Ring<std::string> r;
  r.reserve(8);
  int next = 0, expect = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 6; ++i) r.push_back(std::to_string(next++));
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(r.front(), std::to_string(expect++));
      r.pop_front();
    }
  }
  // 18 pushed, 12 popped: 6 left, and the ring had to grow past 8 without losing order
  ASSERT_EQ(r.size(), 6u);
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i], std::to_string(expect + static_cast<int>(i)));
}

TEST(Ring, PopLeavesTheSlotsStorageForTheNextPush) {
  Ring<InlineVec<int, 1>> r;
  r.reserve(8);
  for (int i = 0; i < 8; ++i) {
    InlineVec<int, 1> v{1, 2, 3};  // outgrows the inline storage
    r.push_back(std::move(v));
  }
  const int* block = r.front().data();
  for (int i = 0; i < 8; ++i) r.pop_front();
  InlineVec<int, 1> again{4, 5};  // heap: the slot keeps its own block since the elements fit
  InlineVec<int, 1>& slot = r.push_back(std::move(again));
  EXPECT_EQ(slot.data(), block);
  EXPECT_EQ(slot[1], 5);
}
