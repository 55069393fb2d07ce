// NDK_QP: the work queues (R63–R78), validation of every posted request, depth accounting,
// DEFER, flush and close. Execution belongs to the data path, attached through QpTransport.
#pragma once
#include <atomic>
#include <deque>
#include <memory>

#include "base/ring.h"
#include "provider/object.h"
#include "provider/qp_transport.h"
#include "provider/work.h"

namespace openndk::provider {

class Pd;
class Cq;
class Srq;
class Connector;

class Qp final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeQp;
  static constexpr const char* kCloseName = "NdkCloseQp";

  struct Params {
    PVOID context;
    ULONG rqDepth, iqDepth, maxRecvSge, maxInitSge, inlineSize;
  };
  Qp(Adapter* adapter, Pd* pd, Cq* rcq, Cq* icq, Srq* srq, const Params& p);
  ~Qp() override;
  static const NDK_QP_DISPATCH* dispatch();

  Pd* pd() const { return pd_; }
  Cq* receiveCq() const { return rcq_; }
  Cq* initiatorCq() const { return icq_; }
  Srq* srq() const { return srq_; }
  PVOID context() const { return p_.context; }
  const Params& params() const { return p_; }

  // ---- NDK_QP_DISPATCH members (after the thunk resolved the QP) ----
  void flush();
  NTSTATUS postReceive(PVOID ctx, const NDK_SGE* sgl, ULONG nSge);
  // Initiator requests: validated by the thunks, then handed here.
  NTSTATUS postInitiator(const char* fn, WorkRequest&& wr);

  // Validation helpers used by the thunks (R68–R71). Copies SGEs into `out`.
  NTSTATUS checkSgl(const char* fn, const NDK_SGE* sgl, ULONG nSge, ULONG maxSge, bool needLocalWrite,
                    SgeList* out, std::uint64_t* total) const;
  NTSTATUS copyInline(const char* fn, const NDK_SGE* sgl, ULONG nSge, WorkRequest* wr) const;

  // ---- connection / data path ----
  // Association with a connector (R93): false if already associated.
  bool associate(Connector* c);
  bool associated() const { return associated_.load(); }
  void attachTransport(std::shared_ptr<QpTransport> t);
  // Non-owning (tests): the caller keeps `t` alive while attached.
  void attachTransport(QpTransport* t) { attachTransport(std::shared_ptr<QpTransport>(std::shared_ptr<QpTransport>(), t)); }
  // R81: after either side disconnected, initiator posts fail; the transport stays for flush.
  void markDisconnected();
  void detachTransport();
  bool connected() const;
  // Completion sink for the transport.
  void completeInitiator(const WorkRequest& wr, NTSTATUS status);
  bool takeReceive(ReceiveRequest* out);  // from the QP's receive queue or its SRQ
  void completeReceive(const ReceiveRequest& r, NTSTATUS status, ULONG bytes, bool solicited,
                       UINT32 invalidatedToken);
  ULONG initiatorOutstanding() const { return iq_outstanding_.load(); }
  ULONG receiveOutstanding() const;

 protected:
  void onCloseStarted() override;

 private:
  // Appends the deferred requests to handoff_ (iq_mu_ held).
  void handOverDeferredLocked();
  // Queues a receive's CQ entry; `fromTransport`: the transport took it (takeReceive).
  void finishReceive(const ReceiveRequest& r, NTSTATUS status, ULONG bytes, bool solicited, UINT32 invalidated,
                     bool fromTransport);
  // Hands handoff_ to the transport (iq_mu_ held), leaving it empty with its storage kept.
  void submitHandoffLocked(QpTransport& t);

  Pd* const pd_;
  Cq* const rcq_;
  Cq* const icq_;
  Srq* const srq_;
  const Params p_;
  mutable std::mutex rq_mu_;
  base::Ring<ReceiveRequest> rq_;  // sized to the receive queue depth at creation
  std::size_t rq_inflight_ = 0;  // taken by the transport or being flushed, completion not yet queued
  std::size_t rq_taken_ = 0;     // of those, taken by the transport (a message is being placed)
  // Flushed while the transport held earlier receives: cancelled once those completed, so that
  // receive completions stay in posting order (R77).
  std::vector<ReceiveRequest> rq_cancel_;
  mutable std::mutex iq_mu_;
  std::vector<WorkRequest> deferred_;  // accepted with DEFER, not yet handed over (R58)
  std::vector<WorkRequest> handoff_;   // the batch being handed to the transport (storage reused)
  std::shared_ptr<QpTransport> transport_;
  bool disconnected_ = false;
  std::atomic<ULONG> iq_outstanding_{0};
  std::atomic<bool> associated_{false};
};

}  // namespace openndk::provider
