// The Terminate table and Terminate build/parse for every layer/etype/code.
#include <gtest/gtest.h>

#include "iwarp/errors.h"
#include "iwarp/fpdu.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;

TEST(Terminate, TableMatchesIwarpMd44) {
  struct Row {
    Error e;
    TermLayer l;
    std::uint8_t et, code;
    bool ddp, rdma;
  };
  const Row rows[] = {
      {Error::CrcMismatch, TermLayer::Llp, 0, 0x02, false, false},
      {Error::MpaInsufficientIrd, TermLayer::Llp, 0, 0x06, false, false},
      {Error::MpaNoMatchingRtr, TermLayer::Llp, 0, 0x07, false, false},
      {Error::MpaInvalidFrameAfterQp, TermLayer::Llp, 0, 0x04, false, false},
      {Error::MpaSetupLocalFailure, TermLayer::Llp, 0, 0x05, false, false},
      {Error::MarkerMismatch, TermLayer::Llp, 0, 0x03, false, false},
      {Error::DdpTaggedBadVersion, TermLayer::Ddp, 1, 0x04, false, false},
      {Error::DdpUntaggedBadVersion, TermLayer::Ddp, 2, 0x06, false, false},
      {Error::RdmapBadVersion, TermLayer::Rdmap, 2, 0x05, false, false},
      {Error::RdmapUnexpectedOpcode, TermLayer::Rdmap, 2, 0x06, false, false},
      {Error::RdmapUnsupportedOpcode, TermLayer::Rdmap, 2, 0x06, false, false},
      {Error::TaggedInvalidStag, TermLayer::Ddp, 1, 0x00, true, false},
      {Error::TaggedInvalidated, TermLayer::Ddp, 1, 0x00, true, false},
      {Error::TaggedStagPdMismatch, TermLayer::Ddp, 1, 0x02, true, false},
      {Error::TaggedBounds, TermLayer::Ddp, 1, 0x01, true, false},
      {Error::TaggedWrap, TermLayer::Ddp, 1, 0x03, true, false},
      {Error::TaggedAccessRights, TermLayer::Ddp, 1, 0x00, true, false},
      {Error::DdpInvalidQn, TermLayer::Ddp, 2, 0x01, true, false},
      {Error::DdpNoBuffer, TermLayer::Ddp, 2, 0x02, true, false},
      {Error::DdpMsnRange, TermLayer::Ddp, 2, 0x03, true, false},
      {Error::DdpInvalidMo, TermLayer::Ddp, 2, 0x04, true, false},
      {Error::DdpMessageTooLong, TermLayer::Ddp, 2, 0x05, true, false},
      {Error::ReadSrcInvalidStag, TermLayer::Rdmap, 1, 0x00, true, true},
      {Error::ReadSrcPdMismatch, TermLayer::Rdmap, 1, 0x03, true, true},
      {Error::ReadSrcAccessRights, TermLayer::Rdmap, 1, 0x02, true, true},
      {Error::ReadSrcBounds, TermLayer::Rdmap, 1, 0x01, true, true},
      {Error::ReadSrcWrap, TermLayer::Rdmap, 1, 0x04, true, true},
      {Error::ReadSrcInvalidated, TermLayer::Rdmap, 1, 0x00, true, true},
      {Error::RdmapTooManyReads, TermLayer::Rdmap, 2, 0x07, true, false},
      {Error::RdmapInvalidatePd, TermLayer::Rdmap, 1, 0x09, true, false},
      {Error::RdmapInvalidateUnknown, TermLayer::Rdmap, 2, 0x09, true, false},
      {Error::ReadResponseUnexpected, TermLayer::Ddp, 1, 0x00, true, false},
      {Error::ReadResponseMismatch, TermLayer::Ddp, 1, 0x01, true, false},
      {Error::LocalCatastrophic, TermLayer::Rdmap, 0, 0x00, false, false},
      {Error::ConsumerTerminate, TermLayer::Rdmap, 0, 0xFF, false, false},
  };
  for (const Row& r : rows) {
    const auto t = terminate_for(r.e);
    ASSERT_TRUE(t.has_value()) << to_string(r.e);
    EXPECT_EQ(*t, (TermCode{r.l, r.et, r.code, r.ddp, r.rdma})) << to_string(r.e);
  }
  for (Error e : {Error::None, Error::MpaBadKey, Error::MpaTimeout, Error::MpaRejectedByPeer, Error::MpaMarkersRequested,
                  Error::LlpConnectionLost})
    EXPECT_FALSE(terminate_for(e).has_value()) << to_string(e);
  // Every error has a name.
  for (int i = 0; i < static_cast<int>(Error::Count_); ++i) EXPECT_FALSE(to_string(static_cast<Error>(i)).empty());
}

