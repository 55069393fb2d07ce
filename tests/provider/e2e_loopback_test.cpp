// End to end through the C ABI over real TCP on loopback (R109): connection management and the data
// path. Device + Adapter are built directly (tests/provider fixture); both ends live on one adapter.
#include <algorithm>
#include <dirent.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <thread>

#include "provider_fixture.h"

// Every heap allocation of this test binary, counted (E2e.SteadyStateDataPathAllocatesNothingPerRequest).
// All the unaligned forms are replaced together (plain, array, nothrow), so that whatever form
// allocates, the matching delete frees it with the same allocator (malloc/free).
static std::atomic<std::uint64_t> g_heapAllocs{0};
static void* countedAlloc(std::size_t n) noexcept {
  g_heapAllocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // the forms above allocate with malloc
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace pt {
namespace {

struct Req {
  Event ev;
  std::mutex mu;
  NTSTATUS status = STATUS_PENDING;
};
VOID reqDone(PVOID ctx, NTSTATUS s) {
  auto* r = static_cast<Req*>(ctx);
  {
    std::lock_guard l(r->mu);
    r->status = s;
  }
  r->ev.set();
}
NTSTATUS waitReq(Req& r, NTSTATUS inlineStatus) {
  if (inlineStatus != STATUS_PENDING) return inlineStatus;
  if (!r.ev.wait(1, 15s)) return STATUS_PENDING;
  std::lock_guard l(r.mu);
  return r.status;
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
VOID onDisconnect(PVOID ctx) { static_cast<Event*>(ctx)->set(); }
SOCKADDR_INET loopback(bool v6, USHORT port = 0) {
  SOCKADDR_INET a{};
  if (v6) {
    a.Ipv6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &a.Ipv6.sin6_addr);
    a.Ipv6.sin6_port = htons(port);
  } else {
    a.Ipv4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.Ipv4.sin_addr);
    a.Ipv4.sin_port = htons(port);
  }
  return a;
}
ULONG alen(const SOCKADDR_INET& a) { return a.si_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6); }

int openFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

class E2e : public ProviderTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool v6() const { return GetParam(); }

  struct Side {
    NDK_CQ* cq = nullptr;
    NDK_QP* qp = nullptr;
    NDK_CONNECTOR* conn = nullptr;
    Event cqEv;
  };

  void SetUp() override {
    ProviderTest::SetUp();
    if (HasFatalFailure()) return;
    p = pd();
    for (Side* s : {&act, &pas}) {
      s->cq = cq(256, &s->cqEv);
      s->qp = qp(p, s->cq, 64, 64, 4, 4, 256, s == &act ? reinterpret_cast<PVOID>(1) : reinterpret_cast<PVOID>(2));
    }
    ASSERT_EQ(a->Dispatch->NdkCreateListener(a, onConnect, &incoming, createDone, nullptr, &listener), STATUS_SUCCESS);
    SOCKADDR_INET any = loopback(v6());
    Req r;
    ASSERT_EQ(listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&any), alen(any), reqDone, &r),
              STATUS_SUCCESS);
    ULONG len = sizeof(listenAddr);
    ASSERT_EQ(listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<PSOCKADDR>(&listenAddr), &len),
              STATUS_SUCCESS);
  }
  void TearDown() override {
    if (!HasFailure()) {
      for (Side* s : {&act, &pas}) {
        if (s->conn) closeAndWait(s->conn);
      }
      for (Side* s : {&act, &pas}) closeAndWait(s->qp);
      closeAndWait(listener);
      for (Side* s : {&act, &pas}) closeAndWait(s->cq);
      closeAndWait(p);
    }
    ProviderTest::TearDown();
  }

  // Active connect; returns the connect status. Passive side waits for the event.
  NTSTATUS startConnect(const void* pdata = nullptr, ULONG pdLen = 0) {
    EXPECT_EQ(a->Dispatch->NdkCreateConnector(a, createDone, nullptr, &act.conn), STATUS_SUCCESS);
    SOCKADDR_INET src = loopback(v6());
    return act.conn->Dispatch->NdkConnect(act.conn, act.qp, reinterpret_cast<PSOCKADDR>(&src), alen(src),
                                          reinterpret_cast<PSOCKADDR>(&listenAddr), alen(listenAddr), 4, 4,
                                          const_cast<void*>(pdata), pdLen, reqDone, &connectReq);
  }
  NDK_CONNECTOR* nextIncoming(std::size_t i = 0) {
    if (!incoming.ev.wait(static_cast<int>(i + 1), 15s)) return nullptr;
    std::lock_guard l(incoming.mu);
    return incoming.conns[i];
  }
  void establish() {
    NTSTATUS s = startConnect("hello", 5);
    ASSERT_EQ(s, STATUS_PENDING);
    pas.conn = nextIncoming();
    ASSERT_NE(pas.conn, nullptr);
    NTSTATUS as = pas.conn->Dispatch->NdkAccept(pas.conn, pas.qp, 4, 4, const_cast<char*>("world!"), 6, onDisconnect,
                                                &pasDisc, reqDone, &acceptReq);
    ASSERT_EQ(as, STATUS_PENDING);  // R99 [D]
    ASSERT_EQ(waitReq(connectReq, s), STATUS_SUCCESS);
    EXPECT_EQ(acceptReq.ev.value(), 0);  // R99: not before the active side completed
    Req cc;
    ASSERT_EQ(waitReq(cc, act.conn->Dispatch->NdkCompleteConnect(act.conn, onDisconnect, &actDisc, reqDone, &cc)),
              STATUS_SUCCESS);
    ASSERT_EQ(waitReq(acceptReq, as), STATUS_SUCCESS);
  }
  std::vector<NDK_RESULT_EX> waitResults(Side& s, std::size_t n) {
    std::vector<NDK_RESULT_EX> out;
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto more = drain(s.cq);
      out.insert(out.end(), more.begin(), more.end());
      if (out.size() >= n) break;
      Event& ev = s.cqEv;
      int seen = ev.value();
      s.cq->Dispatch->NdkArmCq(s.cq, NDK_CQ_NOTIFY_ANY);
      more = drain(s.cq);
      out.insert(out.end(), more.begin(), more.end());
      if (out.size() >= n) break;
      ev.wait(seen + 1, 1s);
    }
    return out;
  }
  NDK_SGE sge(Buffer& b, NDK_MR* m, std::size_t off, ULONG len) {
    NDK_SGE g{};
    g.VirtualAddress = b.p + off;
    g.Length = len;
    g.MemoryRegionToken = m->Dispatch->NdkGetLocalTokenFromMr(m);
    return g;
  }

  NDK_PD* p = nullptr;
  Side act, pas;
  NDK_LISTENER* listener = nullptr;
  Incoming incoming;
  SOCKADDR_INET listenAddr{};
  Req connectReq, acceptReq;
  Event actDisc, pasDisc;
};

