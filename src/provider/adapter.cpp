#include "provider/adapter.h"

#include <cstring>
#include <new>

#include "base/log.h"
#include "provider/connector.h"
#include "provider/cq.h"
#include "provider/listener.h"
#include "provider/pd.h"
#include "provider/shared_endpoint.h"
#include "provider/stag_table.h"
#include "provider/thunks.h"

namespace openndk::provider {
namespace {

// ---- thunks of NDK_ADAPTER_DISPATCH ----

NTSTATUS queryAdapterInfoThunk(NDK_ADAPTER* a, NDK_ADAPTER_INFO* pInfo, ULONG* pBufferSize) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkQueryAdapterInfo", Object::statusFor(o_why));
  return o->queryAdapterInfo(pInfo, pBufferSize);
}

NTSTATUS createCqThunk(NDK_ADAPTER* a, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx,
                       GROUP_AFFINITY* affinity, NDK_FN_CREATE_COMPLETION, PVOID, NDK_CQ** out) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkCreateCq", Object::statusFor(o_why));
  return o->createCq(depth, cb, ctx, affinity, out);
}

NTSTATUS createPdThunk(NDK_ADAPTER* a, NDK_FN_CREATE_COMPLETION, PVOID, NDK_PD** out) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkCreatePd", Object::statusFor(o_why));
  return o->createPd(out);
}

NTSTATUS createSharedEndpointThunk(NDK_ADAPTER* a, const PSOCKADDR addr, ULONG len, NDK_FN_CREATE_COMPLETION, PVOID,
                                   NDK_SHARED_ENDPOINT** out) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkCreateSharedEndpoint", Object::statusFor(o_why));
  return o->createSharedEndpoint(addr, len, out);
}

NTSTATUS createConnectorThunk(NDK_ADAPTER* a, NDK_FN_CREATE_COMPLETION, PVOID, NDK_CONNECTOR** out) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkCreateConnector", Object::statusFor(o_why));
  return o->createConnector(out);
}

NTSTATUS createListenerThunk(NDK_ADAPTER* a, NDK_FN_CONNECT_EVENT_CALLBACK cb, PVOID ctx, NDK_FN_CREATE_COMPLETION,
                             PVOID, NDK_LISTENER** out) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkCreateListener", Object::statusFor(o_why));
  return o->createListener(cb, ctx, out);
}

NTSTATUS buildLamThunk(NDK_ADAPTER* a, MDL* mdl, SIZE_T length, NDK_FN_REQUEST_COMPLETION, PVOID,
                       NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lamSize, ULONG* fbo) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkBuildLAM", Object::statusFor(o_why));
  return o->buildLam(mdl, length, lam, lamSize, fbo);  // always inline (R135 [D])
}

VOID releaseLamThunk(NDK_ADAPTER* a, NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  NDK_RESOLVE_OR_RETURN(Adapter, o, a, "NdkReleaseLAM", );
  o->releaseLam(lam);
}

NTSTATUS adapterQueryExtension(NDK_OBJECT_HEADER* h, GUID* id, NDK_VERSION v, NDK_EXTENSION_INTERFACE* out) {
  return queryExtensionThunk<Adapter>(h, id, v, out);
}

const NDK_ADAPTER_DISPATCH kDispatch = {
    adapterQueryExtension, queryAdapterInfoThunk, createCqThunk, createPdThunk, createSharedEndpointThunk,
    createConnectorThunk, createListenerThunk, buildLamThunk, releaseLamThunk,
};

}  // namespace

bool collectMdlSegments(const MDL* mdl, std::uint64_t length, std::vector<MemSegment>* out) {
  std::uint64_t offset = 0;
  std::uint64_t expect = reinterpret_cast<std::uint64_t>(MmGetMdlVirtualAddress(mdl));
  for (const MDL* m = mdl; m && offset < length; m = m->Next) {
    std::uint64_t va = reinterpret_cast<std::uint64_t>(MmGetMdlVirtualAddress(m));
    if (va != expect) return false;  // R121: not virtually contiguous
    std::uint64_t n = std::min<std::uint64_t>(MmGetMdlByteCount(m), length - offset);
    if (n == 0) continue;
    // R122: data is reached through the MDL's system mapping, not through `va`.
    auto* sys = static_cast<std::uint8_t*>(MmGetSystemAddressForMdlSafe(const_cast<MDL*>(m), NormalPagePriority));
    out->push_back({offset, sys, n});
    offset += n;
    expect = va + MmGetMdlByteCount(m);
  }
  return offset == length;
}

Adapter::Adapter(Device* device, NDK_VERSION version)
    : Object(kType, this, *device, &kDispatch, version),
      version_(version),
      info_(device->adapterInfo(version)),
      executor_(std::make_unique<base::SerialExecutor>("ndk-cb-" + device->name())),
      stags_(std::make_unique<StagTable>()) {}

