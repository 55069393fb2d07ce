// The narrow interface between a QP and the data path (the next issue's "connection").
//
// A QP owns its queues and the NDK-visible rules (validation, depth accounting, flush order). When
// a connection is established the data path attaches a QpTransport to the QP:
//  * the QP hands every accepted initiator request (already validated, SGEs copied, inline data
//    captured) to QpTransport::submit, in posting order, honouring DEFER (R58–R61);
//  * the transport executes them and reports each one exactly once through the QP's completion
//    sink: Qp::completeInitiator(request, status, bytes);
//  * incoming sends take receives with Qp::takeReceive (QP receive queue or SRQ, R149) and report
//    them with Qp::completeReceive;
//  * NdkFlush / close call QpTransport::flush: the transport must complete everything it holds with
//    STATUS_CANCELLED (via completeInitiator), in posting order, and return;
//  * Qp::detachTransport (disconnect, connector close) makes the QP unconnected again (R66, R81).
#pragma once
#include <span>

#include "provider/work.h"

namespace openndk::provider {

class QpTransport {
 public:
  virtual ~QpTransport() = default;
  // Takes a batch of initiator requests, in posting order, by moving them out of `batch` (the QP
  // reuses the batch's storage: no allocation per post). Called with the QP's initiator lock held:
  // queue only.
  virtual void submit(std::span<WorkRequest> batch) = 0;
  // Called by the posting thread after submit(), with no QP lock held: the transport may execute
  // what was submitted right here (docs/decisions.md "Fast path"). Default: nothing.
  virtual void kick() {}
  // Completes everything submitted and not yet completed with STATUS_CANCELLED, in order.
  virtual void flush() = 0;
};

}  // namespace openndk::provider