TEST_P(E2e, R97_R99_ConnectAcceptCompleteDisconnect) {
  ASSERT_NO_FATAL_FAILURE(establish());
  // R84, R90, R91: private data both ways; RDS = bytes received.
  char buf[64];
  ULONG len = 0, ird = 0, ord = 0;
  // (after NdkCompleteConnect R92 forbids the call; check the passive side's copy before? it already
  // accepted too) - check the addresses instead (R107).
  SOCKADDR_INET la{}, pa{};
  ULONG l1 = sizeof(la), l2 = sizeof(pa);
  EXPECT_EQ(act.conn->Dispatch->NdkGetLocalAddress(act.conn, reinterpret_cast<PSOCKADDR>(&la), &l1), STATUS_SUCCESS);
  EXPECT_EQ(pas.conn->Dispatch->NdkGetPeerAddress(pas.conn, reinterpret_cast<PSOCKADDR>(&pa), &l2), STATUS_SUCCESS);
  EXPECT_EQ(l1, alen(la));
  EXPECT_EQ(std::memcmp(&la, &pa, l1), 0);
  (void)buf;
  (void)len;
  (void)ird;
  (void)ord;
  EXPECT_GE(dev->counters().activeConnection.load(), 2u);
  // Disconnect: local graceful; the peer sees its disconnect event (R110), we do not.
  Req d;
  ASSERT_EQ(waitReq(d, act.conn->Dispatch->NdkDisconnect(act.conn, reqDone, &d)), STATUS_SUCCESS);
  EXPECT_TRUE(pasDisc.wait(1, 15s));
  EXPECT_EQ(actDisc.value(), 0);
  // R81: initiator posts now fail.
  EXPECT_EQ(act.qp->Dispatch->NdkSend(act.qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
}

TEST_P(E2e, R84_R91_PrivateDataAndConnectionData) {
  NTSTATUS s = startConnect("hello", 5);
  ASSERT_EQ(s, STATUS_PENDING);
  pas.conn = nextIncoming();
  ASSERT_NE(pas.conn, nullptr);
  ULONG len = 0;
  EXPECT_EQ(pas.conn->Dispatch->NdkGetConnectionData(pas.conn, nullptr, nullptr, nullptr, &len), STATUS_SUCCESS);
  EXPECT_EQ(len, 5u);  // R90 [D]
  char buf[8] = {};
  len = sizeof(buf);
  EXPECT_EQ(pas.conn->Dispatch->NdkGetConnectionData(pas.conn, nullptr, nullptr, buf, &len), STATUS_SUCCESS);
  EXPECT_EQ(std::string(buf, len), "hello");
  NTSTATUS as = pas.conn->Dispatch->NdkAccept(pas.conn, pas.qp, 4, 4, const_cast<char*>("world!"), 6, nullptr, nullptr,
                                              reqDone, &acceptReq);
  ASSERT_EQ(waitReq(connectReq, s), STATUS_SUCCESS);
  ULONG ird = 0, ord = 0;
  len = sizeof(buf);
  EXPECT_EQ(act.conn->Dispatch->NdkGetConnectionData(act.conn, &ird, &ord, buf, &len), STATUS_SUCCESS);
  EXPECT_EQ(std::string(buf, len), "world!");
  EXPECT_GE(ird, 1u);
  EXPECT_GE(ord, 1u);
  Req cc;
  ASSERT_EQ(waitReq(cc, act.conn->Dispatch->NdkCompleteConnect(act.conn, nullptr, nullptr, reqDone, &cc)),
            STATUS_SUCCESS);
  ASSERT_EQ(waitReq(acceptReq, as), STATUS_SUCCESS);
}

TEST_P(E2e, R100_PassiveRejectRefusesWithPrivateData) {
  NTSTATUS s = startConnect();
  pas.conn = nextIncoming();
  ASSERT_NE(pas.conn, nullptr);
  EXPECT_EQ(pas.conn->Dispatch->NdkReject(pas.conn, const_cast<char*>("no"), 2), STATUS_SUCCESS);
  EXPECT_EQ(waitReq(connectReq, s), STATUS_CONNECTION_REFUSED);
  char buf[8];
  ULONG len = sizeof(buf);
  EXPECT_EQ(act.conn->Dispatch->NdkGetConnectionData(act.conn, nullptr, nullptr, buf, &len), STATUS_SUCCESS);
  EXPECT_EQ(std::string(buf, len), "no");  // R91
  // R112: the connector is spent.
  SOCKADDR_INET src = loopback(v6());
  EXPECT_EQ(act.conn->Dispatch->NdkConnect(act.conn, act.qp, reinterpret_cast<PSOCKADDR>(&src), alen(src),
                                           reinterpret_cast<PSOCKADDR>(&listenAddr), alen(listenAddr), 1, 1, nullptr, 0,
                                           reqDone, &connectReq),
            STATUS_CONNECTION_INVALID);
}

TEST_P(E2e, R100_ActiveRejectAbortsPassiveAccept) {
  NTSTATUS s = startConnect();
  pas.conn = nextIncoming();
  ASSERT_NE(pas.conn, nullptr);
  NTSTATUS as = pas.conn->Dispatch->NdkAccept(pas.conn, pas.qp, 1, 1, nullptr, 0, nullptr, nullptr, reqDone, &acceptReq);
  ASSERT_EQ(waitReq(connectReq, s), STATUS_SUCCESS);
  EXPECT_EQ(act.conn->Dispatch->NdkReject(act.conn, nullptr, 0), STATUS_SUCCESS);
  EXPECT_EQ(waitReq(acceptReq, as), STATUS_CONNECTION_ABORTED);
}

TEST_P(E2e, R104_PausedListenerRefuses) {
  listener->Dispatch->NdkControlConnectEvents(listener, TRUE);
  NTSTATUS s = startConnect();
  EXPECT_EQ(waitReq(connectReq, s), STATUS_CONNECTION_REFUSED);
  EXPECT_EQ(incoming.ev.value(), 0);
  // Resumed: the listener works again.
  listener->Dispatch->NdkControlConnectEvents(listener, FALSE);
  closeAndWait(act.conn);
  act.conn = nullptr;
  // The QP stays associated with the spent connector (R93): use a fresh QP.
  closeAndWait(act.qp);
  act.qp = qp(p, act.cq, 64, 64, 4, 4, 256, reinterpret_cast<PVOID>(1));
  {
    std::lock_guard l(connectReq.ev.mu);
    connectReq.ev.count = 0;
  }
  ASSERT_NO_FATAL_FAILURE(establish());
}

// R96: connecting to the port of a just-closed listener is refused (also when the connector's own
// local port lands on it: a TCP self-connect counts as refused, engine/tcp.cpp).
TEST_P(E2e, R96_ConnectToClosedPortRefused) {
  closeAndWait(listener);
  ASSERT_EQ(a->Dispatch->NdkCreateListener(a, onConnect, &incoming, createDone, nullptr, &listener), STATUS_SUCCESS);
  NTSTATUS s = startConnect();
  EXPECT_EQ(waitReq(connectReq, s), STATUS_CONNECTION_REFUSED);
  EXPECT_GE(dev->counters().connectFailure.load(), 1u);
}

TEST_P(E2e, R114_ListenOnHeldEndpointIsSharingViolation) {
  NDK_LISTENER* l2 = nullptr;
  ASSERT_EQ(a->Dispatch->NdkCreateListener(a, onConnect, &incoming, createDone, nullptr, &l2), STATUS_SUCCESS);
  Req r;
  EXPECT_EQ(l2->Dispatch->NdkListen(l2, reinterpret_cast<PSOCKADDR>(&listenAddr), alen(listenAddr), reqDone, &r),
            STATUS_SHARING_VIOLATION);
  closeAndWait(l2);
}

TEST_P(E2e, SendReceiveWriteReadWithDataVerification) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const std::size_t kMax = 4u << 20;
  Buffer src(kMax), dst(kMax + 2 * PAGE_SIZE);
  std::mt19937 rng(42);
  for (std::size_t i = 0; i < kMax; ++i) src.p[i] = static_cast<std::uint8_t>(rng());
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  const UINT32 dstRemote = md->Dispatch->NdkGetRemoteTokenFromMr(md);
  const UINT32 srcRemote = ms->Dispatch->NdkGetRemoteTokenFromMr(ms);
  for (ULONG size : {0u, 1u, 4095u, 4096u, 65536u, 4u << 20}) {
    SCOPED_TRACE(size);
    // Send → receive (2 receive SGEs when large enough; sends are contiguous).
    std::memset(dst.p, 0xEE, dst.n);
    NDK_SGE r = sge(dst, md, PAGE_SIZE, size ? size : 1);
    ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(7), &r, 1), STATUS_SUCCESS);
    NDK_SGE s2[2] = {sge(src, ms, 0, size / 2), sge(src, ms, size / 2, size - size / 2)};
    ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, reinterpret_cast<PVOID>(8), s2, 2, 0), STATUS_SUCCESS);
    auto ra = waitResults(act, 1);
    auto rp = waitResults(pas, 1);
    ASSERT_EQ(ra.size(), 1u);
    ASSERT_EQ(rp.size(), 1u);
    EXPECT_EQ(ra[0].Status, STATUS_SUCCESS);
    EXPECT_EQ(ra[0].Type, NdkOperationTypeSend);
    EXPECT_EQ(rp[0].Status, STATUS_SUCCESS);
    EXPECT_EQ(rp[0].Type, NdkOperationTypeReceive);
    EXPECT_EQ(rp[0].BytesTransferred, size);  // R37
    EXPECT_EQ(rp[0].QPContext, reinterpret_cast<PVOID>(2));
    EXPECT_EQ(std::memcmp(dst.p + PAGE_SIZE, src.p, size), 0);
    EXPECT_EQ(dst.p[PAGE_SIZE - 1], 0xEE);
    EXPECT_EQ(dst.p[PAGE_SIZE + size + (size ? 0 : 1)], 0xEE);

    // Write at an offset; canaries around it stay.
    std::memset(dst.p, 0xEE, dst.n);
    ASSERT_EQ(act.qp->Dispatch->NdkWrite(act.qp, reinterpret_cast<PVOID>(9), s2, 2,
                                         reinterpret_cast<UINT64>(dst.p + 100), dstRemote, 0),
              STATUS_SUCCESS);
    ra = waitResults(act, 1);
    ASSERT_EQ(ra.size(), 1u);
    EXPECT_EQ(ra[0].Status, STATUS_SUCCESS);
    EXPECT_EQ(ra[0].Type, NdkOperationTypeWrite);
    // A send behind the write proves it landed (ordering on one stream).
    NDK_SGE r1 = sge(dst, md, dst.n - 16, 16);
    ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, nullptr, &r1, 1), STATUS_SUCCESS);
    ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
    ASSERT_EQ(waitResults(act, 1).size(), 1u);
    ASSERT_EQ(waitResults(pas, 1).size(), 1u);
    EXPECT_EQ(std::memcmp(dst.p + 100, src.p, size), 0);
    EXPECT_EQ(dst.p[99], 0xEE);
    EXPECT_EQ(dst.p[100 + size], 0xEE);

    // Read: the passive side reads the active side's source into its own buffer.
    std::memset(dst.p, 0xEE, dst.n);
    NDK_SGE rs[2] = {sge(dst, md, 8, size / 3), sge(dst, md, 8 + size / 3, size - size / 3)};
    ASSERT_EQ(pas.qp->Dispatch->NdkRead(pas.qp, reinterpret_cast<PVOID>(10), rs, 2, reinterpret_cast<UINT64>(src.p),
                                        srcRemote, 0),
              STATUS_SUCCESS);
    rp = waitResults(pas, 1);
    ASSERT_EQ(rp.size(), 1u);
    EXPECT_EQ(rp[0].Status, STATUS_SUCCESS);
    EXPECT_EQ(rp[0].Type, NdkOperationTypeRead);
    EXPECT_EQ(std::memcmp(dst.p + 8, src.p, size), 0);
    EXPECT_EQ(dst.p[7], 0xEE);
    EXPECT_EQ(dst.p[8 + size], 0xEE);
  }
  EXPECT_GT(dev->counters().inOctets.load(), 0u);
  EXPECT_GT(dev->counters().outOctets.load(), 0u);
  closeAndWait(ms);
  closeAndWait(md);
}

