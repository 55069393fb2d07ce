// Discovery of the OS network interfaces (getifaddrs + if_nametoindex): every interface with at
// least one IPv4 or IPv6 address becomes one miniport adapter, named by its interface index.
#pragma once
#include <ndk/ndk.h>

#include <string>
#include <vector>

namespace openndk::host {

struct DiscoveredInterface {
  NET_IFINDEX ifIndex = 0;
  std::string name;
  bool up = false;
  bool loopback = false;
  std::vector<SOCKADDR_INET> addresses;  // port 0; IPv4 first, then IPv6, each in OS order
};

// Sorted by interface index. Interfaces without an IP address are left out.
// *ok (optional) is false when the interfaces could not be listed (e.g. getifaddrs failing with
// EMFILE): an empty result then means "unknown", not "none".
std::vector<DiscoveredInterface> discoverInterfaces(bool* ok = nullptr);

}  // namespace openndk::host
