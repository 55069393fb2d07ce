#include "host/host.h"

#include <set>

#include "base/log.h"
#include "host/miniport.h"

namespace openndk::host {

Host& Host::instance() {
  static Host* h = new Host();  // intentionally never destroyed
  return *h;
}

Host::Host() {
  NDIS_STATUS s = SoftIwarpDriverEntry(ndis_);
  if (s != NDIS_STATUS_SUCCESS)
    NDK_LOG_ERROR("host", "soft-iWARP miniport registration failed: {:#x}", static_cast<std::uint32_t>(s));
  refresh();
}

void Host::refresh() {
  std::lock_guard lock(refresh_mu_);
  bool ok = true;
  const std::vector<DiscoveredInterface> found = discoverInterfaces(&ok);
  if (!ok) return;  // listing failed (out of descriptors...): keep what is known, remove nothing
  std::set<NET_IFINDEX> seen;
  for (const DiscoveredInterface& d : found) {
    if (d.addresses.empty()) continue;
    seen.insert(d.ifIndex);
    if (auto snap = ndis_.snapshot(d.ifIndex)) {
      if (snap->name == d.name) {
        ndis_.updateAddresses(d.ifIndex, d.addresses);
        continue;
      }
      ndis_.removeInterface(d.ifIndex);  // index reused by another interface
    }
    ndis_.addInterface(InterfaceInit{d.ifIndex, d.name, d.addresses});
  }
  for (NET_IFINDEX i : ndis_.interfaces(false))
    if (!seen.count(i)) ndis_.removeInterface(i);
}

bool Host::known(NET_IFINDEX ifIndex) {
  if (ndis_.snapshot(ifIndex)) return true;
  refresh();
  return ndis_.snapshot(ifIndex).has_value();
}

}  // namespace openndk::host