TEST_P(E2e, R75_R53_BadRemoteTokenTerminatesWithoutStrayWrite) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer src(8192), dst(8192), sink(4096);
  std::memset(src.p, 0x5A, src.n);
  std::memset(dst.p, 0xEE, dst.n);
  std::memset(sink.p, 0xEE, sink.n);
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  NDK_MR* mk = mr(p, sink, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  const UINT32 good = md->Dispatch->NdkGetRemoteTokenFromMr(md);
  NDK_SGE g = sge(src, ms, 0, 4096);
  NDK_SGE k = sge(sink, mk, 0, 64);
  // Beyond the region by one byte (bounds), a Read behind it and a Send behind that, handed over
  // together (DEFER) so that all three are issued before the peer's Terminate can come back.
  ASSERT_EQ(act.qp->Dispatch->NdkWrite(act.qp, reinterpret_cast<PVOID>(1), &g, 1,
                                       reinterpret_cast<UINT64>(dst.p + 4097), good, NDK_OP_FLAG_DEFER),
            STATUS_SUCCESS);
  ASSERT_EQ(act.qp->Dispatch->NdkRead(act.qp, reinterpret_cast<PVOID>(2), &k, 1, reinterpret_cast<UINT64>(src.p),
                                      ms->Dispatch->NdkGetRemoteTokenFromMr(ms), NDK_OP_FLAG_DEFER),
            STATUS_SUCCESS);
  ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, reinterpret_cast<PVOID>(3), nullptr, 0, 0), STATUS_SUCCESS);
  // The connection goes down: the passive side sees a transport abort (R111 reason 2 → event).
  EXPECT_TRUE(pasDisc.wait(1, 15s));
  EXPECT_TRUE(actDisc.wait(1, 15s));  // the initiator gets the Terminate: its event too
  // R75 (amended): the refused Write completed on hand-off with STATUS_SUCCESS; the failure reaches
  // the consumer through the requests not completed yet: the first (the Read) reports the
  // Terminate's tagged-buffer error as STATUS_ACCESS_VIOLATION, the Send behind it
  // STATUS_CONNECTION_ABORTED (R53), each once, in posting order.
  auto ra = waitResults(act, 3);
  ASSERT_EQ(ra.size(), 3u);
  EXPECT_EQ(ra[0].RequestContext, reinterpret_cast<PVOID>(1));
  EXPECT_EQ(ra[0].Status, STATUS_SUCCESS);
  EXPECT_EQ(ra[0].Type, NdkOperationTypeWrite);
  EXPECT_EQ(ra[1].RequestContext, reinterpret_cast<PVOID>(2));
  EXPECT_EQ(ra[1].Status, STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(ra[1].Type, NdkOperationTypeRead);
  EXPECT_EQ(ra[2].RequestContext, reinterpret_cast<PVOID>(3));
  EXPECT_EQ(ra[2].Status, STATUS_CONNECTION_ABORTED);
  for (std::size_t i = 0; i < dst.n; ++i) ASSERT_EQ(dst.p[i], 0xEE) << i;  // no byte placed
  for (std::size_t i = 0; i < sink.n; ++i) ASSERT_EQ(sink.p[i], 0xEE) << i;  // the Read was not served
  EXPECT_EQ(act.qp->Dispatch->NdkSend(act.qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);  // R81
  closeAndWait(ms);
  closeAndWait(md);
  closeAndWait(mk);
}

// R75 [I]: a Read whose source reaches beyond the remote region completes with
// STATUS_REMOTE_RESOURCES at the initiator; nothing is written into the sink.
TEST_P(E2e, R75_ReadBeyondRemoteRegionRemoteResources) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer src(8192), dst(8192);
  std::memset(dst.p, 0xEE, dst.n);
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  NDK_SGE g = sge(dst, md, 0, 4096);
  ASSERT_EQ(act.qp->Dispatch->NdkRead(act.qp, reinterpret_cast<PVOID>(3), &g, 1, reinterpret_cast<UINT64>(src.p + 4097),
                                      ms->Dispatch->NdkGetRemoteTokenFromMr(ms), 0),
            STATUS_SUCCESS);
  auto ra = waitResults(act, 1);
  ASSERT_EQ(ra.size(), 1u);
  EXPECT_EQ(ra[0].Status, STATUS_REMOTE_RESOURCES);
  EXPECT_EQ(ra[0].Type, NdkOperationTypeRead);
  EXPECT_TRUE(pasDisc.wait(1, 15s));
  for (std::size_t i = 0; i < dst.n; ++i) ASSERT_EQ(dst.p[i], 0xEE) << i;
  closeAndWait(ms);
  closeAndWait(md);
}

