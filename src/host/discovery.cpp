#include "host/discovery.h"

#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "base/log.h"

namespace openndk::host {

std::vector<DiscoveredInterface> discoverInterfaces(bool* ok) {
  ifaddrs* list = nullptr;
  if (ok) *ok = true;
  if (getifaddrs(&list) != 0) {
    NDK_LOG_ERROR("host", "getifaddrs failed: {}", std::strerror(errno));
    if (ok) *ok = false;
    return {};
  }
  std::map<std::string, DiscoveredInterface> byName;
  std::map<std::string, std::vector<SOCKADDR_INET>> v6;
  for (ifaddrs* p = list; p; p = p->ifa_next) {
    if (!p->ifa_name || !p->ifa_addr) continue;
    const int family = p->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    auto& d = byName[p->ifa_name];
    d.name = p->ifa_name;
    d.up = (p->ifa_flags & IFF_UP) != 0;
    d.loopback = (p->ifa_flags & IFF_LOOPBACK) != 0;
    SOCKADDR_INET a;
    std::memset(&a, 0, sizeof a);
    if (family == AF_INET) {
      std::memcpy(&a.Ipv4, p->ifa_addr, sizeof(sockaddr_in));
      a.Ipv4.sin_port = 0;
      d.addresses.push_back(a);
    } else {
      std::memcpy(&a.Ipv6, p->ifa_addr, sizeof(sockaddr_in6));
      a.Ipv6.sin6_port = 0;
      v6[p->ifa_name].push_back(a);
    }
  }
  freeifaddrs(list);
  std::vector<DiscoveredInterface> out;
  for (auto& [name, d] : byName) {
    auto& extra = v6[name];
    d.addresses.insert(d.addresses.end(), extra.begin(), extra.end());
    d.ifIndex = if_nametoindex(name.c_str());
    if (d.ifIndex == 0) continue;  // vanished meanwhile (or an alias label without an index)
    out.push_back(std::move(d));
  }
  // Alias labels ("eth0:1") share an index with their interface: merge them.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.ifIndex != b.ifIndex ? a.ifIndex < b.ifIndex : a.name.size() < b.name.size();
  });
  std::vector<DiscoveredInterface> merged;
  for (auto& d : out) {
    if (!merged.empty() && merged.back().ifIndex == d.ifIndex) {
      merged.back().addresses.insert(merged.back().addresses.end(), d.addresses.begin(), d.addresses.end());
    } else {
      merged.push_back(std::move(d));
    }
  }
  return merged;
}

}  // namespace openndk::host
