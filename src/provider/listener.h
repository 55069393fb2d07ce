// NDK_LISTENER: listen argument validation (R106, R108, R95), local address (R107), pause (R104).
// Listening on the wire is the data path's (next issue).
#pragma once
#include "provider/object.h"

namespace openndk::provider {

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

 private:
  NDK_FN_CONNECT_EVENT_CALLBACK cb_;
  PVOID ctx_;
  mutable std::mutex mu_;
  bool listening_ = false;
  bool paused_ = false;
  SOCKADDR_INET local_{};
};

}  // namespace openndk::provider
