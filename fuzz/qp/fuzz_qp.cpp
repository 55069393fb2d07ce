// fuzz_qp: a whole connected OpenNDK QP driven by fuzzed wire bytes.
//
// Once (static): a Device/Adapter on 127.0.0.1, a PD, a CQ, a listener and a registered region
// (remote write + read) between PROT_NONE guard pages with canary bytes around it.
// Per input: a fresh QP with posted receives; a raw socket connects, does a valid MPA v2 handshake
// (fixed bytes), the consumer accepts, then the input is written as the post-handshake stream and
// the socket is closed. The target must never crash, leak, hang (every wait is bounded and a
// missed deadline aborts) or write outside the registered span (canaries checked every input).
//
// Input: byte 0 = mode, the rest = stream. Mode bit 0 set: the stream is cut into FPDUs by their
// length fields, the placeholders "STAG" (4 bytes) and "VA_BASE_" (8 bytes) are replaced by the
// region's remote token and address (big-endian) and each CRC is recomputed, so the fuzzer reaches
// placement with valid CRCs. Bit 0 clear: the bytes go out untouched.
#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "evil_peer.h"
#include "iwarp/crc32c.h"
#include "iwarp/wire.h"
#include "provider/adapter.h"
#include "provider/device.h"

using namespace openndk::provider;
using hardening::Bytes;
using hardening::EvilPeer;
namespace iw = openndk::iwarp;

namespace {

struct Event {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void set() {
    std::lock_guard l(mu);
    ++count;
    cv.notify_all();
  }
  bool wait(int n, std::chrono::milliseconds t) {
    std::unique_lock l(mu);
    return cv.wait_for(l, t, [&] { return count >= n; });
  }
  int value() {
    std::lock_guard l(mu);
    return count;
  }
};
struct Req {
  Event ev;
  NTSTATUS status = STATUS_PENDING;
};
VOID reqDone(PVOID ctx, NTSTATUS s) {
  auto* r = static_cast<Req*>(ctx);
  {
    std::lock_guard l(r->ev.mu);
    r->status = s;
  }
  r->ev.set();
}
NTSTATUS waitReq(Req& r, NTSTATUS inl, std::chrono::milliseconds t = std::chrono::seconds(8)) {
  if (inl != STATUS_PENDING) return inl;
  if (!r.ev.wait(1, t)) return STATUS_PENDING;
  std::lock_guard l(r.ev.mu);
  return r.status;
}
VOID closeDone(PVOID ctx) { static_cast<Event*>(ctx)->set(); }
VOID cqNotify(PVOID ctx, NTSTATUS) { static_cast<Event*>(ctx)->set(); }
VOID createDone(PVOID, NTSTATUS, NDK_OBJECT_HEADER*) {}
VOID onDisconnect(PVOID ctx) { static_cast<Event*>(ctx)->set(); }

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_qp: %s\n", what);
  std::abort();
}

template <class T>
void closeAndWait(T* obj) {
  if (!obj) return;
  Event ev;
  auto fn = reinterpret_cast<const NDK_FN_CLOSE_OBJECT*>(obj->Dispatch)[0];
  if (fn(&obj->Header, closeDone, &ev) == STATUS_PENDING && !ev.wait(1, std::chrono::seconds(8)))
    die("close never completed");
}

struct Incoming {
  Event ev;
  std::mutex mu;
  std::vector<NDK_CONNECTOR*> conns;
};
VOID onConnect(PVOID ctx, NDK_CONNECTOR* c) {
  auto* in = static_cast<Incoming*>(ctx);
  {
    std::lock_guard l(in->mu);
    in->conns.push_back(c);
  }
  in->ev.set();
}

constexpr std::size_t kSpan = 16384;
constexpr std::uint8_t kCanary = 0xC5;

struct World {
  Device* dev = nullptr;
  NDK_ADAPTER* a = nullptr;
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  Event cqEv;
  NDK_LISTENER* listener = nullptr;
  std::uint16_t port = 0;
  Incoming incoming;
  std::size_t seen = 0;
  NDK_MR* mr = nullptr;
  std::uint8_t* pages = nullptr;
  std::size_t pagesLen = 0;
  std::uint8_t* span = nullptr;
  UINT32 remote = 0, local = 0;

