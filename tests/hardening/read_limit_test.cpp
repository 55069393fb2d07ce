// The negotiated ORD bounds the Reads a QP puts on the wire (RFC 6581 §9.1, R83, R85). With ORD 0
// (the peer granted no inbound Reads) an NdkRead fails locally with STATUS_INSUFFICIENT_RESOURCES
// (docs/decisions.md "ORD 0") and no Read Request ever reaches the peer (issue 12).
#include <chrono>

#include "hardening_fixture.h"

namespace hardening {
namespace {

using openndk::iwarp::Opcode;
namespace mpa = openndk::iwarp::mpa;

class ReadLimit : public Hard {};

TEST_F(ReadLimit, PeerIrdZero_ReadFailsLocallyAndNeverReachesTheWire) {
  // The hostile initiator offers IRD 0 / ORD 0; the consumer accepts asking for ORD 4.
  EvilPeer evil;
  ASSERT_TRUE(evil.connectTo("127.0.0.1", port));
  ASSERT_TRUE(evil.sendAll(EvilPeer::goodRequest(0, 0)));
  conn = connectorFrom(evil.localPort());
  ASSERT_NE(conn, nullptr) << "no connect event";
  const NTSTATUS as = conn->Dispatch->NdkAccept(conn, qp, 4, 4, nullptr, 0, onDisconnect, &disc, reqDone, &acceptReq);
  ASSERT_EQ(as, STATUS_PENDING);
  auto reply = evil.readFrame();
  ASSERT_TRUE(reply.has_value()) << "no MPA Reply";
  ASSERT_EQ((*reply)[16] & mpa::kFlagR, 0) << "rejected";
  ASSERT_TRUE(evil.sendRtr());
  ASSERT_EQ(waitReq(acceptReq, as), STATUS_SUCCESS);
  ULONG ird = 99, ord = 99, pdLen = 0;
  ASSERT_EQ(conn->Dispatch->NdkGetConnectionData(conn, &ird, &ord, nullptr, &pdLen), STATUS_SUCCESS);
  EXPECT_EQ(ord, 0u) << "R83: min(local 4, peer IRD 0)";

  NDK_SGE sink{};
  sink.VirtualAddress = rw.span;
  sink.Length = 64;
  sink.MemoryRegionToken = local(mrRw);
  ASSERT_EQ(qp->Dispatch->NdkRead(qp, reinterpret_cast<PVOID>(0xEAD), &sink, 1, 0x1000, 0x4242, 0), STATUS_SUCCESS);
  auto r = waitResults(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Type, NdkOperationTypeRead);
  EXPECT_EQ(r[0].RequestContext, reinterpret_cast<PVOID>(0xEAD));
  EXPECT_EQ(r[0].Status, STATUS_INSUFFICIENT_RESOURCES);

  // A Send posted after it reaches the peer; nothing before it was a Read Request.
  ASSERT_EQ(qp->Dispatch->NdkSend(qp, reinterpret_cast<PVOID>(0x5E5D), nullptr, 0, 0), STATUS_SUCCESS);
  r = waitResults(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Status, STATUS_SUCCESS);
  std::uint8_t hdr[2 + 18 + 4];  // a zero-length Send FPDU: length, DDP/RDMAP header, CRC
  ASSERT_TRUE(evil.recvExact(hdr, sizeof hdr));
  EXPECT_EQ(hdr[3] & 0x0F, static_cast<int>(Opcode::Send)) << "something other than the Send reached the peer";
  EXPECT_EQ(hdr[1], 18) << "ULPDU of the zero-length Send";
  evil.closeGraceful();
  EXPECT_TRUE(disc.wait(1, 15s));
  expectNoStrayWrite();
}

}  // namespace
}  // namespace hardening