// R75 (amended): Writes complete on hand-off, in posting order; a Send behind them is placed after
// them (the peer processes the stream in order), so once it arrived the Writes' data is in place.
TEST_P(E2e, R75_WritesCompleteInOrderAndLandBeforeALaterSend) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer src(4096), dst(4096);
  std::memset(src.p, 0x42, src.n);
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  NDK_SGE g = sge(src, ms, 0, 4096);
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(act.qp->Dispatch->NdkWrite(act.qp, reinterpret_cast<PVOID>(10 + i), &g, 1, reinterpret_cast<UINT64>(dst.p),
                                         md->Dispatch->NdkGetRemoteTokenFromMr(md), 0),
              STATUS_SUCCESS);
  auto ra = waitResults(act, 8);
  ASSERT_EQ(ra.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(ra[i].Status, STATUS_SUCCESS);
    EXPECT_EQ(ra[i].RequestContext, reinterpret_cast<PVOID>(10 + i));  // in posting order
  }
  Buffer rb(64);
  NDK_MR* mr2 = mr(p, rb, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  NDK_SGE rg = sge(rb, mr2, 0, 64);
  ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(30), &rg, 1), STATUS_SUCCESS);
  ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, reinterpret_cast<PVOID>(31), nullptr, 0, 0), STATUS_SUCCESS);
  ASSERT_EQ(waitResults(pas, 1).size(), 1u);
  ASSERT_EQ(waitResults(act, 1).size(), 1u);
  EXPECT_EQ(std::memcmp(dst.p, src.p, 4096), 0);  // placed before the later Send
  closeAndWait(mr2);
  closeAndWait(ms);
  closeAndWait(md);
}

