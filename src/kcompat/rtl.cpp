// Rtl routines, assertions and error reporting of libopenndk_kcompat (include/wdk/wdm.h).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwctype>
#include <mutex>
#include <set>
#include <string>

#include "kcompat/internal.h"
#include "wdk/wdm.h"

namespace openndk::kcompat {

void report(const char* what) {
  static std::mutex mu;
  static std::set<std::string>* seen = new std::set<std::string>;  // never destroyed
  const char* quiet = std::getenv("OPENNDK_KCOMPAT_QUIET");
  if (quiet && quiet[0] == '1') return;
  std::lock_guard lock(mu);
  if (seen->insert(what).second) std::fprintf(stderr, "openndk-kcompat: %s\n", what);
}

}  // namespace openndk::kcompat

namespace {

// One part of an IPv4 address: decimal, or (not strict) 0x.. hex or 0.. octal. Returns the
// character after it, or nullptr when there is no valid part at `s`.
template <class Ch>
const Ch* parsePart(const Ch* s, bool strict, std::uint64_t* out) {
  int base = 10;
  if (!strict && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  } else if (!strict && s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
    base = 8;
  }
  std::uint64_t v = 0;
  int digits = 0;
  for (;; ++s, ++digits) {
    int d;
    const Ch c = *s;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      break;
    }
    if (d >= base) return nullptr;
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    if (v > 0xffffffffULL) return nullptr;
  }
  if (digits == 0) return nullptr;
  *out = v;
  return s;
}

template <class Ch>
NTSTATUS parseIpv4(const Ch* s, bool strict, const Ch** terminator, IN_ADDR* addr) {
  if (!s || !addr || !terminator) return STATUS_INVALID_PARAMETER;
  std::uint64_t parts[4] = {};
  int n = 0;
  const Ch* p = s;
  for (;;) {
    const Ch* next = parsePart(p, strict, &parts[n]);
    if (!next) {
      *terminator = p;
      return STATUS_INVALID_PARAMETER;
    }
    ++n;
    p = next;
    if (*p == '.' && n < 4) {
      ++p;
      continue;
    }
    break;
  }
  *terminator = p;
  if (strict && n != 4) return STATUS_INVALID_PARAMETER;
  std::uint64_t v = 0;
  // inet_aton forms: a (32 bits), a.b (8.24), a.b.c (8.8.16), a.b.c.d (8.8.8.8).
  switch (n) {
    case 1:
      v = parts[0];
      break;
    case 2:
      if (parts[0] > 0xff || parts[1] > 0xffffff) return STATUS_INVALID_PARAMETER;
      v = parts[0] << 24 | parts[1];
      break;
    case 3:
      if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xffff) return STATUS_INVALID_PARAMETER;
      v = parts[0] << 24 | parts[1] << 16 | parts[2];
      break;
    default:
      for (int i = 0; i < 4; ++i) {
        if (parts[i] > 0xff) return STATUS_INVALID_PARAMETER;
      }
      v = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3];
  }
  addr->s_addr = htonl(static_cast<std::uint32_t>(v));
  return STATUS_SUCCESS;
}

template <class Ch>
NTSTATUS parseIpv4Ex(const Ch* s, bool strict, IN_ADDR* addr, USHORT* port) {
  if (!s || !addr || !port) return STATUS_INVALID_PARAMETER;
  const Ch* end = nullptr;
  IN_ADDR a{};
  NTSTATUS st = parseIpv4(s, strict, &end, &a);
  if (st != STATUS_SUCCESS) return st;
  USHORT p = 0;
  if (*end == ':') {
    ++end;
    std::uint64_t v = 0;
    const Ch* after = parsePart(end, true, &v);  // ports are decimal
    if (!after || v > 0xffff) return STATUS_INVALID_PARAMETER;
    p = htons(static_cast<USHORT>(v));
    end = after;
  }
  if (*end != 0) return STATUS_INVALID_PARAMETER;
  *addr = a;
  *port = p;
  return STATUS_SUCCESS;
}

}  // namespace

