#include "client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>

namespace ndksmb {

namespace {
constexpr std::uint16_t kCreditsWanted = 64;
constexpr std::size_t kMaxEarlyResponses = 4096;
constexpr std::uint32_t kDirectoryBuffer = 65536;

// A local file closed on every path out.
struct LocalFile {
  LocalFile(const std::string& file, int flags) : path(file) {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) throw SmbError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  ~LocalFile() { ::close(fd); }
  LocalFile(const LocalFile&) = delete;
  LocalFile& operator=(const LocalFile&) = delete;
  void readAt(std::uint8_t* p, std::size_t n, std::uint64_t off) const {
    while (n) {
      ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw SmbError(fmt::format("{}: read: {}", path, r == 0 ? "file shrank" : std::strerror(errno)));
      p += r;
      n -= static_cast<std::size_t>(r);
      off += static_cast<std::uint64_t>(r);
    }
  }
  void writeAt(const std::uint8_t* p, std::size_t n, std::uint64_t off) const {
    while (n) {
      ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw SmbError(fmt::format("{}: write: {}", path, std::strerror(errno)));
      p += r;
      n -= static_cast<std::size_t>(r);
      off += static_cast<std::uint64_t>(r);
    }
  }
  std::string path;
  int fd = -1;
};
}  // namespace

UncPath parseUnc(const std::string& text) {
  std::string t = text;
  std::replace(t.begin(), t.end(), '\\', '/');
  if (t.rfind("//", 0) != 0) throw SmbError(fmt::format("'{}' is not of the form //HOST[:PORT]/SHARE", text));
  t = t.substr(2);
  const std::size_t slash = t.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= t.size())
    throw SmbError(fmt::format("'{}' is not of the form //HOST[:PORT]/SHARE", text));
  UncPath u;
  std::string hostPort = t.substr(0, slash);
  u.share = t.substr(slash + 1);
  while (!u.share.empty() && u.share.back() == '/') u.share.pop_back();
  if (u.share.find('/') != std::string::npos) throw SmbError(fmt::format("'{}': one share, no path inside it", text));
  std::size_t colon = std::string::npos;
  if (hostPort.front() == '[') {
    const std::size_t close = hostPort.find(']');
    if (close == std::string::npos) throw SmbError(fmt::format("'{}': unterminated [address]", text));
    u.host = hostPort.substr(1, close - 1);
    if (close + 1 < hostPort.size()) {
      if (hostPort[close + 1] != ':') throw SmbError(fmt::format("'{}': junk after [address]", text));
      colon = close + 1;
    }
  } else {
    colon = hostPort.find(':');
    u.host = hostPort.substr(0, colon);
  }
  if (colon != std::string::npos) {
    const std::string port = hostPort.substr(colon + 1);
    char* end = nullptr;
    const unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end || p == 0 || p > 65535) throw SmbError(fmt::format("'{}': bad port '{}'", text, port));
    u.port = static_cast<std::uint16_t>(p);
  }
  if (u.host.empty()) throw SmbError(fmt::format("'{}': no host", text));
  return u;
}

std::string remoteName(const std::string& path) {
  std::string n = path;
  std::replace(n.begin(), n.end(), '/', '\\');
  while (!n.empty() && n.front() == '\\') n.erase(n.begin());
  while (!n.empty() && n.back() == '\\') n.pop_back();
  return n;
}

// ---- requests and responses ------------------------------------------------------------------

smb2::Header Client::header(std::uint16_t command, std::uint64_t payload) {
  smb2::Header h;
  const std::uint16_t charge = smb2::creditCharge(payload);
  if (credits_ < charge)
    throw SmbError(fmt::format("SMB2: {} needs {} credits, the server granted {}", smb2::commandName(command), charge, credits_));
  credits_ -= charge;
  h.creditCharge = command == smb2::kNegotiate ? 0 : charge;
  h.command = command;
  h.credits = std::max(kCreditsWanted, charge);
  h.messageId = nextMessageId_;
  nextMessageId_ += charge;
  h.treeId = treeId_;
  h.sessionId = sessionId_;
  return h;
}

std::uint64_t Client::sendRequest(const Bytes& msg) {
  const smb2::Header h = [&] {
    Reader r(msg, "request");
    smb2::Header x;
    x.command = r.u16(12);
    x.messageId = r.u64(24);
    return x;
  }();
  lastCommand_ = smb2::commandName(h.command);
  t_.send(msg);
  return h.messageId;
}

