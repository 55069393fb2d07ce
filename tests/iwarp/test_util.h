// Test helpers: hex strings, a tiny pcap reader (Ethernet/IPv4/TCP, per-direction stream reassembly)
// and writer (for the tshark test), and a parser for the decoded-capture text files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "iwarp/wire.h"

namespace iwtest {

using Bytes = std::vector<std::uint8_t>;

inline Bytes hex(const std::string& s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (hi < 0) hi = v;
    else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline std::string data_path(const std::string& name) { return std::string(IWARP_TEST_DATA_DIR) + "/" + name; }

inline Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

struct Stream {
  std::string key;  // "a.b.c.d:port -> e.f.g.h:port"
  std::string reverse_key;
  Bytes data;
  std::uint32_t next_seq = 0;
  bool have_seq = false;
  std::size_t first_packet = 0;
};

inline std::string ip_str(const std::uint8_t* p) {
  return std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) + "." + std::to_string(p[3]);
}

// Reads a classic little-endian libpcap file with Ethernet link type; reassembles each TCP direction
// in sequence order (in-order captures; retransmitted bytes are dropped).
inline std::vector<Stream> read_pcap_streams(const std::string& path) {
  const Bytes f = read_file(path);
  std::vector<Stream> streams;
  std::map<std::string, std::size_t> index;
  if (f.size() < 24 || openndk::iwarp::load_le32(f.data()) != 0xa1b2c3d4u) return streams;
  std::size_t at = 24, pkt = 0;
  while (at + 16 <= f.size()) {
    const std::uint32_t incl = openndk::iwarp::load_le32(&f[at + 8]);
    at += 16;
    if (at + incl > f.size()) break;
    const std::uint8_t* p = &f[at];
    at += incl;
    ++pkt;
    if (incl < 14 + 20 + 20 || openndk::iwarp::load_be16(p + 12) != 0x0800) continue;
    const std::uint8_t* ip = p + 14;
    const std::size_t ihl = (ip[0] & 0x0F) * 4u;
    if (ip[9] != 6) continue;
    const std::size_t ip_total = openndk::iwarp::load_be16(ip + 2);
    const std::uint8_t* tcp = ip + ihl;
    const std::size_t thl = (tcp[12] >> 4) * 4u;
    const std::uint16_t sport = openndk::iwarp::load_be16(tcp), dport = openndk::iwarp::load_be16(tcp + 2);
    const std::uint32_t seq = openndk::iwarp::load_be32(tcp + 4);
    const bool syn = tcp[13] & 0x02;
    const std::size_t plen = ip_total - ihl - thl;
    const std::string key = ip_str(ip + 12) + ":" + std::to_string(sport) + " -> " + ip_str(ip + 16) + ":" + std::to_string(dport);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, streams.size()).first;
      Stream s;
      s.key = key;
      s.reverse_key = ip_str(ip + 16) + ":" + std::to_string(dport) + " -> " + ip_str(ip + 12) + ":" + std::to_string(sport);
      s.first_packet = pkt;
      streams.push_back(s);
    }
    Stream& s = streams[it->second];
    if (syn) {
      s.next_seq = seq + 1;
      s.have_seq = true;
      continue;
    }
    if (plen == 0) continue;
    if (!s.have_seq) {
      s.next_seq = seq;
      s.have_seq = true;
    }
    if (seq != s.next_seq) continue;  // retransmission / out of order: not in these captures
    const std::uint8_t* payload = tcp + thl;
    s.data.insert(s.data.end(), payload, payload + plen);
    s.next_seq += static_cast<std::uint32_t>(plen);
  }
  return streams;
}

// One "FPDU#n" line of the decoded text files.
struct ExpectedFpdu {
  std::size_t offset = 0, len = 0, ulpdu = 0, pad = 0;
  std::string op;
  std::map<std::string, std::string> kv;
};
struct ExpectedStream {
  std::string key;
  std::vector<ExpectedFpdu> fpdus;
};

inline std::vector<ExpectedStream> read_expected(const std::string& path) {
  std::ifstream f(path);
  std::vector<ExpectedStream> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("=== ", 0) == 0) {
      ExpectedStream s;
      const auto end = line.find("  (");
      s.key = line.substr(4, end - 4);
      out.push_back(s);
      continue;
    }
    const auto pos = line.find("FPDU#");
    if (pos == std::string::npos || out.empty()) continue;
    std::istringstream is(line.substr(pos));
    std::string tok;
    ExpectedFpdu e;
    is >> tok;  // FPDU#n
    is >> tok;  // @off
    e.offset = std::stoul(tok.substr(1));
    while (is >> tok) {
      if (tok == "(calc") break;
      const auto eq = tok.find('=');
      if (eq == std::string::npos) {
        e.op = tok;
        continue;
      }
      e.kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    e.len = std::stoul(e.kv["len"]);
    e.ulpdu = std::stoul(e.kv["ulpdu"]);
    e.pad = std::stoul(e.kv["pad"]);
    out.back().fpdus.push_back(e);
  }
  return out;
}

