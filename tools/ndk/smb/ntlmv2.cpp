#include "ntlmv2.h"

#include <fmt/format.h>
#include <nettle/hmac.h>
#include <nettle/md4.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <random>

namespace ndksmb::ntlmssp {

namespace {
constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
// UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, TARGET_INFO, 128, 56.
constexpr std::uint32_t kFlags =
    0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x00800000 | 0x20000000 | 0x80000000;
constexpr std::uint16_t kAvEol = 0, kAvTimestamp = 7;
// FILETIME of the Unix epoch: 100 ns units since 1601.
constexpr std::uint64_t kEpochAsFiletime = 116444736000000000ull;

std::array<std::uint8_t, 16> hmacMd5(const std::uint8_t* key, std::size_t keyLen, ByteView data) {
  hmac_md5_ctx ctx;
  hmac_md5_set_key(&ctx, keyLen, key);
  hmac_md5_update(&ctx, data.size(), data.data());
  std::array<std::uint8_t, 16> out{};
  hmac_md5_digest(&ctx, out.size(), out.data());
  return out;
}

// MsvAvTimestamp of the server's target info, if it has one (AV pairs walked within their bounds).
std::optional<std::uint64_t> serverTimestamp(ByteView targetInfo) {
  Reader r(targetInfo, "NTLMSSP target info");
  for (std::size_t pos = 0; pos + 4 <= targetInfo.size();) {
    const std::uint16_t id = r.u16(pos), len = r.u16(pos + 2);
    if (id == kAvEol) break;
    if (id == kAvTimestamp && len == 8) return r.u64(pos + 4);
    r.bytes(pos + 4, len);
    pos += 4u + len;
  }
  return std::nullopt;
}

void fields(Writer& w, std::size_t len, std::size_t offset) {
  w.u16(static_cast<std::uint16_t>(len));
  w.u16(static_cast<std::uint16_t>(len));
  w.u32(static_cast<std::uint32_t>(offset));
}
}  // namespace

Credentials parseCredentials(const std::string& text) {
  Credentials c;
  const std::size_t pct = text.find('%');
  std::string who = text.substr(0, pct);
  if (pct != std::string::npos) c.password = text.substr(pct + 1);
  const std::size_t slash = who.find_first_of("\\/");
  if (slash != std::string::npos) {
    c.domain = who.substr(0, slash);
    who = who.substr(slash + 1);
  }
  c.user = who;
  if (c.user.empty()) throw SmbError("-U: an empty user name (leave -U out for a guest session)");
  return c;
}

std::array<std::uint8_t, 16> ntowfV2(const Credentials& c) {
  const Bytes pw = utf16le(c.password);
  md4_ctx md4;
  md4_init(&md4);
  md4_update(&md4, pw.size(), pw.data());
  std::array<std::uint8_t, 16> ntHash{};
  md4_digest(&md4, ntHash.size(), ntHash.data());
  std::string upper = c.user;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return hmacMd5(ntHash.data(), ntHash.size(), utf16le(upper + c.domain));
}

Bytes ntlmV2Response(const Credentials& c, const Challenge& ch, const std::array<std::uint8_t, 8>& clientChallenge,
                     std::uint64_t timestamp) {
  Bytes temp;
  Writer w(temp);
  w.u8(1);  // RespType
  w.u8(1);  // HiRespType
  w.zeros(6);
  w.u64(timestamp);
  w.bytes(clientChallenge);
  w.zeros(4);
  w.bytes(ch.targetInfo);
  w.zeros(4);
  const auto key = ntowfV2(c);
  Bytes proofInput(ch.serverChallenge.begin(), ch.serverChallenge.end());
  proofInput.insert(proofInput.end(), temp.begin(), temp.end());
  const auto proof = hmacMd5(key.data(), key.size(), proofInput);
  Bytes out(proof.begin(), proof.end());
  out.insert(out.end(), temp.begin(), temp.end());
  return out;
}

Bytes authenticateV2(const Challenge& ch, const Credentials& c) {
  std::array<std::uint8_t, 8> cc{};
  std::random_device rd;
  for (auto& b : cc) b = static_cast<std::uint8_t>(rd());
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  const std::uint64_t ts = serverTimestamp(ch.targetInfo).value_or(kEpochAsFiletime + static_cast<std::uint64_t>(now.count()) / 100);
  const Bytes nt = ntlmV2Response(c, ch, cc, ts);
  const Bytes lm(24, 0);  // with a server timestamp the LMv2 response is zeros ([MS-NLMP] 3.1.5.1.2)
  const Bytes domain = utf16le(c.domain), user = utf16le(c.user), workstation;
  constexpr std::size_t kFixed = 64;
  std::size_t off = kFixed;
  Bytes out;
  Writer w(out);
  w.bytes(kSignature);
  w.u32(3);
  fields(w, lm.size(), off);
  off += lm.size();
  fields(w, nt.size(), off);
  off += nt.size();
  fields(w, domain.size(), off);
  off += domain.size();
  fields(w, user.size(), off);
  off += user.size();
  fields(w, 0, off);  // Workstation
  fields(w, 0, off);  // EncryptedRandomSessionKey: no key exchange
  w.u32(ch.flags & kFlags);
  w.bytes(lm);
  w.bytes(nt);
  w.bytes(domain);
  w.bytes(user);
  if (out.size() > 0xFFFF) throw SmbError("NTLMSSP AUTHENTICATE too large");
  return out;
}

}  // namespace ndksmb::ntlmssp
