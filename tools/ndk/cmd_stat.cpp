// ndk stat [--json] [--watch [SECONDS] [--count N]] [-i IFINDEX]: OID_NDK_STATISTICS (R162),
// OID_NDK_CONNECTIONS (R163) and OID_NDK_LOCAL_ENDPOINTS (R164) of each interface.
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "common.h"

namespace ndktool {
namespace {

struct StatOptions {
  bool json = false;
  double watch = 0;
  unsigned count = 0;  // with --watch: stop after N rounds (0 = until interrupted)
  std::optional<unsigned> ifindex;
};

volatile std::sig_atomic_t g_stop = 0;

// Query with the size protocol: ask with an empty buffer, allocate BytesNeeded, ask again.
NDIS_STATUS queryVariable(NET_IFINDEX i, NDIS_OID oid, std::vector<unsigned char>* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    ULONG written = 0, needed = 0;
    NDIS_STATUS s = OpenNdkQueryInterfaceOid(i, oid, out->empty() ? nullptr : out->data(), static_cast<ULONG>(out->size()),
                                         &written, &needed);
    if (s == NDIS_STATUS_BUFFER_TOO_SHORT) {
      out->assign(needed, 0);
      continue;
    }
    if (s == NDIS_STATUS_SUCCESS) out->resize(written);
    return s;
  }
  return NDIS_STATUS_BUFFER_TOO_SHORT;
}

const char* const kCounterNames[] = {"Connect", "Accept", "ConnectFailure", "ConnectionError", "ActiveConnection"};
const char* const kTailNames[] = {"CQError", "RDMAInOctets", "RDMAOutOctets", "RDMAInFrames", "RDMAOutFrames"};

nlohmann::ordered_json statisticsJson(NET_IFINDEX i) {
  NDIS_NDK_STATISTICS_INFO st;
  std::memset(&st, 0, sizeof st);
  ULONG written = 0, needed = 0;
  NDIS_STATUS s = OpenNdkQueryInterfaceOid(i, OID_NDK_STATISTICS, &st, sizeof st, &written, &needed);
  if (s != NDIS_STATUS_SUCCESS) return {{"status", statusName(s)}};
  const ULONG64* c = &st.CounterSet.Connect;
  nlohmann::ordered_json counters;
  for (int k = 0; k < 5; ++k) counters[kCounterNames[k]] = c[k];
  for (int k = 0; k < 5; ++k) counters[kTailNames[k]] = c[25 + k];
  bool reservedZero = true;
  for (int k = 5; k < 25; ++k) reservedZero = reservedZero && c[k] == 0;
  return {{"status", statusName(s)}, {"header", headerJson(st.Header)}, {"flags", st.Flags},
          {"counters", counters}, {"reserved_zero", reservedZero}};
}

template <class List, class Entry, class F>
nlohmann::ordered_json listJson(NET_IFINDEX i, NDIS_OID oid, std::size_t entriesOffset, F entryJson) {
  std::vector<unsigned char> buf;
  NDIS_STATUS s = queryVariable(i, oid, &buf);
  if (s != NDIS_STATUS_SUCCESS || buf.size() < entriesOffset) return {{"status", statusName(s)}};
  List head;
  std::memcpy(&head, buf.data(), std::min(sizeof head, buf.size()));
  nlohmann::ordered_json j{{"status", statusName(s)}, {"header", headerJson(head.Header)}, {"flags", head.Flags},
                           {"count", head.Count}};
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (ULONG k = 0; k < head.Count && entriesOffset + (k + 1) * sizeof(Entry) <= buf.size(); ++k) {
    Entry e;
    std::memcpy(&e, buf.data() + entriesOffset + k * sizeof(Entry), sizeof e);
    entries.push_back(entryJson(e));
  }
  j["entries"] = entries;
  return j;
}

nlohmann::ordered_json interfaceStat(NET_IFINDEX i) {
  NDK_HOST_INTERFACE_INFO hi;
  nlohmann::ordered_json j;
  if (OpenNdkQueryInterfaceInfo(i, &hi) != NDIS_STATUS_SUCCESS) return j;
  j["ifindex"] = hi.InterfaceIndex;
  j["name"] = hi.Name;
  j["ndk_enabled"] = hi.NdkEnabled != FALSE;
  j["statistics"] = statisticsJson(i);
  {
    auto r = listJson<NDIS_NDK_CONNECTIONS, NDIS_NDK_CONNECTION_ENTRY>(
        i, OID_NDK_CONNECTIONS, FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections), [](const NDIS_NDK_CONNECTION_ENTRY& e) {
          return nlohmann::ordered_json{{"local", addressString(e.Local)}, {"remote", addressString(e.Remote)},
                                        {"user_mode_owner", e.UserModeOwner != FALSE}, {"owner_pid", e.OwnerPid}};
        });
    j["connections"] = r;
  }
  {
    auto r = listJson<NDIS_NDK_LOCAL_ENDPOINTS, NDIS_NDK_LOCAL_ENDPOINT_ENTRY>(
        i, OID_NDK_LOCAL_ENDPOINTS, FIELD_OFFSET(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints),
        [](const NDIS_NDK_LOCAL_ENDPOINT_ENTRY& e) {
          return nlohmann::ordered_json{{"local", addressString(e.Local)}, {"listener", e.Listener != FALSE},
                                        {"user_mode_owner", e.UserModeOwner != FALSE}, {"owner_pid", e.OwnerPid}};
        });
    j["local_endpoints"] = r;
  }
  return j;
}