Adapter::~Adapter() = default;

void Adapter::closeBlocking() {
  {
    std::unique_lock lock(life_mu_);
    // Children closed from now on pend and complete through the executor, which the drain below
    // waits for, so this close returns after their completions have returned (R24, R26, R27).
    closing_.store(true, std::memory_order_release);
    if (successors_ > 0)
      NDK_LOG_DEBUG("provider", "CloseNdkAdapter: waiting for {} open objects", successors_);
    life_cv_.wait(lock, [this] { return successors_ == 0; });  // R27 [I]
  }
  executor_->drain();  // every callback has returned (R26, R27)
  {
    std::lock_guard lock(lam_mu_);
    if (!lams_.empty()) NDK_LOG_DEBUG("provider", "CloseNdkAdapter: releasing {} LAMs (R138)", lams_.size());
    for (Lam* l : lams_) delete l;
    lams_.clear();
    lam_pages_.clear();
  }
  device_.unregisterAdapter(this);
  delete this;
}

NTSTATUS Adapter::queryAdapterInfo(NDK_ADAPTER_INFO* pInfo, ULONG* pBufferSize) {
  if (!pBufferSize) return reject("NdkQueryAdapterInfo", STATUS_INVALID_PARAMETER, "NULL pBufferSize");
  if (*pBufferSize < sizeof(NDK_ADAPTER_INFO)) {
    *pBufferSize = sizeof(NDK_ADAPTER_INFO);  // R152
    return STATUS_BUFFER_TOO_SMALL;
  }
  if (!pInfo) return reject("NdkQueryAdapterInfo", STATUS_INVALID_PARAMETER, "NULL pInfo with a non-zero size");
  *pInfo = info_;
  *pBufferSize = sizeof(NDK_ADAPTER_INFO);
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::createCq(ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK cb, PVOID ctx, GROUP_AFFINITY* affinity,
                           NDK_CQ** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateCq", &s)) return s;
  if (depth == 0 || depth > info_.MaxCqDepth)
    return reject("NdkCreateCq", STATUS_INVALID_PARAMETER, "CqDepth is 0 or above MaxCqDepth (R32)");
  if (!cb) return reject("NdkCreateCq", STATUS_INVALID_PARAMETER, "NULL CqNotification");
  if (!device_.acquire(Resource::Cq))
    return reject("NdkCreateCq", STATUS_INSUFFICIENT_RESOURCES, "MaxCqCount reached (R155)");
  Cq* cq = new (std::nothrow) Cq(this, depth, cb, ctx, affinity);
  if (!cq) {
    device_.releaseResource(Resource::Cq);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = cq->ndk<NDK_CQ>();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::createPd(NDK_PD** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreatePd", &s)) return s;
  if (!device_.acquire(Resource::Pd))
    return reject("NdkCreatePd", STATUS_INSUFFICIENT_RESOURCES, "MaxPdCount reached (R155)");
  Pd* pd = new (std::nothrow) Pd(this);
  if (!pd) {
    device_.releaseResource(Resource::Pd);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = pd->ndk<NDK_PD>();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::createSharedEndpoint(const SOCKADDR* addr, ULONG len, NDK_SHARED_ENDPOINT** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateSharedEndpoint", &s)) return s;
  SOCKADDR_INET a{};
  s = checkSockaddr(this, "NdkCreateSharedEndpoint", addr, len, &a);
  if (s != STATUS_SUCCESS) return s;
  if (!device_.ownsAddress(addr, false))
    return reject("NdkCreateSharedEndpoint", STATUS_INVALID_ADDRESS, "not an address of this adapter (R95)");
  // Port 0 (R94): a port the host does not use either. The connectors of this endpoint bind it
  // later; a port that another socket holds (a closed connection's TIME_WAIT included) would fail
  // their connects, so the host is asked now (an explicit port is the consumer's choice).
  const bool ephemeral = (a.si_family == AF_INET ? a.Ipv4.sin_port : a.Ipv6.sin6_port) == 0;
  s = device_.reserveEndpointFreeOnHost(&a, [ephemeral](const SOCKADDR_INET& e) {
    return ephemeral && engine::probeBind(toEndpoint(e)) == engine::NetError::AddrInUse;
  });
  if (s != STATUS_SUCCESS) return reject("NdkCreateSharedEndpoint", s, "local endpoint unavailable (R94, R114)");
  auto* se = new (std::nothrow) SharedEndpoint(this, a);
  if (!se) {
    device_.releaseEndpoint(a);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *out = se->ndk<NDK_SHARED_ENDPOINT>();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::createConnector(NDK_CONNECTOR** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateConnector", &s)) return s;
  auto* c = new (std::nothrow) Connector(this);
  if (!c) return STATUS_INSUFFICIENT_RESOURCES;
  *out = c->ndk<NDK_CONNECTOR>();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::createListener(NDK_FN_CONNECT_EVENT_CALLBACK cb, PVOID ctx, NDK_LISTENER** out) {
  NTSTATUS s;
  if (!checkOut(this, out, "NdkCreateListener", &s)) return s;
  if (!cb) return reject("NdkCreateListener", STATUS_INVALID_PARAMETER, "NULL ConnectEvent");
  auto* l = new (std::nothrow) Listener(this, cb, ctx);
  if (!l) return STATUS_INSUFFICIENT_RESOURCES;
  *out = l->ndk<NDK_LISTENER>();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::buildLam(MDL* mdl, SIZE_T length, NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lamSize, ULONG* fbo) {
  const char* fn = "NdkBuildLAM";
  if (!mdl || !lamSize || !fbo) return reject(fn, STATUS_INVALID_PARAMETER, "NULL Mdl, pLAMSize or pFBO");
  if (length == 0) return reject(fn, STATUS_INVALID_PARAMETER, "Length is 0 (R121)");
  if (length > info_.MaxRegistrationSize) return reject(fn, STATUS_INVALID_PARAMETER, "Length above MaxRegistrationSize (R139)");
  std::vector<MemSegment> segs;
  if (!collectMdlSegments(mdl, length, &segs))
    return reject(fn, STATUS_INVALID_PARAMETER, "MDL chain not contiguous or shorter than Length (R121)");
  PVOID va = MmGetMdlVirtualAddress(mdl);
  std::uint64_t pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, length);
  std::uint64_t need = FIELD_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) + pages * sizeof(NDK_LOGICAL_ADDRESS);
  if (need > 0xFFFFFFFFull) return reject(fn, STATUS_INVALID_PARAMETER, "mapping too large");
  if (*lamSize < need) {
    *lamSize = static_cast<ULONG>(need);  // R135
    return STATUS_BUFFER_TOO_SMALL;
  }
  if (!lam) return reject(fn, STATUS_INVALID_PARAMETER, "NULL pNdkLAM");
  auto* rec = new (std::nothrow) Lam;
  if (!rec) return STATUS_INSUFFICIENT_RESOURCES;
  rec->pages.reserve(pages);
  // Logical address of a page = its system address, page aligned (docs/decisions.md).
  const std::uint64_t first = BYTE_OFFSET(va);
  std::size_t si = 0;
  for (std::uint64_t p = 0; p < pages; ++p) {
    std::uint64_t off = p == 0 ? 0 : p * PAGE_SIZE - first;  // region offset of the page's first byte in range
    while (si + 1 < segs.size() && off >= segs[si].offset + segs[si].length) ++si;
    std::uint64_t sys = reinterpret_cast<std::uint64_t>(segs[si].system) + (off - segs[si].offset);
    rec->pages.push_back(sys & ~static_cast<std::uint64_t>(PAGE_SIZE - 1));
  }
  {
    std::lock_guard lock(lam_mu_);
    lams_.insert(rec);
    for (auto pg : rec->pages) ++lam_pages_[pg];
  }
  lam->AdapterContext = rec;
  lam->AdapterPageCount = static_cast<ULONG>(pages);
  for (std::uint64_t p = 0; p < pages; ++p) lam->AdapterPageArray[p].QuadPart = static_cast<LONGLONG>(rec->pages[p]);
  *lamSize = static_cast<ULONG>(need);
  *fbo = static_cast<ULONG>(first);
  return STATUS_SUCCESS;
}

void Adapter::dropLamLocked(Lam* l) {
  for (auto pg : l->pages) {
    auto it = lam_pages_.find(pg);
    if (it != lam_pages_.end() && --it->second == 0) lam_pages_.erase(it);
  }
  lams_.erase(l);
  delete l;
}

void Adapter::releaseLam(NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  if (!lam) {
    reject("NdkReleaseLAM", STATUS_INVALID_PARAMETER, "NULL pNdkLAM");
    return;
  }
  std::lock_guard lock(lam_mu_);
  auto* rec = static_cast<Lam*>(lam->AdapterContext);
  if (!lams_.count(rec)) {
    reject("NdkReleaseLAM", STATUS_INVALID_PARAMETER, "not a LAM of this adapter (or already released)");
    return;
  }
  dropLamLocked(rec);
}

bool Adapter::lamCovers(std::uint64_t logical, std::uint64_t length) const {
  if (length == 0) length = 1;
  if (logical + length < logical) return false;
  std::lock_guard lock(lam_mu_);
  for (std::uint64_t pg = logical & ~static_cast<std::uint64_t>(PAGE_SIZE - 1); pg < logical + length; pg += PAGE_SIZE)
    if (!lam_pages_.count(pg)) return false;
  return true;
}

std::size_t Adapter::lamCount() const {
  std::lock_guard lock(lam_mu_);
  return lams_.size();
}

}  // namespace openndk::provider
