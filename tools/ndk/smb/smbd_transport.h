// SMB Direct ([MS-SMBD]) over the public NDK ABI: an MPA v2 connection (IRD >= 1: the server
// RDMA-Reads our WRITE buffers), the SMBD negotiate, send and receive credits, fragmentation and
// reassembly, keep-alive answers, and a registered area of RDMA channel buffers. Built on the
// tools' NdkEndpoint (one adapter, CQ, PD, QP and one registered buffer holding the receive slots,
// the send slots and the channel slots).
#pragma once
#include <deque>
#include <memory>
#include <string>

#include <ndk/ndk.h>

#include "smbd_wire.h"
#include "transport.h"

namespace ndkperf {
class NdkEndpoint;
}

namespace ndksmb {

struct SmbdParams {
  std::uint16_t receiveCredits = 32;     // receives kept posted = credits offered to the server
  std::uint32_t receiveSize = 1364;      // our MaxReceiveSize (ksmbd's max send size)
  std::uint32_t preferredSendSize = 1364;
  std::uint32_t maxFragmentedSize = 1u << 20;
  std::uint16_t sendSlots = 16;
  std::size_t rdmaSlots = 4;
  std::size_t rdmaSlotBytes = 1u << 20;
  unsigned ird = 8, ord = 1;
  int timeoutMs = 30000;
  // Pause between the MPA exchange and the SMBD negotiate request: siw 6.1's passive side can miss
  // an initiator's first FPDU that comes at once (docs/interop.md "siw passive-side race"); the
  // siw-compatible profile paces by itself, `default` and `windows` do not.
  unsigned firstFpduDelayMs = 0;
  // SMB2_CHANNEL_RDMA_V1_INVALIDATE: each request's buffer fast-registered anew, its token
  // invalidated by the server's Send with Invalidate (checked). Off: RDMA_V1 over one MR.
  bool invalidate = true;
};

class SmbdTransport : public Transport {
 public:
  // Connects to `host`:`port` (an address or a name) and negotiates SMBD; SmbError on failure.
  SmbdTransport(const std::string& host, std::uint16_t port, const SmbdParams& p);
  ~SmbdTransport() override;
  void send(ByteView msg) override;
  Bytes receive(int timeoutMs) override;
  const char* name() const override { return "SMB Direct"; }

  std::size_t rdmaSlots() const override { return p_.rdmaSlots; }
  std::size_t rdmaSlotBytes() const override { return p_.rdmaSlotBytes; }
  std::uint8_t* rdmaSlot(std::size_t k) override;
  smb2::BufferDescriptor rdmaDescriptor(std::size_t k, std::uint32_t len) override;
  std::uint32_t rdmaChannel() const override;
  void rdmaDone(std::size_t k) override;
  std::uint32_t maxReadWrite() const override { return negotiated_.maxReadWriteSize; }
  const smbd::NegotiateResponse& negotiated() const { return negotiated_; }

 private:
  enum Kind : std::uint64_t { kRecv = 1, kSend = 2, kFastRegister = 3 };
  std::uint8_t* recvSlot(std::size_t k) const;
  std::uint8_t* sendSlot(std::size_t k) const;
  void postReceive(std::size_t k);
  // Handles one completion; false when the CQ was empty (and `block` false).
  bool progress(bool block, int timeoutMs);
  void handleReceive(std::size_t slot, std::uint32_t bytes, const NDK_RESULT_EX& r);
  // Sends one SMBD message (a fragment or an empty credit grant) from a free send slot.
  void sendMessage(ByteView fragment, std::uint32_t remaining);
  void waitSendable(int timeoutMs);
  void grantIfNeeded();
  int freeSendSlot() const;

  SmbdParams p_;
  std::unique_ptr<ndkperf::NdkEndpoint> ep_;
  std::size_t sendBase_ = 0, rdmaBase_ = 0;
  smbd::NegotiateRequest request_;
  smbd::NegotiateResponse negotiated_;
  bool negotiating_ = true;
  Bytes negotiateResponse_;
  std::uint32_t maxSend_ = 0;
  std::uint32_t sendCredits_ = 0;        // granted by the server, not yet used
  std::uint32_t grantedOutstanding_ = 0; // granted to the server, not yet used by it
  std::uint32_t pendingGrant_ = 0;       // receives posted but not yet granted
  bool responseRequested_ = false;
  std::uint64_t emptyReceived_ = 0;  // credit grants / keep-alives received
  std::vector<bool> sendBusy_;
  smbd::Reassembler reassembler_;
  std::deque<Bytes> ready_;
  // Remote invalidation: per RDMA slot, its fast-register region, the token of its current
  // registration, and whether the server invalidated it.
  struct Channel {
    void* region = nullptr;  // ndkperf::NdkEndpoint::FastRegion
    UINT32 token = 0;
    bool registered = false, invalidated = false;
  };
  std::vector<Channel> channels_;
};

}  // namespace ndksmb
