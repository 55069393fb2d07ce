// [MS-SMB2] messages of the subset `ndk smb` uses, and NTLMSSP ([MS-NLMP]) for a guest session.
// Builders return the whole message (64-byte header + body); parsers take the whole response and
// check every offset and length the server sent before using it (SmbError otherwise). Pure: no I/O.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bytes.h"

namespace ndksmb::smb2 {

enum Command : std::uint16_t {
  kNegotiate = 0x00, kSessionSetup = 0x01, kLogoff = 0x02, kTreeConnect = 0x03, kTreeDisconnect = 0x04,
  kCreate = 0x05, kClose = 0x06, kRead = 0x08, kWrite = 0x09, kQueryDirectory = 0x0E,
};
const char* commandName(std::uint16_t c);

inline constexpr std::size_t kHeaderSize = 64;
inline constexpr std::uint32_t kFlagResponse = 0x00000001;
inline constexpr std::uint32_t kFlagAsync = 0x00000002;
inline constexpr std::uint16_t kDialect300 = 0x0300;
inline constexpr std::uint16_t kDialect302 = 0x0302;
inline constexpr std::uint32_t kChannelNone = 0, kChannelRdmaV1 = 1, kChannelRdmaV1Invalidate = 2;
inline constexpr std::uint32_t kCapLargeMtu = 0x00000004;
// One credit covers 64 KiB of payload (multi-credit requests, dialect 2.1 and later).
inline constexpr std::uint32_t kCreditUnit = 65536;

// NTSTATUS values the client acts on.
inline constexpr std::uint32_t kStatusSuccess = 0x00000000;
inline constexpr std::uint32_t kStatusPending = 0x00000103;
inline constexpr std::uint32_t kStatusMoreProcessing = 0xC0000016;
inline constexpr std::uint32_t kStatusNoMoreFiles = 0x80000006;
inline constexpr std::uint32_t kStatusEndOfFile = 0xC0000011;
std::string statusName(std::uint32_t status);  // "STATUS_ACCESS_DENIED" or "0xC00000XX"

struct Header {
  std::uint16_t creditCharge = 0;
  std::uint32_t status = 0;
  std::uint16_t command = 0;
  std::uint16_t credits = 0;  // requested (request) / granted (response)
  std::uint32_t flags = 0;
  std::uint32_t nextCommand = 0;
  std::uint64_t messageId = 0;
  std::uint64_t asyncId = 0;
  std::uint32_t treeId = 0;
  std::uint64_t sessionId = 0;
};
// The header of a response: protocol id, structure size, the response flag; no compound (the
// client sends none, so a NextCommand is refused).
Header parseHeader(ByteView msg);
// The credits a request of `payload` bytes costs (at least 1).
std::uint16_t creditCharge(std::uint64_t payload);

struct FileId {
  std::uint64_t persistent = 0, volatileId = 0;
};
// SMB2_BUFFER_DESCRIPTOR_V1 ([MS-SMBD] 2.2.3.1): a registered buffer the server reads or writes.
struct BufferDescriptor {
  std::uint64_t offset = 0;
  std::uint32_t token = 0;
  std::uint32_t length = 0;
};

Bytes negotiateRequest(const Header& h, const std::vector<std::uint16_t>& dialects, const std::array<std::uint8_t, 16>& guid);
struct NegotiateResponse {
  std::uint16_t securityMode = 0, dialect = 0;
  std::uint32_t capabilities = 0, maxTransactSize = 0, maxReadSize = 0, maxWriteSize = 0;
};
NegotiateResponse parseNegotiateResponse(ByteView msg);

Bytes sessionSetupRequest(const Header& h, ByteView securityBlob);
struct SessionSetupResponse {
  std::uint16_t sessionFlags = 0;
  Bytes securityBlob;
};
SessionSetupResponse parseSessionSetupResponse(ByteView msg);

Bytes treeConnectRequest(const Header& h, const std::string& uncPath);
struct TreeConnectResponse {
  std::uint8_t shareType = 0;
  std::uint32_t shareFlags = 0, capabilities = 0, maximalAccess = 0;
};
TreeConnectResponse parseTreeConnectResponse(ByteView msg);

// The bodies that carry nothing but a StructureSize of 4 (LOGOFF, TREE_DISCONNECT).
Bytes emptyRequest(const Header& h);
void parseEmptyResponse(ByteView msg);

inline constexpr std::uint32_t kAccessReadData = 0x00000001, kAccessWriteData = 0x00000002,
                               kAccessReadAttributes = 0x00000080,
                               kAccessWriteAttributes = 0x00000100, kAccessSynchronize = 0x00100000,
                               kAccessGenericRead = 0x80000000, kAccessGenericWrite = 0x40000000;
inline constexpr std::uint32_t kDispositionOpen = 1, kDispositionOverwriteIf = 5;
inline constexpr std::uint32_t kOptionDirectory = 0x00000001, kOptionNonDirectory = 0x00000040;
struct CreateRequest {
  std::string name;  // relative to the share, '\\' separated; "" is the share's root
  std::uint32_t desiredAccess = 0;
  std::uint32_t disposition = kDispositionOpen;
  std::uint32_t options = 0;
  std::uint8_t oplock = 0;
};
Bytes createRequest(const Header& h, const CreateRequest& c);
struct CreateResponse {
  FileId fileId;
  std::uint64_t endOfFile = 0;
  std::uint32_t attributes = 0;
};
CreateResponse parseCreateResponse(ByteView msg);

Bytes closeRequest(const Header& h, const FileId& f);
void parseCloseResponse(ByteView msg);

// WRITE: with a channel the data stays in the registered buffer `desc` (Length 0, RemainingBytes =
// its size); without, `data` travels inline.
Bytes writeRequest(const Header& h, const FileId& f, std::uint64_t offset, ByteView data);
Bytes writeRequestRdma(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t channel,
                       const BufferDescriptor& desc);
std::uint32_t parseWriteResponse(ByteView msg);  // bytes written

Bytes readRequest(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t length);
Bytes readRequestRdma(const Header& h, const FileId& f, std::uint64_t offset, std::uint32_t channel,
                      const BufferDescriptor& desc);
struct ReadResponse {
  ByteView data;                 // inline data (within the message passed in)
  std::uint32_t remaining = 0;   // DataRemaining: with an RDMA channel, the bytes written into the buffer
};
ReadResponse parseReadResponse(ByteView msg);

inline constexpr std::uint8_t kInfoFileDirectory = 0x01, kInfoFileIdBothDirectory = 0x25;
inline constexpr std::uint8_t kQueryRestartScans = 0x01;
Bytes queryDirectoryRequest(const Header& h, const FileId& f, std::uint8_t infoClass, std::uint8_t flags,
                            const std::string& pattern, std::uint32_t outputLength);
ByteView parseQueryDirectoryResponse(ByteView msg);  // the output buffer
struct DirEntry {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t attributes = 0;
  std::uint64_t lastWriteTime = 0;  // FILETIME
};
inline constexpr std::uint32_t kAttributeDirectory = 0x10;
// Walks the entries of a QUERY_DIRECTORY output buffer: each NextEntryOffset must move forward,
// stay 8-byte aligned and inside the buffer; each name must fit in its entry.
std::vector<DirEntry> parseDirectoryEntries(ByteView buffer, std::uint8_t infoClass);

}  // namespace ndksmb::smb2

namespace ndksmb::ntlmssp {
// [MS-NLMP]: NEGOTIATE, the server's CHALLENGE, and an anonymous-style AUTHENTICATE with an empty
// user name (ksmbd maps it to the guest account; no session key, no signing).
Bytes negotiateMessage();
struct Challenge {
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 8> serverChallenge{};
  Bytes targetInfo;
};
Challenge parseChallenge(ByteView msg);
Bytes authenticateGuest(const Challenge& c);
}  // namespace ndksmb::ntlmssp
