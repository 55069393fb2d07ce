#include "provider/listener.h"

#include "base/log.h"
#include "provider/adapter.h"
#include "provider/connector.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS listenThunk(NDK_LISTENER* l, const PSOCKADDR a, ULONG len, NDK_FN_REQUEST_COMPLETION cb, PVOID) {
  NDK_RESOLVE_OR_RETURN(Listener, o, l, "NdkListen", Object::statusFor(o_why));
  return o->listen(a, len, cb);
}
NTSTATUS localAddressThunk(NDK_LISTENER* l, PSOCKADDR a, ULONG* len) {
  NDK_RESOLVE_OR_RETURN(Listener, o, l, "NdkGetListenerLocalAddress", Object::statusFor(o_why));
  return o->localAddress(a, len);
}
VOID controlThunk(NDK_LISTENER* l, BOOLEAN pause) {
  NDK_RESOLVE_OR_RETURN(Listener, o, l, "NdkControlConnectEvents", );
  o->controlConnectEvents(pause);
}
const NDK_LISTENER_DISPATCH kDispatch = {closeThunk<Listener>, queryExtensionThunk<Listener>, listenThunk,
                                         localAddressThunk, controlThunk};

}  // namespace

const NDK_LISTENER_DISPATCH* Listener::dispatch() { return &kDispatch; }

Listener::Listener(Adapter* adapter, NDK_FN_CONNECT_EVENT_CALLBACK cb, PVOID ctx)
    : Object(kType, adapter, &kDispatch, adapter->version()), cb_(cb), ctx_(ctx) {
  attachTo(adapter);
}
Listener::~Listener() = default;

NTSTATUS Listener::listen(const SOCKADDR* addr, ULONG len, NDK_FN_REQUEST_COMPLETION cb) {
  const char* fn = "NdkListen";
  if (!cb) return reject(fn, STATUS_INVALID_PARAMETER, "NULL RequestCompletion");
  {
    std::lock_guard lock(mu_);
    if (listening_) return reject(fn, STATUS_INVALID_PARAMETER, "listener is already listening (R106)");
  }
  SOCKADDR_INET a{};
  NTSTATUS s = checkSockaddr(this, fn, addr, len, &a);
  if (s != STATUS_SUCCESS) return s;
  if (!adapter()->device()->ownsAddress(addr, true))
    return reject(fn, STATUS_INVALID_ADDRESS, "not an address of this adapter (R95)");
  NDK_LOG_WARN("provider", "{}: arguments valid, but the data path is not built yet: STATUS_NOT_IMPLEMENTED", fn);
  adapter()->countRejected();
  return STATUS_NOT_IMPLEMENTED;
}

NTSTATUS Listener::localAddress(SOCKADDR* addr, ULONG* len) {
  const char* fn = "NdkGetListenerLocalAddress";
  if (!len) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pAddressLength");
  std::lock_guard lock(mu_);
  if (!listening_) return reject(fn, STATUS_CONNECTION_INVALID, "listener is not listening (R107)");
  return copyAddressOut(this, fn, local_, addr, len);
}

void Listener::controlConnectEvents(BOOLEAN pause) {
  std::lock_guard lock(mu_);
  paused_ = pause != FALSE;  // R104
}

bool Listener::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

}  // namespace openndk::provider
