// NDK_CONNECTOR: state machine of §5.11, argument validation of the connection functions
// (R87–R89, R93, R107, R112). Establishment itself is the data path's (next issue): the functions
// that need the wire validate their arguments and then return STATUS_NOT_IMPLEMENTED.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/connection.h"
#include "provider/endpoint_registry.h"
#include "provider/link_owner.h"
#include "provider/object.h"

namespace openndk::provider {

class Qp;
class Link;

class Connector final : public Object, public LinkOwner {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeConnector;
  static constexpr const char* kCloseName = "NdkCloseConnector";
  enum class State { Idle, Connecting, ConnectCompleted, Incoming, Connected, Disconnected, Failed };

  explicit Connector(Adapter* adapter);
  ~Connector() override;
  static const NDK_CONNECTOR_DISPATCH* dispatch();

  State state() const;

  // The consumer's disconnect event registration (plain or Ex, R101).
  struct DisconnectEvent {
    NDK_FN_DISCONNECT_EVENT_CALLBACK plain = nullptr;
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX ex = nullptr;
    PVOID ctx = nullptr;
  };

  NTSTATUS connect(const char* fn, NDK_QP* qp, const SOCKADDR* src, ULONG srcLen, NDK_SHARED_ENDPOINT* se,
                   const SOCKADDR* dst, ULONG dstLen, ULONG ird, ULONG ord, const void* pd, ULONG pdLen,
                   NDK_FN_REQUEST_COMPLETION cb, PVOID ctx);
  NTSTATUS completeConnect(const char* fn, const DisconnectEvent& ev, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx);
  NTSTATUS accept(const char* fn, NDK_QP* qp, ULONG ird, ULONG ord, const void* pd, ULONG pdLen,
                  const DisconnectEvent& ev, NDK_FN_REQUEST_COMPLETION cb, PVOID ctx);
  NTSTATUS rejectConnection(const void* pd, ULONG pdLen);
  NTSTATUS getConnectionData(ULONG* ird, ULONG* ord, void* pd, ULONG* pdLen);
  NTSTATUS getAddress(const char* fn, bool peer, SOCKADDR* addr, ULONG* len);
  NTSTATUS disconnect(NDK_FN_REQUEST_COMPLETION cb, PVOID ctx);

  // ---- data path (loop context) ----
  // Passive side: called by the listener when an MPA Request arrived (before the connect event).
  void initIncoming(std::shared_ptr<Link> link, const SOCKADDR_INET& local, const SOCKADDR_INET& peer,
                    engine::ByteSpan privateData);
  // LinkOwner
  void linkEstablished(const iwarp::Negotiated& n, engine::ByteSpan peerPd) override;
  void linkRejected(engine::ByteSpan peerPd) override;
  void linkClosed(const engine::CloseInfo& info) override;

  // Why the connection could not be set up or ended abnormally (empty: it did not); see
  // OpenNdkGetConnectorFailure in ndk/openndk.h.
  std::string failure() const;

 protected:
  void onCloseStarted() override;

 private:
  // Posts the consumer's request completion to the adapter's callback executor.
  void completeRequest(NDK_FN_REQUEST_COMPLETION cb, PVOID ctx, NTSTATUS status);
  void startConnected();  // registry, counters (mu_ held)
  NTSTATUS checkPrivateData(const char* fn, const void* pd, ULONG len, ULONG max) const;
  NTSTATUS checkQp(const char* fn, NDK_QP* qp, Qp** out) const;

  mutable std::mutex mu_;
  State state_ = State::Idle;
  bool haveLocal_ = false, havePeer_ = false;
  SOCKADDR_INET local_{}, peer_{};
  std::vector<std::uint8_t> privateData_;  // received from the peer (RDS, R90)
  ULONG ird_ = 0, ord_ = 0;
  ULONG reqIrd_ = 0, reqOrd_ = 0;  // the local request, capped at the adapter maxima (R82, R83)
  std::shared_ptr<Link> link_;
  Qp* qp_ = nullptr;
  bool passive_ = false;
  NDK_FN_REQUEST_COMPLETION pendingCb_ = nullptr;  // connect / accept
  PVOID pendingCtx_ = nullptr;
  NDK_FN_REQUEST_COMPLETION discCb_ = nullptr;     // local NdkDisconnect
  PVOID discCtx_ = nullptr;
  bool localDisconnect_ = false;
  DisconnectEvent event_{};
  bool linkAlive_ = false;  // busy reference held for the link until closed()
  bool endpointHeld_ = false;
  SOCKADDR_INET endpoint_{};
  bool counted_ = false;
  class SharedEndpoint* shared_ = nullptr;  // antecedent (R117)
  SOCKADDR_INET sharedDest_{};  // ActiveConnection counted
  ActivityRegistration registration_;
  std::string failure_;  // failure(), set when the link closes
};

// SOCKADDR_INET ↔ engine endpoint.
engine::Endpoint toEndpoint(const SOCKADDR_INET& a);
SOCKADDR_INET fromEndpoint(const engine::Endpoint& e);

// Shared by listener, shared endpoint and connector: checks a local or remote socket address.
NTSTATUS checkSockaddr(const Object* self, const char* fn, const SOCKADDR* a, ULONG len, SOCKADDR_INET* out);
// R107 address getter.
NTSTATUS copyAddressOut(const Object* self, const char* fn, const SOCKADDR_INET& a, SOCKADDR* out, ULONG* len);

}  // namespace openndk::provider