// docs/decisions.md "Data path": NdkDisconnect after the peer disconnected succeeds (the implicit
// flush of R79 cancels pending receives); a second one is STATUS_CONNECTION_INVALID.
TEST_P(E2e, R79_DisconnectAfterPeerDisconnectSucceeds) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer b(4096);
  NDK_MR* m = mr(p, b);
  NDK_SGE g = sge(b, m, 0, 4096);
  ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(5), &g, 1), STATUS_SUCCESS);
  Req d;
  ASSERT_EQ(waitReq(d, act.conn->Dispatch->NdkDisconnect(act.conn, reqDone, &d)), STATUS_SUCCESS);
  ASSERT_TRUE(pasDisc.wait(1, 15s));
  Req d2;
  EXPECT_EQ(waitReq(d2, pas.conn->Dispatch->NdkDisconnect(pas.conn, reqDone, &d2)), STATUS_SUCCESS);
  auto r = waitResults(pas, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Status, STATUS_CANCELLED);
  EXPECT_EQ(r[0].RequestContext, reinterpret_cast<PVOID>(5));
  Req d3;
  EXPECT_EQ(pas.conn->Dispatch->NdkDisconnect(pas.conn, reqDone, &d3), STATUS_CONNECTION_INVALID);
  closeAndWait(m);
}

// Received segments crossing receive-SGE and sink-SGE boundaries are scattered piece by piece
// (no teardown, no intermediate buffer): a Send into 3 odd-sized receive SGEs, a Read into 3 sink
// SGEs, data verified and nothing written outside.
TEST_P(E2e, SegmentsScatterAcrossSges) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const ULONG kLen = 40000;
  Buffer src(kLen), dst(kLen + 3 * 64 + 64);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < src.n; ++i) src.p[i] = static_cast<std::uint8_t>(rng());
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  const ULONG parts[3] = {1001, 13007, kLen - 1001 - 13007};
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "send" : "read");
    std::memset(dst.p, 0xEE, dst.n);
    NDK_SGE g[3];
    std::size_t off = 64;
    for (int i = 0; i < 3; ++i) {
      g[i] = sge(dst, md, off, parts[i]);
      off += parts[i] + 64;  // gaps between the pieces stay untouched
    }
    if (round == 0) {
      ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(1), g, 3), STATUS_SUCCESS);
      NDK_SGE s1 = sge(src, ms, 0, kLen);
      ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, reinterpret_cast<PVOID>(2), &s1, 1, 0), STATUS_SUCCESS);
      auto ra = waitResults(act, 1);
      ASSERT_EQ(ra.size(), 1u);
      EXPECT_EQ(ra[0].Status, STATUS_SUCCESS);
    } else {
      ASSERT_EQ(pas.qp->Dispatch->NdkRead(pas.qp, reinterpret_cast<PVOID>(1), g, 3, reinterpret_cast<UINT64>(src.p),
                                          ms->Dispatch->NdkGetRemoteTokenFromMr(ms), 0),
                STATUS_SUCCESS);
    }
    auto rp = waitResults(pas, 1);
    ASSERT_EQ(rp.size(), 1u);
    EXPECT_EQ(rp[0].Status, STATUS_SUCCESS);
    if (round == 0) {
      EXPECT_EQ(rp[0].BytesTransferred, kLen);
    }
    off = 64;
    std::size_t from = 0;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(std::memcmp(dst.p + off, src.p + from, parts[i]), 0) << i;
      EXPECT_EQ(dst.p[off - 1], 0xEE) << i;
      EXPECT_EQ(dst.p[off + parts[i]], 0xEE) << i;
      from += parts[i];
      off += parts[i] + 64;
    }
  }
  closeAndWait(ms);
  closeAndWait(md);
}

