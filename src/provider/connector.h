// NDK_CONNECTOR: state machine of §5.11, argument validation of the connection functions
// (R87–R89, R93, R107, R112). Establishment itself is the data path's (next issue): the functions
// that need the wire validate their arguments and then return STATUS_NOT_IMPLEMENTED.
#pragma once
#include <vector>

#include "provider/object.h"

namespace openndk::provider {

class Qp;

class Connector final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeConnector;
  static constexpr const char* kCloseName = "NdkCloseConnector";
  enum class State { Idle, Connecting, ConnectCompleted, Incoming, Connected, Disconnected, Failed };

  explicit Connector(Adapter* adapter);
  ~Connector() override;
  static const NDK_CONNECTOR_DISPATCH* dispatch();

  State state() const;

  NTSTATUS connect(const char* fn, NDK_QP* qp, const SOCKADDR* src, ULONG srcLen, NDK_SHARED_ENDPOINT* se,
                   const SOCKADDR* dst, ULONG dstLen, const void* pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb);
  NTSTATUS completeConnect(const char* fn, NDK_FN_REQUEST_COMPLETION cb);
  NTSTATUS accept(const char* fn, NDK_QP* qp, const void* pd, ULONG pdLen, NDK_FN_REQUEST_COMPLETION cb);
  NTSTATUS rejectConnection(const void* pd, ULONG pdLen);
  NTSTATUS getConnectionData(ULONG* ird, ULONG* ord, void* pd, ULONG* pdLen);
  NTSTATUS getAddress(const char* fn, bool peer, SOCKADDR* addr, ULONG* len);
  NTSTATUS disconnect(NDK_FN_REQUEST_COMPLETION cb);

 private:
  NTSTATUS checkPrivateData(const char* fn, const void* pd, ULONG len, ULONG max) const;
  NTSTATUS checkQp(const char* fn, NDK_QP* qp, Qp** out) const;

  mutable std::mutex mu_;
  State state_ = State::Idle;
  bool haveLocal_ = false, havePeer_ = false;
  SOCKADDR_INET local_{}, peer_{};
  std::vector<std::uint8_t> privateData_;  // received from the peer (RDS, R90)
  ULONG ird_ = 0, ord_ = 0;
};

// Shared by listener, shared endpoint and connector: checks a local or remote socket address.
NTSTATUS checkSockaddr(const Object* self, const char* fn, const SOCKADDR* a, ULONG len, SOCKADDR_INET* out);
// R107 address getter.
NTSTATUS copyAddressOut(const Object* self, const char* fn, const SOCKADDR_INET& a, SOCKADDR* out, ULONG* len);

}  // namespace openndk::provider
