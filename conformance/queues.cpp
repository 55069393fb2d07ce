// Conformance: what the consumer may overlap and the provider must then handle (NDKPI.md R64:
// work-request calls on *different* queues of one QP may run at the same time; R35: the consumer
// serialises its own CQ calls, the provider still synchronises them with completion generation).
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "consumer.h"

namespace conf {
namespace {

PVOID ctx(uintptr_t v) { return reinterpret_cast<PVOID>(v); }

class Queues : public NdkTest {};

// R64, R35: on one QP, a thread posting Receives (receive queue) and a thread posting Sends
// (initiator queue) start together, while the peer's thread sends toward that QP and the main
// thread — the only caller of this CQ's functions (R35) — collects with arm-then-read. Every
// request completes exactly once, successfully, each queue in its posting order, data intact.
TEST_F(Queues, R35_R64_PostsOnDifferentQueuesOfOneQpOverlap) {
  constexpr ULONG kDepth = 32, kMsg = 64;
  Pair& p = newPair();
  NTSTATUS st = connectPair(p, 4, 4, nullptr, 0, nullptr, 0, kDepth);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  MdlBuffer abuf(4 * kDepth * kMsg), pbuf(4 * kDepth * kMsg);
  NDK_MR* amr = makeMr(p.pd, false);
  NDK_MR* pmr = makeMr(p.pd, false);
  ASSERT_TRUE(amr && pmr);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(amr, abuf, abuf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, registerMr(pmr, pbuf, pbuf.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  NDK_QP* aqp = p.active.qp;
  NDK_QP* pqp = p.passive.qp;
  // Layout of each buffer: [0, D) outgoing messages, [D, 2D) incoming messages (D = kDepth*kMsg).
  const size_t in = kDepth * kMsg;
  for (ULONG round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (ULONG i = 0; i < kDepth; ++i) {
      std::memset(abuf.data() + i * kMsg, static_cast<int>(1 + (round + i) % 200), kMsg);
      std::memset(pbuf.data() + i * kMsg, static_cast<int>(201 + (round + i) % 50), kMsg);
      NDK_SGE r = sgeIn(pbuf, pmr, in + i * kMsg, kMsg);  // the peer's receives, posted beforehand
      CONF_ASSERT_STATUS(STATUS_SUCCESS, pqp->Dispatch->NdkReceive(pqp, ctx(1000 + i), &r, 1));
    }
    Event go;
    NTSTATUS recvSt = STATUS_SUCCESS, sendSt = STATUS_SUCCESS, peerSt = STATUS_SUCCESS;
    std::thread receiver([&] {
      go.wait();
      for (ULONG i = 0; i < kDepth && recvSt == STATUS_SUCCESS; ++i) {
        NDK_SGE r = sgeIn(abuf, amr, in + i * kMsg, kMsg);
        recvSt = aqp->Dispatch->NdkReceive(aqp, ctx(2000 + i), &r, 1);
      }
    });
    std::thread sender([&] {
      go.wait();
      for (ULONG i = 0; i < kDepth && sendSt == STATUS_SUCCESS; ++i) {
        NDK_SGE s = sgeIn(abuf, amr, i * kMsg, kMsg);
        sendSt = aqp->Dispatch->NdkSend(aqp, ctx(3000 + i), &s, 1, 0);
      }
    });
    std::thread peer([&] {  // Sends toward aqp; they may arrive before aqp's receives are all posted
      receiver.join();       // ... so only once they are (a Send without a receive is fatal, R67)
      for (ULONG i = 0; i < kDepth && peerSt == STATUS_SUCCESS; ++i) {
        NDK_SGE s = sgeIn(pbuf, pmr, i * kMsg, kMsg);
        peerSt = pqp->Dispatch->NdkSend(pqp, ctx(4000 + i), &s, 1, 0);
      }
    });
    go.set();
    // aqp's CQ: kDepth send + kDepth receive completions, collected while they are generated.
    auto got = drainEx(p.active.cq, 2 * kDepth);
    sender.join();
    peer.join();
    CONF_ASSERT_STATUS(STATUS_SUCCESS, recvSt);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, sendSt);
    CONF_ASSERT_STATUS(STATUS_SUCCESS, peerSt);
    ASSERT_EQ(2 * kDepth, got.size());
    ULONG nextSend = 0, nextRecv = 0;
    for (const NDK_RESULT_EX& r : got) {
      CONF_EXPECT_STATUS(STATUS_SUCCESS, r.Status);
      const auto c = reinterpret_cast<uintptr_t>(r.RequestContext);
      if (r.Type == NdkOperationTypeSend) {
        EXPECT_EQ(3000 + nextSend++, c) << "initiator queue out of order";
      } else {
        ASSERT_EQ(NdkOperationTypeReceive, r.Type);
        EXPECT_EQ(2000 + nextRecv, c) << "receive queue out of order";
        EXPECT_EQ(kMsg, r.BytesTransferred);
        EXPECT_EQ(std::string(kMsg, static_cast<char>(201 + (round + nextRecv) % 50)),
                  std::string(abuf.data() + in + nextRecv * kMsg, kMsg));
        ++nextRecv;
      }
    }
    EXPECT_EQ(kDepth, nextSend);
    EXPECT_EQ(kDepth, nextRecv);
    auto peerGot = drainEx(p.passive.cq, 2 * kDepth);
    ASSERT_EQ(2 * kDepth, peerGot.size());
    ULONG recvd = 0;
    for (const NDK_RESULT_EX& r : peerGot) {
      CONF_EXPECT_STATUS(STATUS_SUCCESS, r.Status);
      if (r.Type != NdkOperationTypeReceive) continue;
      EXPECT_EQ(ctx(1000 + recvd), r.RequestContext);
      EXPECT_EQ(std::string(kMsg, static_cast<char>(1 + (round + recvd) % 200)),
                std::string(pbuf.data() + in + recvd * kMsg, kMsg));
      ++recvd;
    }
    EXPECT_EQ(kDepth, recvd);
  }
}

}  // namespace
}  // namespace conf
