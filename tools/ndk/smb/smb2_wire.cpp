#include "smb2_wire.h"

#include <fmt/format.h>

namespace ndksmb::smb2 {

namespace {
constexpr std::uint32_t kProtocolId = 0x424D53FE;  // 0xFE 'S' 'M' 'B'

// The header of a request, then the body's StructureSize.
Writer begin(Bytes& out, const Header& h, std::uint16_t structureSize) {
  Writer w(out);
  w.u32(kProtocolId);
  w.u16(static_cast<std::uint16_t>(kHeaderSize));
  w.u16(h.creditCharge);
  w.u32(0);  // ChannelSequence / Status
  w.u16(h.command);
  w.u16(h.credits);
  w.u32(h.flags);
  w.u32(0);  // NextCommand
  w.u64(h.messageId);
  w.u32(0);  // Reserved (ProcessId)
  w.u32(h.treeId);
  w.u64(h.sessionId);
  w.zeros(16);  // Signature
  w.u16(structureSize);
  return w;
}

// The body of a response: its StructureSize must be the one of `command` (an error response,
// StructureSize 9, never reaches a body parser: the caller checks the status first).
Reader body(ByteView msg, std::uint16_t command, std::uint16_t structureSize, const char* what) {
  const Header h = parseHeader(msg);
  if (h.command != command)
    throw SmbError(fmt::format("{}: response to {} instead", what, commandName(h.command)));
  Reader r(msg.subspan(kHeaderSize), what);
  const std::uint16_t s = r.u16(0);
  if (s != structureSize) throw SmbError(fmt::format("{}: StructureSize {} (expected {})", what, s, structureSize));
  return r;
}

// A buffer the response points at with an offset from the header's start.
ByteView buffer(ByteView msg, std::uint64_t offsetFromHeader, std::uint64_t length, const char* what) {
  if (length == 0) return {};
  if (offsetFromHeader < kHeaderSize || offsetFromHeader > msg.size() || length > msg.size() - offsetFromHeader)
    throw SmbError(fmt::format("{}: buffer at {} length {} outside the {}-byte message", what, offsetFromHeader, length,
                               msg.size()));
  return msg.subspan(static_cast<std::size_t>(offsetFromHeader), static_cast<std::size_t>(length));
}

void fileId(Writer& w, const FileId& f) {
  w.u64(f.persistent);
  w.u64(f.volatileId);
}
}  // namespace

const char* commandName(std::uint16_t c) {
  switch (c) {
    case kNegotiate: return "NEGOTIATE";
    case kSessionSetup: return "SESSION_SETUP";
    case kLogoff: return "LOGOFF";
    case kTreeConnect: return "TREE_CONNECT";
    case kTreeDisconnect: return "TREE_DISCONNECT";
    case kCreate: return "CREATE";
    case kClose: return "CLOSE";
    case kRead: return "READ";
    case kWrite: return "WRITE";
    case kQueryDirectory: return "QUERY_DIRECTORY";
    default: return "command";
  }
}

std::string statusName(std::uint32_t s) {
  switch (s) {
#define N(name, value) \
  case value: return #name;
    N(STATUS_SUCCESS, 0x00000000u) N(STATUS_PENDING, 0x00000103u) N(STATUS_NO_MORE_FILES, 0x80000006u)
    N(STATUS_BUFFER_OVERFLOW, 0x80000005u) N(STATUS_UNSUCCESSFUL, 0xC0000001u) N(STATUS_NOT_IMPLEMENTED, 0xC0000002u)
    N(STATUS_INVALID_HANDLE, 0xC0000008u) N(STATUS_INVALID_PARAMETER, 0xC000000Du) N(STATUS_NO_SUCH_FILE, 0xC000000Fu)
    N(STATUS_END_OF_FILE, 0xC0000011u) N(STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016u)
    N(STATUS_NO_MEMORY, 0xC0000017u) N(STATUS_ACCESS_DENIED, 0xC0000022u) N(STATUS_BUFFER_TOO_SMALL, 0xC0000023u)
    N(STATUS_OBJECT_NAME_INVALID, 0xC0000033u) N(STATUS_OBJECT_NAME_NOT_FOUND, 0xC0000034u)
    N(STATUS_OBJECT_NAME_COLLISION, 0xC0000035u) N(STATUS_OBJECT_PATH_NOT_FOUND, 0xC000003Au)
    N(STATUS_SHARING_VIOLATION, 0xC0000043u) N(STATUS_DELETE_PENDING, 0xC0000056u) N(STATUS_LOGON_FAILURE, 0xC000006Du)
    N(STATUS_ACCOUNT_RESTRICTION, 0xC000006Eu) N(STATUS_DISK_FULL, 0xC000007Fu) N(STATUS_INSUFFICIENT_RESOURCES, 0xC000009Au)
    N(STATUS_FILE_IS_A_DIRECTORY, 0xC00000BAu) N(STATUS_NOT_SUPPORTED, 0xC00000BBu)
    N(STATUS_NETWORK_NAME_DELETED, 0xC00000C9u) N(STATUS_NETWORK_ACCESS_DENIED, 0xC00000CAu)
    N(STATUS_BAD_NETWORK_NAME, 0xC00000CCu) N(STATUS_REQUEST_NOT_ACCEPTED, 0xC00000D0u)
    N(STATUS_INTERNAL_ERROR, 0xC00000E5u) N(STATUS_NOT_A_DIRECTORY, 0xC0000103u) N(STATUS_CANCELLED, 0xC0000120u)
    N(STATUS_CONNECTION_DISCONNECTED, 0xC000020Cu) N(STATUS_CONNECTION_RESET, 0xC000020Du)
    N(STATUS_INVALID_DEVICE_STATE, 0xC0000184u) N(STATUS_USER_SESSION_DELETED, 0xC0000203u)
    N(STATUS_NOT_FOUND, 0xC0000225u) N(STATUS_INVALID_NETWORK_RESPONSE, 0xC00000C3u)
    N(STATUS_FS_DRIVER_REQUIRED, 0xC000019Cu) N(STATUS_NETWORK_SESSION_EXPIRED, 0xC000035Cu)
    N(STATUS_INVALID_INFO_CLASS, 0xC0000003u) N(STATUS_FILE_CLOSED, 0xC0000128u)
#undef N
    default: return fmt::format("{:#010x}", s);
  }
}

Header parseHeader(ByteView msg) {
  Reader r(msg, "SMB2 header");
  if (msg.size() < kHeaderSize) throw SmbError(fmt::format("SMB2 message of {} bytes, shorter than its header", msg.size()));
  if (r.u32(0) != kProtocolId) throw SmbError(fmt::format("not an SMB2 message (protocol id {:#010x})", r.u32(0)));
  if (r.u16(4) != kHeaderSize) throw SmbError(fmt::format("SMB2 header: StructureSize {}", r.u16(4)));
  Header h;
  h.creditCharge = r.u16(6);
  h.status = r.u32(8);
  h.command = r.u16(12);
  h.credits = r.u16(14);
  h.flags = r.u32(16);
  h.nextCommand = r.u32(20);
  h.messageId = r.u64(24);
  if (h.flags & kFlagAsync) h.asyncId = r.u64(32);
  else h.treeId = r.u32(36);
  h.sessionId = r.u64(40);
  if (!(h.flags & kFlagResponse)) throw SmbError("SMB2 message from the server without the response flag");
  if (h.nextCommand != 0) throw SmbError("SMB2: a compounded response to a request that was not compounded");
  return h;
}

std::uint16_t creditCharge(std::uint64_t payload) {
  if (payload == 0) return 1;
  return static_cast<std::uint16_t>((payload - 1) / kCreditUnit + 1);
}

// ---- NEGOTIATE, SESSION_SETUP, TREE_CONNECT, LOGOFF, TREE_DISCONNECT -------------------------

Bytes negotiateRequest(const Header& h, const std::vector<std::uint16_t>& dialects, const std::array<std::uint8_t, 16>& guid) {
  Bytes out;
  Writer w = begin(out, h, 36);
  w.u16(static_cast<std::uint16_t>(dialects.size()));
  w.u16(0x0001);  // SecurityMode: signing enabled, not required
  w.u16(0);
  w.u32(kCapLargeMtu);
  w.bytes(guid);
  w.u64(0);  // ClientStartTime
  for (std::uint16_t d : dialects) w.u16(d);
  return out;
}

NegotiateResponse parseNegotiateResponse(ByteView msg) {
  Reader r = body(msg, kNegotiate, 65, "SMB2 NEGOTIATE response");
  NegotiateResponse n;
  n.securityMode = r.u16(2);
  n.dialect = r.u16(4);
  n.capabilities = r.u32(24);
  n.maxTransactSize = r.u32(28);
  n.maxReadSize = r.u32(32);
  n.maxWriteSize = r.u32(36);
  buffer(msg, r.u16(56), r.u16(58), "SMB2 NEGOTIATE response security buffer");
  if (n.dialect != kDialect300 && n.dialect != kDialect302)
    throw SmbError(fmt::format("SMB2 NEGOTIATE: the server chose dialect {:#06x}, not one offered", n.dialect));
  if (n.maxReadSize == 0 || n.maxWriteSize == 0) throw SmbError("SMB2 NEGOTIATE: a maximum read or write size of 0");
  return n;
}

Bytes sessionSetupRequest(const Header& h, ByteView blob) {
  Bytes out;
  Writer w = begin(out, h, 25);
  w.u8(0);  // Flags
  w.u8(0x01);  // SecurityMode: signing enabled
  w.u32(0);  // Capabilities
  w.u32(0);  // Channel
  w.u16(static_cast<std::uint16_t>(kHeaderSize + 24));
  w.u16(static_cast<std::uint16_t>(blob.size()));
  w.u64(0);  // PreviousSessionId
  w.bytes(blob);
  return out;
}

SessionSetupResponse parseSessionSetupResponse(ByteView msg) {
  Reader r = body(msg, kSessionSetup, 9, "SMB2 SESSION_SETUP response");
  SessionSetupResponse s;
  s.sessionFlags = r.u16(2);
  ByteView b = buffer(msg, r.u16(4), r.u16(6), "SMB2 SESSION_SETUP response security buffer");
  s.securityBlob.assign(b.begin(), b.end());
  return s;
}

Bytes treeConnectRequest(const Header& h, const std::string& uncPath) {
  Bytes out;
  const Bytes path = utf16le(uncPath);
  Writer w = begin(out, h, 9);
  w.u16(0);  // Flags
  w.u16(static_cast<std::uint16_t>(kHeaderSize + 8));
  w.u16(static_cast<std::uint16_t>(path.size()));
  w.bytes(path);
  return out;
}

TreeConnectResponse parseTreeConnectResponse(ByteView msg) {
  Reader r = body(msg, kTreeConnect, 16, "SMB2 TREE_CONNECT response");
  TreeConnectResponse t;
  t.shareType = r.u8(2);
  t.shareFlags = r.u32(4);
  t.capabilities = r.u32(8);
  t.maximalAccess = r.u32(12);
  return t;
}

Bytes emptyRequest(const Header& h) {
  Bytes out;
  Writer w = begin(out, h, 4);
  w.u16(0);
  return out;
}

void parseEmptyResponse(ByteView msg) {
  const Header h = parseHeader(msg);
  body(msg, h.command, 4, "SMB2 LOGOFF / TREE_DISCONNECT response");
}

// ---- CREATE, CLOSE ---------------------------------------------------------------------------

Bytes createRequest(const Header& h, const CreateRequest& c) {
  Bytes out;
  const Bytes name = utf16le(c.name);
  Writer w = begin(out, h, 57);
  w.u8(0);  // SecurityFlags
  w.u8(c.oplock);
  w.u32(2);  // ImpersonationLevel: Impersonation
  w.u64(0);  // SmbCreateFlags
  w.u64(0);  // Reserved
  w.u32(c.desiredAccess);
  w.u32(0);  // FileAttributes
  w.u32(0x7);  // ShareAccess: read, write, delete
  w.u32(c.disposition);
  w.u32(c.options);
  w.u16(static_cast<std::uint16_t>(kHeaderSize + 56));
  w.u16(static_cast<std::uint16_t>(name.size()));
  w.u32(0);  // CreateContextsOffset
  w.u32(0);  // CreateContextsLength
  w.bytes(name);
  if (name.empty()) w.u8(0);  // the variable part is never empty
  return out;
}

CreateResponse parseCreateResponse(ByteView msg) {
  Reader r = body(msg, kCreate, 89, "SMB2 CREATE response");
  CreateResponse c;
  c.endOfFile = r.u64(48);
  c.attributes = r.u32(56);
  c.fileId.persistent = r.u64(64);
  c.fileId.volatileId = r.u64(72);
  buffer(msg, r.u32(80), r.u32(84), "SMB2 CREATE response contexts");
  return c;
}

Bytes closeRequest(const Header& h, const FileId& f) {
  Bytes out;
  Writer w = begin(out, h, 24);
  w.u16(0);  // Flags
  w.u32(0);
  fileId(w, f);
  return out;
}

void parseCloseResponse(ByteView msg) { body(msg, kClose, 60, "SMB2 CLOSE response"); }

// ---- WRITE, READ -----------------------------------------------------------------------------

namespace {
constexpr std::size_t kChannelInfoOffset = kHeaderSize + 48;  // right after both fixed parts

void descriptor(Writer& w, const BufferDescriptor& d) {
  w.u64(d.offset);
  w.u32(d.token);
  w.u32(d.length);
}
}  // namespace

Bytes writeRequest(const Header& h, const FileId& f, std::uint64_t offset, ByteView data) {
  Bytes out;
  Writer w = begin(out, h, 49);
  w.u16(static_cast<std::uint16_t>(kChannelInfoOffset));  // DataOffset
  w.u32(static_cast<std::uint32_t>(data.size()));
  w.u64(offset);
  fileId(w, f);
  w.u32(kChannelNone);
  w.u32(0);  // RemainingBytes
  w.u16(0);
  w.u16(0);
  w.u32(0);  // Flags
  w.bytes(data);
  if (data.empty()) w.u8(0);
  return out;
}

Bytes writeRequestRdma(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t channel,
                       const BufferDescriptor& desc) {
  Bytes out;
  Writer w = begin(out, h, 49);
  w.u16(0);  // DataOffset: no inline data
  w.u32(0);  // Length
  w.u64(offset);
  fileId(w, f);
  w.u32(channel);
  w.u32(desc.length);  // RemainingBytes: what the server is to read through the channel
  w.u16(static_cast<std::uint16_t>(kChannelInfoOffset));
  w.u16(16);
  w.u32(0);
  descriptor(w, desc);
  return out;
}

std::uint32_t parseWriteResponse(ByteView msg) { return body(msg, kWrite, 17, "SMB2 WRITE response").u32(4); }

Bytes readRequest(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t length) {
  Bytes out;
  Writer w = begin(out, h, 49);
  w.u8(0);  // Padding
  w.u8(0);  // Flags
  w.u32(length);
  w.u64(offset);
  fileId(w, f);
  w.u32(0);  // MinimumCount
  w.u32(kChannelNone);
  w.u32(0);
  w.u16(0);
  w.u16(0);
  w.u8(0);
  return out;
}

Bytes readRequestRdma(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t channel,
                      const BufferDescriptor& desc) {
  Bytes out;
  Writer w = begin(out, h, 49);
  w.u8(0);
  w.u8(0);
  w.u32(desc.length);
  w.u64(offset);
  fileId(w, f);
  w.u32(0);
  w.u32(channel);
  w.u32(0);
  w.u16(static_cast<std::uint16_t>(kChannelInfoOffset));
  w.u16(16);
  descriptor(w, desc);
  return out;
}

ReadResponse parseReadResponse(ByteView msg) {
  Reader r = body(msg, kRead, 17, "SMB2 READ response");
  ReadResponse rr;
  rr.data = buffer(msg, r.u8(2), r.u32(4), "SMB2 READ response data");
  rr.remaining = r.u32(8);
  return rr;
}

// ---- QUERY_DIRECTORY -------------------------------------------------------------------------

Bytes queryDirectoryRequest(const Header& h, const FileId& f, std::uint8_t infoClass, std::uint8_t flags,
                            const std::string& pattern, std::uint32_t outputLength) {
  Bytes out;
  const Bytes name = utf16le(pattern);
  Writer w = begin(out, h, 33);
  w.u8(infoClass);
  w.u8(flags);
  w.u32(0);  // FileIndex
  fileId(w, f);
  w.u16(static_cast<std::uint16_t>(kHeaderSize + 32));
  w.u16(static_cast<std::uint16_t>(name.size()));
  w.u32(outputLength);
  w.bytes(name);
  if (name.empty()) w.u8(0);
  return out;
}

ByteView parseQueryDirectoryResponse(ByteView msg) {
  Reader r = body(msg, kQueryDirectory, 9, "SMB2 QUERY_DIRECTORY response");
  return buffer(msg, r.u16(2), r.u32(4), "SMB2 QUERY_DIRECTORY output buffer");
}

std::vector<DirEntry> parseDirectoryEntries(ByteView buf, std::uint8_t infoClass) {
  std::size_t nameAt = 0;
  if (infoClass == kInfoFileDirectory) nameAt = 64;
  else if (infoClass == kInfoFileIdBothDirectory) nameAt = 104;
  else throw SmbError(fmt::format("directory entries of information class {} are not parsed", infoClass));
  std::vector<DirEntry> out;
  std::size_t pos = 0;
  while (pos < buf.size()) {
    Reader e(buf.subspan(pos), "SMB2 directory entry");
    const std::uint32_t next = e.u32(0);
    DirEntry d;
    d.lastWriteTime = e.u64(24);
    d.size = e.u64(40);
    d.attributes = e.u32(56);
    const std::uint32_t nameLen = e.u32(60);
    d.name = utf8(e.bytes(nameAt, nameLen));
    out.push_back(std::move(d));
    if (next == 0) break;
    if (next % 8 != 0 || next < nameAt || next > buf.size() - pos)
      throw SmbError(fmt::format("SMB2 directory entry: NextEntryOffset {} at {} of a {}-byte buffer", next, pos, buf.size()));
    pos += next;
  }
  return out;
}

}  // namespace ndksmb::smb2

