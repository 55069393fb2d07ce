// libFuzzer: every SMB2 response parser of `ndk smb` (tools/ndk/smb/smb2_wire.h) and the NTLMSSP
// CHALLENGE, on the same input: the header decides which body parser applies, the directory walk
// and the challenge parser take the input raw. A malformed response must end in SmbError, never in
// a crash or a read outside it; views handed back must lie inside the input (abort() otherwise).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "smb/smb2_wire.h"

using namespace ndksmb;

namespace {
void inside(ByteView part, ByteView whole) {
  if (!part.empty() && (part.data() < whole.data() || part.data() + part.size() > whole.data() + whole.size())) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView msg(data, size);
  try {
    const smb2::Header h = smb2::parseHeader(msg);
    switch (h.command) {
      case smb2::kNegotiate: smb2::parseNegotiateResponse(msg); break;
      case smb2::kSessionSetup: {
        const smb2::SessionSetupResponse s = smb2::parseSessionSetupResponse(msg);
        if (s.securityBlob.size() > size) std::abort();
        ntlmssp::parseChallenge(s.securityBlob);
        break;
      }
      case smb2::kTreeConnect: smb2::parseTreeConnectResponse(msg); break;
      case smb2::kCreate: smb2::parseCreateResponse(msg); break;
      case smb2::kClose: smb2::parseCloseResponse(msg); break;
      case smb2::kWrite: smb2::parseWriteResponse(msg); break;
      case smb2::kRead: inside(smb2::parseReadResponse(msg).data, msg); break;
      case smb2::kQueryDirectory: {
        const ByteView b = smb2::parseQueryDirectoryResponse(msg);
        inside(b, msg);
        smb2::parseDirectoryEntries(b, smb2::kInfoFileIdBothDirectory);
        break;
      }
      default: smb2::parseEmptyResponse(msg); break;
    }
  } catch (const SmbError&) {
  }
  for (std::uint8_t infoClass : {smb2::kInfoFileDirectory, smb2::kInfoFileIdBothDirectory}) {
    try {
      const auto entries = smb2::parseDirectoryEntries(msg, infoClass);
      if (entries.size() > size / 64 + 1) std::abort();
    } catch (const SmbError&) {
    }
  }
  try {
    const ntlmssp::Challenge c = ntlmssp::parseChallenge(msg);
    if (c.targetInfo.size() > size) std::abort();
  } catch (const SmbError&) {
  }
  return 0;
}
