// ndk smb: an SMB2/3 client over SMB Direct ([MS-SMBD] on the NDK ABI, RDMA channels for READ and
// WRITE) or, with --tcp, over plain TCP port 445 (docs/smb.md). Exit 0 done, 1 failure (the reason
// on stderr), 2 usage.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "common.h"
#include "perf/types.h"
#include "smb/client.h"
#include "smb/smbd_transport.h"
#include "smb/tcp_transport.h"

namespace ndktool {
namespace {

using namespace ndksmb;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kSmbDirectPort = 5445;  // ksmbd's SMB Direct port on iWARP devices
constexpr std::uint16_t kTcpPort = 445;

struct SmbArgs {
  std::string target;
  bool tcp = false, verbose = false;
  std::string profile;
  std::string chunk = "1M";
  unsigned depth = 4;
  unsigned timeoutS = 60;
  unsigned tcpPort = kTcpPort;
  unsigned firstFpduDelayMs = 0;
  bool noInvalidate = false;
  std::string user;  // -U DOMAIN\\USER%PASSWORD: NTLMv2; empty: guest
  std::string local, remote, dir;
  std::string benchSize = "1M";
  double benchSeconds = 5;
  bool benchRead = false, benchWrite = false;
};

struct Session {
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Client> client;
};

std::uint32_t sizeArg(const std::string& text, const char* what) {
  const auto s = ndkperf::parseSize(text);
  if (!s || *s == 0 || *s > (64u << 20)) throw SmbError(fmt::format("{} '{}': expected 1 .. 64M", what, text));
  return static_cast<std::uint32_t>(*s);
}

Session open(const SmbArgs& a, const UncPath& u, bool tcp, std::uint32_t slotBytes, unsigned slots) {
  Session s;
  const int timeoutMs = static_cast<int>(a.timeoutS * 1000);
  if (tcp) {
    s.transport = std::make_unique<TcpTransport>(u.host, tcp == a.tcp && u.port ? *u.port : static_cast<std::uint16_t>(a.tcpPort),
                                                 timeoutMs);
  } else {
    SmbdParams p;
    p.rdmaSlots = slots;
    p.rdmaSlotBytes = slotBytes;
    p.timeoutMs = timeoutMs;
    p.firstFpduDelayMs = a.firstFpduDelayMs;
    p.invalidate = !a.noInvalidate;
    s.transport = std::make_unique<SmbdTransport>(u.host, u.port.value_or(kSmbDirectPort), p);
  }
  s.client = std::make_unique<Client>(*s.transport, timeoutMs);
  std::optional<ntlmssp::Credentials> credentials;
  if (!a.user.empty()) credentials = ntlmssp::parseCredentials(a.user);
  s.client->connect(u.host, u.share, credentials);
  return s;
}

std::string transportLine(const Session& s) {
  const char* channel = !s.client->rdma() ? ""
                        : s.transport->rdmaChannel() == smb2::kChannelRdmaV1Invalidate ? ", RDMA channel V1_INVALIDATE"
                                                                                        : ", RDMA channel V1";
  return fmt::format("{} (dialect {}.{}{}{})", s.transport->name(), s.client->dialect() >> 8,
                     (s.client->dialect() >> 4) & 0xF, s.client->dialect() & 0xF ? fmt::format(".{}", s.client->dialect() & 0xF) : "",
                     channel);
}

void report(const SmbArgs& a, const char* what, const Session& s, std::uint64_t bytes, Clock::time_point start) {
  if (!a.verbose) return;
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << fmt::format("{}: {} bytes in {:.3f} s ({:.1f} MB/s) over {}\n", what, bytes, secs,
                           secs > 0 ? bytes / secs / 1e6 : 0.0, transportLine(s));
}

struct BenchResult {
  double mbps = 0, iops = 0;
};

BenchResult benchOnce(const SmbArgs& a, const UncPath& u, bool tcp, bool write, std::uint32_t size) {
  Session s = open(a, u, tcp, size, a.depth);
  const std::uint64_t span = std::max<std::uint64_t>(std::uint64_t{size} * a.depth, 8u << 20) / size * size;
  const std::string name = "ndk-smb-bench.tmp";
  const smb2::FileId f = s.client->open(name, true);
  if (!write)  // something to read: one pass of writes first, not timed
    s.client->run(f, true, size, span, a.depth, [] { return false; });
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(a.benchSeconds);
  const std::uint64_t ops = s.client->run(f, write, size, span, a.depth, [&] { return Clock::now() < end; });
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  s.client->close(f);
  s.client->disconnect();
  return {ops * double(size) / secs / 1e6, ops / secs};
}

int runSmb(const SmbArgs& a, const std::string& action) {
  try {
    if (!a.profile.empty()) ::setenv("OPENNDK_MPA_PROFILE", a.profile.c_str(), 1);
    const UncPath u = parseUnc(a.target);
    TransferOptions o;
    o.chunk = sizeArg(a.chunk, "--chunk");
    o.depth = std::max(1u, a.depth);
    if (action == "bench") {
      const std::uint32_t size = sizeArg(a.benchSize, "-s");
      std::vector<bool> ops;
      if (a.benchWrite || !a.benchRead) ops.push_back(true);
      if (a.benchRead || !a.benchWrite) ops.push_back(false);
      std::cout << fmt::format("{:<12} {:<6} {:>8} {:>6} {:>10} {:>10}\n", "transport", "op", "size", "depth", "MB/s", "IOPS");
      for (bool write : ops) {
        std::vector<BenchResult> r;
        for (bool tcp : a.tcp ? std::vector<bool>{true} : std::vector<bool>{false, true}) {
          r.push_back(benchOnce(a, u, tcp, write, size));
          std::cout << fmt::format("{:<12} {:<6} {:>8} {:>6} {:>10.1f} {:>10.0f}\n", tcp ? "TCP 445" : "SMB Direct",
                                   write ? "write" : "read", ndkperf::sizeLabel(size), a.depth, r.back().mbps, r.back().iops);
        }
        if (r.size() == 2 && r[1].mbps > 0)
          std::cout << fmt::format("{:<12} {:<6} {:>8} {:>6} {:>10.2f}x\n", "ratio", write ? "write" : "read",
                                   ndkperf::sizeLabel(size), a.depth, r[0].mbps / r[1].mbps);
      }
      return kExitOk;
    }
    Session s = open(a, u, a.tcp, o.chunk, o.depth);
    const auto start = Clock::now();
    if (action == "put") {
      report(a, "put", s, s.client->put(a.local, a.remote, o), start);
    } else if (action == "get") {
      report(a, "get", s, s.client->get(a.remote, a.local, o), start);
    } else {
      for (const auto& e : s.client->list(a.dir))
        std::cout << fmt::format("{:>12}  {}{}\n", e.size, e.name, e.attributes & smb2::kAttributeDirectory ? "/" : "");
    }
    s.client->disconnect();
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "ndk smb: error: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace

void addSmbCommand(CLI::App& app, int* exitCode) {
  auto a = std::make_shared<SmbArgs>();
  CLI::App* sub = app.add_subcommand("smb", "SMB2/3 client over SMB Direct (RDMA channels) or TCP: put, get, ls, bench");
  sub->require_subcommand(1);
  sub->add_option("target", a->target, "//HOST[:PORT]/SHARE (PORT: 5445 for SMB Direct, 445 with --tcp)")->required();
  sub->add_flag("--tcp", a->tcp, "SMB2 over plain TCP (port 445), no RDMA");
  sub->add_option("--profile", a->profile, "MPA profile (default, siw-compatible, windows)")
      ->check(CLI::IsMember({"default", "siw-compatible", "windows"}));
  sub->add_option("--first-fpdu-delay", a->firstFpduDelayMs,
                  "ms between the MPA exchange and the SMBD negotiate (siw's passive-side race; the siw-compatible "
                  "profile paces by itself)")
      ->capture_default_str();
  sub->add_option("-U,--user", a->user, "[DOMAIN\\]USER%PASSWORD: NTLMv2 logon (default: guest, empty user name)");
  sub->add_flag("--no-invalidate", a->noInvalidate,
                "SMB2_CHANNEL_RDMA_V1 over one MR instead of RDMA_V1_INVALIDATE over a fast-register MR per request");
  sub->add_option("--chunk", a->chunk, "bytes per READ/WRITE (capped by the server's maximum)")->capture_default_str();
  sub->add_option("-q,--depth", a->depth, "requests in flight")->capture_default_str();
  sub->add_option("--timeout", a->timeoutS, "seconds to wait for any answer")->capture_default_str();
  sub->add_option("--tcp-port", a->tcpPort, "bench: the TCP port of the control run")->capture_default_str();
  sub->add_flag("-v,--verbose", a->verbose, "print bytes, time and transport of a transfer");
  sub->fallthrough();

  CLI::App* put = sub->add_subcommand("put", "copy LOCAL to REMOTE on the share");
  put->add_option("local", a->local)->required();
  put->add_option("remote", a->remote)->required();
  put->callback([a, exitCode] { *exitCode = runSmb(*a, "put"); });
  CLI::App* get = sub->add_subcommand("get", "copy REMOTE on the share to LOCAL");
  get->add_option("remote", a->remote)->required();
  get->add_option("local", a->local)->required();
  get->callback([a, exitCode] { *exitCode = runSmb(*a, "get"); });
  CLI::App* ls = sub->add_subcommand("ls", "list a directory of the share (its root by default)");
  ls->add_option("dir", a->dir);
  ls->callback([a, exitCode] { *exitCode = runSmb(*a, "ls"); });
  CLI::App* bench = sub->add_subcommand("bench", "READ/WRITE throughput over SMB Direct beside TCP 445, same server");
  bench->add_option("-s,--size", a->benchSize, "bytes per request")->capture_default_str();
  bench->add_option("-D,--duration", a->benchSeconds, "seconds per run")->capture_default_str();
  auto* r = bench->add_flag("--read", a->benchRead, "READs only");
  bench->add_flag("--write", a->benchWrite, "WRITEs only")->excludes(r);
  bench->callback([a, exitCode] { *exitCode = runSmb(*a, "bench"); });
}

}  // namespace ndktool
