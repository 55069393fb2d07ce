// ndk stat [--json | --prometheus] [--per-process] [--watch [SECONDS] [--count N]] [-i IFINDEX]:
// OID_NDK_STATISTICS (R162), OID_NDK_CONNECTIONS (R163) and OID_NDK_LOCAL_ENDPOINTS (R164) of each
// interface, summed over every live OpenNDK process (the control plane, control_client.h) and
// this one.
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "common.h"
#include "control_client.h"

namespace ndktool {
namespace {

struct StatOptions {
  bool json = false;
  bool prometheus = false;
  bool perProcess = false;
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

// Folds every process's report of interface j["ifindex"] into j: counters summed, connection and
// endpoint lists appended, ndk_enabled true only if it is enabled everywhere, and one row per
// process in j["per_process"].
void mergeProcesses(nlohmann::ordered_json& j, const ControlSweep& sweep) {
  const unsigned ifindex = j["ifindex"].get<unsigned>();
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::uint64_t rejected = 0;
  bool enabled = j["ndk_enabled"].get<bool>();
  auto& st = j["statistics"];
  auto& conns = j["connections"];
  auto& eps = j["local_endpoints"];
  for (const ProcessReply& p : sweep.processes) {
    if (!p.reply.is_object() || !p.reply.value("ok", false) || !p.reply.contains("interfaces")) continue;
    for (const auto& i : p.reply["interfaces"]) {
      if (i.value("ifindex", 0u) != ifindex) continue;
      enabled = enabled && i.value("ndk_enabled", false);
      rejected += i.value("rejected_calls", std::uint64_t{0});
      if (st.contains("counters") && i.contains("counters") && i["counters"].is_object())
        for (const auto& [k, v] : i["counters"].items())
          if (st["counters"].contains(k))
            st["counters"][k] = st["counters"][k].get<std::uint64_t>() + v.get<std::uint64_t>();
      if (conns.contains("entries") && i.contains("connections"))
        for (const auto& e : i["connections"]) conns["entries"].push_back(e);
      if (eps.contains("entries") && i.contains("local_endpoints"))
        for (const auto& e : i["local_endpoints"]) eps["entries"].push_back(e);
      rows.push_back({{"pid", p.pid},
                      {"comm", p.reply.value("comm", "")},
                      {"ndk_enabled", i.value("ndk_enabled", false)},
                      {"open_adapters", i.value("open_adapters", 0u)},
                      {"rejected_calls", i.value("rejected_calls", std::uint64_t{0})},
                      {"counters", i.value("counters", nlohmann::json::object())},
                      {"connections", i.contains("connections") ? i["connections"].size() : 0},
                      {"local_endpoints", i.contains("local_endpoints") ? i["local_endpoints"].size() : 0}});
    }
  }
  if (conns.contains("entries")) conns["count"] = conns["entries"].size();
  if (eps.contains("entries")) eps["count"] = eps["entries"].size();
  j["ndk_enabled"] = enabled;
  j["rejected_calls"] = rejected;
  j["processes"] = rows.size();
  j["per_process"] = rows;
}

void printPerProcess(const nlohmann::ordered_json& j) {
  fmt::print("  per process:\n");
  fmt::print("    {:>8}  {:<16}{:>5}{:>9}{:>9}{:>9}{:>7}{:>10}{:>16}{:>16}\n", "pid", "comm", "ndk", "adapters",
             "connects", "accepts", "active", "rejected", "in_octets", "out_octets");
  for (const auto& p : j["per_process"]) {
    const auto& c = p["counters"];
    auto n = [&](const char* k) { return c.is_object() ? c.value(k, std::uint64_t{0}) : std::uint64_t{0}; };
    fmt::print("    {:>8}  {:<16}{:>5}{:>9}{:>9}{:>9}{:>7}{:>10}{:>16}{:>16}\n", p["pid"].get<long>(),
               p["comm"].get<std::string>().substr(0, 15), p["ndk_enabled"].get<bool>() ? "on" : "off",
               p["open_adapters"].get<unsigned>(), n("Connect"), n("Accept"), n("ActiveConnection"),
               p["rejected_calls"].get<std::uint64_t>(), n("RDMAInOctets"), n("RDMAOutOctets"));
  }
}

// Prometheus text exposition format 0.0.4 (hand-written: see docs/tools.md for why not
// prometheus-cpp). Names follow the node_exporter conventions: *_total for counters.
struct PromMetric {
  const char* counter;  // OID_NDK_STATISTICS field
  const char* name;
  const char* type;
  const char* help;
};
const PromMetric kPromMetrics[] = {
    {"Connect", "openndk_connect_total", "counter", "NDK connections initiated (OID_NDK_STATISTICS Connect)"},
    {"Accept", "openndk_accept_total", "counter", "NDK connections accepted (OID_NDK_STATISTICS Accept)"},
    {"ConnectFailure", "openndk_connect_failure_total", "counter", "NDK connection attempts that failed"},
    {"ConnectionError", "openndk_connection_error_total", "counter", "NDK connections ended by an error"},
    {"ActiveConnection", "openndk_active_connections", "gauge", "NDK connections now established"},
    {"CQError", "openndk_cq_error_total", "counter", "Completion queue errors (overrun...)"},
    {"RDMAInOctets", "openndk_rdma_in_octets_total", "counter", "RDMA payload octets received"},
    {"RDMAOutOctets", "openndk_rdma_out_octets_total", "counter", "RDMA payload octets sent"},
    {"RDMAInFrames", "openndk_rdma_in_frames_total", "counter", "RDMA frames received"},
    {"RDMAOutFrames", "openndk_rdma_out_frames_total", "counter", "RDMA frames sent"},
};

std::string promLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void printPrometheus(const nlohmann::ordered_json& out, bool perProcess) {
  fmt::print("# HELP openndk_build_info OpenNDK version of the ndk tool\n# TYPE openndk_build_info gauge\n");
  fmt::print("openndk_build_info{{version=\"{}\",commit=\"{}\"}} 1\n", out["openndk_version"].get<std::string>(),
             out["git_commit"].get<std::string>());
  auto labels = [](const nlohmann::ordered_json& i) {
    return fmt::format("ifindex=\"{}\",interface=\"{}\"", i["ifindex"].get<unsigned>(),
                       promLabel(i["name"].get<std::string>()));
  };
  for (const PromMetric& m : kPromMetrics) {
    fmt::print("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
    for (const auto& i : out["interfaces"]) {
      if (!i["statistics"].contains("counters")) continue;
      if (perProcess) {
        for (const auto& p : i["per_process"])
          if (p["counters"].is_object())
            fmt::print("{}{{{},pid=\"{}\"}} {}\n", m.name, labels(i), p["pid"].get<long>(),
                       p["counters"].value(m.counter, std::uint64_t{0}));
      } else {
        fmt::print("{}{{{}}} {}\n", m.name, labels(i), i["statistics"]["counters"][m.counter].get<std::uint64_t>());
      }
    }
  }
  fmt::print("# HELP openndk_rejected_calls_total NDK calls rejected for bad input\n"
             "# TYPE openndk_rejected_calls_total counter\n");
  for (const auto& i : out["interfaces"])
    fmt::print("openndk_rejected_calls_total{{{}}} {}\n", labels(i), i["rejected_calls"].get<std::uint64_t>());
  fmt::print("# HELP openndk_processes OpenNDK processes with the interface in their emulated NDIS\n"
             "# TYPE openndk_processes gauge\n");
  for (const auto& i : out["interfaces"])
    fmt::print("openndk_processes{{{}}} {}\n", labels(i), i["processes"].get<std::size_t>());
  fmt::print("# HELP openndk_ndk_enabled 1 if NDK is enabled on the interface in every process\n"
             "# TYPE openndk_ndk_enabled gauge\n");
  for (const auto& i : out["interfaces"])
    fmt::print("openndk_ndk_enabled{{{}}} {}\n", labels(i), i["ndk_enabled"].get<bool>() ? 1 : 0);
}

void printStat(const nlohmann::ordered_json& j, bool perProcess) {
  fmt::print("interface {} ({}) ndk {}, {} OpenNDK process(es)\n", j["ifindex"].get<unsigned>(),
             j["name"].get<std::string>(), j["ndk_enabled"].get<bool>() ? "enabled" : "disabled",
             j["processes"].get<std::size_t>());
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
  fmt::print("  {:<22}{}\n", "rejected calls:", j["rejected_calls"].get<std::uint64_t>());
  if (perProcess) printPerProcess(j);
}

int runStat(const StatOptions& o) {
  ::setenv("OPENNDK_CONTROL", "0", 1);  // the tool reads, it does not publish
  std::signal(SIGINT, [](int) { g_stop = 1; });
  for (unsigned round = 0;; ++round) {
    auto sel = selectInterfaces(o.ifindex);
    if (!sel) return kExitFailed;
    const ControlSweep sweep = askAllProcesses({{"command", "status"}}, 5000);
    nlohmann::ordered_json out = versionJson();
    out["runtime_dir"] = sweep.directory;
    out["processes"] = nlohmann::ordered_json::array();
    for (const ProcessReply& p : sweep.processes) {
      nlohmann::ordered_json row{{"pid", p.pid}, {"socket", p.socket}};
      if (p.reply.is_object()) row["comm"] = p.reply.value("comm", "");
      if (!p.error.empty()) row["error"] = p.error;
      out["processes"].push_back(row);
    }
    out["stale_endpoints_removed"] = sweep.staleRemoved;
    out["interfaces"] = nlohmann::ordered_json::array();
    for (NET_IFINDEX i : *sel) {
      auto j = interfaceStat(i);
      if (j.is_null()) continue;
      mergeProcesses(j, sweep);
      if (!o.perProcess) j.erase("per_process");
      out["interfaces"].push_back(j);
    }
    if (o.prometheus) {
      printPrometheus(out, o.perProcess);
    } else if (o.json) {
      fmt::print("{}\n", out.dump(o.watch > 0 ? -1 : 2));  // one line per round when watching
    } else {
      if (o.watch > 0) fmt::print("--- round {}\n", round + 1);
      for (const auto& p : out["processes"])
        if (p.contains("error"))
          fmt::print("process {}: no status ({})\n", p["pid"].get<long>(), p["error"].get<std::string>());
      for (const auto& j : out["interfaces"]) printStat(j, o.perProcess);
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
  auto* json = sub->add_flag("--json", opts->json, "Print JSON (one line per round with --watch)");
  sub->add_flag("--prometheus", opts->prometheus, "Print the counters in the Prometheus text format")->excludes(json);
  sub->add_flag("--per-process", opts->perProcess, "Also show each OpenNDK process's own counters");
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
