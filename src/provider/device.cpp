#include "provider/device.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <random>
#include <thread>

#include "base/config.h"
#include "base/log.h"
#include "engine/event_loop.h"
#include "provider/adapter.h"

namespace openndk::provider {
namespace {

using base::Tunable;
using base::tunableU64;

ULONG clampU32(std::uint64_t v) { return static_cast<ULONG>(std::min<std::uint64_t>(v, 0xFFFFFFFFull)); }

// MPA (RFC 5044) carries at most 512 bytes of private data in a Request/Reply. The MPA v2
// enhanced RTR negotiation takes 4 of them (IRD/ORD words); the legacy (MPA v1 "windows" profile)
// IRD/ORD exchange takes 8. We advertise what is left in the worst case so that a consumer's
// private data fits under every MPA profile (docs/decisions.md, "Provider objects").
constexpr ULONG kMpaPrivateDataLimit = 512;
constexpr ULONG kLegacyIrdOrdBytes = 8;

bool sameAddress(const SOCKADDR_INET& a, const SOCKADDR_INET& b) {
  if (a.si_family != b.si_family) return false;
  if (a.si_family == AF_INET) return a.Ipv4.sin_addr.s_addr == b.Ipv4.sin_addr.s_addr;
  return std::memcmp(&a.Ipv6.sin6_addr, &b.Ipv6.sin6_addr, sizeof(IN6_ADDR)) == 0;
}
bool isWildcard(const SOCKADDR_INET& a) {
  if (a.si_family == AF_INET) return a.Ipv4.sin_addr.s_addr == htonl(INADDR_ANY);
  return std::memcmp(&a.Ipv6.sin6_addr, &in6addr_any, sizeof(IN6_ADDR)) == 0;
}
USHORT portOf(const SOCKADDR_INET& a) { return ntohs(a.si_family == AF_INET ? a.Ipv4.sin_port : a.Ipv6.sin6_port); }
void setPort(SOCKADDR_INET* a, USHORT p) {
  if (a->si_family == AF_INET)
    a->Ipv4.sin_port = htons(p);
  else
    a->Ipv6.sin6_port = htons(p);
}

}  // namespace

void PerfCounters::snapshot(NDIS_NDK_PERFORMANCE_COUNTERS* out) const {
  std::memset(out, 0, sizeof(*out));  // Reserved01..20 stay 0 (R162)
  out->Connect = connect.load();
  out->Accept = accept.load();
  out->ConnectFailure = connectFailure.load();
  out->ConnectionError = connectionError.load();
  out->ActiveConnection = activeConnection.load();
  out->CQError = cqError.load();
  out->RDMAInOctets = inOctets.load();
  out->RDMAOutOctets = outOctets.load();
  out->RDMAInFrames = inFrames.load();
  out->RDMAOutFrames = outFrames.load();
}

Device::Device(NET_IFINDEX ifindex, std::string name, std::vector<DeviceAddress> addresses, bool enabled)
    : ifindex_(ifindex), name_(std::move(name)), addresses_(std::move(addresses)), enabled_(enabled) {
  const ULONG sge = std::max<ULONG>(4, clampU32(tunableU64(Tunable::MaxSge)));  // >= 4 (brief)
  const ULONG queue = std::max<ULONG>(1, clampU32(tunableU64(Tunable::MaxQueueDepth)));
  const ULONG readLimit = std::max<ULONG>(1, clampU32(tunableU64(Tunable::MaxReadLimit)));
  const ULONG pd = clampU32(kMpaPrivateDataLimit - kLegacyIrdOrdBytes);
  info_.Version = {2, 1};
  info_.VendorId = 0;  // no IEEE OUI: a software adapter
  info_.DeviceId = 0x4f4e;
  info_.MaxRegistrationSize = static_cast<SIZE_T>(std::max<std::uint64_t>(PAGE_SIZE, tunableU64(Tunable::MaxRegistrationSize)));
  info_.MaxWindowSize = static_cast<SIZE_T>(std::max<std::uint64_t>(PAGE_SIZE, tunableU64(Tunable::MaxWindowSize)));
  info_.FRMRPageCount = std::max<ULONG>(OPENNDK_MIN_FRMR_PAGE_COUNT, clampU32(tunableU64(Tunable::FrmrPageCount)));  // R140
  info_.MaxInitiatorRequestSge = sge;
  info_.MaxReceiveRequestSge = sge;
  info_.MaxReadRequestSge = sge;
  info_.MaxTransferLength = std::max<ULONG>(1, clampU32(tunableU64(Tunable::MaxTransferLength)));
  info_.MaxInlineDataSize = clampU32(tunableU64(Tunable::MaxInlineData));
  info_.MaxInboundReadLimit = readLimit;
  info_.MaxOutboundReadLimit = readLimit;
  info_.MaxReceiveQueueDepth = queue;
  info_.MaxInitiatorQueueDepth = queue;
  info_.MaxSrqDepth = clampU32(tunableU64(Tunable::MaxSrqDepth));
  info_.MaxCqDepth = std::max<ULONG>(1, clampU32(tunableU64(Tunable::MaxCqDepth)));
  info_.LargeRequestThreshold = 8192;
  info_.MaxCallerData = pd;
  info_.MaxCalleeData = pd;
  info_.AdapterFlags = NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED | NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED |
                       NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED | NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED |
                       NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED | NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
  info_.RdmaTechnology = NdkiWarp;

  limits_[static_cast<int>(Resource::Qp)] = clampU32(tunableU64(Tunable::MaxQpCount));
  limits_[static_cast<int>(Resource::Cq)] = clampU32(tunableU64(Tunable::MaxCqCount));
  limits_[static_cast<int>(Resource::Mr)] = clampU32(tunableU64(Tunable::MaxMrCount));
  limits_[static_cast<int>(Resource::Pd)] = clampU32(tunableU64(Tunable::MaxPdCount));
  limits_[static_cast<int>(Resource::Mw)] = clampU32(tunableU64(Tunable::MaxMwCount));
  limits_[static_cast<int>(Resource::Srq)] = clampU32(tunableU64(Tunable::MaxSrqCount));

  caps_.Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
  caps_.Header.Revision = NDIS_NDK_CAPABILITIES_REVISION_1;
  caps_.Header.Size = NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1;
  caps_.Flags = 0;
  caps_.MaxQpCount = limits_[static_cast<int>(Resource::Qp)];
  caps_.MaxCqCount = limits_[static_cast<int>(Resource::Cq)];
  caps_.MaxMrCount = limits_[static_cast<int>(Resource::Mr)];
  caps_.MaxPdCount = limits_[static_cast<int>(Resource::Pd)];
  caps_.MaxInboundReadLimit = 0;  // no adapter-wide limit (R86)
  caps_.MaxOutboundReadLimit = 0;
  caps_.MaxMwCount = limits_[static_cast<int>(Resource::Mw)];
  caps_.MaxSrqCount = limits_[static_cast<int>(Resource::Srq)];
  caps_.MissingCounterMask = 0;  // every counter is kept
  caps_.NdkInfo = &info_;
}

Device::~Device() {
  // The host closes every instance before destroying the device; be safe if it did not.
  for (Adapter* a : openAdapters()) a->closeBlocking();
  std::lock_guard lock(engines_mu_);
  for (auto& e : engines_) e->stop();
  engines_.clear();
}

engine::EventLoop& Device::engineFor(const GROUP_AFFINITY* affinity) {
  std::lock_guard lock(engines_mu_);
  if (engines_.empty()) {
    // engines_per_device (docs/decisions.md "Fast path"): automatic = 1 engine on <= 2 CPUs (a second
    // engine thread only competes with the consumers for the CPUs), else one per CPU, at most 8.
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    const std::uint64_t want = base::tunableU64(base::Tunable::EnginesPerDevice);
    const unsigned n = want ? static_cast<unsigned>(std::min<std::uint64_t>(want, 64)) : (cpus <= 2 ? 1u : std::min(cpus, 8u));
    for (unsigned i = 0; i < n; ++i) engines_.push_back(std::make_unique<engine::EventLoop>(static_cast<int>(i)));
  }
  std::size_t idx = 0;
  if (affinity && affinity->Mask) {
    unsigned bit = 0;
    while (!((affinity->Mask >> bit) & 1)) ++bit;
    idx = (static_cast<std::size_t>(affinity->Group) * 64 + bit) % engines_.size();
  }
  return *engines_[idx];
}

std::size_t Device::engineCount() {
  std::lock_guard lock(engines_mu_);
  return engines_.size();
}

void Device::retainEndpoint(const SOCKADDR_INET& addr) {
  std::lock_guard lock(mu_);
  for (auto& e : endpoints_)
    if (sameAddress(e.addr, addr) && portOf(e.addr) == portOf(addr)) {
      ++e.refs;
      return;
    }
}

std::vector<DeviceAddress> Device::addresses() const {
  std::lock_guard lock(mu_);
  return addresses_;
}

void Device::setAddresses(std::vector<DeviceAddress> addresses) {
  std::lock_guard lock(mu_);
  addresses_ = std::move(addresses);
}

bool Device::ownsAddress(const SOCKADDR* addr, bool allow_wildcard) const {
  if (!addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) return false;
  SOCKADDR_INET a{};
  std::memcpy(&a, addr, addr->sa_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6));
  if (isWildcard(a)) return allow_wildcard;
  std::lock_guard lock(mu_);
  for (const auto& d : addresses_)
    if (sameAddress(d.addr, a)) return true;
  return false;
}

