// libFuzzer: what an SMB Direct server sends `ndk smb` ([MS-SMBD]): the negotiate response, data
// transfer messages and their reassembly (tools/ndk/smb/smbd_wire.h). A malformed message must end
// in SmbError, never in a crash or a read outside the message; a payload handed back must lie
// inside it and a reassembled message stay within the negotiated size (abort() otherwise).
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>

#include "smb/smbd_wire.h"

using namespace ndksmb;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView msg(data, size);
  smbd::NegotiateRequest ours;
  ours.creditsRequested = 32;
  ours.preferredSendSize = 1364;
  ours.maxReceiveSize = 1364;
  ours.maxFragmentedSize = 1u << 20;
  try {
    const smbd::NegotiateResponse n = smbd::parseNegotiateResponse(msg, ours);
    if (n.creditsGranted == 0 || n.preferredSendSize > ours.maxReceiveSize) std::abort();
  } catch (const SmbError&) {
  }
  try {  // the input as one message
    ByteView payload;
    const smbd::DataHeader h = smbd::parseDataMessage(msg, &payload);
    if (payload.size() != h.dataLength || (!payload.empty() && payload.data() + payload.size() > data + size)) std::abort();
  } catch (const SmbError&) {
  }
  // The input as a run of messages: each 2-byte length prefix picks the next one's size.
  constexpr std::uint32_t kMaxMessage = 4096;
  smbd::Reassembler r(kMaxMessage);
  std::size_t pos = 0;
  try {
    while (pos + 2 <= size) {
      const std::size_t len = std::min<std::size_t>(data[pos] | data[pos + 1] << 8, size - pos - 2);
      const ByteView m = msg.subspan(pos + 2, len);
      pos += 2 + len;
      ByteView payload;
      const smbd::DataHeader h = smbd::parseDataMessage(m, &payload);
      if (!payload.empty() && (payload.data() < m.data() || payload.data() + payload.size() > m.data() + m.size()))
        std::abort();
      if (payload.size() != h.dataLength) std::abort();
      if (auto done = r.add(h, payload); done && done->size() > kMaxMessage) std::abort();
    }
  } catch (const SmbError&) {
  }
  return 0;
}
