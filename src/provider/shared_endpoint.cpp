#include "provider/shared_endpoint.h"

#include <cstring>

#include "provider/adapter.h"
#include "provider/connector.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS localAddressThunk(NDK_SHARED_ENDPOINT* se, PSOCKADDR a, ULONG* len) {
  NDK_RESOLVE_OR_RETURN(SharedEndpoint, o, se, "NdkGetSharedEndpointLocalAddress", Object::statusFor(o_why));
  return o->localAddress(a, len);
}
const NDK_SHARED_ENDPOINT_DISPATCH kDispatch = {closeThunk<SharedEndpoint>, queryExtensionThunk<SharedEndpoint>,
                                                localAddressThunk};

}  // namespace

const NDK_SHARED_ENDPOINT_DISPATCH* SharedEndpoint::dispatch() { return &kDispatch; }

SharedEndpoint::SharedEndpoint(Adapter* adapter, const SOCKADDR_INET& bound)
    : Object(kType, adapter, &kDispatch, adapter->version()), local_(bound) {
  attachTo(adapter);
  LocalEndpointRecord r;
  r.local = bound;
  registration_ = ActivityRegistration::localEndpoint(device_.ifIndex(), r);
}

static bool sameSockaddr(const SOCKADDR_INET& a, const SOCKADDR_INET& b) {
  if (a.si_family != b.si_family) return false;
  return std::memcmp(&a, &b, a.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6)) == 0;
}

bool SharedEndpoint::addDestination(const SOCKADDR_INET& dst) {
  std::lock_guard lock(mu_);
  for (auto& d : dests_)
    if (sameSockaddr(d, dst)) return false;
  dests_.push_back(dst);
  return true;
}

void SharedEndpoint::removeDestination(const SOCKADDR_INET& dst) {
  std::lock_guard lock(mu_);
  for (auto it = dests_.begin(); it != dests_.end(); ++it)
    if (sameSockaddr(*it, dst)) {
      dests_.erase(it);
      return;
    }
}

// R117: the endpoint is free again once the shared endpoint and its connectors are closed; the
// connectors are successors, so by now they are gone.
SharedEndpoint::~SharedEndpoint() { device_.releaseEndpoint(local_); }

NTSTATUS SharedEndpoint::localAddress(SOCKADDR* addr, ULONG* len) {
  return copyAddressOut(this, "NdkGetSharedEndpointLocalAddress", local_, addr, len);
}

}  // namespace openndk::provider
