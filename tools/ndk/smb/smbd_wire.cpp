#include "smbd_wire.h"

#include <fmt/format.h>

namespace ndksmb::smbd {

Bytes buildNegotiateRequest(const NegotiateRequest& r) {
  Bytes out;
  Writer w(out);
  w.u16(kVersion1);  // MinVersion
  w.u16(kVersion1);  // MaxVersion
  w.u16(0);          // Reserved
  w.u16(r.creditsRequested);
  w.u32(r.preferredSendSize);
  w.u32(r.maxReceiveSize);
  w.u32(r.maxFragmentedSize);
  return out;
}

NegotiateResponse parseNegotiateResponse(ByteView msg, const NegotiateRequest& ours) {
  if (msg.size() < kNegotiateResponseSize)
    throw SmbError(fmt::format("SMBD negotiate response: {} bytes, expected {}", msg.size(), kNegotiateResponseSize));
  Reader r(msg, "SMBD negotiate response");
  NegotiateResponse n;
  n.minVersion = r.u16(0);
  n.maxVersion = r.u16(2);
  n.negotiatedVersion = r.u16(4);
  n.creditsRequested = r.u16(8);
  n.creditsGranted = r.u16(10);
  n.status = r.u32(12);
  n.maxReadWriteSize = r.u32(16);
  n.preferredSendSize = r.u32(20);
  n.maxReceiveSize = r.u32(24);
  n.maxFragmentedSize = r.u32(28);
  if (n.status != 0) throw SmbError(fmt::format("SMBD negotiate refused by the server: status {:#010x}", n.status));
  if (n.negotiatedVersion != kVersion1)
    throw SmbError(fmt::format("SMBD negotiate response: version {:#06x}, only 0x0100 is known", n.negotiatedVersion));
  if (n.creditsGranted == 0) throw SmbError("SMBD negotiate response: no send credits granted");
  if (n.creditsRequested == 0) throw SmbError("SMBD negotiate response: the server requests no credits");
  if (n.maxReceiveSize < kMinReceiveSize)
    throw SmbError(fmt::format("SMBD negotiate response: the server's MaxReceiveSize {} is below {}", n.maxReceiveSize,
                               kMinReceiveSize));
  if (n.maxFragmentedSize < n.maxReceiveSize)
    throw SmbError(fmt::format("SMBD negotiate response: MaxFragmentedSize {} below MaxReceiveSize {}",
                               n.maxFragmentedSize, n.maxReceiveSize));
  if (n.preferredSendSize > ours.maxReceiveSize)
    throw SmbError(fmt::format("SMBD negotiate response: the server would send {} bytes, our receives hold {}",
                               n.preferredSendSize, ours.maxReceiveSize));
  if (n.maxReadWriteSize == 0) throw SmbError("SMBD negotiate response: MaxReadWriteSize 0");
  return n;
}

Bytes buildDataHeader(const DataHeader& h) {
  Bytes out;
  Writer w(out);
  w.u16(h.creditsRequested);
  w.u16(h.creditsGranted);
  w.u16(h.flags);
  w.u16(0);  // Reserved
  w.u32(h.remainingDataLength);
  w.u32(h.dataLength ? static_cast<std::uint32_t>(kDataOffset) : 0);
  w.u32(h.dataLength);
  if (h.dataLength) w.u32(0);  // Padding up to the 8-byte aligned data
  return out;
}

DataHeader parseDataMessage(ByteView msg, ByteView* payload) {
  Reader r(msg, "SMBD data transfer message");
  if (msg.size() < kDataHeaderMin)
    throw SmbError(fmt::format("SMBD data transfer message: {} bytes, the header alone is {}", msg.size(), kDataHeaderMin));
  DataHeader h;
  h.creditsRequested = r.u16(0);
  h.creditsGranted = r.u16(2);
  h.flags = r.u16(4);
  h.remainingDataLength = r.u32(8);
  h.dataOffset = r.u32(12);
  h.dataLength = r.u32(16);
  *payload = {};
  if (h.dataLength == 0) {
    if (h.remainingDataLength != 0) throw SmbError("SMBD data transfer message: remaining data but no data");
    return h;
  }
  if (h.dataOffset < kDataHeaderMin || h.dataOffset % 8 != 0)
    throw SmbError(fmt::format("SMBD data transfer message: DataOffset {} (must be >= 24 and 8-byte aligned)", h.dataOffset));
  *payload = r.bytes(h.dataOffset, h.dataLength);
  return h;
}

std::optional<Bytes> Reassembler::add(const DataHeader& h, ByteView payload) {
  if (payload.empty()) return std::nullopt;  // keep-alive / credit grant: not part of any message
  const std::uint64_t total = buf_.size() + payload.size() + std::uint64_t{h.remainingDataLength};
  if (expected_ == 0) {
    if (total > max_)
      throw SmbError(fmt::format("SMBD: a {}-byte message exceeds the negotiated MaxFragmentedSize {}", total, max_));
    expected_ = total;
    buf_.reserve(static_cast<std::size_t>(total));
  } else if (total != expected_) {
    throw SmbError(fmt::format("SMBD: fragment continues a {}-byte message as {} bytes", expected_, total));
  }
  buf_.insert(buf_.end(), payload.begin(), payload.end());
  if (h.remainingDataLength != 0) return std::nullopt;
  expected_ = 0;
  Bytes done;
  done.swap(buf_);
  return done;
}

}  // namespace ndksmb::smbd