TEST(Terminate, AccessFaultsMapThroughOneTable) {
  using F = AccessFault;
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::InvalidStag), Error::TaggedInvalidStag);
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::PdMismatch), Error::TaggedStagPdMismatch);
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::Rights), Error::TaggedAccessRights);
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::Bounds), Error::TaggedBounds);
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::Wrap), Error::TaggedWrap);
  EXPECT_EQ(access_error(AccessKind::TaggedPlacement, F::Invalidated), Error::TaggedInvalidated);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::InvalidStag), Error::ReadSrcInvalidStag);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::PdMismatch), Error::ReadSrcPdMismatch);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::Rights), Error::ReadSrcAccessRights);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::Bounds), Error::ReadSrcBounds);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::Wrap), Error::ReadSrcWrap);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::Invalidated), Error::ReadSrcInvalidated);
  EXPECT_EQ(access_error(AccessKind::RemoteInvalidate, F::PdMismatch), Error::RdmapInvalidatePd);
  EXPECT_EQ(access_error(AccessKind::RemoteInvalidate, F::InvalidStag), Error::RdmapInvalidateUnknown);
  EXPECT_EQ(access_error(AccessKind::ReadSource, F::None), Error::None);
  // bounds helper (IWARP.md §5.2 step 7)
  EXPECT_EQ(check_bounds(0x1000, 0x100, 0x1000, 0x100), F::None);
  EXPECT_EQ(check_bounds(0x1000, 0x100, 0x1001, 0x100), F::Bounds);
  EXPECT_EQ(check_bounds(0x1000, 0x100, 0xFFF, 1), F::Bounds);
  EXPECT_EQ(check_bounds(0x1000, 0x100, UINT64_MAX, 2), F::Wrap);
  EXPECT_EQ(check_bounds(0, UINT64_MAX, UINT64_MAX - 1, 1), F::None);
}

TEST(Terminate, BuildParseEveryCode) {
  // Offending segments: tagged write and untagged read request.
  std::array<std::uint8_t, 64> rr{};
  const ReadRequestHdr req{1, 2, 3, 4, 5};
  ASSERT_EQ(encode_read_request(1, req, rr), 46u);
  std::array<std::uint8_t, 14> tagged = {0xC1, 0x40, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0x10, 0};
  for (int i = 0; i < static_cast<int>(Error::Count_); ++i) {
    const Error e = static_cast<Error>(i);
    const auto tc = terminate_for(e);
    if (!tc) continue;
    const bool use_rr = tc->rdma_header;
    TerminateContext ctx;
    if (use_rr) ctx = {ByteSpan{rr.data(), 18}, 46, ByteSpan{rr.data() + 18, 28}};
    else ctx = {ByteSpan{tagged}, 30, {}};
    TerminateInfo t;
    ASSERT_TRUE(make_terminate(e, ctx, t));
    EXPECT_EQ(t.d, tc->ddp_header);
    EXPECT_EQ(t.r, tc->rdma_header);
    std::array<std::uint8_t, 128> out{};
    for (bool crc : {false, true}) {
      const std::size_t n = encode_terminate_fpdu(t, crc, out);
      ASSERT_GT(n, 0u);
      EXPECT_EQ(n % 4, 0u);
      DecodedFpdu d;
      ASSERT_EQ(decode_fpdu(ByteSpan{out.data(), n}, crc, d), Error::None) << to_string(e);
      EXPECT_EQ(d.seg.opcode, Opcode::Terminate);
      EXPECT_EQ(d.seg.ddp.qn, 2u);
      EXPECT_EQ(d.seg.ddp.msn, 1u);
      TerminateInfo back;
      ASSERT_EQ(parse_terminate(d.header, back), Error::None) << to_string(e);
      EXPECT_EQ(back.control_word(), t.control_word());
      EXPECT_EQ(back.ddp_header, t.ddp_header);
      EXPECT_EQ(back.rdma_header, t.rdma_header);
      EXPECT_FALSE(describe_term(back.layer, back.etype, back.code).empty());
    }
    // Sizes of IWARP.md §4.1: 22, 38, 42, 70
    std::array<std::uint8_t, 96> u{};
    const std::size_t ul = encode_terminate_ulpdu(t, u);
    if (!t.d) EXPECT_EQ(ul, 22u);
    else if (t.r) EXPECT_EQ(ul, 70u);
    else EXPECT_EQ(ul, use_rr ? 42u : 38u);
  }
}

TEST(Terminate, ParseRejectsMalformed) {
  std::array<std::uint8_t, 96> u{};
  TerminateInfo t;
  ASSERT_TRUE(make_terminate(Error::TaggedBounds, {ByteSpan{u.data(), 0}, 0, {}}, t));
  EXPECT_FALSE(t.d);  // no header known -> none included
  const std::size_t n = encode_terminate_ulpdu(t, u);
  TerminateInfo back;
  EXPECT_EQ(parse_terminate(ByteSpan{u.data(), n}, back), Error::None);
  EXPECT_EQ(parse_terminate(ByteSpan{u.data(), n - 1}, back), Error::RdmapTerminateMalformed);
  u[20] |= 0x40;  // claim D=1 without the header
  EXPECT_EQ(parse_terminate(ByteSpan{u.data(), n}, back), Error::RdmapTerminateMalformed);
  u[20] &= static_cast<std::uint8_t>(~0x40);
  u[13] = 2;  // MSN 2
  EXPECT_EQ(parse_terminate(ByteSpan{u.data(), n}, back), Error::DdpMsnRange);
}
