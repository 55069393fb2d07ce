// NDK_LISTENER: listen argument validation (R106, R108, R95), the listening socket on one of the
// device's engines, connect events (R102–R105), local address (R107), endpoint (R113–R115).
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <set>

#include "engine/connection.h"
#include "engine/tcp.h"
#include "provider/endpoint_registry.h"
#include "provider/object.h"

namespace openndk::provider {

class Link;

class Listener final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeListener;
  static constexpr const char* kCloseName = "NdkCloseListener";

  Listener(Adapter* adapter, NDK_FN_CONNECT_EVENT_CALLBACK cb, PVOID ctx);
  ~Listener() override;
  static const NDK_LISTENER_DISPATCH* dispatch();

  NTSTATUS listen(const SOCKADDR* addr, ULONG len, NDK_FN_REQUEST_COMPLETION cb);
  NTSTATUS localAddress(SOCKADDR* addr, ULONG* len);
  void controlConnectEvents(BOOLEAN pause);
  bool paused() const;
  // Times accept() ran out of descriptors (EMFILE/ENFILE/...) and accepting was paused (tests,
  // diagnostics).
  std::uint64_t acceptStalls() const noexcept { return accept_stalls_.load(); }
  // How long accepting pauses after accept() ran out of descriptors: the connection stays in the
  // kernel's backlog, and a level-triggered watch would otherwise call us again at once, forever.
  static constexpr std::chrono::milliseconds kAcceptRetry{100};

  // Loop context: an MPA Request arrived on one of our links / a link died before a connector
  // took it.
  void incoming(std::shared_ptr<Link> link, engine::ByteSpan privateData);
  void linkGone(Link* link);

 protected:
  void onCloseStarted() override;

 private:
  void onAcceptable();
  void pauseAccepting();  // loop context: out of descriptors

  NDK_FN_CONNECT_EVENT_CALLBACK cb_;
  PVOID ctx_;
  mutable std::mutex mu_;
  bool listening_ = false;
  bool paused_ = false;
  bool endpointHeld_ = false;
  SOCKADDR_INET local_{};
  engine::EventLoop* loop_ = nullptr;
  engine::Endpoint listenAddr_;   // bound address (engine context after listen())
  bool listenWildcard_ = false;   // bound to INADDR_ANY / in6addr_any: ask each accepted socket
  // Loop context only.
  engine::Socket sock_;
  std::uint64_t watch_ = 0;
  std::uint64_t accept_retry_timer_ = 0;
  std::atomic<std::uint64_t> accept_stalls_{0};
  std::set<std::shared_ptr<Link>> unowned_;  // accepted, no connector yet (under mu_: links run in their own domains)
  ActivityRegistration registration_;
};

}  // namespace openndk::provider