struct ExReason {
  Event ev;
  std::atomic<ULONG> reason{99};
};
VOID onDisconnectEx(PVOID ctx, ULONG reason) {
  auto* r = static_cast<ExReason*>(ctx);
  r->reason = reason;
  r->ev.set();
}

// R31: closing a connected connector is abortive: the peer's Ex disconnect callback reports a
// transport abort (R111 [D] reason 2), the local pending receive is flushed with STATUS_CANCELLED.
TEST_P(E2e, R31_R111_ConnectorCloseAbortsPeerSeesReason2) {
  NTSTATUS s = startConnect();
  ASSERT_EQ(s, STATUS_PENDING);
  pas.conn = nextIncoming();
  ASSERT_NE(pas.conn, nullptr);
  ExReason pasEx;
  NTSTATUS as = pas.conn->Dispatch->NdkAcceptEx(pas.conn, pas.qp, 4, 4, nullptr, 0, onDisconnectEx, &pasEx, reqDone,
                                                &acceptReq);
  ASSERT_EQ(waitReq(connectReq, s), STATUS_SUCCESS);
  Req cc;
  ASSERT_EQ(waitReq(cc, act.conn->Dispatch->NdkCompleteConnect(act.conn, onDisconnect, &actDisc, reqDone, &cc)),
            STATUS_SUCCESS);
  ASSERT_EQ(waitReq(acceptReq, as), STATUS_SUCCESS);
  Buffer b(4096);
  NDK_MR* m = mr(p, b);
  NDK_SGE g = sge(b, m, 0, 64);
  ASSERT_EQ(act.qp->Dispatch->NdkReceive(act.qp, reinterpret_cast<PVOID>(9), &g, 1), STATUS_SUCCESS);
  closeAndWait(act.conn);
  act.conn = nullptr;
  ASSERT_TRUE(pasEx.ev.wait(1, 15s));
  EXPECT_EQ(pasEx.reason.load(), 2u);
  auto r = waitResults(act, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Status, STATUS_CANCELLED);
  EXPECT_EQ(r[0].RequestContext, reinterpret_cast<PVOID>(9));
  EXPECT_EQ(actDisc.value(), 0);  // R110: never for the local side's own close
  EXPECT_EQ(pas.qp->Dispatch->NdkSend(pas.qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);  // R81
  closeAndWait(m);
}

// R65: NdkFlush racing with posting on the same QP: every posted request completes exactly once
// (STATUS_SUCCESS or STATUS_CANCELLED), in posting order, and the QP stays usable (R78).
TEST_P(E2e, R65_FlushConcurrentWithPostingEachCompletesOnce) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer b(4096);
  NDK_MR* m = mr(p, b);
  // Send sources and receive sinks in different bytes: the two ends progress in parallel (their
  // own progress domains), so the sender's sendmsg and the receiver's placement must not share them.
  NDK_SGE g = sge(b, m, 0, 16);
  NDK_SGE rg = sge(b, m, 2048, 16);
  constexpr int kPosts = 60;
  // One receive per Send the peer may transmit, plus one for the final Send: a Send that races the
  // flush may reach the wire even when its completion reports STATUS_CANCELLED, so the passive side
  // must never run out of receives (that would be a Terminate, by design).
  constexpr int kReceives = kPosts + 1;
  for (int i = 0; i < kReceives; ++i)
    ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(i)), &rg, 1),
              STATUS_SUCCESS);
  std::thread poster([&] {
    for (int i = 0; i < kPosts; ++i)
      EXPECT_EQ(act.qp->Dispatch->NdkSend(act.qp, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(1000 + i)), &g, 1, 0),
                STATUS_SUCCESS);
  });
  for (int i = 0; i < 20; ++i) act.qp->Dispatch->NdkFlush(act.qp);
  poster.join();
  auto r = waitResults(act, kPosts);
  ASSERT_EQ(r.size(), static_cast<std::size_t>(kPosts));
  for (int i = 0; i < kPosts; ++i) {
    EXPECT_EQ(r[i].RequestContext, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(1000 + i)));
    EXPECT_TRUE(r[i].Status == STATUS_SUCCESS || r[i].Status == STATUS_CANCELLED) << std::hex << r[i].Status;
  }
  NDK_RESULT_EX extra[4];
  EXPECT_EQ(act.cq->Dispatch->NdkGetCqResultsEx(act.cq, extra, 4), 0u);  // exactly once
  // R78: still connected: a send after the flushes works.
  ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, nullptr, &g, 1, 0), STATUS_SUCCESS);
  auto ok = waitResults(act, 1);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].Status, STATUS_SUCCESS);
  // The final Send arrives after every earlier one: once at least one receive completed, flushing
  // the passive QP cancels the rest, and every receive completes exactly once, in posting order.
  auto rest = waitResults(pas, 1);
  ASSERT_FALSE(rest.empty());
  pas.qp->Dispatch->NdkFlush(pas.qp);
  if (rest.size() < static_cast<std::size_t>(kReceives)) {
    auto more = waitResults(pas, kReceives - rest.size());
    rest.insert(rest.end(), more.begin(), more.end());
  }
  ASSERT_EQ(rest.size(), static_cast<std::size_t>(kReceives));
  for (int i = 0; i < kReceives; ++i) {
    EXPECT_EQ(rest[i].RequestContext, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(i)));
    EXPECT_TRUE(rest[i].Status == STATUS_SUCCESS || rest[i].Status == STATUS_CANCELLED) << std::hex << rest[i].Status;
  }
  EXPECT_EQ(pas.cq->Dispatch->NdkGetCqResultsEx(pas.cq, extra, 4), 0u);
  closeAndWait(m);
}

