// NTLMv2 ([MS-NLMP] 3.3.2) for SESSION_SETUP with a user name and password: the AUTHENTICATE
// message with an NTLMv2 response. MD4 and HMAC-MD5 come from nettle (never hand-written crypto).
// No session key exchange: the session is neither signed nor encrypted.
#pragma once
#include <array>
#include <string>

#include "smb2_wire.h"

namespace ndksmb::ntlmssp {

struct Credentials {
  std::string user, domain, password;
};
// "DOMAIN\user%password" or "user%password" (the password may be empty: "user%").
Credentials parseCredentials(const std::string& text);

// NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)).
std::array<std::uint8_t, 16> ntowfV2(const Credentials& c);
// The NTLMv2 response: NTProofStr followed by the client blob (timestamp, client challenge, the
// server's target info). `timestamp` is a FILETIME.
Bytes ntlmV2Response(const Credentials& c, const Challenge& ch, const std::array<std::uint8_t, 8>& clientChallenge,
                     std::uint64_t timestamp);
// The AUTHENTICATE message carrying it (timestamp: the server's MsvAvTimestamp if it sent one,
// else now; a random client challenge).
Bytes authenticateV2(const Challenge& ch, const Credentials& c);

}  // namespace ndksmb::ntlmssp