NTSTATUS Device::reserveEndpoint(SOCKADDR_INET* addr) {
  std::lock_guard lock(mu_);
  auto conflicts = [&](const SOCKADDR_INET& a, USHORT port) {
    for (const auto& e : endpoints_) {
      if (e.addr.si_family != a.si_family || portOf(e.addr) != port) continue;
      if (sameAddress(e.addr, a) || isWildcard(e.addr) || isWildcard(a)) return true;
    }
    return false;
  };
  USHORT port = portOf(*addr);
  if (port == 0) {
    // R94: a free port of the ephemeral range, searched from a rotating cursor (random start per
    // device) so that a port just released (TIME_WAIT) is not handed out again at once.
    constexpr ULONG kSpan = OPENNDK_EPHEMERAL_PORT_LAST - OPENNDK_EPHEMERAL_PORT_FIRST + 1;
    if (next_ephemeral_ == 0) next_ephemeral_ = static_cast<USHORT>(std::random_device{}() % kSpan);
    for (ULONG i = 0; i < kSpan; ++i) {
      const ULONG p = OPENNDK_EPHEMERAL_PORT_FIRST + (next_ephemeral_ + i) % kSpan;
      if (!conflicts(*addr, static_cast<USHORT>(p))) {
        port = static_cast<USHORT>(p);
        next_ephemeral_ = static_cast<USHORT>((next_ephemeral_ + i + 1) % kSpan);
        break;
      }
    }
    if (port == 0) return STATUS_TOO_MANY_ADDRESSES;
    setPort(addr, port);
  } else if (conflicts(*addr, port)) {
    return STATUS_SHARING_VIOLATION;  // R114
  }
  endpoints_.push_back({*addr, 1});
  return STATUS_SUCCESS;
}

