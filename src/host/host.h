// The host: the process-wide emulated NDIS with the soft-iWARP miniport registered, one miniport
// adapter per discovered OS interface. Created on first use (thread-safe) and never destroyed (so
// no exit-time ordering hazard with consumers still holding adapters). The C entry points of
// ndk/ndk.h and ndk/ndk_host.h are thin wrappers around it (api.cpp).
#pragma once
#include <mutex>

#include "host/discovery.h"
#include "host/ndis.h"

namespace openndk::host {

class Host {
 public:
  static Host& instance();

  Ndis& ndis() { return ndis_; }
  // Re-reads the OS interfaces: new ones are initialized, changed addresses passed on, vanished
  // ones halted (their adapters closed).
  void refresh();
  // Like Ndis::snapshot, refreshing once if the index is unknown.
  bool known(NET_IFINDEX ifIndex);

 private:
  Host();
  std::mutex refresh_mu_;
  Ndis ndis_;
};

}  // namespace openndk::host
