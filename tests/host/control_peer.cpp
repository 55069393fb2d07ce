// A consumer process for the control-plane tests (control_test.cpp): opens an adapter on lo,
// holds one established loopback connection (so its counters, connections and endpoints are not
// zero) and behaves as R161 asks of a consumer: when NDK is disabled on the interface it closes
// everything it has there. It talks to the test over stdin/stdout, one line per event:
//   "ready <pid>"              connection established, control endpoint up
//   "disabled"                 NetEventNDKDisable seen, every object and the adapter closed
//   "reopen <status>"          OpenNdkOpenAdapter right after (R161: NDIS_STATUS_ADAPTER_NOT_READY)
// and exits when stdin closes.
#include <net/if.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "consumer.h"

using namespace ndktest;

namespace {

struct StateEvents {
  std::mutex mu;
  std::condition_variable cv;
  bool disabled = false;
  NET_IFINDEX ifindex = 0;
};

VOID onState(PVOID ctx, NET_IFINDEX ifx, BOOLEAN enabled) {
  auto* ev = static_cast<StateEvents*>(ctx);
  std::lock_guard l(ev->mu);
  if (ifx == ev->ifindex && !enabled) ev->disabled = true;
  ev->cv.notify_all();
}

}  // namespace

int main() {
  const NET_IFINDEX lo = if_nametoindex("lo");
  StateEvents ev;
  ev.ifindex = lo;
  PVOID reg = nullptr;
  if (OpenNdkRegisterStateCallback(onState, &ev, &reg) != STATUS_SUCCESS) return 2;
  auto ad = std::make_unique<Adapter>(lo);
  if (!ad->ok()) {
    std::printf("error open %s\n", statusName(ad->openStatus).c_str());
    return 2;
  }
  auto listener = std::make_unique<Listener>(*ad);
  const std::uint16_t port = listener->listen("127.0.0.1");
  auto client = std::make_unique<Endpoint>(*ad);
  auto server = std::make_unique<Endpoint>(*ad);
  NTSTATUS connectStatus = STATUS_PENDING;
  std::thread connector([&] { connectStatus = client->connect("127.0.0.1", "127.0.0.1", port); });
  NDK_CONNECTOR* incoming = listener->next(Ms(30000));
  const NTSTATUS acceptStatus = incoming ? server->accept(incoming) : STATUS_IO_TIMEOUT;
  connector.join();
  if (port == 0 || connectStatus != STATUS_SUCCESS || acceptStatus != STATUS_SUCCESS) {
    std::printf("error connect %s accept %s\n", statusName(connectStatus).c_str(), statusName(acceptStatus).c_str());
    return 2;
  }
  std::printf("ready %ld\n", static_cast<long>(::getpid()));
  std::fflush(stdout);

  // A waiter for the disable event; the main thread waits for stdin to close.
  std::thread watcher([&] {
    std::unique_lock l(ev.mu);
    ev.cv.wait(l, [&] { return ev.disabled; });
    l.unlock();
    client.reset();
    server.reset();
    listener.reset();
    ad.reset();
    std::printf("disabled\n");
    NDK_ADAPTER* again = nullptr;
    const NTSTATUS s = OpenNdkOpenAdapter(lo, nullptr, &again);
    if (s == STATUS_SUCCESS) OpenNdkCloseAdapter(again);
    std::printf("reopen %s\n", statusName(s).c_str());
    std::fflush(stdout);
  });
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {
  }
  {
    std::lock_guard l(ev.mu);
    ev.disabled = true;  // stdin closed: let the watcher finish (it closes whatever is still open)
    ev.cv.notify_all();
  }
  watcher.join();
  OpenNdkDeregisterStateCallback(reg);
  return 0;
}
