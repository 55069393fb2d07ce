// The SMB2 session `ndk smb` runs over a Transport: NEGOTIATE, a guest SESSION_SETUP, TREE_CONNECT,
// then file transfers with several requests in flight (CreditCharge and granted credits honoured;
// through the transport's RDMA channel when it has one), directory listing, and the way out
// (TREE_DISCONNECT, LOGOFF).
#pragma once
#include <functional>
#include <map>
#include <string>

#include "ntlmv2.h"
#include "transport.h"

namespace ndksmb {

struct TransferOptions {
  std::uint32_t chunk = 1u << 20;  // bytes per READ / WRITE (further capped by the server)
  unsigned depth = 4;              // requests in flight
};

class Client {
 public:
  Client(Transport& t, int timeoutMs) : t_(t), timeoutMs_(timeoutMs) {}
  // NEGOTIATE .. TREE_CONNECT to \\host\share; a guest session without credentials, NTLMv2 with.
  void connect(const std::string& host, const std::string& share,
               const std::optional<ntlmssp::Credentials>& credentials = std::nullopt);
  // TREE_DISCONNECT and LOGOFF (what was connected).
  void disconnect();

  std::vector<smb2::DirEntry> list(const std::string& dir);
  // Copies a local file to the share and back; returns the bytes moved.
  std::uint64_t put(const std::string& local, const std::string& remote, const TransferOptions& o);
  std::uint64_t get(const std::string& remote, const std::string& local, const TransferOptions& o);

  // bench: `count` READs or WRITEs of `size` bytes at offsets cycling through [0, span), `depth`
  // in flight, until `keepGoing` says stop; returns the operations completed.
  smb2::FileId open(const std::string& remote, bool write);
  void close(const smb2::FileId& f);
  std::uint64_t run(const smb2::FileId& f, bool write, std::uint32_t size, std::uint64_t span, unsigned depth,
                    const std::function<bool()>& keepGoing);

  std::uint16_t dialect() const { return negotiated_.dialect; }
  bool rdma() const { return t_.rdmaSlots() > 0; }
  std::uint32_t chunkLimit(std::uint32_t wanted, bool write) const;

 private:
  smb2::Header header(std::uint16_t command, std::uint64_t payload);
  // Sends and waits for the response to that message, whose status must be one of `ok`.
  Bytes call(const Bytes& msg, std::initializer_list<std::uint32_t> ok = {smb2::kStatusSuccess});
  std::uint64_t sendRequest(const Bytes& msg);
  // The final response to `messageId` (interim STATUS_PENDING skipped); others are kept.
  Bytes await(std::uint64_t messageId);
  void check(ByteView rsp, std::initializer_list<std::uint32_t> ok);
  // One pipelined pass over [0, total): `issue` builds the request for a chunk in slot k, `done`
  // takes its response.
  struct Chunk {
    std::uint64_t offset;
    std::uint32_t length;
    std::size_t slot;
  };
  void pipeline(std::uint64_t total, std::uint32_t chunk, unsigned depth, const std::function<Bytes(const Chunk&)>& issue,
                const std::function<void(const Chunk&, ByteView)>& done, const std::function<bool()>& more = nullptr);

  Transport& t_;
  int timeoutMs_;
  smb2::NegotiateResponse negotiated_;
  std::uint64_t nextMessageId_ = 0;
  std::uint32_t credits_ = 1;  // the first request may always be sent
  std::uint64_t sessionId_ = 0;
  std::uint32_t treeId_ = 0;
  bool loggedOn_ = false, treeConnected_ = false;
  std::map<std::uint64_t, Bytes> early_;  // responses that arrived before their turn
  std::string lastCommand_;
};

// "//host[:port]/share" or "\\host\share".
struct UncPath {
  std::string host, share;
  std::optional<std::uint16_t> port;
};
UncPath parseUnc(const std::string& text);
// A path inside the share as SMB2 names it: '\\' separated, no leading separator.
std::string remoteName(const std::string& path);

}  // namespace ndksmb
