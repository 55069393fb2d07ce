// Rtl memory and string routines, RtlIpv4StringToAddress(Ex)(A|W), assertion macros.
#include <gtest/gtest.h>

#include "wdk/wdm.h"

namespace {

TEST(RtlMemory, CopyMoveFillZeroCompare) {
  char a[16], b[16];
  RtlFillMemory(a, sizeof a, 'x');
  RtlZeroMemory(b, sizeof b);
  EXPECT_EQ(0, b[15]);
  RtlCopyMemory(b, a, 8);
  EXPECT_TRUE(RtlEqualMemory(a, b, 8));
  EXPECT_FALSE(RtlEqualMemory(a, b, 9));
  EXPECT_EQ(8u, RtlCompareMemory(a, b, 16)) << "leading bytes that match";
  EXPECT_EQ(16u, RtlCompareMemory(a, a, 16));
  EXPECT_EQ(0u, RtlCompareMemory(nullptr, a, 16));
  RtlMoveMemory(a + 1, a, 8);  // overlapping
  EXPECT_EQ('x', a[8]);
  RtlSecureZeroMemory(a, sizeof a);
  EXPECT_EQ(0, a[0]);
  EXPECT_EQ(0, a[15]);
}

TEST(RtlStrings, InitAndCompare) {
  UNICODE_STRING s;
  RtlInitUnicodeString(&s, L"Ndk");
  EXPECT_EQ(3 * sizeof(WCHAR), s.Length);
  EXPECT_EQ(4 * sizeof(WCHAR), s.MaximumLength);
  UNICODE_STRING t;
  RtlInitUnicodeString(&t, L"NDK");
  EXPECT_FALSE(RtlEqualUnicodeString(&s, &t, FALSE));
  EXPECT_TRUE(RtlEqualUnicodeString(&s, &t, TRUE));
  RtlInitUnicodeString(&t, nullptr);
  EXPECT_EQ(0, t.Length);
  EXPECT_EQ(nullptr, t.Buffer);
  EXPECT_FALSE(RtlEqualUnicodeString(&s, nullptr, TRUE));
  UNICODE_STRING c = RTL_CONSTANT_STRING(L"abc");
  EXPECT_EQ(3 * sizeof(WCHAR), c.Length);
  ANSI_STRING a;
  RtlInitAnsiString(&a, "abcd");
  EXPECT_EQ(4, a.Length);
  EXPECT_EQ(5, a.MaximumLength);
  RtlInitUnicodeString(nullptr, L"x");  // ignored
}

TEST(RtlIpv4, StrictExWithAndWithoutPort) {
  IN_ADDR a{};
  USHORT port = 1;
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressExW(L"192.168.1.20", TRUE, &a, &port));
  EXPECT_EQ(htonl(0xc0a80114), a.s_addr);
  EXPECT_EQ(0, port);
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressExW(L"127.0.0.1:4791", TRUE, &a, &port));
  EXPECT_EQ(htonl(0x7f000001), a.s_addr);
  EXPECT_EQ(htons(4791), port) << "network byte order";
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressExA("10.0.0.1:80", TRUE, &a, &port));
  EXPECT_EQ(htons(80), port);
}

TEST(RtlIpv4, NonStrictForms) {
  IN_ADDR a{};
  USHORT port = 0;
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressExW(L"0x7f.1", FALSE, &a, &port));
  EXPECT_EQ(htonl(0x7f000001), a.s_addr);
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressExW(L"010.0.0.1", FALSE, &a, &port));
  EXPECT_EQ(htonl(0x08000001), a.s_addr) << "octal part";
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(L"0x7f.1", TRUE, &a, &port)) << "strict";
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(L"10.1", TRUE, &a, &port)) << "strict: four parts";
}

TEST(RtlIpv4, TerminatorOfThePlainForm) {
  IN_ADDR a{};
  PCWSTR end = nullptr;
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressW(L"1.2.3.4/24", TRUE, &end, &a));
  EXPECT_EQ(L'/', *end);
  PCSTR endA = nullptr;
  ASSERT_EQ(STATUS_SUCCESS, RtlIpv4StringToAddressA("1.2.3.4", TRUE, &endA, &a));
  EXPECT_EQ('\0', *endA);
}

TEST(RtlIpv4, BadInput) {
  IN_ADDR a{};
  USHORT port = 0;
  for (const wchar_t* bad : {L"", L"1.2.3.256", L"1.2.3.4.5", L"1..2.3", L"a.b.c.d", L"1.2.3.4:", L"1.2.3.4:65536",
                             L"1.2.3.4 ", L"1.2.3.4:12x", L"-1.2.3.4"}) {
    EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(bad, TRUE, &a, &port)) << bad;
  }
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(nullptr, TRUE, &a, &port));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(L"1.2.3.4", TRUE, nullptr, &port));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressExW(L"1.2.3.4", TRUE, &a, nullptr));
  PCWSTR end = nullptr;
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressW(L"x", TRUE, &end, &a));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, RtlIpv4StringToAddressW(L"1.2.3.4", TRUE, nullptr, &a));
}

int g_evaluations = 0;
BOOLEAN countedTrue() {
  ++g_evaluations;
  return TRUE;
}

TEST(RtlMacros, AssertVerifyAndArgumentPresent) {
  int x = 1;
  EXPECT_TRUE(ARGUMENT_PRESENT(&x));
  EXPECT_FALSE(ARGUMENT_PRESENT(nullptr));
  g_evaluations = 0;
  EXPECT_TRUE(NT_VERIFY(countedTrue()));
  EXPECT_EQ(1, g_evaluations) << "NT_VERIFY always evaluates";
  NT_ASSERT(countedTrue());
  EXPECT_EQ(DBG ? 2 : 1, g_evaluations) << "NT_ASSERT only with DBG";
  PAGED_CODE();
  UNREFERENCED_PARAMETER(x);
  EXPECT_EQ(3u, RTL_NUMBER_OF("ab"));
  ULONG flags = 0;
  SetFlag(flags, 4u);
  EXPECT_TRUE(BooleanFlagOn(flags, 4u));
  ClearFlag(flags, 4u);
  EXPECT_FALSE(FlagOn(flags, 4u));
}

}  // namespace