Bytes Client::await(std::uint64_t id) {
  if (auto it = early_.find(id); it != early_.end()) {
    Bytes m = std::move(it->second);
    early_.erase(it);
    return m;
  }
  for (;;) {
    Bytes m = t_.receive(timeoutMs_);
    const smb2::Header h = smb2::parseHeader(m);
    credits_ = std::min<std::uint32_t>(credits_ + h.credits, 65535);
    if (h.status == smb2::kStatusPending && (h.flags & smb2::kFlagAsync)) continue;  // interim; the final one follows
    if (h.messageId == id) return m;
    if (h.messageId >= nextMessageId_ || early_.size() >= kMaxEarlyResponses || early_.count(h.messageId))
      throw SmbError(fmt::format("SMB2: a response to message {}, which is not outstanding", h.messageId));
    early_.emplace(h.messageId, std::move(m));
  }
}

void Client::check(ByteView rsp, std::initializer_list<std::uint32_t> ok) {
  const smb2::Header h = smb2::parseHeader(rsp);
  if (std::find(ok.begin(), ok.end(), h.status) == ok.end())
    throw SmbError(fmt::format("{} failed: {}", smb2::commandName(h.command), smb2::statusName(h.status)));
}

Bytes Client::call(const Bytes& msg, std::initializer_list<std::uint32_t> ok) {
  Bytes rsp = await(sendRequest(msg));
  check(rsp, ok);
  return rsp;
}

// ---- session ---------------------------------------------------------------------------------

void Client::connect(const std::string& host, const std::string& share,
                     const std::optional<ntlmssp::Credentials>& credentials) {
  std::array<std::uint8_t, 16> guid{};
  std::random_device rd;
  for (auto& b : guid) b = static_cast<std::uint8_t>(rd());
  negotiated_ = smb2::parseNegotiateResponse(
      call(smb2::negotiateRequest(header(smb2::kNegotiate, 0), {smb2::kDialect300, smb2::kDialect302}, guid)));

  if (rdma() && t_.rdmaChannel() == smb2::kChannelRdmaV1Invalidate && negotiated_.dialect < smb2::kDialect302)
    throw SmbError("the server chose dialect 3.0: RDMA_V1_INVALIDATE needs 3.0.2 (use --no-invalidate)");
  Bytes rsp = call(smb2::sessionSetupRequest(header(smb2::kSessionSetup, 0), ntlmssp::negotiateMessage()),
                   {smb2::kStatusMoreProcessing});
  sessionId_ = smb2::parseHeader(rsp).sessionId;
  const ntlmssp::Challenge challenge = ntlmssp::parseChallenge(smb2::parseSessionSetupResponse(rsp).securityBlob);
  call(smb2::sessionSetupRequest(header(smb2::kSessionSetup, 0), credentials ? ntlmssp::authenticateV2(challenge, *credentials)
                                                                             : ntlmssp::authenticateGuest(challenge)));
  loggedOn_ = true;

  rsp = call(smb2::treeConnectRequest(header(smb2::kTreeConnect, 0), fmt::format("\\\\{}\\{}", host, share)));
  smb2::parseTreeConnectResponse(rsp);
  treeId_ = smb2::parseHeader(rsp).treeId;
  treeConnected_ = true;
}

void Client::disconnect() {
  if (treeConnected_) {
    treeConnected_ = false;
    smb2::parseEmptyResponse(call(smb2::emptyRequest(header(smb2::kTreeDisconnect, 0))));
  }
  if (loggedOn_) {
    loggedOn_ = false;
    smb2::parseEmptyResponse(call(smb2::emptyRequest(header(smb2::kLogoff, 0))));
  }
}

smb2::FileId Client::open(const std::string& remote, bool write) {
  smb2::CreateRequest c;
  c.name = remoteName(remote);
  c.desiredAccess = write ? smb2::kAccessReadData | smb2::kAccessWriteData | smb2::kAccessReadAttributes |
                                smb2::kAccessWriteAttributes | smb2::kAccessSynchronize
                          : smb2::kAccessGenericRead | smb2::kAccessSynchronize;
  c.disposition = write ? smb2::kDispositionOverwriteIf : smb2::kDispositionOpen;
  c.options = smb2::kOptionNonDirectory;
  // A batch oplock: ksmbd 6.1.192 faults on an open granted no oplock (NOTES.md); one client, no breaks.
  c.oplock = 0x09;
  return smb2::parseCreateResponse(call(smb2::createRequest(header(smb2::kCreate, 0), c))).fileId;
}