// ---- pcap writer (for tshark) ----------------------------------------------------------------------
class PcapWriter {
 public:
  PcapWriter() {
    put32(0xa1b2c3d4u);
    put16(2);
    put16(4);
    put32(0);
    put32(0);
    put32(65535);
    put32(1);  // Ethernet
  }
  // Append one TCP segment from side a (0) or b (1) with the given flags and payload.
  void tcp(int from, std::uint8_t flags, const Bytes& payload) {
    const std::uint8_t ipa[4] = {10, 0, 0, 1}, ipb[4] = {10, 0, 0, 2};
    const std::uint16_t pa = 40000, pb = 7777;
    Bytes pkt;
    const std::uint8_t maca[6] = {2, 0, 0, 0, 0, 1}, macb[6] = {2, 0, 0, 0, 0, 2};
    pkt.insert(pkt.end(), from ? maca : macb, (from ? maca : macb) + 6);
    pkt.insert(pkt.end(), from ? macb : maca, (from ? macb : maca) + 6);
    pkt.push_back(0x08);
    pkt.push_back(0x00);
    const std::size_t ip_at = pkt.size();
    const std::uint16_t total = static_cast<std::uint16_t>(20 + 20 + payload.size());
    const std::uint8_t iphdr[20] = {0x45, 0, static_cast<std::uint8_t>(total >> 8), static_cast<std::uint8_t>(total), 0, 0, 0x40, 0, 64, 6, 0, 0};
    pkt.insert(pkt.end(), iphdr, iphdr + 20);
    std::copy(from ? ipb : ipa, (from ? ipb : ipa) + 4, pkt.begin() + static_cast<long>(ip_at + 12));
    std::copy(from ? ipa : ipb, (from ? ipa : ipb) + 4, pkt.begin() + static_cast<long>(ip_at + 16));
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2) sum += openndk::iwarp::load_be16(&pkt[ip_at + i]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    openndk::iwarp::store_be16(&pkt[ip_at + 10], static_cast<std::uint16_t>(~sum));
    std::uint8_t th[20] = {};
    openndk::iwarp::store_be16(th, from ? pb : pa);
    openndk::iwarp::store_be16(th + 2, from ? pa : pb);
    openndk::iwarp::store_be32(th + 4, seq_[from]);
    openndk::iwarp::store_be32(th + 8, (flags & 0x10) ? seq_[1 - from] : 0);
    th[12] = 0x50;
    th[13] = flags;
    openndk::iwarp::store_be16(th + 14, 65535);
    // TCP checksum over pseudo header
    const std::size_t tcp_at = pkt.size();
    pkt.insert(pkt.end(), th, th + 20);
    pkt.insert(pkt.end(), payload.begin(), payload.end());
    std::uint32_t cs = 0;
    for (int i = 0; i < 8; i += 2) cs += openndk::iwarp::load_be16(&pkt[ip_at + 12 + static_cast<std::size_t>(i)]);
    cs += 6 + 20 + payload.size();
    for (std::size_t i = tcp_at; i < pkt.size(); i += 2)
      cs += i + 1 < pkt.size() ? openndk::iwarp::load_be16(&pkt[i]) : static_cast<std::uint32_t>(pkt[i] << 8);
    while (cs >> 16) cs = (cs & 0xFFFF) + (cs >> 16);
    openndk::iwarp::store_be16(&pkt[tcp_at + 16], static_cast<std::uint16_t>(~cs));
    seq_[from] += static_cast<std::uint32_t>(payload.size()) + ((flags & 0x03) ? 1u : 0u);
    put32(ts_ / 1000000);
    put32(ts_ % 1000000);
    ts_ += 1000;
    put32(static_cast<std::uint32_t>(pkt.size()));
    put32(static_cast<std::uint32_t>(pkt.size()));
    buf_.insert(buf_.end(), pkt.begin(), pkt.end());
  }
  void handshake() {
    tcp(0, 0x02, {});
    tcp(1, 0x12, {});
    tcp(0, 0x10, {});
  }
  bool save(const std::string& path) const {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(buf_.data()), static_cast<std::streamsize>(buf_.size()));
    return static_cast<bool>(f);
  }

 private:
  void put16(std::uint16_t v) { buf_.push_back(static_cast<std::uint8_t>(v)), buf_.push_back(static_cast<std::uint8_t>(v >> 8)); }
  void put32(std::uint32_t v) { put16(static_cast<std::uint16_t>(v)), put16(static_cast<std::uint16_t>(v >> 16)); }
  Bytes buf_;
  std::uint32_t seq_[2] = {1000, 5000};
  std::uint64_t ts_ = 1000000;
};

}  // namespace iwtest
