#include "provider/mr.h"

#include "base/config.h"

#include <algorithm>

#include "base/log.h"
#include "provider/adapter.h"
#include "provider/pd.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

NTSTATUS registerThunk(NDK_MR* mr, MDL* mdl, SIZE_T length, ULONG flags, NDK_FN_REQUEST_COMPLETION, PVOID) {
  NDK_RESOLVE_OR_RETURN(Mr, o, mr, "NdkRegisterMr", Object::statusFor(o_why));
  return o->registerMr(mdl, length, flags);  // always inline
}
NTSTATUS deregisterThunk(NDK_MR* mr, NDK_FN_REQUEST_COMPLETION, PVOID) {
  NDK_RESOLVE_OR_RETURN(Mr, o, mr, "NdkDeregisterMr", Object::statusFor(o_why));
  return o->deregister();
}
NTSTATUS initFastThunk(NDK_MR* mr, ULONG pages, BOOLEAN remote, NDK_FN_REQUEST_COMPLETION, PVOID) {
  NDK_RESOLVE_OR_RETURN(Mr, o, mr, "NdkInitializeFastRegisterMr", Object::statusFor(o_why));
  return o->initializeFastRegister(pages, remote);
}
UINT32 remoteTokenThunk(NDK_MR* mr) {
  NDK_RESOLVE_OR_RETURN(Mr, o, mr, "NdkGetRemoteTokenFromMr", 0);
  return o->remoteToken();
}
UINT32 localTokenThunk(NDK_MR* mr) {
  NDK_RESOLVE_OR_RETURN(Mr, o, mr, "NdkGetLocalTokenFromMr", 0);
  return o->localToken();
}
const NDK_MR_DISPATCH kMrDispatch = {
    closeThunk<Mr>, queryExtensionThunk<Mr>, registerThunk, deregisterThunk, initFastThunk, remoteTokenThunk,
    localTokenThunk,
};

UINT32 mwTokenThunk(NDK_MW* mw) {
  NDK_RESOLVE_OR_RETURN(Mw, o, mw, "NdkGetRemoteTokenFromMw", 0);
  return o->remoteToken();
}
const NDK_MW_DISPATCH kMwDispatch = {closeThunk<Mw>, queryExtensionThunk<Mw>, mwTokenThunk};

constexpr ULONG kKnownMrFlags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                                NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

}  // namespace

// ---------------------------------------------------------------- Mr

const NDK_MR_DISPATCH* Mr::dispatch() { return &kMrDispatch; }

Mr::Mr(Adapter* adapter, Pd* pd, bool fast) : Object(kType, adapter, &kMrDispatch, adapter->version()), pd_(pd), fast_(fast) {
  attachTo(pd);
}

Mr::~Mr() {
  if (token_) adapter()->stags().remove(token_);
  device_.releaseResource(Resource::Mr);
}

NTSTATUS Mr::registerMr(MDL* mdl, SIZE_T length, ULONG flags) {
  const char* fn = "NdkRegisterMr";
  if (fast_) return reject(fn, STATUS_INVALID_PARAMETER, "MR was created for fast registration (R120)");
  if (!mdl) return reject(fn, STATUS_INVALID_PARAMETER, "NULL Mdl");
  if (length == 0) return reject(fn, STATUS_INVALID_PARAMETER, "Length is 0 (R121)");
  if (length > adapter()->info().MaxRegistrationSize)
    return reject(fn, STATUS_INVALID_PARAMETER, "Length above MaxRegistrationSize (R139)");
  if (flags & ~kKnownMrFlags) return reject(fn, STATUS_INVALID_PARAMETER, "unknown NDK_MR_FLAG bits");
  auto segs = std::make_shared<std::vector<MemSegment>>();
  if (!collectMdlSegments(mdl, length, segs.get()))
    return reject(fn, STATUS_INVALID_PARAMETER, "MDL chain not contiguous or shorter than Length (R121)");
  StagEntry e;
  e.kind = StagKind::Mr;
  e.pd = pd_;
  e.owner = this;
  e.va = reinterpret_cast<std::uint64_t>(MmGetMdlVirtualAddress(mdl));  // not zero-based (R123)
  e.length = length;
  e.access = ((flags & NDK_MR_FLAG_ALLOW_LOCAL_WRITE) ? kAccessLocalWrite : 0) |
             ((flags & NDK_MR_FLAG_ALLOW_REMOTE_READ) ? kAccessRemoteRead : 0) |
             ((flags & 0x4) ? (kAccessRemoteWrite | kAccessLocalWrite) : 0);
  e.segments = std::move(segs);
  std::lock_guard lock(mu_);
  if (registered_) return reject(fn, STATUS_INVALID_PARAMETER, "MR is already registered");
  UINT32 t = adapter()->stags().insert(std::move(e));
  if (!t) return reject(fn, STATUS_INSUFFICIENT_RESOURCES, "token table full");
  token_ = t;
  registered_ = true;
  return STATUS_SUCCESS;  // the MDL pointer is not retained (R125)
}

