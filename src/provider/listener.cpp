#include "provider/listener.h"

#include <vector>

#include <sys/epoll.h>

#include <new>

#include "base/log.h"
#include "engine/event_loop.h"
#include "provider/link.h"
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
Listener::~Listener() {
  if (endpointHeld_) device_.releaseEndpoint(local_);  // R113
}

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
  if (!device_.ownsAddress(addr, true))
    return reject(fn, STATUS_INVALID_ADDRESS, "not an address of this adapter (R95)");
  Device* dev = &device_;
  engine::Socket sock;
  engine::NetError ne = engine::NetError::None;
  SOCKADDR_INET bound = a;
  s = dev->reserveEndpointFreeOnHost(&bound, [&](const SOCKADDR_INET& e) {
    ne = engine::listenTcp(toEndpoint(e), 128, sock);
    return ne == engine::NetError::AddrInUse;
  });
  if (s == STATUS_SUCCESS && ne != engine::NetError::None) {
    dev->releaseEndpoint(bound);
    s = ne == engine::NetError::AddrInUse     ? STATUS_SHARING_VIOLATION
        : ne == engine::NetError::NoResources ? STATUS_INSUFFICIENT_RESOURCES  // out of descriptors
                                              : STATUS_INVALID_ADDRESS;
  }
  if (s != STATUS_SUCCESS) return reject(fn, s, "local endpoint unavailable (R94, R114)");
  engine::EventLoop& loop = dev->engineFor(nullptr);
  {
    std::lock_guard lock(mu_);
    listening_ = true;
    endpointHeld_ = true;
    local_ = bound;
    loop_ = &loop;
  }
  // Read by the accept handler on the engine (the post below orders it).
  listenAddr_ = toEndpoint(bound);
  listenWildcard_ = bound.si_family == AF_INET ? bound.Ipv4.sin_addr.s_addr == htonl(INADDR_ANY)
                                                : IN6_IS_ADDR_UNSPECIFIED(&bound.Ipv6.sin6_addr);
  LocalEndpointRecord rec;
  rec.local = bound;
  rec.listener = true;
  registration_ = ActivityRegistration::localEndpoint(dev->ifIndex(), rec);
  hold();  // the listening socket, until the close stops it
  loop.post([this, so = std::make_shared<engine::Socket>(std::move(sock))]() mutable {
    sock_ = std::move(*so);
    watch_ = loop_->watch(sock_.fd(), EPOLLIN, [this](std::uint32_t) { onAcceptable(); });
  });
  return STATUS_SUCCESS;  // inline (R106)
}

void Listener::onAcceptable() {
  for (;;) {
    engine::Socket s;
    engine::Endpoint peer;
    const engine::NetError e = engine::acceptTcp(sock_.fd(), s, &peer);
    if (e == engine::NetError::NoResources) {
      pauseAccepting();
      return;
    }
    if (e != engine::NetError::None) return;
    if (closing()) continue;  // R105: s closes
    auto link = std::make_shared<Link>(adapter()->stags(), counters_, *loop_);
    link->setAcceptor(this);
    hold();  // released by linkGone or when a connector takes the link
    {
      // The link runs in a progress domain of its own: incoming()/linkGone() come from there.
      std::lock_guard lock(mu_);
      unowned_.insert(link);
    }
    engine::ConnectionOptions opts;
    opts.role = iwarp::SetupRole::Responder;
    // The local address: the listener's own when it listens on one address; on a wildcard
    // listener the kernel says which of the host's addresses the peer reached (one system call).
    engine::Endpoint local = listenAddr_;
    if (listenWildcard_ && !engine::localEndpoint(s.fd(), local)) local = engine::Endpoint{};
    link->start(std::move(s), std::move(opts), local, peer);
  }
}

void Listener::pauseAccepting() {
  if (accept_retry_timer_ || !watch_) return;
  accept_stalls_.fetch_add(1);
  NDK_LOG_WARN("provider", "listener: accept() is out of descriptors; accepting paused for {} ms (the connection waits in the backlog)",
               kAcceptRetry.count());
  loop_->modify(watch_, 0);  // no EPOLLIN until the retry
  accept_retry_timer_ = loop_->addTimer(kAcceptRetry, [this] {
    accept_retry_timer_ = 0;
    if (watch_) loop_->modify(watch_, EPOLLIN);
  });
}

void Listener::incoming(std::shared_ptr<Link> link, engine::ByteSpan pd) {
  if (paused() || closing()) {  // R104, R105: the requester sees STATUS_CONNECTION_REFUSED
    link->connection()->reject({});
    return;
  }
  // The addresses onAcceptable() learned when it accepted the socket.
  SOCKADDR_INET local = local_, peer{};
  engine::Endpoint le, pe;
  if (link->localEndpoint(&le)) local = fromEndpoint(le);
  if (link->peerEndpoint(&pe)) peer = fromEndpoint(pe);
  auto* c = new (std::nothrow) Connector(adapter());
  if (!c) {
    link->connection()->reject({});
    return;
  }
  c->attachTo(this);  // R102: the listener is the connector's antecedent
  device_.retainEndpoint(local_);  // R113 (released by the connector)
  link->setAcceptor(nullptr);
  {
    std::lock_guard lock(mu_);
    unowned_.erase(link);
  }
  c->initIncoming(link, local, peer, pd);
  release();  // the link's reference on the listener
  hold();     // the connect event callback (R21)
  NDK_CONNECTOR* h = c->ndk<NDK_CONNECTOR>();
  // R103 (one at a time, in arrival order): every link of this listener makes its MPA exchange on
  // the listener's engine thread, which runs the deferred callbacks in order; a caller on another
  // thread would go through the serial executor.
  deliverCallback([this, h] {
    cb_(ctx_, h);  // R102
    release();
  });
}

void Listener::linkGone(Link* link) {
  std::shared_ptr<Link> gone;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    for (auto it = unowned_.begin(); it != unowned_.end(); ++it)
      if (it->get() == link) {
        gone = *it;
        unowned_.erase(it);
        break;
      }
  }
  if (gone) release();
}

void Listener::onCloseStarted() {
  engine::EventLoop* loop;
  {
    std::lock_guard lock(mu_);
    loop = loop_;
  }
  if (!loop) return;
  loop->post([this] {
    if (watch_) loop_->unwatch(watch_);
    watch_ = 0;
    if (accept_retry_timer_) loop_->cancelTimer(accept_retry_timer_);
    accept_retry_timer_ = 0;
    sock_.reset();  // R105: new connections are refused at once
    std::vector<std::shared_ptr<Link>> links;
    {
      std::lock_guard lock(mu_);
      links.assign(unowned_.begin(), unowned_.end());
    }
    for (auto& l : links) l->abort();
    release();  // the listening socket's reference
  });
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