NTSTATUS Device::reserveEndpointFreeOnHost(SOCKADDR_INET* addr,
                                           const std::function<bool(const SOCKADDR_INET&)>& onHost) {
  const bool ephemeral = portOf(*addr) == 0;
  std::vector<SOCKADDR_INET> busy;
  NTSTATUS s = STATUS_TOO_MANY_ADDRESSES;
  for (int attempt = 0; attempt < kEphemeralPortTries; ++attempt) {
    SOCKADDR_INET a = *addr;
    s = reserveEndpoint(&a);
    if (s != STATUS_SUCCESS) break;
    if (onHost(a) && ephemeral) {
      busy.push_back(a);  // the host uses it: keep it while we look further
      s = STATUS_TOO_MANY_ADDRESSES;
      continue;
    }
    *addr = a;
    break;
  }
  for (auto& b : busy) releaseEndpoint(b);
  return s;
}

void Device::releaseEndpoint(const SOCKADDR_INET& addr) {
  std::lock_guard lock(mu_);
  for (auto it = endpoints_.begin(); it != endpoints_.end(); ++it) {
    if (sameAddress(it->addr, addr) && portOf(it->addr) == portOf(addr)) {
      if (--it->refs == 0) endpoints_.erase(it);
      return;
    }
  }
}

NDK_ADAPTER_INFO Device::adapterInfo(NDK_VERSION version) const {
  NDK_ADAPTER_INFO i = info_;
  i.Version = version;  // R153
  return i;
}

