// tshark decodes what our encoder produces: a full MPA handshake + FPDUs in an Ethernet/IPv4/TCP
// pcap, decoded with the iWARP heuristic (IWARP.md §7.2); no malformed frames, no bad CRC.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "iwarp/fpdu.h"
#include "iwarp/mpa_setup.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;

namespace {
bool have_tshark() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t c = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++c;
  return c;
}

Bytes fpdu_of(const SegmentPlan& p, ByteSpan payload, bool crc) {
  const ByteSpan parts[] = {payload.subspan(p.payload_offset, p.payload_len)};
  Bytes w(mpa::fpdu_len(p.header_len + p.payload_len));
  w.resize(frame_copy(ByteSpan{p.header.data(), p.header_len}, parts, crc, w));
  return w;
}
}  // namespace

TEST(Tshark, DecodesOurFrames) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  iwtest::PcapWriter pcap;
  pcap.handshake();
  // Setup through our state machines (default <-> default: P2P, Write RTR, CRC on).
  MpaSetup ini(profile_default(), SetupRole::Initiator), rsp(profile_default(), SetupRole::Responder);
  (void)rsp.start({});
  const Actions a1 = ini.start({4, 4, {}});
  const ByteSpan req = a1.find(ActionKind::Send)->bytes;
  pcap.tcp(0, 0x18, Bytes(req.begin(), req.end()));
  std::size_t used;
  (void)rsp.on_bytes(req, used);
  const Actions a2 = rsp.accept({4, 4, {}});
  const ByteSpan rep = a2.find(ActionKind::Send)->bytes;
  pcap.tcp(1, 0x18, Bytes(rep.begin(), rep.end()));
  const Actions a3 = ini.on_bytes(rep, used);
  ASSERT_TRUE(a3.has(ActionKind::Established));
  const bool crc = ini.result().crc;
  ASSERT_TRUE(crc);
  std::size_t fpdus = 0;
  for (const Action& a : a3)
    if (a.kind == ActionKind::Send) {
      pcap.tcp(0, 0x18, Bytes(a.bytes.begin(), a.bytes.end()));  // RTR
      ++fpdus;
    }
  // A Send split for EMSS 1448, a Send with Invalidate, a Write, a Read Request + Response, Terminate.
  Bytes payload(3000);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
  auto emit = [&](int from, const DdpMessage& m) {
    Segmenter sg(m, mpa::mulpdu_from_emss(1448));
    SegmentPlan p;
    while (sg.next(p)) {
      pcap.tcp(from, 0x18, fpdu_of(p, payload, crc));
      ++fpdus;
    }
  };
  emit(0, make_send(Opcode::Send, 1, 3000));
  emit(0, make_send(Opcode::SendSeInvalidate, 2, 7, 0x1234));
  emit(0, make_write(0x100, 0x7000, 2000));
  std::array<std::uint8_t, 64> rr{};
  const std::size_t rrl = encode_read_request(2, ReadRequestHdr{0x200, 0x10, 100, 0x300, 0x20}, rr);
  Bytes w(128);
  w.resize(frame_copy(ByteSpan{rr.data(), rrl}, crc, w));
  pcap.tcp(0, 0x18, w);
  ++fpdus;
  emit(1, make_read_response(0x200, 0x10, 100));
  TerminateInfo t;
  ASSERT_TRUE(make_terminate(Error::TaggedBounds, {ByteSpan{rr.data(), 18}, 46, {}}, t));
  Bytes term(128);
  term.resize(encode_terminate_fpdu(t, crc, term));
  pcap.tcp(1, 0x18, term);
  ++fpdus;
  const std::string file = std::string(IWARP_TEST_TMP_DIR) + "/iwarp-tshark.pcap";
  ASSERT_TRUE(pcap.save(file));
  const std::string base = "tshark -r " + file + " -o tcp.try_heuristic_first:TRUE --enable-heuristic iwarp_mpa_tcp "
                           "--disable-protocol rpcordma --disable-protocol smb_direct";
  const std::string verbose = run(base + " -V 2>&1");
  EXPECT_EQ(count(verbose, "Good CRC32"), fpdus) << verbose.substr(0, 4000);
  EXPECT_EQ(count(verbose, "Bad CRC32"), 0u);
  EXPECT_EQ(count(verbose, "Malformed"), 0u);
  const std::string summary = run(base + " 2>&1");
  EXPECT_EQ(count(summary, "MPA Request Frame"), 1u) << summary;
  EXPECT_EQ(count(summary, "MPA Reply Frame"), 1u) << summary;
  EXPECT_EQ(count(summary, "Terminate"), 1u) << summary;
  EXPECT_EQ(count(summary, "Malformed"), 0u) << summary;
  const std::string expert = run(base + " -q -z expert 2>&1");
  EXPECT_EQ(count(expert, "Malformed"), 0u) << expert;
  EXPECT_EQ(count(expert, "Bad CRC"), 0u) << expert;
  const std::string fields = run(base + " -T fields -e iwarp_rdma.opcode -Y iwarp_ddp_rdmap 2>/dev/null");
  EXPECT_EQ(count(fields, "\n"), fpdus) << fields;
}
