#include "host/ndis.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "base/config.h"
#include "base/log.h"

namespace openndk::host {

namespace {
constexpr const char* kLayer = "ndis";
// Depth of MiniportOidRequest calls on this thread (R160 detection).
thread_local int tls_in_oid = 0;

bool sameAddresses(const std::vector<SOCKADDR_INET>& a, const std::vector<SOCKADDR_INET>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const SOCKADDR_INET& x, const SOCKADDR_INET& y) {
           return std::memcmp(&x, &y, sizeof x) == 0;
         });
}

// OPENNDK_NETWORK_DIRECT_<IFNAME>: upper case, every other character than [A-Z0-9] becomes '_'.
std::optional<ULONG> envNetworkDirect(const std::string& ifname) {
  std::string var = "OPENNDK_NETWORK_DIRECT_";
  for (char c : ifname) {
    unsigned char u = static_cast<unsigned char>(c);
    var += std::isalnum(u) ? static_cast<char>(std::toupper(u)) : '_';
  }
  const char* v = std::getenv(var.c_str());
  if (!v) return std::nullopt;
  if (std::strcmp(v, "0") == 0) return 0;
  if (std::strcmp(v, "1") == 0) return 1;
  NDK_LOG_WARN(kLayer, "{}={} ignored: *NetworkDirect is 0 or 1", var, v);
  return std::nullopt;
}
}  // namespace

// The framework's per-interface block; a miniport adapter handle points at one. Guarded by
// Ndis::mu_ except the constant members.
struct MiniportBlock {
  Ndis* ndis = nullptr;
  NET_IFINDEX ifIndex = 0;
  std::string name;
  std::vector<SOCKADDR_INET> addresses;
  NDIS_HANDLE context = nullptr;
  bool initializing = false;
  bool ndkCapable = false;
  bool ndkEnabled = false;
  NDIS_NDK_CAPABILITIES caps{};
  NDK_ADAPTER_INFO info{};
  std::set<NDK_ADAPTER*> open;
  std::uint32_t opening = 0;  // open handler running
  std::uint32_t closing = 0;  // close handler running
  std::uint32_t pending = 0;  // work items queued or running
  std::uint32_t users = 0;    // OID requests running
  std::map<std::string, ULONG> keywords;
};

struct Ndis::CallbackReg {
  StateCallback cb;
  PVOID ctx;
  int running = 0;
};

Ndis::Ndis() : work_(std::make_unique<base::SerialExecutor>("ndis-work")) {}

Ndis::~Ndis() {
  for (NET_IFINDEX i : interfaces(false)) removeInterface(i);
  work_.reset();
}

bool Ndis::driverRegistered() const {
  std::lock_guard lock(mu_);
  return registered_;
}

bool Ndis::ndkHandlersRegistered() const {
  std::lock_guard lock(mu_);
  return open_handler_ && close_handler_;
}

