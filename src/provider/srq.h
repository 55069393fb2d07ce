// NDK_SRQ: shared receive queue (R141–R149).
#pragma once
#include <deque>

#include "provider/event_notifier.h"
#include "provider/object.h"
#include "provider/work.h"

namespace openndk::provider {

class Pd;

class Srq final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeSrq;
  static constexpr const char* kCloseName = "NdkCloseSrq";

  Srq(Adapter* adapter, Pd* pd, ULONG depth, ULONG maxSge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb,
      PVOID ctx, const GROUP_AFFINITY* affinity);
  ~Srq() override;
  static const NDK_SRQ_DISPATCH* dispatch();

  Pd* pd() const { return pd_; }
  ULONG maxSge() const { return max_sge_; }

  // NDK_SRQ_DISPATCH members.
  NTSTATUS modify(ULONG depth, ULONG threshold);
  NTSTATUS post(ReceiveRequest&& r);

  // ---- internal API for QPs / the data path ----
  // Takes the oldest receive (R149 posting order). False if none.
  bool consume(ReceiveRequest* out);
  // Catastrophic failure: STATUS_INTERNAL_ERROR notification (R147). From then on the SRQ and
  // every QP using it are unusable: SRQ and QP posts fail with STATUS_INVALID_DEVICE_STATE / the
  // SRQ's STATUS_INTERNAL_ERROR, no receive is handed out (an incoming Send then finds no buffer
  // and the connection is terminated), nothing more completes.
  void fail();
  bool failed() const;
  ULONG queued() const;
  ULONG depth() const;

 protected:
  void onCloseStarted() override;

 private:
  void notifyLocked(NTSTATUS status);

  Pd* const pd_;
  const ULONG max_sge_;
  NDK_FN_SRQ_NOTIFICATION_CALLBACK cb_;
  PVOID ctx_;
  GROUP_AFFINITY affinity_{};
  mutable std::mutex mu_;
  std::deque<ReceiveRequest> queue_;
  ULONG depth_;
  ULONG threshold_ = 0;
  bool armed_ = false;
  bool stopped_ = false, failed_ = false;
  EventNotifier notifier_;  // R148: one notification callback at a time
};

}  // namespace openndk::provider
