// How SMB2 messages reach the server: plain TCP (port 445, the control) or SMB Direct over the
// NDK ABI (smbd_transport.h). Both carry whole SMB2 messages; only SMB Direct offers registered
// buffers the server reads (WRITE) and writes (READ) through an RDMA channel.
#pragma once
#include <cstdint>
#include <optional>

#include "bytes.h"
#include "smb2_wire.h"

namespace ndksmb {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(ByteView smb2Message) = 0;
  // The next SMB2 message from the server (SmbError on timeout, disconnect or bad framing).
  virtual Bytes receive(int timeoutMs) = 0;
  virtual const char* name() const = 0;

  // RDMA channel: `slots` registered buffers of `slotBytes` each (0 without RDMA).
  virtual std::size_t rdmaSlots() const { return 0; }
  virtual std::size_t rdmaSlotBytes() const { return 0; }
  virtual std::uint8_t* rdmaSlot(std::size_t) { return nullptr; }
  // The descriptor of slot k's first `len` bytes for one request (with remote invalidation, a
  // fresh fast registration whose token the server is to invalidate).
  virtual smb2::BufferDescriptor rdmaDescriptor(std::size_t, std::uint32_t) { return {}; }
  // The channel the requests name: SMB2_CHANNEL_RDMA_V1, or _V1_INVALIDATE.
  virtual std::uint32_t rdmaChannel() const { return smb2::kChannelRdmaV1; }
  // After the response to a request on slot k: throws SmbError if the server should have
  // invalidated the slot's token (Send with Invalidate) and did not.
  virtual void rdmaDone(std::size_t) {}
  // The largest READ / WRITE the transport carries through its channel (SMBD MaxReadWriteSize).
  virtual std::uint32_t maxReadWrite() const { return 0; }
};

}  // namespace ndksmb