NTSTATUS Mr::deregister() {
  std::vector<Mw*> windows;
  {
    std::lock_guard lock(mu_);
    if (fast_) return reject("NdkDeregisterMr", STATUS_INVALID_PARAMETER, "fast-register MR (R120)");
    if (!registered_) return reject("NdkDeregisterMr", STATUS_INVALID_PARAMETER, "MR is not registered (R127)");
    adapter()->stags().remove(token_);
    token_ = 0;
    registered_ = false;
    windows = windows_;
  }
  for (Mw* w : windows) w->mrGone(this);  // R127 [D]: bound windows lose access
  return STATUS_SUCCESS;
}

NTSTATUS Mr::initializeFastRegister(ULONG pageCount, BOOLEAN remoteAccess) {
  const char* fn = "NdkInitializeFastRegisterMr";
  if (!fast_) return reject(fn, STATUS_INVALID_PARAMETER, "MR was created for normal registration (R120)");
  if (pageCount == 0) return reject(fn, STATUS_INVALID_PARAMETER, "AdapterPageCount is 0");
  if (pageCount > adapter()->info().MaxRegistrationSize / PAGE_SIZE)
    return reject(fn, STATUS_IMPLEMENTATION_LIMIT, "AdapterPageCount above MaxRegistrationSize / PAGE_SIZE (R128)");
  std::lock_guard lock(mu_);
  if (registered_) return reject(fn, STATUS_INVALID_PARAMETER, "MR holds a valid fast registration (R128)");
  if (!token_) {
    StagEntry e;
    e.kind = StagKind::FastMr;
    e.pd = pd_;
    e.owner = this;
    UINT32 t = adapter()->stags().insert(std::move(e));
    if (!t) return reject(fn, STATUS_INSUFFICIENT_RESOURCES, "token table full");
    adapter()->stags().invalidate(t);  // reserved, not valid before a fast registration
    token_ = t;
  }
  initialized_ = true;
  fast_pages_ = pageCount;
  fast_remote_ = remoteAccess != FALSE;
  return STATUS_SUCCESS;
}

UINT32 Mr::remoteToken() const {
  std::lock_guard lock(mu_);
  if (!token_) reject("NdkGetRemoteTokenFromMr", STATUS_INVALID_PARAMETER, "MR is neither registered nor initialized (R126)");
  return token_;
}

UINT32 Mr::localToken() const {
  std::lock_guard lock(mu_);
  if (!token_) reject("NdkGetLocalTokenFromMr", STATUS_INVALID_PARAMETER, "MR is neither registered nor initialized (R126)");
  return token_;  // local and remote token are the same value
}

bool Mr::registered() const {
  std::lock_guard lock(mu_);
  return !fast_ && registered_;
}

std::optional<StagEntry> Mr::entry() const {
  std::lock_guard lock(mu_);
  if (!token_) return std::nullopt;
  return adapter()->stags().lookup(token_);
}

bool Mr::fastInitialized(ULONG* pageCount, bool* remoteAccess) const {
  std::lock_guard lock(mu_);
  if (!fast_ || !initialized_) return false;
  *pageCount = fast_pages_;
  *remoteAccess = fast_remote_;
  return true;
}

bool Mr::fastValid() const {
  std::lock_guard lock(mu_);
  return fast_ && (registered_ || pendingToken_ != 0);  // a posted, not yet executed FR counts (R131)
}

UINT32 Mr::reserveFastToken() {
  std::lock_guard lock(mu_);
  if (!fast_ || !initialized_ || registered_ || pendingToken_) return 0;
  // R126 (amended): by default the MR keeps the token it got at NdkInitializeFastRegisterMr —
  // consumers read it once and reuse it. The slot is already invalid here (never registered, or
  // invalidated), so an access with the token fails until this registration is applied.
  UINT32 t = token_;
  if (base::tunableU64(base::Tunable::FrmrTokenRotation) != 0) {
    t = adapter()->stags().rekey(token_);
    if (t) token_ = t;
  }
  pendingToken_ = t;
  return t;
}

void Mr::abandonFastToken(UINT32 token) {
  std::lock_guard lock(mu_);
  if (pendingToken_ == token) pendingToken_ = 0;
}