NDIS_STATUS Ndis::registerMiniportDriver(const MiniportDriverCharacteristics& chars) {
  if (!chars.InitializeEx || !chars.OidRequest || !chars.Halt) {
    NDK_LOG_WARN(kLayer, "NdisMRegisterMiniportDriver: a mandatory handler is missing");
    return NDIS_STATUS_INVALID_PARAMETER;
  }
  {
    std::lock_guard lock(mu_);
    if (registered_ || in_set_options_) return NDIS_STATUS_FAILURE;
    driver_ = chars;
    in_set_options_ = true;
  }
  NDIS_STATUS s = chars.SetOptions ? chars.SetOptions(this, chars.DriverContext) : NDIS_STATUS_SUCCESS;
  std::lock_guard lock(mu_);
  in_set_options_ = false;
  if (s != NDIS_STATUS_SUCCESS) {
    driver_ = {};
    open_handler_ = nullptr;
    close_handler_ = nullptr;
    NDK_LOG_WARN(kLayer, "MiniportSetOptions failed: {:#x}", static_cast<std::uint32_t>(s));
    return s;
  }
  registered_ = true;
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS Ndis::setOptionalHandlers(NDIS_HANDLE ndisDriverHandle,
                                      const NDIS_NDK_PROVIDER_CHARACTERISTICS* chars) {
  auto* self = static_cast<Ndis*>(ndisDriverHandle);
  if (!self || !chars) return NDIS_STATUS_INVALID_PARAMETER;
  const char* why = nullptr;
  if (chars->Header.Type != NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS) why = "Header.Type";
  else if (chars->Header.Revision != NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1) why = "Header.Revision";
  else if (chars->Header.Size < NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1) why = "Header.Size";
  else if (chars->Flags != 0) why = "Flags";
  else if (!chars->OpenNDKAdapterHandler) why = "OpenNDKAdapterHandler";
  else if (!chars->CloseNDKAdapterHandler) why = "CloseNDKAdapterHandler";
  if (why) {
    NDK_LOG_WARN(kLayer, "NdisSetOptionalHandlers: NDK provider characteristics rejected ({}) (R157)", why);
    return NDIS_STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(self->mu_);
  if (!self->in_set_options_) {
    NDK_LOG_WARN(kLayer, "NdisSetOptionalHandlers outside MiniportSetOptions");
    return NDIS_STATUS_FAILURE;
  }
  self->open_handler_ = chars->OpenNDKAdapterHandler;
  self->close_handler_ = chars->CloseNDKAdapterHandler;
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS Ndis::setMiniportAttributes(NDIS_HANDLE miniportAdapterHandle,
                                        const NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES* attrs) {
  auto* b = static_cast<MiniportBlock*>(miniportAdapterHandle);
  if (!b || !attrs) return NDIS_STATUS_INVALID_PARAMETER;
  const char* why = nullptr;
  const NDIS_NDK_CAPABILITIES* c = attrs->NdkCapabilities;
  if (attrs->Header.Type != NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES) why = "Header.Type";
  else if (attrs->Header.Revision != NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1) why = "Header.Revision";
  else if (attrs->Header.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1) why = "Header.Size";
  else if (attrs->Enabled != FALSE && attrs->Enabled != TRUE) why = "Enabled";
  else if (!c) why = "NdkCapabilities";
  else if (c->Header.Type != NDIS_OBJECT_TYPE_DEFAULT) why = "NdkCapabilities->Header.Type";
  else if (c->Header.Revision != NDIS_NDK_CAPABILITIES_REVISION_1) why = "NdkCapabilities->Header.Revision";
  else if (c->Header.Size < NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1) why = "NdkCapabilities->Header.Size";
  else if (c->Flags != 0) why = "NdkCapabilities->Flags";
  else if (!c->NdkInfo) why = "NdkCapabilities->NdkInfo";
  if (why) {
    NDK_LOG_WARN(kLayer, "NdisMSetMiniportAttributes: NDK attributes rejected ({}) (R158)", why);
    return NDIS_STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(b->ndis->mu_);
  if (!b->initializing) {
    NDK_LOG_WARN(kLayer, "NdisMSetMiniportAttributes outside MiniportInitializeEx");
    return NDIS_STATUS_FAILURE;
  }
  b->ndkCapable = true;
  b->ndkEnabled = attrs->Enabled != FALSE;
  b->caps = *c;
  b->info = *c->NdkInfo;
  b->caps.NdkInfo = nullptr;  // the snapshot points at its own copy
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS Ndis::netPnPEvent(NDIS_HANDLE miniportAdapterHandle, NET_PNP_EVENT_CODE code) {
  auto* b = static_cast<MiniportBlock*>(miniportAdapterHandle);
  if (!b) return NDIS_STATUS_INVALID_PARAMETER;
  Ndis* self = b->ndis;
  if (tls_in_oid > 0) {
    self->r160_violations_.fetch_add(1);
    NDK_LOG_ERROR(kLayer, "if {}: NdisMNetPnPEvent called inside MiniportOidRequest (R160); refused",
                  b->ifIndex);
    return NDIS_STATUS_FAILURE;
  }
  if (code != NetEventNDKEnable && code != NetEventNDKDisable) return NDIS_STATUS_NOT_SUPPORTED;
  {
    std::lock_guard lock(self->mu_);
    if (!b->ndkCapable) return NDIS_STATUS_FAILURE;
    b->ndkEnabled = code == NetEventNDKEnable;
  }
  self->pnp_events_.fetch_add(1);
  NDK_LOG_INFO(kLayer, "if {}: NDK {}", b->ifIndex, code == NetEventNDKEnable ? "enabled" : "disabled");
  self->cv_.notify_all();
  self->notify(b->ifIndex, code == NetEventNDKEnable);
  if (code == NetEventNDKDisable) {
    // R161: pending until every NDK_ADAPTER of the interface is closed.
    std::unique_lock lock(self->mu_);
    auto none = [&] { return b->open.empty() && b->opening == 0 && b->closing == 0; };
    if (!self->cv_.wait_for(lock, std::chrono::milliseconds(self->disable_grace_ms_.load()), none)) {
      NDK_LOG_WARN(kLayer, "if {}: {} NDK_ADAPTER instance(s) still open after the grace period; closing them",
                   b->ifIndex, b->open.size());
      lock.unlock();
      self->closeAllOf(b, true);
      lock.lock();
      self->cv_.wait(lock, none);
    }
  }
  return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS Ndis::readConfiguration(NDIS_HANDLE miniportAdapterHandle, const char* keyword, ULONG* value) {
  auto* b = static_cast<MiniportBlock*>(miniportAdapterHandle);
  if (!b || !keyword || !value) return NDIS_STATUS_INVALID_PARAMETER;
  {
    std::lock_guard lock(b->ndis->mu_);
    auto it = b->keywords.find(keyword);
    if (it != b->keywords.end()) {
      *value = it->second;
      return NDIS_STATUS_SUCCESS;
    }
  }
  if (std::strcmp(keyword, NETWORK_DIRECT_KEYWORD) == 0) {
    if (auto v = envNetworkDirect(b->name)) {
      *value = *v;
    } else {
      *value = base::tunableU64(base::Tunable::NetworkDirect) != 0 ? 1 : 0;
    }
    return NDIS_STATUS_SUCCESS;
  }
  return NDIS_STATUS_FAILURE;
}

void Ndis::queueWorkItem(NDIS_HANDLE miniportAdapterHandle, std::function<void()> fn) {
  auto* b = static_cast<MiniportBlock*>(miniportAdapterHandle);
  Ndis* self = b->ndis;
  {
    std::lock_guard lock(self->mu_);
    ++b->pending;
  }
  self->work_->post([self, b, fn = std::move(fn)] {
    fn();
    {
      std::lock_guard lock(self->mu_);
      --b->pending;
    }
    self->cv_.notify_all();
  });
}

NET_IFINDEX Ndis::ifIndexOf(NDIS_HANDLE miniportAdapterHandle) {
  auto* b = static_cast<MiniportBlock*>(miniportAdapterHandle);
  return b ? b->ifIndex : 0;
}

NDIS_STATUS Ndis::addInterface(const InterfaceInit& init) {
  auto b = std::make_unique<MiniportBlock>();
  b->ndis = this;
  b->ifIndex = init.ifIndex;
  b->name = init.name;
  b->addresses = init.addresses;
  b->initializing = true;
  MiniportDriverCharacteristics drv;
  {
    std::lock_guard lock(mu_);
    if (!registered_ || blocks_.count(init.ifIndex)) return NDIS_STATUS_FAILURE;
    drv = driver_;
  }
  NDIS_HANDLE ctx = nullptr;
  NDIS_STATUS s = drv.InitializeEx(b.get(), drv.DriverContext, init, &ctx);
  std::lock_guard lock(mu_);
  b->initializing = false;
  if (s != NDIS_STATUS_SUCCESS) {
    NDK_LOG_WARN(kLayer, "if {} ({}): MiniportInitializeEx failed: {:#x}", init.ifIndex, init.name,
                 static_cast<std::uint32_t>(s));
    return s;
  }
  b->context = ctx;
  NDK_LOG_INFO(kLayer, "if {} ({}): miniport adapter up, NDK {}", init.ifIndex, init.name,
               b->ndkCapable ? (b->ndkEnabled ? "enabled" : "disabled") : "not supported");
  blocks_[init.ifIndex] = std::move(b);
  return NDIS_STATUS_SUCCESS;
}

void Ndis::updateAddresses(NET_IFINDEX ifIndex, const std::vector<SOCKADDR_INET>& addrs) {
  NDIS_HANDLE ctx = nullptr;
  {
    std::lock_guard lock(mu_);
    MiniportBlock* b = find(ifIndex);
    if (!b || sameAddresses(b->addresses, addrs)) return;
    b->addresses = addrs;
    ctx = b->context;
  }
  if (driver_.AddressesChanged) driver_.AddressesChanged(ctx, addrs);
}

void Ndis::removeInterface(NET_IFINDEX ifIndex) {
  MiniportBlock* b = nullptr;
  bool wasCapable = false;
  {
    std::lock_guard lock(mu_);
    b = find(ifIndex);
    if (!b) return;
    wasCapable = b->ndkCapable;
    b->ndkEnabled = false;
  }
  if (wasCapable) notify(ifIndex, false);
  closeAllOf(b, true);
  std::unique_ptr<MiniportBlock> owned;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      return b->pending == 0 && b->users == 0 && b->opening == 0 && b->closing == 0 && b->open.empty();
    });
    owned = std::move(blocks_[ifIndex]);
    blocks_.erase(ifIndex);
  }
  driver_.Halt(owned->context);
  NDK_LOG_INFO(kLayer, "if {} ({}): miniport adapter halted", ifIndex, owned->name);
  cv_.notify_all();
}

std::vector<NET_IFINDEX> Ndis::interfaces(bool ndkCapableOnly) const {
  std::lock_guard lock(mu_);
  std::vector<NET_IFINDEX> out;
  for (auto& [i, b] : blocks_)
    if (!ndkCapableOnly || b->ndkCapable) out.push_back(i);
  return out;
}

std::optional<InterfaceSnapshot> Ndis::snapshot(NET_IFINDEX ifIndex) const {
  std::lock_guard lock(mu_);
  MiniportBlock* b = find(ifIndex);
  if (!b) return std::nullopt;
  InterfaceSnapshot s;
  s.ifIndex = b->ifIndex;
  s.name = b->name;
  s.addresses = b->addresses;
  s.ndkCapable = b->ndkCapable;
  s.ndkEnabled = b->ndkEnabled;
  s.capabilities = b->caps;
  s.info = b->info;
  s.adapterContext = b->context;
  s.openAdapters = static_cast<std::uint32_t>(b->open.size());
  s.pendingEvents = b->pending;
  auto it = b->keywords.find(NETWORK_DIRECT_KEYWORD);
  if (it != b->keywords.end()) {
    s.networkDirect = it->second;
  } else if (auto v = envNetworkDirect(b->name)) {
    s.networkDirect = *v;
  } else {
    s.networkDirect = base::tunableU64(base::Tunable::NetworkDirect) != 0 ? 1 : 0;
  }
  return s;
}

NDIS_STATUS Ndis::openAdapter(NET_IFINDEX ifIndex, PNDIS_OPEN_NDK_ADAPTER_PARAMETERS params, NDK_ADAPTER** out) {
  if (!out) return NDIS_STATUS_INVALID_PARAMETER;
  *out = nullptr;
  MiniportBlock* b = nullptr;
  OPEN_NDK_ADAPTER_HANDLER open = nullptr;
  CLOSE_NDK_ADAPTER_HANDLER close = nullptr;
  {
    std::lock_guard lock(mu_);
    b = find(ifIndex);
    if (!b || !b->ndkCapable) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    if (!open_handler_) return NDIS_STATUS_NOT_SUPPORTED;
    if (!b->ndkEnabled) return NDIS_STATUS_ADAPTER_NOT_READY;  // R151
    open = open_handler_;
    close = close_handler_;
    ++b->opening;
  }
  NDK_ADAPTER* a = nullptr;
  NDIS_STATUS s = open(b->context, params, &a);
  bool raced = false;
  {
    std::lock_guard lock(mu_);
    --b->opening;
    if (s == NDIS_STATUS_SUCCESS) {
      if (!a) {
        s = NDIS_STATUS_FAILURE;
      } else if (!b->ndkEnabled) {
        raced = true;  // a disable started while the handler ran
        ++b->closing;
      } else {
        b->open.insert(a);
        instances_[a] = b;
      }
    }
  }
  if (raced) {
    close(b->context, a);
    {
      std::lock_guard lock(mu_);
      --b->closing;
    }
    s = NDIS_STATUS_ADAPTER_NOT_READY;
    a = nullptr;
  }
  cv_.notify_all();
  if (s == NDIS_STATUS_SUCCESS) *out = a;
  return s;
}

bool Ndis::closeAdapter(NDK_ADAPTER* adapter) {
  MiniportBlock* b = nullptr;
  CLOSE_NDK_ADAPTER_HANDLER close = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = instances_.find(adapter);
    if (it == instances_.end()) return false;
    b = it->second;
    instances_.erase(it);
    b->open.erase(adapter);
    ++b->closing;
    close = close_handler_;
  }
  close(b->context, adapter);
  {
    std::lock_guard lock(mu_);
    --b->closing;
  }
  cv_.notify_all();
  return true;
}

void Ndis::closeAllOf(MiniportBlock* b, bool forced) {
  std::vector<NDK_ADAPTER*> victims;
  CLOSE_NDK_ADAPTER_HANDLER close = nullptr;
  {
    std::lock_guard lock(mu_);
    victims.assign(b->open.begin(), b->open.end());
    for (NDK_ADAPTER* a : victims) instances_.erase(a);
    b->open.clear();
    b->closing += static_cast<std::uint32_t>(victims.size());
    close = close_handler_;
  }
  for (NDK_ADAPTER* a : victims) {
    close(b->context, a);
    if (forced) forced_closes_.fetch_add(1);
    std::lock_guard lock(mu_);
    --b->closing;
  }
  cv_.notify_all();
}

NDIS_STATUS Ndis::oidRequest(NET_IFINDEX ifIndex, NdisOidRequest* request) {
  if (!request) return NDIS_STATUS_INVALID_PARAMETER;
  MiniportBlock* b = nullptr;
  {
    std::lock_guard lock(mu_);
    b = find(ifIndex);
    if (!b) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    ++b->users;
  }
  ++tls_in_oid;
  NDIS_STATUS s = driver_.OidRequest(b->context, request);
  --tls_in_oid;
  {
    std::lock_guard lock(mu_);
    --b->users;
  }
  cv_.notify_all();
  if (s == NDIS_STATUS_PENDING) {
    NDK_LOG_ERROR(kLayer, "if {}: MiniportOidRequest({:#x}) returned NDIS_STATUS_PENDING (R159)", ifIndex,
                  request->oid);
  }
  return s;
}

NDIS_STATUS Ndis::setKeyword(NET_IFINDEX ifIndex, const std::string& keyword, ULONG value) {
  if (keyword != NETWORK_DIRECT_KEYWORD) return NDIS_STATUS_NOT_SUPPORTED;
  if (value > 1) return NDIS_STATUS_INVALID_DATA;
  std::lock_guard lock(mu_);
  MiniportBlock* b = find(ifIndex);
  if (!b) return NDIS_STATUS_ADAPTER_NOT_FOUND;
  b->keywords[keyword] = value;
  return NDIS_STATUS_SUCCESS;
}

bool Ndis::waitState(NET_IFINDEX ifIndex, bool enabled, std::uint32_t timeoutMs) {
  std::unique_lock lock(mu_);
  bool gone = false;
  bool ok = cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] {
    MiniportBlock* b = find(ifIndex);
    if (!b) {
      gone = true;
      return true;
    }
    return b->pending == 0 && b->ndkEnabled == enabled;
  });
  return ok && !gone;
}

