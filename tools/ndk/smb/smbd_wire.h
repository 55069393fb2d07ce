// [MS-SMBD] messages: the negotiate request and response (§2.2.1, §2.2.2), the data transfer
// message (§2.2.3) and the reassembly of an upper-layer message sent in fragments. Pure: no I/O.
#pragma once
#include <cstdint>
#include <optional>

#include "bytes.h"

namespace ndksmb::smbd {

inline constexpr std::uint16_t kVersion1 = 0x0100;
inline constexpr std::size_t kNegotiateRequestSize = 20;
inline constexpr std::size_t kNegotiateResponseSize = 32;
// A data transfer message without data ends after DataLength; with data, the data starts at an
// 8-byte aligned offset, 24 for the messages we build.
inline constexpr std::size_t kDataHeaderMin = 20;
inline constexpr std::size_t kDataOffset = 24;
inline constexpr std::uint16_t kFlagResponseRequested = 0x0001;
// Floors of the negotiated sizes: [MS-SMBD] §3.1.5.x (128-byte receives) and ksmbd, which refuses
// a negotiate whose MaxFragmentedSize is not above 128 KiB.
inline constexpr std::uint32_t kMinReceiveSize = 128;
inline constexpr std::uint32_t kMinFragmentedSize = 131072 + 1;

struct NegotiateRequest {
  std::uint16_t creditsRequested = 0;
  std::uint32_t preferredSendSize = 0;
  std::uint32_t maxReceiveSize = 0;
  std::uint32_t maxFragmentedSize = 0;
};
Bytes buildNegotiateRequest(const NegotiateRequest& r);

struct NegotiateResponse {
  std::uint16_t minVersion = 0, maxVersion = 0, negotiatedVersion = 0;
  std::uint16_t creditsRequested = 0, creditsGranted = 0;
  std::uint32_t status = 0;
  std::uint32_t maxReadWriteSize = 0;
  std::uint32_t preferredSendSize = 0;
  std::uint32_t maxReceiveSize = 0;
  std::uint32_t maxFragmentedSize = 0;
};
// Throws SmbError unless the response is one we can work with: version 1.0, status 0, at least one
// credit granted and requested, the peer's receive size >= 128 and fragmented size >= its receive
// size, and its send size within our receive size.
NegotiateResponse parseNegotiateResponse(ByteView msg, const NegotiateRequest& ours);

struct DataHeader {
  std::uint16_t creditsRequested = 0;
  std::uint16_t creditsGranted = 0;
  std::uint16_t flags = 0;
  std::uint32_t remainingDataLength = 0;
  std::uint32_t dataOffset = 0;
  std::uint32_t dataLength = 0;
};
// The 24-byte header of a message we send (payload follows at kDataOffset, or none: 20 bytes).
Bytes buildDataHeader(const DataHeader& h);
// A received data transfer message; `payload` is the data it carries (empty for a keep-alive or a
// credit grant). Offset and length are checked against the message size.
DataHeader parseDataMessage(ByteView msg, ByteView* payload);

// Joins fragments into one upper-layer message. The first fragment fixes the total
// (DataLength + RemainingDataLength, at most maxFragmentedSize); each further one must continue it
// exactly. Returns the message when its last fragment arrived.
class Reassembler {
 public:
  explicit Reassembler(std::uint32_t maxFragmentedSize) : max_(maxFragmentedSize) {}
  std::optional<Bytes> add(const DataHeader& h, ByteView payload);
  bool inProgress() const { return expected_ != 0; }

 private:
  std::uint32_t max_;
  std::uint64_t expected_ = 0;  // total size of the message being reassembled; 0: none
  Bytes buf_;
};

}  // namespace ndksmb::smbd
