// Decode every frame of the shipped pcaps (synthetic test vectors and real Linux siw captures),
// check the fields against the decoded text files, re-encode and compare bytes, and check that
// byte-at-a-time feeding gives the same result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "iwarp/fpdu.h"
#include "iwarp/mpa_frame.h"
#include "iwarp/terminate.h"
#include "test_util.h"

using namespace openndk::iwarp;
using iwtest::Bytes;

namespace {

struct Fpdu {
  std::size_t offset = 0;  // in the TCP stream
  Segment seg;
  Bytes header;   // raw DDP/RDMAP header
  Bytes payload;  // reassembled payload
  Bytes wire;     // the whole FPDU
};

struct DecodedStream {
  std::string key;
  MpaFrame frame;
  Bytes frame_bytes;
  std::size_t frame_len = 0;
  std::vector<Fpdu> fpdus;
  Error error = Error::None;
  std::size_t consumed = 0;
};

// Run the deframer over `data` with chunks of `chunk` bytes (0 = all at once).
std::vector<Fpdu> deframe(ByteSpan data, std::size_t base, bool crc, std::size_t chunk, Error& err, std::size_t& used) {
  Deframer d({crc, mpa::kMaxUlpdu});
  std::vector<Fpdu> out;
  Fpdu cur;
  std::size_t pos = 0, fpdu_start = 0;
  err = Error::None;
  while (pos < data.size()) {
    const std::size_t len = chunk ? std::min(chunk, data.size() - pos) : data.size() - pos;
    ByteSpan in = data.subspan(pos, len);
    while (!in.empty()) {
      const RxStep s = d.feed(in);
      in = in.subspan(s.consumed);
      pos += s.consumed;
      if (s.event == RxEvent::Header) {
        cur.seg = d.current();
        cur.offset = base + fpdu_start;
      } else if (s.event == RxEvent::Payload) {
        EXPECT_EQ(s.offset, cur.payload.size());
        cur.payload.insert(cur.payload.end(), s.payload.begin(), s.payload.end());
      } else if (s.event == RxEvent::End) {
        cur.wire.assign(data.begin() + static_cast<long>(fpdu_start), data.begin() + static_cast<long>(pos));
        cur.header.assign(cur.wire.begin() + 2, cur.wire.begin() + 2 + cur.seg.header_len);
        out.push_back(cur);
        cur = Fpdu{};
        fpdu_start = pos;
      } else if (s.event == RxEvent::Error) {
        err = s.error;
        used = pos;
        return out;
      }
    }
  }
  used = fpdu_start;
  return out;
}

std::vector<DecodedStream> decode_capture(const std::string& file) {
  const auto streams = iwtest::read_pcap_streams(iwtest::data_path(file));
  std::vector<DecodedStream> out;
  // First pass: the startup frames, so both C flags are known per connection.
  std::map<std::string, bool> c_flag;
  for (const auto& s : streams) {
    DecodedStream ds;
    ds.key = s.key;
    if (s.data.size() < 16) {
      out.push_back(ds);
      continue;
    }
    const MpaKind kind = std::memcmp(s.data.data(), mpa::kRequestKey.data(), 16) == 0 ? MpaKind::Request : MpaKind::Reply;
    MpaFrameReader r(kind, {});
    const auto res = r.feed(s.data);
    EXPECT_EQ(res.status, ParseStatus::Complete) << s.key;
    ds.frame = r.frame();
    ds.frame_bytes.assign(r.raw().begin(), r.raw().end());
    ds.frame.private_data = {};
    ds.frame.consumer_pd = {};
    ds.frame_len = res.consumed;
    c_flag[s.key] = ds.frame.c();
    out.push_back(ds);
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& s = streams[i];
    DecodedStream& ds = out[i];
    if (ds.frame_len == 0) continue;
    const bool crc = c_flag[s.key] || c_flag[s.reverse_key];
    const ByteSpan rest = ByteSpan{s.data}.subspan(ds.frame_len);
    ds.fpdus = deframe(rest, ds.frame_len, crc, 0, ds.error, ds.consumed);
    // Identical result with 1-byte and 7-byte feeding.
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}}) {
      Error e2;
      std::size_t used2;
      const auto again = deframe(rest, ds.frame_len, crc, chunk, e2, used2);
      EXPECT_EQ(e2, ds.error);
      EXPECT_EQ(again.size(), ds.fpdus.size());
      if (again.size() != ds.fpdus.size()) continue;
      for (std::size_t k = 0; k < again.size(); ++k) {
        EXPECT_EQ(again[k].wire, ds.fpdus[k].wire);
        EXPECT_EQ(again[k].payload, ds.fpdus[k].payload);
      }
    }
    // Re-encode every FPDU from its decoded fields and compare the bytes.
    for (const Fpdu& f : ds.fpdus) {
      std::array<std::uint8_t, kMaxHeaderLen> h{};
      std::size_t hl = 0;
      if (f.seg.opcode == Opcode::ReadRequest) {
        hl = encode_read_request(f.seg.ddp.msn, f.seg.read, h);
      } else if (f.seg.opcode == Opcode::Terminate) {
        TerminateInfo t;
        EXPECT_EQ(parse_terminate(f.header, t), Error::None);
        hl = encode_terminate_ulpdu(t, h);
      } else {
        hl = encode_ddp_header(f.seg.ddp, h);
      }
      const ByteSpan parts[] = {f.payload};
      Bytes re(f.wire.size() + 8);
      const std::size_t n = frame_copy(ByteSpan{h.data(), hl}, parts, crc, re);
      re.resize(n);
      if (crc) {
        EXPECT_EQ(re, f.wire) << s.key << " @" << f.offset;  // deterministic: pad is CRC-covered
      } else {
        // CRC off: siw sends a zero CRC, as we do. But siw does not always zero the pad (seen in
        // the perftest capture; receivers ignore pad values, RFC 5044 §4.1), so pad bytes are not
        // deterministic: compare everything except the pad.
        const std::size_t pad = mpa::pad_len(f.seg.ulpdu_len);
        const std::size_t body = 2 + f.seg.ulpdu_len;
        EXPECT_EQ(re.size(), f.wire.size());
        if (re.size() != f.wire.size()) continue;
        EXPECT_TRUE(std::equal(re.begin(), re.begin() + static_cast<long>(body), f.wire.begin())) << s.key << " @" << f.offset;
        EXPECT_TRUE(std::equal(re.begin() + static_cast<long>(body + pad), re.end(), f.wire.begin() + static_cast<long>(body + pad)));
      }
    }
  }
  return out;
}