// R126/R130/R132/R75: a fast MR registered through the passive QP's queue gives the peer remote
// write access through the new token; after the queued Invalidate the same token is refused: the
// peer's Terminate takes the connection down, nothing lands (R75 amended: the Write itself completes
// on hand-off; a Read behind it reports the Terminate's STATUS_ACCESS_VIOLATION).
TEST_P(E2e, R126_R132_FastRegisterGrantsThenInvalidateRevokesRemoteWrite) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer src(4096), dst(2 * PAGE_SIZE);
  std::memset(src.p, 0x3C, src.n);
  std::memset(dst.p, 0xEE, dst.n);
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  NDK_MR* f = nullptr;
  ASSERT_EQ(p->Dispatch->NdkCreateMr(p, TRUE, createDone, nullptr, &f), STATUS_SUCCESS);
  ASSERT_EQ(f->Dispatch->NdkInitializeFastRegisterMr(f, 2, TRUE, nullptr, nullptr), STATUS_SUCCESS);
  MdlChain chain(dst.p, dst.n, PAGE_SIZE);  // two MDLs: the pages need not be contiguous
  ULONG lamSize = OPENNDK_LAM_SIZE(2), fbo = 0;
  std::vector<std::uint8_t> storage(lamSize);
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ASSERT_EQ(a->Dispatch->NdkBuildLAM(a, chain.m, dst.n, nullptr, nullptr, lam, &lamSize, &fbo), STATUS_SUCCESS);
  ASSERT_EQ(lam->AdapterPageCount, 2u);
  const NDK_LOGICAL_ADDRESS* pages = lam->AdapterPageArray;
  void* va = reinterpret_cast<void*>(0x10000000);  // any base address the consumer likes
  ASSERT_EQ(pas.qp->Dispatch->NdkFastRegister(pas.qp, reinterpret_cast<PVOID>(1), f, 2, pages, 0, 2 * PAGE_SIZE, va,
                                              NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
            STATUS_SUCCESS);
  const UINT32 token = f->Dispatch->NdkGetRemoteTokenFromMr(f);  // R126: valid once the call returned
  auto fr = waitResults(pas, 1);
  ASSERT_EQ(fr.size(), 1u);
  EXPECT_EQ(fr[0].Status, STATUS_SUCCESS);
  EXPECT_EQ(fr[0].Type, NdkOperationTypeFastRegister);
  NDK_SGE g = sge(src, ms, 0, 4096);
  // Crosses the page boundary of the registration (two pages of the page array).
  ASSERT_EQ(act.qp->Dispatch->NdkWrite(act.qp, reinterpret_cast<PVOID>(2), &g, 1, 0x10000000 + 2048, token, 0),
            STATUS_SUCCESS);
  ASSERT_EQ(act.qp->Dispatch->NdkRead(act.qp, reinterpret_cast<PVOID>(20), nullptr, 0, 0, 0, 0), STATUS_SUCCESS);
  auto w = waitResults(act, 2);  // R75: the Write completes on hand-off; the Read behind it after placement
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].Status, STATUS_SUCCESS);
  EXPECT_EQ(w[1].Status, STATUS_SUCCESS);
  EXPECT_EQ(std::memcmp(dst.p + 2048, src.p, 4096), 0);
  EXPECT_EQ(dst.p[2047], 0xEE);
  ASSERT_EQ(pas.qp->Dispatch->NdkInvalidate(pas.qp, reinterpret_cast<PVOID>(3), &f->Header, 0), STATUS_SUCCESS);
  auto inv = waitResults(pas, 1);
  ASSERT_EQ(inv.size(), 1u);
  EXPECT_EQ(inv[0].Status, STATUS_SUCCESS);
  std::memset(dst.p, 0xEE, dst.n);
  ASSERT_EQ(act.qp->Dispatch->NdkWrite(act.qp, reinterpret_cast<PVOID>(4), &g, 1, 0x10000000, token, NDK_OP_FLAG_DEFER),
            STATUS_SUCCESS);
  NDK_SGE rk = sge(src, ms, 0, 16);
  ASSERT_EQ(act.qp->Dispatch->NdkRead(act.qp, reinterpret_cast<PVOID>(5), &rk, 1, 0x10000000, token, 0), STATUS_SUCCESS);
  w = waitResults(act, 2);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].Status, STATUS_SUCCESS);           // R75 (amended): completed on hand-off
  EXPECT_EQ(w[1].Status, STATUS_ACCESS_VIOLATION);  // the first request not completed: the Terminate
  for (std::size_t i = 0; i < dst.n; ++i) ASSERT_EQ(dst.p[i], 0xEE) << i;
  EXPECT_TRUE(pasDisc.wait(1, 15s));
  closeAndWait(ms);
  closeAndWait(f);
  a->Dispatch->NdkReleaseLAM(a, lam);
}