void printStat(const nlohmann::ordered_json& j) {
  fmt::print("interface {} ({}) ndk {}\n", j["ifindex"].get<unsigned>(), j["name"].get<std::string>(),
             j["ndk_enabled"].get<bool>() ? "enabled" : "disabled");
  const auto& st = j["statistics"];
  if (st.contains("counters")) {
    fmt::print("  OID_NDK_STATISTICS:\n");
    for (const auto& [k, v] : st["counters"].items()) fmt::print("    {:<20}{}\n", k + ":", v.get<std::uint64_t>());
  } else {
    fmt::print("  OID_NDK_STATISTICS: {}\n", st["status"].get<std::string>());
  }
  const auto& c = j["connections"];
  if (c.contains("count")) {
    fmt::print("  OID_NDK_CONNECTIONS: {} connection(s)\n", c["count"].get<unsigned>());
    for (const auto& e : c["entries"])
      fmt::print("    {} -> {}{}\n", e["local"].get<std::string>(), e["remote"].get<std::string>(),
                 e["user_mode_owner"].get<bool>() ? fmt::format(" (user mode, pid {})", e["owner_pid"].get<unsigned>())
                                                  : "");
  } else {
    fmt::print("  OID_NDK_CONNECTIONS: {}\n", c["status"].get<std::string>());
  }
  const auto& l = j["local_endpoints"];
  if (l.contains("count")) {
    fmt::print("  OID_NDK_LOCAL_ENDPOINTS: {} endpoint(s)\n", l["count"].get<unsigned>());
    for (const auto& e : l["entries"])
      fmt::print("    {} {}\n", e["local"].get<std::string>(), e["listener"].get<bool>() ? "listener" : "shared endpoint");
  } else {
    fmt::print("  OID_NDK_LOCAL_ENDPOINTS: {}\n", l["status"].get<std::string>());
  }
}

int runStat(const StatOptions& o) {
  std::signal(SIGINT, [](int) { g_stop = 1; });
  for (unsigned round = 0;; ++round) {
    auto sel = selectInterfaces(o.ifindex);
    if (!sel) return kExitFailed;
    nlohmann::ordered_json out;
    out["interfaces"] = nlohmann::ordered_json::array();
    for (NET_IFINDEX i : *sel) {
      auto j = interfaceStat(i);
      if (!j.is_null()) out["interfaces"].push_back(j);
    }
    if (o.json) {
      fmt::print("{}\n", out.dump(o.watch > 0 ? -1 : 2));  // one line per round when watching
    } else {
      if (o.watch > 0) fmt::print("--- round {}\n", round + 1);
      for (const auto& j : out["interfaces"]) printStat(j);
    }
    std::fflush(stdout);
    if (o.watch <= 0 || g_stop || (o.count && round + 1 >= o.count)) break;
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.watch);
    while (!g_stop && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a display interval, not synchronisation
    if (g_stop) break;
  }
  return kExitOk;
}

}  // namespace

void addStatCommand(CLI::App& app, int* exitCode) {
  auto opts = std::make_shared<StatOptions>();
  CLI::App* sub = app.add_subcommand("stat", "NDK statistics, connections and local endpoints (NDK OIDs)");
  sub->add_flag("--json", opts->json, "Print JSON (one line per round with --watch)");
  sub->add_option("--watch", opts->watch, "Repeat every SECONDS (default 1) until interrupted")
      ->expected(0, 1)
      ->default_str("1")
      ->check(CLI::PositiveNumber);
  sub->add_option("--count", opts->count, "With --watch: stop after N rounds")->check(CLI::PositiveNumber);
  sub->add_option("-i,--interface", opts->ifindex, "Only this interface index");
  sub->callback([sub, opts, exitCode] {
    if (opts->count && opts->watch <= 0) {
      std::cerr << "ndk stat: --count needs --watch\n\n" << sub->help();
      *exitCode = kExitUsage;
      return;
    }
    *exitCode = runStat(*opts);
  });
}

}  // namespace ndktool