void Client::close(const smb2::FileId& f) { smb2::parseCloseResponse(call(smb2::closeRequest(header(smb2::kClose, 0), f))); }

std::vector<smb2::DirEntry> Client::list(const std::string& dir) {
  smb2::CreateRequest c;
  c.name = remoteName(dir);
  c.desiredAccess = smb2::kAccessReadData | smb2::kAccessReadAttributes | smb2::kAccessSynchronize;
  c.options = smb2::kOptionDirectory;
  const smb2::FileId f = smb2::parseCreateResponse(call(smb2::createRequest(header(smb2::kCreate, 0), c))).fileId;
  std::vector<smb2::DirEntry> all;
  for (std::uint8_t flags = smb2::kQueryRestartScans;; flags = 0) {
    const Bytes rsp = call(smb2::queryDirectoryRequest(header(smb2::kQueryDirectory, kDirectoryBuffer), f,
                                                       smb2::kInfoFileIdBothDirectory, flags, "*", kDirectoryBuffer),
                           {smb2::kStatusSuccess, smb2::kStatusNoMoreFiles});
    if (smb2::parseHeader(rsp).status == smb2::kStatusNoMoreFiles) break;
    for (auto& e : smb2::parseDirectoryEntries(smb2::parseQueryDirectoryResponse(rsp), smb2::kInfoFileIdBothDirectory))
      if (e.name != "." && e.name != "..") all.push_back(std::move(e));
  }
  close(f);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return all;
}

// ---- transfers -------------------------------------------------------------------------------

std::uint32_t Client::chunkLimit(std::uint32_t wanted, bool write) const {
  std::uint32_t c = std::min(wanted, write ? negotiated_.maxWriteSize : negotiated_.maxReadSize);
  if (rdma()) c = std::min({c, t_.maxReadWrite(), static_cast<std::uint32_t>(t_.rdmaSlotBytes())});
  return std::max<std::uint32_t>(c, 1);
}

void Client::pipeline(std::uint64_t total, std::uint32_t chunk, unsigned depth,
                      const std::function<Bytes(const Chunk&)>& issue,
                      const std::function<void(const Chunk&, ByteView)>& done, const std::function<bool()>& more) {
  if (rdma()) depth = static_cast<unsigned>(std::min<std::size_t>(depth, t_.rdmaSlots()));
  depth = std::max(depth, 1u);
  struct InFlight {
    std::uint64_t id;
    Chunk c;
  };
  std::deque<InFlight> inflight;
  std::vector<bool> busy(depth, false);
  std::uint64_t offset = 0;
  auto complete = [&] {
    InFlight f = inflight.front();
    inflight.pop_front();
    const Bytes rsp = await(f.id);
    check(rsp, {smb2::kStatusSuccess});
    if (rdma()) t_.rdmaDone(f.c.slot);
    done(f.c, rsp);
    busy[f.c.slot] = false;
  };
  for (;;) {
    while (inflight.size() < depth) {
      if (offset >= total) {
        if (!more || total == 0 || !more()) break;
        offset = 0;  // bench: around the file again
      }
      Chunk c{offset, static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk, total - offset)), 0};
      while (credits_ < smb2::creditCharge(c.length)) {
        if (inflight.empty())
          throw SmbError(fmt::format("SMB2: the server granted {} credits, a {}-byte request needs {}", credits_, c.length,
                                     smb2::creditCharge(c.length)));
        complete();
      }
      c.slot = static_cast<std::size_t>(std::find(busy.begin(), busy.end(), false) - busy.begin());
      busy[c.slot] = true;
      inflight.push_back({sendRequest(issue(c)), c});
      offset += c.length;
    }
    if (inflight.empty()) break;
    complete();
  }
}