namespace ndksmb::ntlmssp {

namespace {
constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
// UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, 128, 56.
constexpr std::uint32_t kFlags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x20000000 | 0x80000000;

void fields(Writer& w, std::uint16_t len, std::uint32_t offset) {
  w.u16(len);
  w.u16(len);
  w.u32(offset);
}
}  // namespace

Bytes negotiateMessage() {
  Bytes out;
  Writer w(out);
  w.bytes(kSignature);
  w.u32(1);
  w.u32(kFlags);
  fields(w, 0, 0);  // DomainName
  fields(w, 0, 0);  // Workstation
  return out;
}

Challenge parseChallenge(ByteView msg) {
  Reader r(msg, "NTLMSSP CHALLENGE");
  ByteView sig = r.bytes(0, 8);
  if (!std::equal(sig.begin(), sig.end(), kSignature) || r.u32(8) != 2)
    throw SmbError("SESSION_SETUP: the server's security blob is not an NTLMSSP CHALLENGE");
  Challenge c;
  c.flags = r.u32(20);
  ByteView sc = r.bytes(24, 8);
  std::copy(sc.begin(), sc.end(), c.serverChallenge.begin());
  const std::uint16_t tiLen = r.u16(40);
  const std::uint32_t tiOff = r.u32(44);
  if (tiLen) {
    ByteView ti = r.bytes(tiOff, tiLen);
    c.targetInfo.assign(ti.begin(), ti.end());
  }
  return c;
}

Bytes authenticateGuest(const Challenge& c) {
  // Every field empty, pointing at the end of the fixed part (64 bytes: no version, no MIC).
  Bytes out;
  Writer w(out);
  w.bytes(kSignature);
  w.u32(3);
  for (int k = 0; k < 6; ++k) fields(w, 0, 64);  // Lm, Nt, Domain, User, Workstation, SessionKey
  w.u32(c.flags & kFlags);
  return out;
}

}  // namespace ndksmb::ntlmssp