extern "C" {

OPENNDK_KCOMPAT_API void OpenNdkKcompatAssertFailed(const char* Expression, const char* Message, const char* File,
                                                    int Line) {
  std::fprintf(stderr, "NT_ASSERT failed at %s:%d: %s%s%s\n", File ? File : "?", Line, Expression ? Expression : "",
               Message ? ": " : "", Message ? Message : "");
  std::abort();
}

OPENNDK_KCOMPAT_API SIZE_T RtlCompareMemory(const VOID* Source1, const VOID* Source2, SIZE_T Length) {
  if (!Source1 || !Source2) return 0;
  const auto* a = static_cast<const unsigned char*>(Source1);
  const auto* b = static_cast<const unsigned char*>(Source2);
  SIZE_T i = 0;
  while (i < Length && a[i] == b[i]) ++i;
  return i;
}

OPENNDK_KCOMPAT_API PVOID OpenNdkKcompatSecureZero(PVOID Destination, SIZE_T Length) {
  if (!Destination) return Destination;
  volatile unsigned char* p = static_cast<volatile unsigned char*>(Destination);
  for (SIZE_T i = 0; i < Length; ++i) p[i] = 0;
  return Destination;
}

OPENNDK_KCOMPAT_API VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
  if (!DestinationString) return;
  DestinationString->Buffer = const_cast<PWCH>(SourceString);
  if (!SourceString) {
    DestinationString->Length = DestinationString->MaximumLength = 0;
    return;
  }
  // The largest whole number of characters whose byte count (plus terminator) fits a USHORT.
  const SIZE_T maxChars = (0xffff / sizeof(WCHAR)) - 1;
  SIZE_T n = std::wcslen(SourceString);
  if (n > maxChars) n = maxChars;
  DestinationString->Length = static_cast<USHORT>(n * sizeof(WCHAR));
  DestinationString->MaximumLength = static_cast<USHORT>((n + 1) * sizeof(WCHAR));
}

OPENNDK_KCOMPAT_API VOID RtlInitAnsiString(PANSI_STRING DestinationString, PCSTR SourceString) {
  if (!DestinationString) return;
  DestinationString->Buffer = const_cast<PCHAR>(SourceString);
  if (!SourceString) {
    DestinationString->Length = DestinationString->MaximumLength = 0;
    return;
  }
  SIZE_T n = std::strlen(SourceString);
  if (n > 0xfffe) n = 0xfffe;
  DestinationString->Length = static_cast<USHORT>(n);
  DestinationString->MaximumLength = static_cast<USHORT>(n + 1);
}

OPENNDK_KCOMPAT_API BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                                  BOOLEAN CaseInSensitive) {
  if (!String1 || !String2) return FALSE;
  if (String1->Length != String2->Length) return FALSE;
  const SIZE_T n = String1->Length / sizeof(WCHAR);
  for (SIZE_T i = 0; i < n; ++i) {
    WCHAR a = String1->Buffer[i], b = String2->Buffer[i];
    if (CaseInSensitive) {
      a = static_cast<WCHAR>(std::towupper(static_cast<wint_t>(a)));
      b = static_cast<WCHAR>(std::towupper(static_cast<wint_t>(b)));
    }
    if (a != b) return FALSE;
  }
  return TRUE;
}

OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, PCWSTR* Terminator, IN_ADDR* Addr) {
  return parseIpv4(S, Strict != FALSE, Terminator, Addr);
}
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR* Terminator, IN_ADDR* Addr) {
  return parseIpv4(S, Strict != FALSE, Terminator, Addr);
}
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict, IN_ADDR* Address,
                                                       PUSHORT Port) {
  return parseIpv4Ex(AddressString, Strict != FALSE, Address, Port);
}
OPENNDK_KCOMPAT_API NTSTATUS RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict, IN_ADDR* Address,
                                                       PUSHORT Port) {
  return parseIpv4Ex(AddressString, Strict != FALSE, Address, Port);
}

}  // extern "C"