  World() {
    DeviceAddress v4{};
    v4.addr.Ipv4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &v4.addr.Ipv4.sin_addr);
    dev = new Device(1, "lo", std::vector<DeviceAddress>{v4}, true);
    NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
    p.Version = {1, 2};
    if (Device::OpenNdkAdapter(dev, &p, &a) != NDIS_STATUS_SUCCESS) die("adapter");
    if (a->Dispatch->NdkCreatePd(a, createDone, nullptr, &pd) != STATUS_SUCCESS) die("pd");
    if (a->Dispatch->NdkCreateCq(a, 1024, cqNotify, &cqEv, nullptr, createDone, nullptr, &cq) != STATUS_SUCCESS)
      die("cq");
    const std::size_t pg = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    pagesLen = (kSpan + 256 + pg - 1) / pg * pg;
    auto* m = static_cast<std::uint8_t*>(
        ::mmap(nullptr, pagesLen + 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (m == MAP_FAILED) die("mmap");
    ::mprotect(m, pg, PROT_NONE);
    ::mprotect(m + pg + pagesLen, pg, PROT_NONE);
    pages = m + pg;
    span = pages + 128;
    std::memset(pages, kCanary, pagesLen);
    if (pd->Dispatch->NdkCreateMr(pd, FALSE, createDone, nullptr, &mr) != STATUS_SUCCESS) die("mr");
    PMDL chain = OpenNdkAllocateMdlChain(span, kSpan, 0);
    Req r;
    if (waitReq(r, mr->Dispatch->NdkRegisterMr(mr, chain, kSpan,
                                               NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                                                   NDK_MR_FLAG_ALLOW_REMOTE_READ,
                                               reqDone, &r)) != STATUS_SUCCESS)
      die("register");
    OpenNdkFreeMdlChain(chain);
    remote = mr->Dispatch->NdkGetRemoteTokenFromMr(mr);
    local = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
    if (a->Dispatch->NdkCreateListener(a, onConnect, &incoming, createDone, nullptr, &listener) != STATUS_SUCCESS)
      die("listener");
    SOCKADDR_INET any{};
    any.Ipv4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &any.Ipv4.sin_addr);
    Req lr;
    if (listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&any), sizeof(SOCKADDR_IN), reqDone,
                                      &lr) != STATUS_SUCCESS)
      die("listen");
    SOCKADDR_INET la{};
    ULONG len = sizeof(la);
    listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<PSOCKADDR>(&la), &len);
    port = ntohs(la.Ipv4.sin_port);
  }

  void checkCanaries() const {
    for (std::size_t i = 0; i < pagesLen; ++i) {
      if (pages + i >= span && pages + i < span + kSpan) continue;
      if (pages[i] != kCanary) die("canary broken: stray write outside the registered span");
    }
  }

  NDK_CONNECTOR* connectorFrom(std::uint16_t peerPort) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    for (;;) {
      NDK_CONNECTOR* c = nullptr;
      {
        std::lock_guard l(incoming.mu);
        if (seen < incoming.conns.size()) c = incoming.conns[seen++];
      }
      if (c) {
        SOCKADDR_INET pa{};
        ULONG len = sizeof(pa);
        if (c->Dispatch->NdkGetPeerAddress(c, reinterpret_cast<PSOCKADDR>(&pa), &len) == STATUS_SUCCESS &&
            ntohs(pa.Ipv4.sin_port) == peerPort)
          return c;
        closeAndWait(c);  // a connection that died before the consumer saw it
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return nullptr;
      incoming.ev.wait(static_cast<int>(seen) + 1,
                       std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    }
  }

  void drainCq() {
    NDK_RESULT_EX r[32];
    while (cq->Dispatch->NdkGetCqResultsEx(cq, r, 32) > 0) {
    }
  }
};

World& world() {
  static World* w = new World();  // never destroyed: engines keep running between inputs
  return *w;
}

Bytes patch(const std::uint8_t* data, std::size_t size, const World& w) {
  Bytes out(data, data + size);
  std::size_t off = 0;
  while (off + 2 <= out.size()) {
    const std::uint32_t ulen = iw::load_be16(out.data() + off);
    const std::size_t flen = iw::mpa::fpdu_len(ulen);
    if (off + flen > out.size()) break;
    std::uint8_t* u = out.data() + off + 2;
    for (std::size_t i = 0; i + 4 <= ulen; ++i)
      if (std::memcmp(u + i, "STAG", 4) == 0) iw::store_be32(u + i, w.remote);
    for (std::size_t i = 0; i + 8 <= ulen; ++i)
      if (std::memcmp(u + i, "VA_BASE_", 8) == 0) iw::store_be64(u + i, reinterpret_cast<std::uint64_t>(w.span));
    const std::size_t crcAt = off + 2 + ulen + iw::mpa::pad_len(ulen);
    iw::store_crc(out.data() + crcAt, iw::crc32c(iw::ByteSpan(out.data() + off, crcAt - off)));
    off += flen;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  World& w = world();
  NDK_QP* qp = nullptr;
  if (w.pd->Dispatch->NdkCreateQp(w.pd, w.cq, w.cq, nullptr, 8, 8, 2, 2, 64, createDone, nullptr, &qp) !=
      STATUS_SUCCESS)
    die("qp");
  for (int i = 0; i < 4; ++i) {
    NDK_SGE g{};
    g.VirtualAddress = w.span + i * 1024;
    g.Length = 1024;
    g.MemoryRegionToken = w.local;
    if (qp->Dispatch->NdkReceive(qp, nullptr, &g, 1) != STATUS_SUCCESS) die("receive");
  }
  EvilPeer evil;
  if (!evil.connectTo("127.0.0.1", w.port)) die("connect");
  if (!evil.sendAll(EvilPeer::goodRequest())) die("request");
  NDK_CONNECTOR* conn = w.connectorFrom(evil.localPort());
  if (!conn) die("no connect event");
  Event disc;
  Req ar;
  const NTSTATUS as = conn->Dispatch->NdkAccept(conn, qp, 4, 4, nullptr, 0, onDisconnect, &disc, reqDone, &ar);
  if (!evil.readFrame(std::chrono::seconds(8))) die("no reply");
  if (!evil.sendRtr()) die("rtr");
  if (waitReq(ar, as) != STATUS_SUCCESS) die("accept");

  const Bytes stream = (data[0] & 1) ? patch(data + 1, size - 1, w) : Bytes(data + 1, data + size);
  (void)evil.sendAll(stream);  // OpenNDK may close half-way through: fine
  evil.shutdownWrite();
  bool closed = false;
  (void)evil.drainUntilClosed(std::chrono::seconds(8), &closed);
  if (!closed) die("OpenNDK kept the stream open after our FIN");
  evil.closeGraceful();
  if (!disc.wait(1, std::chrono::seconds(8))) die("no disconnect event");

  qp->Dispatch->NdkFlush(qp);
  closeAndWait(conn);
  closeAndWait(qp);
  w.drainCq();
  w.checkCanaries();
  return 0;
}