void Ndis::drainWorkItems() { work_->drain(); }

void* Ndis::registerStateCallback(StateCallback cb, PVOID ctx) {
  auto reg = std::make_shared<CallbackReg>(CallbackReg{cb, ctx, 0});
  std::lock_guard lock(cb_mu_);
  callbacks_.push_back(reg);
  return reg.get();
}

void Ndis::deregisterStateCallback(void* registration) {
  std::unique_lock lock(cb_mu_);
  auto it = std::find_if(callbacks_.begin(), callbacks_.end(),
                         [&](const auto& r) { return r.get() == registration; });
  if (it == callbacks_.end()) return;
  std::shared_ptr<CallbackReg> reg = *it;
  callbacks_.erase(it);
  if (!work_->onExecutorThread()) cb_cv_.wait(lock, [&] { return reg->running == 0; });
}

void Ndis::notify(NET_IFINDEX ifIndex, bool enabled) {
  std::vector<std::shared_ptr<CallbackReg>> regs;
  {
    std::lock_guard lock(cb_mu_);
    regs = callbacks_;
    for (auto& r : regs) ++r->running;
  }
  for (auto& r : regs) {
    r->cb(r->ctx, ifIndex, enabled ? TRUE : FALSE);
    std::lock_guard lock(cb_mu_);
    --r->running;
  }
  cb_cv_.notify_all();
}

MiniportBlock* Ndis::find(NET_IFINDEX ifIndex) const {
  auto it = blocks_.find(ifIndex);
  return it == blocks_.end() ? nullptr : it->second.get();
}

}  // namespace openndk::host