std::string op_name(Opcode op) {
  switch (op) {
    case Opcode::Write: return "RDMA_WRITE";
    case Opcode::ReadRequest: return "RDMA_READ_REQ";
    case Opcode::ReadResponse: return "RDMA_READ_RESP";
    case Opcode::Send: return "SEND";
    case Opcode::Terminate: return "TERMINATE";
    default: return "OTHER";
  }
}

std::uint64_t num(const std::string& s) { return std::stoull(s, nullptr, 0); }

void check_against_text(const std::string& pcap, const std::string& txt) {
  const auto decoded = decode_capture(pcap);
  const auto expected = iwtest::read_expected(iwtest::data_path(txt));
  ASSERT_FALSE(expected.empty());
  std::size_t checked = 0;
  for (const auto& es : expected) {
    const DecodedStream* ds = nullptr;
    for (const auto& d : decoded)
      if (d.key == es.key) ds = &d;
    ASSERT_NE(ds, nullptr) << es.key;
    EXPECT_EQ(ds->error, Error::None) << es.key << ": " << to_string(ds->error);
    ASSERT_EQ(ds->fpdus.size(), es.fpdus.size()) << es.key;
    for (std::size_t i = 0; i < es.fpdus.size(); ++i) {
      const auto& e = es.fpdus[i];
      const Fpdu& f = ds->fpdus[i];
      SCOPED_TRACE(es.key + " FPDU " + std::to_string(i));
      EXPECT_EQ(f.offset, e.offset);
      EXPECT_EQ(f.wire.size(), e.len);
      EXPECT_EQ(f.seg.ulpdu_len, e.ulpdu);
      EXPECT_EQ(mpa::pad_len(f.seg.ulpdu_len), e.pad);
      EXPECT_EQ(op_name(f.seg.opcode), e.op);
      EXPECT_EQ(f.seg.tagged() ? 1u : 0u, num(e.kv.at("T")));
      EXPECT_EQ(f.seg.last() ? 1u : 0u, num(e.kv.at("L")));
      if (f.seg.tagged()) {
        EXPECT_EQ(f.seg.ddp.stag, num(e.kv.at("STag")));
        EXPECT_EQ(f.seg.ddp.to, num(e.kv.at("TO")));
      } else {
        EXPECT_EQ(f.seg.ddp.qn, num(e.kv.at("QN")));
        EXPECT_EQ(f.seg.ddp.msn, num(e.kv.at("MSN")));
        EXPECT_EQ(f.seg.ddp.mo, num(e.kv.at("MO")));
      }
      if (f.seg.opcode == Opcode::ReadRequest) {
        EXPECT_EQ(f.seg.read.sink_stag, num(e.kv.at("sinkSTag")));
        EXPECT_EQ(f.seg.read.sink_to, num(e.kv.at("sinkTO")));
        EXPECT_EQ(f.seg.read.size, num(e.kv.at("size")));
        EXPECT_EQ(f.seg.read.src_stag, num(e.kv.at("srcSTag")));
        EXPECT_EQ(f.seg.read.src_to, num(e.kv.at("srcTO")));
      }
      EXPECT_EQ(load_crc(&f.wire[f.wire.size() - 4]), num(e.kv.at("crc")));
      ++checked;
    }
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace

TEST(Captures, RpingCrcOff) { check_against_text("rping-loopback-S100.pcap", "rping-loopback-S100.txt"); }
TEST(Captures, RpingCrcOn) { check_against_text("rping-loopback-crc-S64.pcap", "rping-loopback-crc-S64.txt"); }
TEST(Captures, PerftestWriteBw) { check_against_text("perftest-write-bw-R.pcap", "perftest-write-bw-R.txt"); }

TEST(Captures, TapMpaRequest) {
  const auto d = decode_capture("tap-mpa-request.pcap");
  std::size_t requests = 0;
  for (const auto& s : d) {
    if (s.frame_len == 0) continue;
    ++requests;
    EXPECT_EQ(s.frame.kind, MpaKind::Request);
    EXPECT_EQ(s.frame.rev, 2);
    EXPECT_TRUE(s.frame.has_v2);
    EXPECT_FALSE(s.frame.v2.p2p);
    EXPECT_EQ(s.frame.v2.ird, 1);
    EXPECT_EQ(s.frame.v2.ord, 1);
    EXPECT_EQ(s.frame_bytes, iwtest::read_file(iwtest::data_path("mpa-request.bin")));
  }
  EXPECT_EQ(requests, 1u);
}

TEST(Captures, TestVectorPcap) {
  const auto d = decode_capture("iwarp-test-vectors.pcap");
  std::size_t fpdus = 0;
  std::vector<Opcode> ops;
  for (const auto& s : d) {
    EXPECT_EQ(s.error, Error::None) << s.key;
    for (const auto& f : s.fpdus) ops.push_back(f.seg.opcode);
    fpdus += s.fpdus.size();
  }
  EXPECT_EQ(fpdus, 10u);  // IWARP.md §8.12: tshark shows 10 FPDUs with good CRC
  // The Terminate of §8.10 is inside; parse it.
  bool saw_term = false;
  for (const auto& s : d)
    for (const auto& f : s.fpdus)
      if (f.seg.opcode == Opcode::Terminate) {
        TerminateInfo t;
        ASSERT_EQ(parse_terminate(f.header, t), Error::None);
        EXPECT_EQ(t.layer, TermLayer::Ddp);
        EXPECT_EQ(t.etype, kEtypeDdpTagged);
        EXPECT_EQ(t.code, 0);
        saw_term = true;
      }
  EXPECT_TRUE(saw_term);
}
