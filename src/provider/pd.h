// NDK_PD: protection domain; parent of MR, MW, SRQ and QP.
#pragma once
#include "provider/object.h"

namespace openndk::provider {

class Pd final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypePd;
  static constexpr const char* kCloseName = "NdkClosePd";

  explicit Pd(Adapter* adapter);
  ~Pd() override;
  static const NDK_PD_DISPATCH* dispatch();

  NTSTATUS createMr(BOOLEAN fastRegister, NDK_MR** out);
  NTSTATUS createMw(NDK_MW** out);
  NTSTATUS createSrq(ULONG depth, ULONG maxSge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb, PVOID ctx,
                     const GROUP_AFFINITY* affinity, NDK_SRQ** out);
  NTSTATUS createQp(NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq, PVOID qpContext, ULONG rqDepth, ULONG iqDepth,
                    ULONG maxRecvSge, ULONG maxInitSge, ULONG inlineSize, const char* fn, NDK_QP** out);
};

}  // namespace openndk::provider
