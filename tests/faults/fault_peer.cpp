// The peer process of the fault tests, run inside the second network namespace (tests/netns).
// Talks to the test over stdout lines:
//   fault_peer serve <ip>                  READY <port> / CONNECTED <va> <token> / DISCONNECTED ...
//   fault_peer storm <src> <dst> <port> <n> RESULT <i> <status> (once per connect) / DONE
// serve: accepts one connection, exposes a 1 MiB region (remote read+write), keeps 32 receives
// posted; after the disconnect event it flushes and checks that every posted receive completed
// exactly once (exit 0), else exit 3. storm: n concurrent connects, each must complete exactly once.
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "consumer.h"

using namespace ndktest;
using namespace std::chrono_literals;

namespace {

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int serve(const std::string& ip) {
  const NET_IFINDEX ifx = interfaceForIp(ip);
  if (!ifx) return say("ERROR no interface for " + ip), 2;
  Adapter ad(ifx);
  if (!ad.ok()) return say("ERROR OpenNdkOpenAdapter " + statusName(ad.openStatus)), 2;
  Buffer buf(1 << 20);
  Region region(ad.pd, buf,
                NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  if (!region.ok()) return say("ERROR NdkRegisterMr"), 2;
  Listener lis(ad);
  const std::uint16_t port = lis.listen(ip, 0);
  if (!port) return say("ERROR NdkListen"), 2;
  Endpoint ep(ad, 64);
  if (!ep.ok()) return say("ERROR NdkCreateQp"), 2;
  constexpr ULONG kRecv = 4096;
  auto post = [&](int slot) {
    NDK_SGE g{};
    g.VirtualAddress = buf.p + (1 << 19) + static_cast<std::size_t>(slot) * kRecv;
    g.Length = kRecv;
    g.MemoryRegionToken = region.local;
    return ep.postReceive(&g, 1);
  };
  for (int i = 0; i < 32; ++i)
    if (post(i) != STATUS_SUCCESS) return say("ERROR NdkReceive"), 2;
  say("READY " + std::to_string(port));
  NDK_CONNECTOR* c = lis.next(60s);
  if (!c) return say("ERROR no connect request"), 2;
  const NTSTATUS as = ep.accept(c);
  if (as != STATUS_SUCCESS) return say("ERROR NdkAccept " + statusName(as)), 2;
  char line[96];
  std::snprintf(line, sizeof line, "CONNECTED %" PRIu64 " %u", buf.va(), static_cast<unsigned>(region.remote));
  say(line);
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  int slot = 0;
  while (ep.disconnected.value() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::vector<NDK_RESULT_EX> got;
    ep.waitSome(500ms, &got);
    for (const auto& r : got)
      if (r.Status == STATUS_SUCCESS && ep.disconnected.value() == 0) (void)post(slot++ % 32);
  }
  ep.flush();
  const bool drained = ep.waitAllCompleted(20s);
  std::snprintf(line, sizeof line, "DISCONNECTED posted=%zu completed=%zu dup=%zu unknown=%zu outstanding=%zu",
                ep.ledger.posted(), ep.ledger.completed(), ep.ledger.duplicates(), ep.ledger.unknown(),
                ep.ledger.outstanding());
  say(line);
  const bool exact = drained && ep.ledger.duplicates() == 0 && ep.ledger.unknown() == 0;
  ep.closeAll();
  return exact ? 0 : 3;
}

int storm(const std::string& src, const std::string& dst, std::uint16_t port, int n) {
  const NET_IFINDEX ifx = interfaceForIp(src);
  if (!ifx) return say("ERROR no interface for " + src), 2;
  Adapter ad(ifx);
  if (!ad.ok()) return say("ERROR OpenNdkOpenAdapter " + statusName(ad.openStatus)), 2;
  std::vector<std::unique_ptr<Endpoint>> eps;
  for (int i = 0; i < n; ++i) eps.push_back(std::make_unique<Endpoint>(ad, 8));
  say("READY 0");
  std::vector<std::thread> th;
  std::atomic<int> done{0};
  for (int i = 0; i < n; ++i)
    th.emplace_back([&, i] {
      const NTSTATUS s = eps[static_cast<std::size_t>(i)]->connect(src, dst, port, 60s);
      say("RESULT " + std::to_string(i) + " " + statusName(s));
      done.fetch_add(1);
    });
  for (auto& t : th) t.join();
  for (auto& e : eps) {
    if (e->disconnected.value() == 0 && e->conn) (void)e->disconnect(10s);
    e->closeAll();
  }
  say("DONE " + std::to_string(done.load()));
  return done.load() == n ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 2 && a[0] == "serve") return serve(a[1]);
  if (a.size() == 5 && a[0] == "storm")
    return storm(a[1], a[2], static_cast<std::uint16_t>(std::atoi(a[3].c_str())), std::atoi(a[4].c_str()));
  std::fprintf(stderr, "usage: fault_peer serve <ip> | storm <src> <dst> <port> <n>\n");
  return 2;
}
