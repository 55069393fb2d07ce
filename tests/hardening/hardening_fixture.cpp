#include "hardening_fixture.h"

namespace hardening {

void Hard::SetUp() {
  DeviceAddress v4{};
  v4.addr.Ipv4.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &v4.addr.Ipv4.sin_addr);
  dev = std::make_unique<Device>(1, "lo", std::vector<DeviceAddress>{v4}, true);
  NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
  p.Version = {1, 2};
  ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &a), NDIS_STATUS_SUCCESS);
  for (GuardedRegion* g : {&rw, &wo, &ro, &other}) ASSERT_NE(g->map, nullptr);
  ASSERT_EQ(a->Dispatch->NdkCreatePd(a, createDone, nullptr, &pd), STATUS_SUCCESS);
  ASSERT_EQ(a->Dispatch->NdkCreatePd(a, createDone, nullptr, &pd2), STATUS_SUCCESS);
  ASSERT_EQ(a->Dispatch->NdkCreateCq(a, 256, cqNotify, &cqEv, nullptr, createDone, nullptr, &cq), STATUS_SUCCESS);
  ASSERT_EQ(pd->Dispatch->NdkCreateQp(pd, cq, cq, reinterpret_cast<PVOID>(0x5151), 16, 16, 4, 4, 256, createDone,
                                      nullptr, &qp),
            STATUS_SUCCESS);
  mrRw = registerMr(pd, rw, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  mrWo = registerMr(pd, wo, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  mrRo = registerMr(pd, ro, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  mrOther = registerMr(pd2, other, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(a->Dispatch->NdkCreateListener(a, onConnect, &incoming, createDone, nullptr, &listener), STATUS_SUCCESS);
  SOCKADDR_INET any = loopback4();
  Req r;
  ASSERT_EQ(listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&any), sizeof(SOCKADDR_IN), reqDone, &r),
            STATUS_SUCCESS);
  SOCKADDR_INET la{};
  ULONG len = sizeof(la);
  ASSERT_EQ(listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<PSOCKADDR>(&la), &len), STATUS_SUCCESS);
  port = ntohs(la.Ipv4.sin_port);
  connErrBefore = stats().ConnectionError;
}

void Hard::TearDown() {
  if (HasFailure()) {
    // Objects may still be open or an engine stuck: the blocking adapter close would hang, and the
    // regions may still be referenced. Leak instead (the suite must never hang).
    (void)dev.release();
    return;
  }
  closeAndWait(conn);
  {
    std::lock_guard l(incoming.mu);
    for (NDK_CONNECTOR* c : incoming.conns)
      if (c != conn) closeAndWait(c);
  }
  closeAndWait(qp);
  closeAndWait(listener);
  for (NDK_MR* m : {mrRw, mrWo, mrRo, mrOther}) closeAndWait(m);
  closeAndWait(cq);
  closeAndWait(pd);
  closeAndWait(pd2);
  if (a) Device::CloseNdkAdapter(dev.get(), a);
  dev.reset();
  for (GuardedRegion* g : {&rw, &wo, &ro, &other}) delete g;
}

NDK_MR* Hard::registerMr(NDK_PD* p, GuardedRegion& g, ULONG flags) {
  NDK_MR* m = nullptr;
  EXPECT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &m), STATUS_SUCCESS);
  if (!m) return nullptr;
  PMDL chain = OpenNdkAllocateMdlChain(g.span, g.len, 0);
  Req r;
  EXPECT_EQ(waitReq(r, m->Dispatch->NdkRegisterMr(m, chain, g.len, flags, reqDone, &r)), STATUS_SUCCESS);
  OpenNdkFreeMdlChain(chain);
  return m;
}

std::vector<NDK_RESULT_EX> Hard::drain() {
  std::vector<NDK_RESULT_EX> out;
  NDK_RESULT_EX r[16];
  ULONG n;
  while ((n = cq->Dispatch->NdkGetCqResultsEx(cq, r, 16)) > 0) out.insert(out.end(), r, r + n);
  return out;
}

std::vector<NDK_RESULT_EX> Hard::waitResults(std::size_t n, std::chrono::milliseconds t) {
  std::vector<NDK_RESULT_EX> out;
  const auto deadline = std::chrono::steady_clock::now() + t;
  for (;;) {
    auto more = drain();
    out.insert(out.end(), more.begin(), more.end());
    if (out.size() >= n || std::chrono::steady_clock::now() >= deadline) break;
    const int seen = cqEv.value();
    cq->Dispatch->NdkArmCq(cq, NDK_CQ_NOTIFY_ANY);
    more = drain();
    out.insert(out.end(), more.begin(), more.end());
    if (out.size() >= n) break;
    cqEv.wait(seen + 1, 500ms);  // a wake-up bound, not synchronisation: the loop re-checks
  }
  return out;
}

