#include "evil_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "iwarp/ddp.h"
#include "iwarp/fpdu.h"
#include "iwarp/wire.h"

namespace hardening {

using namespace openndk::iwarp;
using Clock = std::chrono::steady_clock;

namespace {
int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}
bool waitFd(int fd, short ev, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, ev, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}
}  // namespace

std::string Verdict::describe() const {
  std::ostringstream o;
  o << "eof=" << eof << " reset=" << reset << " timedOut=" << timedOut << " terminates=" << terminates;
  if (terminate)
    o << " term=" << int(term.layer) << "/" << int(term.etype) << "/0x" << std::hex << int(term.code) << std::dec
      << " m=" << term.m << " d=" << term.d << " r=" << term.r;
  o << " fpdus=" << opcodes.size() << " garbage=" << garbage;
  return o.str();
}

EvilPeer::~EvilPeer() {
  if (fd_ >= 0) ::close(fd_);
  if (lfd_ >= 0) ::close(lfd_);
}

bool EvilPeer::connectTo(const std::string& ip, std::uint16_t port, std::chrono::milliseconds t) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  int fl = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
  int r = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  if (r < 0 && errno != EINPROGRESS) return false;
  if (r < 0) {
    if (!waitFd(fd_, POLLOUT, Clock::now() + t)) return false;
    int err = 0;
    socklen_t l = sizeof(err);
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) return false;
  }
  ::fcntl(fd_, F_SETFL, fl);  // blocking again; every read goes through poll with a deadline
  return true;
}

bool EvilPeer::listenLocal() {
  lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd_ < 0) return false;
  int one = 1;
  ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || ::listen(lfd_, 8) < 0) return false;
  socklen_t l = sizeof(a);
  ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &l);
  listenPort_ = ntohs(a.sin_port);
  return true;
}

bool EvilPeer::acceptOne(std::chrono::milliseconds t) {
  if (!waitFd(lfd_, POLLIN, Clock::now() + t)) return false;
  fd_ = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return true;
}

