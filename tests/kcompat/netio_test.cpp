// IF_INDEX / NET_LUID conversions against the host's interface list (loopback is always there).
#include <gtest/gtest.h>
#include <net/if.h>

#include <cwchar>

#include "wdk/netioapi.h"

namespace {

TEST(NetioLuid, LoopbackRoundTrip) {
  const NET_IFINDEX lo = if_nametoindex("lo");
  ASSERT_NE(0u, lo);
  NET_LUID luid{};
  ASSERT_EQ(STATUS_SUCCESS, ConvertInterfaceIndexToLuid(lo, &luid));
  EXPECT_EQ(lo, luid.Info.NetLuidIndex);
  EXPECT_EQ(IF_TYPE_SOFTWARE_LOOPBACK, luid.Info.IfType);
  NET_IFINDEX back = 0;
  ASSERT_EQ(STATUS_SUCCESS, ConvertInterfaceLuidToIndex(&luid, &back));
  EXPECT_EQ(lo, back);
  WCHAR alias[IF_MAX_STRING_SIZE + 1];
  ASSERT_EQ(STATUS_SUCCESS, ConvertInterfaceLuidToAlias(&luid, alias, RTL_NUMBER_OF(alias)));
  EXPECT_STREQ(L"lo", alias);
  NET_LUID again{};
  ASSERT_EQ(STATUS_SUCCESS, ConvertInterfaceAliasToLuid(L"lo", &again));
  EXPECT_EQ(luid.Value, again.Value);
}

TEST(NetioLuid, BadInput) {
  NET_LUID luid{};
  EXPECT_EQ(STATUS_INVALID_PARAMETER, ConvertInterfaceIndexToLuid(1, nullptr));
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceIndexToLuid(0, &luid));
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceIndexToLuid(0x7fffff, &luid));
  NET_LUID bogus{};
  bogus.Info.NetLuidIndex = 0x7fffff;
  bogus.Info.IfType = IF_TYPE_ETHERNET_CSMACD;
  WCHAR alias[4];
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceLuidToAlias(&bogus, alias, 4));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, ConvertInterfaceLuidToAlias(nullptr, alias, 4));
  ASSERT_EQ(STATUS_SUCCESS, ConvertInterfaceIndexToLuid(if_nametoindex("lo"), &luid));
  EXPECT_EQ(STATUS_BUFFER_TOO_SMALL, ConvertInterfaceLuidToAlias(&luid, alias, 2)) << "\"lo\" needs 3";
  NET_LUID wrongType = luid;
  wrongType.Info.IfType = IF_TYPE_ETHERNET_CSMACD;
  NET_IFINDEX i = 0;
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceLuidToIndex(&wrongType, &i));
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceAliasToLuid(L"no-such-if0", &luid));
  EXPECT_EQ(STATUS_NOT_FOUND, ConvertInterfaceAliasToLuid(L"", &luid));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, ConvertInterfaceAliasToLuid(nullptr, &luid));
}

}  // namespace
