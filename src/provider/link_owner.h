// What a Link reports to the NDK object that holds it. The link knows only these two narrow
// interfaces, never the Connector or the Listener themselves: the data-path floor does not include
// the objects above it (docs/architecture.md "The provider room").
#pragma once
#include <memory>

#include "engine/connection.h"

namespace openndk::provider {

class Link;

// The connector a link belongs to: the active side's from its connect, the passive side's from the
// connect request on. Called in the link's loop context.
class LinkOwner {
 public:
  virtual void linkEstablished(const iwarp::Negotiated& n, engine::ByteSpan peerPd) = 0;
  virtual void linkRejected(engine::ByteSpan peerPd) = 0;
  // The stream is gone: decides what the link's pending requests become (Link::failPending, or
  // held until the consumer's flush, R80).
  virtual void linkClosed(const engine::CloseInfo& info) = 0;

 protected:
  ~LinkOwner() = default;
};

// The listener that holds an accepted link until a connector takes it. Loop context.
class LinkAcceptor {
 public:
  // An MPA Request arrived on `link`.
  virtual void incoming(std::shared_ptr<Link> link, engine::ByteSpan privateData) = 0;
  // `link` died before a connector took it.
  virtual void linkGone(Link* link) = 0;

 protected:
  ~LinkAcceptor() = default;
};

}  // namespace openndk::provider