std::uint64_t Client::put(const std::string& local, const std::string& remote, const TransferOptions& o) {
  LocalFile in(local, O_RDONLY);
  struct stat st{};
  if (::fstat(in.fd, &st) != 0) throw SmbError(fmt::format("{}: {}", local, std::strerror(errno)));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const smb2::FileId f = open(remote, true);
  const std::uint32_t chunk = chunkLimit(o.chunk, true);
  Bytes staging;
  pipeline(
      size, chunk, o.depth,
      [&](const Chunk& c) {
        const smb2::Header h = header(smb2::kWrite, c.length);
        if (rdma()) {
          in.readAt(t_.rdmaSlot(c.slot), c.length, c.offset);
          return smb2::writeRequestRdma(h, f, c.offset, t_.rdmaChannel(), t_.rdmaDescriptor(c.slot, c.length));
        }
        staging.resize(c.length);
        in.readAt(staging.data(), c.length, c.offset);
        return smb2::writeRequest(h, f, c.offset, staging);
      },
      [&](const Chunk& c, ByteView rsp) {
        const std::uint32_t n = smb2::parseWriteResponse(rsp);
        if (n != c.length) throw SmbError(fmt::format("WRITE at {}: {} of {} bytes written", c.offset, n, c.length));
      });
  close(f);
  return size;
}

std::uint64_t Client::get(const std::string& remote, const std::string& local, const TransferOptions& o) {
  smb2::CreateRequest cr;
  cr.name = remoteName(remote);
  cr.desiredAccess = smb2::kAccessGenericRead | smb2::kAccessSynchronize;
  cr.options = smb2::kOptionNonDirectory;
  cr.oplock = 0x09;
  const smb2::CreateResponse created = smb2::parseCreateResponse(call(smb2::createRequest(header(smb2::kCreate, 0), cr)));
  const std::uint64_t size = created.endOfFile;
  LocalFile out(local, O_WRONLY | O_CREAT | O_TRUNC);
  const std::uint32_t chunk = chunkLimit(o.chunk, false);
  pipeline(
      size, chunk, o.depth,
      [&](const Chunk& c) {
        const smb2::Header h = header(smb2::kRead, c.length);
        if (rdma())
          return smb2::readRequestRdma(h, created.fileId, c.offset, t_.rdmaChannel(), t_.rdmaDescriptor(c.slot, c.length));
        return smb2::readRequest(h, created.fileId, c.offset, c.length);
      },
      [&](const Chunk& c, ByteView rsp) {
        const smb2::ReadResponse rr = smb2::parseReadResponse(rsp);
        // Through the channel the data is in our buffer and DataRemaining says how much.
        const bool viaChannel = rdma() && rr.data.empty();
        const std::uint64_t n = viaChannel ? rr.remaining : rr.data.size();
        if (n != c.length)
          throw SmbError(fmt::format("READ at {}: {} bytes, expected {} (the file changed?)", c.offset, n, c.length));
        out.writeAt(viaChannel ? t_.rdmaSlot(c.slot) : rr.data.data(), c.length, c.offset);
      });
  close(created.fileId);
  return size;
}

std::uint64_t Client::run(const smb2::FileId& f, bool write, std::uint32_t size, std::uint64_t span, unsigned depth,
                          const std::function<bool()>& keepGoing) {
  const Bytes inlineData(size, 0x5A);
  std::uint64_t ops = 0;
  pipeline(
      span, size, depth,
      [&](const Chunk& c) {
        const smb2::Header h = header(write ? smb2::kWrite : smb2::kRead, c.length);
        if (rdma()) {
          const smb2::BufferDescriptor d = t_.rdmaDescriptor(c.slot, c.length);
          return write ? smb2::writeRequestRdma(h, f, c.offset, t_.rdmaChannel(), d)
                       : smb2::readRequestRdma(h, f, c.offset, t_.rdmaChannel(), d);
        }
        return write ? smb2::writeRequest(h, f, c.offset, ByteView(inlineData).first(c.length))
                     : smb2::readRequest(h, f, c.offset, c.length);
      },
      [&](const Chunk& c, ByteView rsp) {
        if (write) {
          if (smb2::parseWriteResponse(rsp) != c.length) throw SmbError("bench: short WRITE");
        } else {
          const smb2::ReadResponse rr = smb2::parseReadResponse(rsp);
          if ((rr.data.empty() ? rr.remaining : rr.data.size()) != c.length) throw SmbError("bench: short READ");
        }
        ++ops;
      },
      keepGoing);
  return ops;
}

}  // namespace ndksmb