void Hard::acceptEvil(EvilPeer& evil) {
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  ASSERT_TRUE(evil.sendAll(EvilPeer::goodRequest()));
  conn = connectorFrom(evil.localPort());
  ASSERT_NE(conn, nullptr) << "no connect event";
  const NTSTATUS as =
      conn->Dispatch->NdkAccept(conn, qp, 4, 4, nullptr, 0, onDisconnect, &disc, reqDone, &acceptReq);
  ASSERT_EQ(as, STATUS_PENDING);
  auto reply = evil.readFrame();
  ASSERT_TRUE(reply.has_value()) << "no MPA Reply";
  ASSERT_EQ((*reply)[16] & openndk::iwarp::mpa::kFlagR, 0) << "rejected";
  ASSERT_TRUE(evil.sendRtr());
  ASSERT_EQ(waitReq(acceptReq, as), STATUS_SUCCESS);
}

NDK_CONNECTOR* Hard::connectorFrom(std::uint16_t peerPort, std::chrono::milliseconds t) {
  const auto deadline = std::chrono::steady_clock::now() + t;
  for (;;) {
    NDK_CONNECTOR* c = nullptr;
    {
      std::lock_guard l(incoming.mu);
      if (seenEvents < incoming.conns.size()) c = incoming.conns[seenEvents++];
    }
    if (c) {
      SOCKADDR_INET pa{};
      ULONG len = sizeof(pa);
      if (c->Dispatch->NdkGetPeerAddress(c, reinterpret_cast<PSOCKADDR>(&pa), &len) == STATUS_SUCCESS &&
          ntohs(pa.Ipv4.sin_port) == peerPort)
        return c;
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return nullptr;
    if (!incoming.ev.wait(static_cast<int>(seenEvents) + 1,
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)))
      return nullptr;
  }
}

void Hard::postReceives(int n, ULONG len) {
  for (int i = 0; i < n; ++i) {
    NDK_SGE g{};
    g.VirtualAddress = rw.span;
    g.Length = len;
    g.MemoryRegionToken = local(mrRw);
    ASSERT_EQ(qp->Dispatch->NdkReceive(qp, reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(0x100 + i)), &g, 1),
              STATUS_SUCCESS);
  }
}

void Hard::expectTerminated(EvilPeer& evil, int layer, int etype, int code, int receivesPosted) {
  const Verdict v = evil.collect(10s);
  EXPECT_FALSE(v.timedOut) << "OpenNDK kept the stream open: " << v.describe();
  if (layer >= 0) {
    EXPECT_TRUE(v.terminate) << v.describe();
    EXPECT_EQ(v.terminates, v.terminate ? 1 : 0) << v.describe();  // exactly one (IWARP.md §4.5)
    EXPECT_FALSE(v.bytesAfterTerminate) << v.describe();
    EXPECT_EQ(static_cast<int>(v.term.layer), layer) << v.describe();
    EXPECT_EQ(v.term.etype, etype) << v.describe();
    EXPECT_EQ(v.term.code, code) << v.describe();
  } else {
    EXPECT_FALSE(v.terminate) << v.describe();
  }
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s)) << "no disconnect event (R110)";
  // R81: the connection is gone, initiator posts fail.
  EXPECT_EQ(qp->Dispatch->NdkSend(qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
  // Every posted receive comes back exactly once (in-flight at close, or by the flush, R77).
  qp->Dispatch->NdkFlush(qp);
  auto r = waitResults(static_cast<std::size_t>(receivesPosted));
  EXPECT_EQ(r.size(), static_cast<std::size_t>(receivesPosted));
  for (const auto& e : r) {
    EXPECT_EQ(e.Type, NdkOperationTypeReceive);
    EXPECT_NE(e.Status, STATUS_SUCCESS);
  }
  qp->Dispatch->NdkFlush(qp);
  EXPECT_TRUE(drain().empty()) << "a request completed twice";
  if (layer >= 0) {
    EXPECT_GT(stats().ConnectionError, connErrBefore);  // OID_NDK_STATISTICS
  }
  expectNoStrayWrite();
}

void Hard::expectNoStrayWrite(bool spansUntouched) {
  for (GuardedRegion* g : {&rw, &wo, &ro, &other}) {
    EXPECT_EQ(g->brokenCanary(), -1);
  }
  if (spansUntouched) {
    EXPECT_TRUE(ro.spanIs(kFill)) << "read-only region written";
    EXPECT_TRUE(other.spanIs(kFill)) << "other PD's region written";
  }
}

void Hard::expectListenerStillWorks(bool allowStrayEvent) {
  EvilPeer good;
  NDK_CONNECTOR* before = conn;
  std::size_t events;
  {
    std::lock_guard l(incoming.mu);
    events = incoming.conns.size();
  }
  ASSERT_NO_FATAL_FAILURE(acceptEvil(good));
  EXPECT_NE(conn, before);
  if (!allowStrayEvent) {
    std::lock_guard l(incoming.mu);
    EXPECT_EQ(incoming.conns.size(), events + 1) << "a connect event for a refused connection";
  }
  // A Send lands in a posted receive.
  rw.reset();
  ASSERT_NO_FATAL_FAILURE(postReceives(1, 64));
  ASSERT_TRUE(good.sendFpdu(EvilPeer::untaggedSend(1, 0, Bytes(16, 0xAB))));
  auto r = waitResults(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Status, STATUS_SUCCESS);
  EXPECT_EQ(r[0].BytesTransferred, 16u);
  EXPECT_EQ(rw.span[0], 0xAB);
  EXPECT_EQ(rw.brokenCanary(), -1);
}

}  // namespace hardening
