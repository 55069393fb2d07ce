// ndk perf over NDK: the client drives rounds (one size, `iters` operations); the server follows.
// Each side has one registered buffer laid out as
//   [target: L][receive slots: R x L][send slots: S x L][control ring: 16 x 64]
// (L = slot size >= the largest message). RDMA Write/Read go to/from the peer's target area,
// whose address, token and length travel in the connection private data. Control messages
// (BEGIN/READY/END/ACK/CREDIT/QUIT) are Sends; every message sent to the server consumes one of
// its receives, so the client spends credits the server returns (flow control for send bw).
#pragma once
#include <functional>
#include <memory>

#include "ndk_endpoint.h"
#include "types.h"

namespace ndkperf {

struct NdkLayout {
  std::size_t slot = 0;  // L
  unsigned recvSlots = 0;
  unsigned sendSlots = 0;
  static NdkLayout forRun(std::size_t maxSize, unsigned outstanding);
  std::size_t bytes() const;
};

class NdkSide;

class NdkPerfClient {
 public:
  NdkPerfClient(NET_IFINDEX ifx, const SOCKADDR_INET& dest, const Options& o, std::size_t maxSize);
  ~NdkPerfClient();
  Measurement round(Test t, Mode m, std::size_t size, std::uint64_t iters);
  void quit();

 private:
  std::unique_ptr<NdkSide> s_;
};

class NdkPerfServer {
 public:
  // Creates the resources and listens (port 0: ephemeral); port() is the bound port.
  NdkPerfServer(NET_IFINDEX ifx, const SOCKADDR_INET& listenAddr, const Options& o, std::size_t maxSize);
  ~NdkPerfServer();
  std::uint16_t port() const { return port_; }
  // Accepts one client and answers its rounds until it quits.
  void serve(int acceptTimeoutMs);

  // Hooks of the serve loop (bidirectional runs, -b): onBegin runs before the server answers a
  // round's BEGIN with READY, onEnd when END arrived (before the ACK), onQuit before the final ACK.
  std::function<void(Test, Mode, std::size_t, std::uint64_t)> onBegin;
  std::function<void()> onEnd, onQuit;

 private:
  std::unique_ptr<NdkSide> s_;
  std::uint16_t port_ = 0;
};

}  // namespace ndkperf