bool EvilPeer::sendAll(const std::uint8_t* p, std::size_t n) {
  const auto deadline = Clock::now() + 10s;
  while (n > 0) {
    if (!waitFd(fd_, POLLOUT, deadline)) return false;
    ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool EvilPeer::recvExact(std::uint8_t* p, std::size_t n, std::chrono::milliseconds t) {
  const auto deadline = Clock::now() + t;
  while (n > 0) {
    if (!waitFd(fd_, POLLIN, deadline)) return false;
    ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool EvilPeer::waitClosed(std::chrono::milliseconds t) {
  const auto deadline = Clock::now() + t;
  std::uint8_t buf[4096];
  for (;;) {
    if (!waitFd(fd_, POLLIN, deadline)) return false;
    ssize_t r = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0) return true;
    if (r < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

Bytes EvilPeer::drainUntilClosed(std::chrono::milliseconds t, bool* closed) {
  const auto deadline = Clock::now() + t;
  Bytes out;
  std::uint8_t buf[4096];
  *closed = false;
  for (;;) {
    if (!waitFd(fd_, POLLIN, deadline)) return out;
    ssize_t r = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (r > 0) {
      out.insert(out.end(), buf, buf + r);
      continue;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    *closed = true;
    return out;
  }
}

void EvilPeer::closeGraceful() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_WR);
  ::close(fd_);
  fd_ = -1;
}

void EvilPeer::closeReset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd_);
  fd_ = -1;
}

std::uint16_t EvilPeer::localPort() const {
  sockaddr_in a{};
  socklen_t l = sizeof(a);
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l) < 0) return 0;
  return ntohs(a.sin_port);
}

void EvilPeer::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

// ---- MPA -----------------------------------------------------------------------------------------

Bytes EvilPeer::goodRequest(std::uint16_t ird, std::uint16_t ord, const Bytes& pd) {
  MpaFrameSpec s;
  s.kind = MpaKind::Request;
  s.rev = mpa::kRev2;
  s.c = true;
  s.enhanced = true;
  s.v2.p2p = true;
  s.v2.write_rtr = true;
  s.v2.ird = ird;
  s.v2.ord = ord;
  s.consumer_pd = ByteSpan(pd.data(), pd.size());
  Bytes out(mpa::kMaxFrameLen + 16);
  out.resize(encode_mpa_frame(s, out));
  return out;
}

Bytes EvilPeer::goodReply(std::uint16_t ird, std::uint16_t ord, const Bytes& pd) {
  MpaFrameSpec s;
  s.kind = MpaKind::Reply;
  s.rev = mpa::kRev2;
  s.c = true;
  s.enhanced = true;
  s.v2.p2p = true;
  s.v2.write_rtr = true;
  s.v2.ird = ird;
  s.v2.ord = ord;
  s.consumer_pd = ByteSpan(pd.data(), pd.size());
  Bytes out(mpa::kMaxFrameLen + 16);
  out.resize(encode_mpa_frame(s, out));
  return out;
}

std::optional<Bytes> EvilPeer::readFrame(std::chrono::milliseconds t) {
  Bytes f(mpa::kFrameHeaderLen);
  if (!recvExact(f.data(), f.size(), t)) return std::nullopt;
  const std::uint16_t pd = load_be16(f.data() + 18);
  if (pd > mpa::kMaxPrivateData) return std::nullopt;
  f.resize(mpa::kFrameHeaderLen + pd);
  if (pd && !recvExact(f.data() + mpa::kFrameHeaderLen, pd, t)) return std::nullopt;
  return f;
}

bool EvilPeer::sendRtr() {
  std::uint8_t u[64];
  const std::size_t n = encode_rtr_ulpdu(RtrType::Write, u);
  return sendFpdu(Bytes(u, u + n));
}

// ---- FPDUs ---------------------------------------------------------------------------------------

Bytes EvilPeer::frame(const Bytes& ulpdu, bool withCrc) {
  Bytes out(mpa::fpdu_len(static_cast<std::uint32_t>(ulpdu.size())) + 8);
  if (ulpdu.size() > mpa::kMaxUlpdu) return {};
  // By hand (frame_copy refuses headers it does not like; attacks need any bytes framed).
  const std::uint32_t len = static_cast<std::uint32_t>(ulpdu.size());
  store_be16(out.data(), static_cast<std::uint16_t>(len));
  std::memcpy(out.data() + 2, ulpdu.data(), len);
  const std::uint32_t pad = mpa::pad_len(len);
  std::memset(out.data() + 2 + len, 0, pad);
  const std::size_t crcAt = 2 + len + pad;
  store_crc(out.data() + crcAt, withCrc ? crc32c(ByteSpan(out.data(), crcAt)) : 0);
  out.resize(crcAt + 4);
  return out;
}

Bytes EvilPeer::taggedWrite(std::uint32_t stag, std::uint64_t to, const Bytes& payload, bool last) {
  DdpHeader h;
  h.tagged = true;
  h.last = last;
  h.version = ddp::kVersion;
  h.rsvd_ulp = rdmap_ctrl(Opcode::Write);
  h.stag = stag;
  h.to = to;
  Bytes u(ddp::kTaggedHdrLen);
  encode_ddp_header(h, u);
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

Bytes EvilPeer::untaggedSend(std::uint32_t msn, std::uint32_t mo, const Bytes& payload, bool last, Opcode op,
                             std::uint32_t invStag) {
  DdpHeader h;
  h.tagged = false;
  h.last = last;
  h.version = ddp::kVersion;
  h.rsvd_ulp = rdmap_ctrl(op);
  h.rsvd_ulp2 = invStag;
  h.qn = ddp::kQnSend;
  h.msn = msn;
  h.mo = mo;
  Bytes u(ddp::kUntaggedHdrLen);
  encode_ddp_header(h, u);
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

Bytes EvilPeer::readRequest(std::uint32_t msn, const ReadRequestHdr& r) {
  Bytes u(ddp::kUntaggedHdrLen + rdmap::kReadRequestHdrLen);
  u.resize(encode_read_request(msn, r, u));
  return u;
}

Bytes EvilPeer::rawUntagged(std::uint8_t ddpCtrl, std::uint8_t rdmapCtrl, std::uint32_t qn, std::uint32_t msn,
                            std::uint32_t mo, const Bytes& payload) {
  Bytes u(ddp::kUntaggedHdrLen, 0);
  u[0] = ddpCtrl;
  u[1] = rdmapCtrl;
  store_be32(u.data() + 6, qn);
  store_be32(u.data() + 10, msn);
  store_be32(u.data() + 14, mo);
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

Verdict EvilPeer::collect(std::chrono::milliseconds t) {
  Verdict v;
  Bytes in;
  const auto deadline = Clock::now() + t;
  std::uint8_t buf[8192];
  for (;;) {
    if (!waitFd(fd_, POLLIN, deadline)) {
      v.timedOut = true;
      break;
    }
    ssize_t r = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (r > 0) {
      in.insert(in.end(), buf, buf + r);
      continue;
    }
    if (r == 0) {
      v.eof = true;
      break;
    }
    if (errno == EINTR || errno == EAGAIN) continue;
    v.reset = true;
    break;
  }
  // Deframe what arrived.
  std::size_t off = 0;
  while (off + 2 <= in.size()) {
    const std::uint32_t ulen = load_be16(in.data() + off);
    const std::size_t flen = mpa::fpdu_len(ulen);
    if (off + flen > in.size()) {
      v.garbage = true;
      break;
    }
    DecodedFpdu d;
    if (decode_fpdu(ByteSpan(in.data() + off, flen), crc, d) != Error::None) {
      v.garbage = true;
      break;
    }
    if (v.terminate) v.bytesAfterTerminate = true;
    v.opcodes.push_back(d.seg.opcode);
    if (d.seg.opcode == Opcode::ReadRequest) v.readRequests.push_back(d.seg.read);
    if (d.seg.opcode == Opcode::Terminate) {
      ++v.terminates;
      TerminateInfo ti;
      if (parse_terminate(ByteSpan(in.data() + off + 2, ulen), ti) == Error::None) {
        if (!v.terminate) v.term = ti;
        v.terminate = true;
      } else {
        v.garbage = true;
      }
    }
    off += flen;
  }
  if (off < in.size() && !v.garbage) v.garbage = true;
  return v;
}

}  // namespace hardening
