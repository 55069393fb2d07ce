// Test driver for tools/ndk/rping_protocol over the NDK C ABI (libopenndk), used by the interop
// tests until `ndk ping --rping` exists. Same options as openndk-rping-peer:
//   openndk-ndk-rping (-c|-s) [-a ADDR] [-p PORT] [-C COUNT] [-S SIZE] [-v] [--first-fpdu-delay MS]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "perf/ndk_endpoint.h"
#include "rping_protocol.h"

using namespace ndktool;

int main(int argc, char** argv) {
  bool server = false, mode = false;
  std::string addr = "127.0.0.1";
  unsigned port = rping::kDefaultPort;
  rping::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool more = i + 1 < argc;
    if (a == "-c") server = false, mode = true;
    else if (a == "-s") server = true, mode = true;
    else if (a == "-a" && more) addr = argv[++i];
    else if (a == "-p" && more) port = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (a == "-C" && more) o.count = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 0));
    else if (a == "-S" && more) o.size = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 0));
    else if (a == "-v") o.verbose = true;
    else if (a == "-V") o.verify = true;
    else if (a == "--first-fpdu-delay" && more) o.firstFpduDelayMs = static_cast<unsigned>(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: openndk-ndk-rping (-c|-s) [-a ADDR] [-p PORT] [-C N] [-S SIZE] [-v] [-V]\n");
      return 2;
    }
  }
  if (!mode || port == 0 || port > 65535) return 2;
  try {
    SOCKADDR_INET sa{};
    if (!ndkperf::parseAddress(addr, static_cast<std::uint16_t>(port), &sa)) throw ndkperf::PerfError("bad address " + addr);
    if (server) {
      const NET_IFINDEX ifx = ndkperf::interfaceFor(sa);
      if (!ifx) throw ndkperf::PerfError(addr + " is not an address of an NDK-capable interface");
      ndkperf::NdkEndpoint ep(ifx, rping::endpointParams(rping::kMaxSize));
      ep.listen(sa);
      std::printf("ndk-rping: listening on %s:%u\n", addr.c_str(), port);
      std::fflush(stdout);
      const std::uint32_t n = rping::runServer(ep, o);
      std::printf("ndk-rping: PASS server %u iterations\n", n);
    } else {
      SOCKADDR_INET src{};
      if (!ndkperf::sourceAddressFor(sa, &src)) throw ndkperf::PerfError("no route to " + addr);
      const NET_IFINDEX ifx = ndkperf::interfaceFor(src);
      if (!ifx) throw ndkperf::PerfError("no NDK-capable interface for " + addr);
      ndkperf::NdkEndpoint ep(ifx, rping::endpointParams(o.size));
      rping::runClient(ep, sa, o);
      std::printf("ndk-rping: PASS client %u iterations size %u\n", o.count, o.size);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ndk-rping: FAIL: %s\n", e.what());
    return 1;
  }
  return 0;
}
