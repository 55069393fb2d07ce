#include "smbd_transport.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "perf/ndk_endpoint.h"

namespace ndksmb {

namespace {
constexpr std::size_t kSlotStride = 2048;  // holds a receive / send of up to kSlotStride bytes
constexpr std::size_t kPage = 4096;
constexpr int kLingerMs = 500;

std::uint64_t context(std::uint64_t kind, std::size_t slot) { return kind << 56 | slot; }

std::string disconnectedMessage() { return "SMB Direct: the server disconnected"; }
}  // namespace

SmbdTransport::SmbdTransport(const std::string& host, std::uint16_t port, const SmbdParams& p)
    : p_(p), reassembler_(p.maxFragmentedSize) {
  if (p_.receiveSize > kSlotStride || p_.preferredSendSize > kSlotStride || p_.receiveSize < smbd::kMinReceiveSize)
    throw SmbError(fmt::format("SMB Direct: receive / send sizes must lie within [{}, {}]", smbd::kMinReceiveSize, kSlotStride));
  SOCKADDR_INET dest{};
  if (!ndkperf::parseAddress(host, port, &dest)) throw SmbError(fmt::format("cannot resolve {}", host));
  SOCKADDR_INET src{};
  if (!ndkperf::sourceAddressFor(dest, &src)) throw SmbError(fmt::format("no route to {}", ndkperf::formatAddress(dest)));
  const NET_IFINDEX ifx = ndkperf::interfaceFor(src);
  if (!ifx) throw SmbError(fmt::format("no NDK-capable interface owns {} (the route to {})", ndkperf::formatAddress(src),
                                       ndkperf::formatAddress(dest)));
  sendBase_ = std::size_t{p_.receiveCredits} * kSlotStride;
  rdmaBase_ = (sendBase_ + std::size_t{p_.sendSlots} * kSlotStride + kPage - 1) / kPage * kPage;
  ndkperf::NdkEndpoint::Params ep;
  ep.bufBytes = rdmaBase_ + p_.rdmaSlots * p_.rdmaSlotBytes;
  ep.rqDepth = p_.receiveCredits;
  ep.iqDepth = static_cast<ULONG>(p_.sendSlots + 2u + p_.rdmaSlots);
  ep.ird = p_.ird;
  ep.ord = p_.ord;
  ep.poll = false;
  sendBusy_.assign(p_.sendSlots, false);
  try {
    ep_ = std::make_unique<ndkperf::NdkEndpoint>(ifx, ep);
    if (p_.invalidate) {
      channels_.resize(p_.rdmaSlots);
      for (std::size_t k = 0; k < p_.rdmaSlots; ++k)
        channels_[k].region = &ep_->addFastRegion(reinterpret_cast<char*>(rdmaSlot(k)), p_.rdmaSlotBytes);
    }
    for (std::size_t k = 0; k < p_.receiveCredits; ++k) postReceive(k);
    ep_->connect(dest, nullptr, 0);
    if (p_.firstFpduDelayMs) std::this_thread::sleep_for(std::chrono::milliseconds(p_.firstFpduDelayMs));
    // The negotiate request needs no credit: it is the first message of the connection.
    request_.creditsRequested = p_.receiveCredits;
    request_.preferredSendSize = p_.preferredSendSize;
    request_.maxReceiveSize = p_.receiveSize;
    request_.maxFragmentedSize = p_.maxFragmentedSize;
    const Bytes req = smbd::buildNegotiateRequest(request_);
    std::memcpy(sendSlot(0), req.data(), req.size());
    sendBusy_[0] = true;
    ep_->postSend(context(kSend, 0), reinterpret_cast<const char*>(sendSlot(0)), static_cast<ULONG>(req.size()));
    while (negotiateResponse_.empty()) progress(true, p_.timeoutMs);
    negotiated_ = smbd::parseNegotiateResponse(negotiateResponse_, request_);
  } catch (const ndkperf::PerfError& e) {
    throw SmbError(fmt::format("SMB Direct connection to {}: {}", ndkperf::formatAddress(dest), e.what()));
  }
  negotiating_ = false;
  sendCredits_ = negotiated_.creditsGranted;
  maxSend_ = std::min(negotiated_.maxReceiveSize, p_.preferredSendSize);
  if (maxSend_ <= smbd::kDataOffset) throw SmbError("SMB Direct: the server's receive size leaves no room for data");
  // Every posted receive is ours to grant: the negotiate request granted none.
  pendingGrant_ = p_.receiveCredits;
}

SmbdTransport::~SmbdTransport() {
  // ksmbd answers every message with a credit grant of its own once it reposted the receive;
  // disconnecting before that Send completes makes it log a Send error. Linger briefly for it; the
  // endpoint then disconnects and deregisters everything.
  try {
    const std::uint64_t before = emptyReceived_;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLingerMs);
    while (emptyReceived_ == before && !ep_->peerDisconnected() && std::chrono::steady_clock::now() < end)
      if (!progress(false, 0)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } catch (const std::exception&) {
  }
}

std::uint8_t* SmbdTransport::recvSlot(std::size_t k) const {
  return reinterpret_cast<std::uint8_t*>(ep_->buf()) + k * kSlotStride;
}
std::uint8_t* SmbdTransport::sendSlot(std::size_t k) const {
  return reinterpret_cast<std::uint8_t*>(ep_->buf()) + sendBase_ + k * kSlotStride;
}
std::uint8_t* SmbdTransport::rdmaSlot(std::size_t k) {
  if (k >= p_.rdmaSlots) throw SmbError("SMB Direct: no such RDMA channel slot");
  return reinterpret_cast<std::uint8_t*>(ep_->buf()) + rdmaBase_ + k * p_.rdmaSlotBytes;
}

smb2::BufferDescriptor SmbdTransport::rdmaDescriptor(std::size_t k, std::uint32_t len) {
  if (k >= p_.rdmaSlots || len > p_.rdmaSlotBytes) throw SmbError("SMB Direct: RDMA descriptor outside its slot");
  smb2::BufferDescriptor d;
  d.offset = ep_->bufAddr() + rdmaBase_ + k * p_.rdmaSlotBytes;
  d.token = ep_->remoteToken();
  d.length = len;
  if (p_.invalidate) {
    Channel& c = channels_[k];
    if (c.registered) throw SmbError("SMB Direct: an RDMA buffer reused while its token is still valid");
    // The registration is a work request ahead of the request's Send on the same queue: in force
    // before the server can see the token.
    try {
      c.token = ep_->postFastRegister(context(kFastRegister, k),
                                      *static_cast<ndkperf::NdkEndpoint::FastRegion*>(c.region));
    } catch (const ndkperf::PerfError& e) {
      throw SmbError(fmt::format("SMB Direct: {}", e.what()));
    }
    c.registered = true;
    c.invalidated = false;
    d.token = c.token;
  }
  return d;
}

std::uint32_t SmbdTransport::rdmaChannel() const {
  return p_.invalidate ? smb2::kChannelRdmaV1Invalidate : smb2::kChannelRdmaV1;
}

void SmbdTransport::rdmaDone(std::size_t k) {
  if (!p_.invalidate) return;
  Channel& c = channels_.at(k);
  if (!c.invalidated)
    throw SmbError(fmt::format("SMB Direct: the server answered without invalidating token {:#010x} "
                               "(RDMA_V1_INVALIDATE asks for a Send with Invalidate)", c.token));
  c.registered = false;
}

void SmbdTransport::postReceive(std::size_t k) {
  ep_->postRecv(context(kRecv, k), reinterpret_cast<char*>(recvSlot(k)), p_.receiveSize);
}

bool SmbdTransport::progress(bool block, int timeoutMs) {
  NDK_RESULT_EX r{};
  if (block) {
    // In slices: NDK does not flush our receives when the peer disconnects (R80), so the
    // connector's disconnect event is looked at between them.
    constexpr int kSliceMs = 200;
    for (int waited = 0;; waited += kSliceMs) {
      if (ep_->peerDisconnected()) throw SmbError(disconnectedMessage());
      if (waited >= timeoutMs) throw SmbError("SMB Direct: the server did not answer in time");
      try {
        r = ep_->next(std::min(kSliceMs, timeoutMs - waited));
        break;
      } catch (const ndkperf::PerfError&) {
      }
    }
  } else if (!ep_->tryNext(&r)) {
    return false;
  }
  const auto ctx = reinterpret_cast<std::uintptr_t>(r.RequestContext);
  const std::uint64_t kind = ctx >> 56;
  const std::size_t slot = ctx & ((std::uint64_t{1} << 56) - 1);
  if (r.Status != STATUS_SUCCESS) {
    if (ep_->peerDisconnected() || r.Status == STATUS_CANCELLED || r.Status == STATUS_CONNECTION_DISCONNECTED ||
        r.Status == STATUS_CONNECTION_RESET || r.Status == STATUS_CONNECTION_ABORTED)
      throw SmbError(disconnectedMessage());
    throw SmbError(fmt::format("SMB Direct: {} failed with {}", kind == kRecv ? "a receive" : "a send",
                               ndkperf::ntStatusName(r.Status)));
  }
  if (kind == kSend && slot < sendBusy_.size()) {
    sendBusy_[slot] = false;
  } else if (kind == kFastRegister && slot < channels_.size()) {
    // in force; nothing to do
  } else if (kind == kRecv && slot < p_.receiveCredits) {
    handleReceive(slot, r.BytesTransferred, r);
  } else {
    throw SmbError("SMB Direct: a completion of no request of ours");
  }
  return true;
}

void SmbdTransport::handleReceive(std::size_t slot, std::uint32_t bytes, const NDK_RESULT_EX& r) {
  if (bytes > p_.receiveSize) throw SmbError("SMB Direct: a receive longer than posted");
  if (r.Type == NdkOperationTypeReceiveAndInvalidate) {
    const auto token = static_cast<UINT32>(r.TypeSpecificCompletionOutput);
    auto it = std::find_if(channels_.begin(), channels_.end(),
                           [&](const Channel& c) { return c.registered && !c.invalidated && c.token == token; });
    if (it == channels_.end())
      throw SmbError(fmt::format("SMB Direct: the server invalidated token {:#010x}, which it was not given", token));
    it->invalidated = true;
  }
  const ByteView msg(recvSlot(slot), bytes);
  if (negotiating_) {
    negotiateResponse_.assign(msg.begin(), msg.end());
    if (negotiateResponse_.empty()) throw SmbError("SMB Direct: an empty negotiate response");
    postReceive(slot);
    return;
  }
  ByteView payload;
  const smbd::DataHeader h = smbd::parseDataMessage(msg, &payload);
  if (grantedOutstanding_ == 0) throw SmbError("SMB Direct: the server sent without a receive credit");
  --grantedOutstanding_;
  sendCredits_ += h.creditsGranted;
  if (h.flags & smbd::kFlagResponseRequested) responseRequested_ = true;
  std::optional<Bytes> done = reassembler_.add(h, payload);  // copies out of the receive slot
  postReceive(slot);
  ++pendingGrant_;
  if (done) ready_.push_back(std::move(*done));
  if (payload.empty()) ++emptyReceived_;
}

int SmbdTransport::freeSendSlot() const {
  for (std::size_t k = 0; k < sendBusy_.size(); ++k)
    if (!sendBusy_[k]) return static_cast<int>(k);
  return -1;
}

void SmbdTransport::waitSendable(int timeoutMs) {
  while (progress(false, 0)) {
  }
  while (sendCredits_ == 0 || freeSendSlot() < 0) progress(true, timeoutMs);
}

void SmbdTransport::sendMessage(ByteView fragment, std::uint32_t remaining) {
  const int slot = freeSendSlot();
  smbd::DataHeader h;
  h.creditsRequested = p_.receiveCredits;
  h.creditsGranted = static_cast<std::uint16_t>(std::min<std::uint32_t>(pendingGrant_, 0xFFFF));
  // Our last send credit: ask the server to answer at once so that credits come back even when
  // no SMB2 response is due.
  if (sendCredits_ == 1) h.flags |= smbd::kFlagResponseRequested;
  h.remainingDataLength = remaining;
  h.dataLength = static_cast<std::uint32_t>(fragment.size());
  const Bytes header = smbd::buildDataHeader(h);
  std::uint8_t* p = sendSlot(static_cast<std::size_t>(slot));
  std::memcpy(p, header.data(), header.size());
  if (!fragment.empty()) std::memcpy(p + header.size(), fragment.data(), fragment.size());
  pendingGrant_ -= h.creditsGranted;
  grantedOutstanding_ += h.creditsGranted;
  --sendCredits_;
  sendBusy_[static_cast<std::size_t>(slot)] = true;
  try {
    ep_->postSend(context(kSend, static_cast<std::size_t>(slot)), reinterpret_cast<const char*>(p),
                  static_cast<ULONG>(header.size() + fragment.size()));
  } catch (const ndkperf::PerfError& e) {
    throw SmbError(fmt::format("SMB Direct: {}", e.what()));
  }
}

void SmbdTransport::send(ByteView msg) {
  if (msg.size() > negotiated_.maxFragmentedSize)
    throw SmbError(fmt::format("SMB Direct: a {}-byte message exceeds the server's MaxFragmentedSize {}", msg.size(),
                               negotiated_.maxFragmentedSize));
  const std::size_t room = maxSend_ - smbd::kDataOffset;
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min(room, msg.size() - pos);
    waitSendable(p_.timeoutMs);
    sendMessage(msg.subspan(pos, n), static_cast<std::uint32_t>(msg.size() - pos - n));
    pos += n;
  } while (pos < msg.size());
}

void SmbdTransport::grantIfNeeded() {
  // The server answers only while it holds our credits; an empty message returns the receives
  // reposted since, when it asked for an answer or is about to run dry.
  const bool low = grantedOutstanding_ <= p_.receiveCredits / 4u;
  if (!(responseRequested_ || (low && pendingGrant_ > 0))) return;
  if (sendCredits_ == 0 || freeSendSlot() < 0) return;
  if (!responseRequested_ && sendCredits_ == 1) return;  // keep the last credit for a request
  responseRequested_ = false;
  sendMessage({}, 0);
}

Bytes SmbdTransport::receive(int timeoutMs) {
  for (;;) {
    while (progress(false, 0)) {
    }
    grantIfNeeded();
    if (!ready_.empty()) {
      Bytes m = std::move(ready_.front());
      ready_.pop_front();
      return m;
    }
    progress(true, timeoutMs);
  }
}

}  // namespace ndksmb
