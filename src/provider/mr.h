// NDK_MR and NDK_MW: registrations, fast registration, windows, tokens (R120–R133).
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "provider/object.h"
#include "provider/stag_table.h"

namespace openndk::provider {

class Pd;
class Mw;

class Mr final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeMr;
  static constexpr const char* kCloseName = "NdkCloseMr";

  Mr(Adapter* adapter, Pd* pd, bool fast);
  ~Mr() override;
  static const NDK_MR_DISPATCH* dispatch();

  Pd* pd() const { return pd_; }
  bool fast() const { return fast_; }

  // NDK_MR_DISPATCH members.
  NTSTATUS registerMr(MDL* mdl, SIZE_T length, ULONG flags);
  NTSTATUS deregister();
  NTSTATUS initializeFastRegister(ULONG pageCount, BOOLEAN remoteAccess);
  UINT32 remoteToken() const;
  UINT32 localToken() const;

  // State queried by QP validation.
  bool registered() const;  // normal MR currently registered
  std::optional<StagEntry> entry() const;
  // Fast registration as seen at post time (R128–R131): pages allowed and remote access.
  bool fastInitialized(ULONG* pageCount, bool* remoteAccess) const;
  bool fastValid() const;

  // ---- operations the data path executes (initiator requests already validated) ----
  // NdkFastRegister execution: makes `token` (from reserveFastToken) valid for the region.
  NTSTATUS applyFastRegister(UINT32 token, const std::vector<std::uint64_t>& pages, ULONG fbo, std::uint64_t length,
                             std::uint64_t baseVa, ULONG flags);
  // Gives the MR its next remote token value at post time (R126); returned by remoteToken() from
  // then on.
  UINT32 reserveFastToken();
  // The FastRegister that reserved `token` completed without executing (failed, flushed).
  void abandonFastToken(UINT32 token);
  // NdkInvalidate execution / remote invalidation. STATUS_INVALID_PARAMETER if no valid
  // registration holds `token` (R56).
  NTSTATUS invalidate(UINT32 token);

  // Windows bound to this MR (invalidated by deregistration, R127).
  void addWindow(Mw* w);
  void removeWindow(Mw* w);

 private:
  Pd* const pd_;
  const bool fast_;
  mutable std::mutex mu_;
  bool registered_ = false;  // normal: registered; fast: a registration is valid
  UINT32 pendingToken_ = 0;  // fast: reserved by a posted FastRegister not yet executed
  bool initialized_ = false;
  ULONG fast_pages_ = 0;
  bool fast_remote_ = false;
  UINT32 token_ = 0;
  std::vector<Mw*> windows_;
};

class Mw final : public Object {
 public:
  static constexpr NDK_OBJECT_TYPE kType = NdkObjectTypeMw;
  static constexpr const char* kCloseName = "NdkCloseMw";

  Mw(Adapter* adapter, Pd* pd);
  ~Mw() override;
  static const NDK_MW_DISPATCH* dispatch();

  Pd* pd() const { return pd_; }
  UINT32 remoteToken() const;
  bool bound() const;

  // Gives the window its next token value at NdkBind post time (R126).
  UINT32 reserveToken();
  // NdkBind execution: binds [va, va+length) of `mr` with `flags` access (R133); MR becomes the
  // window's antecedent (R24).
  NTSTATUS applyBind(UINT32 token, Mr* mr, std::uint64_t va, std::uint64_t length, ULONG flags);
  NTSTATUS invalidate(UINT32 token);
  // The MR was deregistered or closed: the window loses access.
  void mrGone(Mr* mr);

 private:
  Pd* const pd_;
  mutable std::mutex mu_;
  UINT32 token_ = 0;  // slot in the stag table, 0 before the first bind
  bool bound_ = false;
  Mr* mr_ = nullptr;
  std::vector<Mr*> attached_;  // MRs this window is already a successor of
};

}  // namespace openndk::provider