bool Device::acquire(Resource r) {
  auto& c = in_use_[static_cast<int>(r)];
  std::uint32_t cur = c.load();
  do {
    if (cur >= limits_[static_cast<int>(r)]) return false;  // R155
  } while (!c.compare_exchange_weak(cur, cur + 1));
  return true;
}

void Device::releaseResource(Resource r) { in_use_[static_cast<int>(r)].fetch_sub(1); }

void Device::registerAdapter(Adapter* a) {
  std::lock_guard lock(mu_);
  adapters_.push_back(a);
}

void Device::unregisterAdapter(Adapter* a) {
  std::lock_guard lock(mu_);
  std::erase(adapters_, a);
}

std::vector<Adapter*> Device::openAdapters() const {
  std::lock_guard lock(mu_);
  return adapters_;
}

NDIS_STATUS Device::negotiateVersion(NDK_VERSION requested, NDK_VERSION* granted) {
  // §1.5 [D]: major 1 → 1.2, major 2 → 2.1 (R150: the highest minor, if the requested one is <= it).
  USHORT highestMinor = 0;
  if (requested.Major == 1)
    highestMinor = 2;
  else if (requested.Major == 2)
    highestMinor = 1;
  else
    return NDIS_STATUS_BAD_VERSION;
  if (requested.Minor > highestMinor) return NDIS_STATUS_BAD_VERSION;
  *granted = {requested.Major, highestMinor};
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS Device::OpenNdkAdapter(NDIS_HANDLE MiniportAdapterContext, PNDIS_OPEN_NDK_ADAPTER_PARAMETERS Parameters,
                                   NDK_ADAPTER** ppNdkAdapter) {
  auto* dev = static_cast<Device*>(MiniportAdapterContext);
  if (!dev || !ppNdkAdapter) {
    NDK_LOG_INFO("provider", "OpenNdkAdapter: rejected: NULL context or output pointer");
    return NDIS_STATUS_INVALID_PARAMETER;
  }
  NDK_VERSION requested = Parameters ? Parameters->Version : NDK_VERSION{2, 1};  // NULL: newest
  NDK_VERSION granted{};
  NDIS_STATUS s = negotiateVersion(requested, &granted);
  if (s != NDIS_STATUS_SUCCESS) {
    NDK_LOG_INFO("provider", "OpenNdkAdapter({}): version {}.{} not supported", dev->name_, requested.Major, requested.Minor);
    dev->counters_.rejectedCalls.fetch_add(1);
    return s;  // R150
  }
  if (!dev->enabled()) {
    NDK_LOG_INFO("provider", "OpenNdkAdapter({}): NDK is disabled", dev->name_);
    dev->counters_.rejectedCalls.fetch_add(1);
    return NDIS_STATUS_ADAPTER_NOT_READY;  // R151
  }
  Adapter* a = new (std::nothrow) Adapter(dev, granted);
  if (!a) return NDIS_STATUS_RESOURCES;
  dev->registerAdapter(a);
  *ppNdkAdapter = a->ndk<NDK_ADAPTER>();
  NDK_LOG_DEBUG("provider", "OpenNdkAdapter({}): version {}.{}", dev->name_, granted.Major, granted.Minor);
  return NDIS_STATUS_SUCCESS;
}

VOID Device::CloseNdkAdapter(NDIS_HANDLE MiniportAdapterContext, NDK_ADAPTER* pNdkAdapter) {
  Lookup why = Lookup::Ok;
  Adapter* a = Object::resolveAs<Adapter>(pNdkAdapter, &why);
  if (!a || (MiniportAdapterContext && a->device() != MiniportAdapterContext)) {
    rejectObject("CloseNdkAdapter", a ? STATUS_INVALID_PARAMETER : Object::statusFor(why), why);
    return;
  }
  a->closeBlocking();  // R27
}

NDIS_NDK_PROVIDER_CHARACTERISTICS Device::providerCharacteristics() {
  NDIS_NDK_PROVIDER_CHARACTERISTICS c{};
  c.Header.Type = NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS;
  c.Header.Revision = NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1;
  c.Header.Size = NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1;
  c.Flags = 0;
  c.OpenNDKAdapterHandler = &Device::OpenNdkAdapter;
  c.CloseNDKAdapterHandler = &Device::CloseNdkAdapter;
  return c;
}

}  // namespace openndk::provider