TEST_P(E2e, R77_FlushCancelsReceivesAfterDisconnect) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer b(4096);
  NDK_MR* m = mr(p, b);
  NDK_SGE g = sge(b, m, 0, 4096);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, reinterpret_cast<PVOID>(100 + i), &g, 1), STATUS_SUCCESS);
  pas.qp->Dispatch->NdkFlush(pas.qp);
  auto r = waitResults(pas, 3);
  ASSERT_EQ(r.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].Status, STATUS_CANCELLED);
    EXPECT_EQ(r[i].RequestContext, reinterpret_cast<PVOID>(100 + i));
  }
  // R78: still connected; a send works after the flush.
  ASSERT_EQ(pas.qp->Dispatch->NdkReceive(pas.qp, nullptr, &g, 1), STATUS_SUCCESS);
  ASSERT_EQ(act.qp->Dispatch->NdkSend(act.qp, nullptr, nullptr, 0, 0), STATUS_SUCCESS);
  EXPECT_EQ(waitResults(pas, 1).size(), 1u);
  EXPECT_EQ(waitResults(act, 1).size(), 1u);
  closeAndWait(m);
}

INSTANTIATE_TEST_SUITE_P(Loopback, E2e, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? std::string("Ipv6") : std::string("Ipv4"); });

// The lean data path (issue 11): once the ledger's slots, the engine's transmit items and the
// receive records have grown to the depth in use, a Send + Receive, a Write and a Read cost no heap
// allocation (InlineVec SGE storage, slot-reusing rings, the engine's item free-list). Polled
// without arming, so no notification machinery runs.
TEST_P(E2e, SteadyStateDataPathAllocatesNothingPerRequest) {
  ASSERT_NO_FATAL_FAILURE(establish());
  Buffer src(8192), dst(8192);
  NDK_MR* ms = mr(p, src, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  NDK_MR* md = mr(p, dst, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  const UINT32 dstRemote = md->Dispatch->NdkGetRemoteTokenFromMr(md);
  const UINT32 srcRemote = ms->Dispatch->NdkGetRemoteTokenFromMr(ms);
  const auto pollOne = [](NDK_CQ* c) {
    NDK_RESULT_EX r[4];
    for (int spins = 0; spins < 50000000; ++spins) {
      const ULONG n = c->Dispatch->NdkGetCqResultsEx(c, r, 4);
      if (n > 0) return n == 1 && r[0].Status == STATUS_SUCCESS;
    }
    return false;
  };
  const auto round = [&]() {
    NDK_SGE recv = sge(dst, md, 0, 256);
    NDK_SGE two[2] = {sge(src, ms, 0, 100), sge(src, ms, 100, 156)};
    if (pas.qp->Dispatch->NdkReceive(pas.qp, nullptr, &recv, 1) != STATUS_SUCCESS) return false;
    if (act.qp->Dispatch->NdkSend(act.qp, nullptr, two, 2, 0) != STATUS_SUCCESS) return false;
    if (!pollOne(act.cq) || !pollOne(pas.cq)) return false;
    if (act.qp->Dispatch->NdkWrite(act.qp, nullptr, two, 2, reinterpret_cast<UINT64>(dst.p + 512), dstRemote, 0) !=
        STATUS_SUCCESS)
      return false;
    if (!pollOne(act.cq)) return false;
    NDK_SGE sink = sge(dst, md, 1024, 256);
    if (pas.qp->Dispatch->NdkRead(pas.qp, nullptr, &sink, 1, reinterpret_cast<UINT64>(src.p), srcRemote, 0) !=
        STATUS_SUCCESS)
      return false;
    return pollOne(pas.cq);
  };
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(round()) << "warm-up round " << i;
  constexpr int kRounds = 2000;  // 8000 requests: 2000 each of Send, Receive, Write, Read
  const std::uint64_t before = g_heapAllocs.load();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(round()) << "round " << i;
  const std::uint64_t allocs = g_heapAllocs.load() - before;
  // Not zero: the engine's own bookkeeping (e.g. a watch parked and unparked) may allocate now and
  // then, in any thread (measured: 0). Per request it must not: 8000 requests, fewer than 1 per 200.
  EXPECT_LT(allocs, static_cast<std::uint64_t>(kRounds) * 4 / 200) << allocs << " heap allocations";
  std::printf("[ alloc    ] %llu heap allocations for %d requests\n", static_cast<unsigned long long>(allocs),
              kRounds * 4);
  closeAndWait(ms);
  closeAndWait(md);
}

class E2eCycles : public E2e {};
TEST_P(E2eCycles, ConnectDisconnect200TimesFdCountFlat) {
  int before = -1;
  for (int i = 0; i < 200; ++i) {
    incoming.conns.clear();
    {
      std::lock_guard l(incoming.ev.mu);
      incoming.ev.count = 0;
    }
    connectReq.ev.count = 0;
    acceptReq.ev.count = 0;
    ASSERT_NO_FATAL_FAILURE(establish()) << i;
    Req d;
    ASSERT_EQ(waitReq(d, act.conn->Dispatch->NdkDisconnect(act.conn, reqDone, &d)), STATUS_SUCCESS);
    ASSERT_TRUE(pasDisc.wait(i + 1, 15s));
    closeAndWait(act.conn);
    closeAndWait(pas.conn);
    act.conn = pas.conn = nullptr;
    closeAndWait(act.qp);
    closeAndWait(pas.qp);
    act.qp = qp(p, act.cq, 64, 64, 4, 4, 256, reinterpret_cast<PVOID>(1));
    pas.qp = qp(p, pas.cq, 64, 64, 4, 4, 256, reinterpret_cast<PVOID>(2));
    if (i == 9) before = openFds();
  }
  EXPECT_LE(openFds(), before + 4);
}
INSTANTIATE_TEST_SUITE_P(Loopback, E2eCycles, ::testing::Values(false));

}  // namespace
}  // namespace pt