NTSTATUS Mr::applyFastRegister(UINT32 token, const std::vector<std::uint64_t>& pages, ULONG fbo, std::uint64_t length,
                               std::uint64_t baseVa, ULONG flags) {
  std::lock_guard lock(mu_);
  if (!fast_ || !initialized_ || registered_ || token != token_) return STATUS_INVALID_PARAMETER;  // R131
  pendingToken_ = 0;
  auto segs = std::make_shared<std::vector<MemSegment>>();
  std::uint64_t off = 0;
  for (std::size_t i = 0; i < pages.size() && off < length; ++i) {
    std::uint64_t start = i == 0 ? fbo : 0;
    std::uint64_t n = std::min<std::uint64_t>(PAGE_SIZE - start, length - off);
    segs->push_back({off, reinterpret_cast<std::uint8_t*>(pages[i] + start), n});
    off += n;
  }
  StagEntry e;
  e.kind = StagKind::FastMr;
  e.pd = pd_;
  e.owner = this;
  e.va = baseVa;
  e.length = length;
  e.access = ((flags & NDK_OP_FLAG_ALLOW_LOCAL_WRITE) ? kAccessLocalWrite : 0) |
             ((flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) ? kAccessRemoteRead : 0) |
             ((flags & 0x20) ? (kAccessRemoteWrite | kAccessLocalWrite) : 0);
  e.segments = std::move(segs);
  if (!adapter()->stags().update(token, e)) return STATUS_INVALID_PARAMETER;
  registered_ = true;
  return STATUS_SUCCESS;
}

NTSTATUS Mr::invalidate(UINT32 token) {
  std::lock_guard lock(mu_);
  if (!fast_ || !registered_ || token != token_) return STATUS_INVALID_PARAMETER;  // R56 [D]
  adapter()->stags().invalidate(token);
  registered_ = false;
  return STATUS_SUCCESS;
}

void Mr::addWindow(Mw* w) {
  std::lock_guard lock(mu_);
  if (std::find(windows_.begin(), windows_.end(), w) == windows_.end()) windows_.push_back(w);
}

void Mr::removeWindow(Mw* w) {
  std::lock_guard lock(mu_);
  std::erase(windows_, w);
}

// ---------------------------------------------------------------- Mw

const NDK_MW_DISPATCH* Mw::dispatch() { return &kMwDispatch; }

Mw::Mw(Adapter* adapter, Pd* pd) : Object(kType, adapter, &kMwDispatch, adapter->version()), pd_(pd) { attachTo(pd); }

Mw::~Mw() {
  if (token_) adapter()->stags().remove(token_);
  for (Mr* m : attached_) m->removeWindow(this);  // MRs are antecedents: still alive here
  device_.releaseResource(Resource::Mw);
}

UINT32 Mw::remoteToken() const {
  std::lock_guard lock(mu_);
  if (!token_) reject("NdkGetRemoteTokenFromMw", STATUS_INVALID_PARAMETER, "window was never bound (R126)");
  return token_;
}

bool Mw::bound() const {
  std::lock_guard lock(mu_);
  return bound_;
}

UINT32 Mw::reserveToken() {
  std::lock_guard lock(mu_);
  if (!token_) {
    StagEntry e;
    e.kind = StagKind::Mw;
    e.pd = pd_;
    e.owner = this;
    UINT32 t = adapter()->stags().insert(std::move(e));
    if (!t) return 0;
    adapter()->stags().invalidate(t);
    token_ = t;
  }
  // Binding a bound window rebinds it: the old token stops working now (R133 [D]).
  UINT32 t = adapter()->stags().rekey(token_);
  if (t) {
    token_ = t;
    bound_ = false;
  }
  return t;
}

NTSTATUS Mw::applyBind(UINT32 token, Mr* mr, std::uint64_t va, std::uint64_t length, ULONG flags) {
  auto me = mr->entry();
  if (!me || me->kind != StagKind::Mr || !me->covers(va, length)) return STATUS_INVALID_PARAMETER;
  bool attach = false;
  {
    std::lock_guard lock(mu_);
    if (token != token_) return STATUS_INVALID_PARAMETER;
    StagEntry e;
    e.kind = StagKind::Mw;
    e.pd = pd_;
    e.owner = this;
    e.va = va;
    e.length = length;
    e.access = ((flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) ? kAccessRemoteRead : 0) |
               ((flags & 0x20) ? kAccessRemoteWrite : 0);
    e.segments = me->segments;
    e.segOffset = me->segOffset + (va - me->va);
    if (!adapter()->stags().update(token, e)) return STATUS_INVALID_PARAMETER;
    bound_ = true;
    mr_ = mr;
    if (std::find(attached_.begin(), attached_.end(), mr) == attached_.end()) {
      attached_.push_back(mr);
      attach = true;
    }
  }
  if (attach) attachTo(mr);  // R24: MR → MW once bound
  mr->addWindow(this);
  return STATUS_SUCCESS;
}

NTSTATUS Mw::invalidate(UINT32 token) {
  std::lock_guard lock(mu_);
  if (!bound_ || token != token_) return STATUS_INVALID_PARAMETER;  // R56 [D]
  adapter()->stags().invalidate(token);
  bound_ = false;
  return STATUS_SUCCESS;
}

void Mw::mrGone(Mr* mr) {
  std::lock_guard lock(mu_);
  if (bound_ && mr_ == mr) {
    adapter()->stags().invalidate(token_);
    bound_ = false;
  }
}

}  // namespace openndk::provider
