// ndk info [--json] [--config] [-i IFINDEX]: every NDK-capable interface with its addresses, NDK
// state, NDK_ADAPTER_INFO (flags decoded) and NDIS_NDK_CAPABILITIES; --config adds the tunables.
#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <iostream>

#include "common.h"
#include "control_client.h"

namespace ndktool {
namespace {

struct InfoOptions {
  bool json = false;
  bool config = false;
  std::optional<unsigned> ifindex;
};

// NDK_ADAPTER_INFO as a consumer sees it: from NdkQueryAdapterInfo on a fresh instance when NDK is
// enabled, else the NdkInfo the miniport reported with its capabilities (R158).
bool adapterInfo(NET_IFINDEX i, bool enabled, NDK_ADAPTER_INFO* info, std::string* source) {
  if (enabled) {
    NDK_ADAPTER* a = nullptr;
    if (OpenNdkOpenAdapter(i, nullptr, &a) == NDIS_STATUS_SUCCESS) {
      ULONG size = sizeof *info;
      NTSTATUS s = a->Dispatch->NdkQueryAdapterInfo(a, info, &size);
      OpenNdkCloseAdapter(a);
      if (s == STATUS_SUCCESS) {
        *source = "NdkQueryAdapterInfo";
        return true;
      }
    }
  }
  NDIS_NDK_CAPABILITIES caps;
  if (OpenNdkQueryInterfaceCapabilities(i, &caps, info) != NDIS_STATUS_SUCCESS) return false;
  *source = "NDIS_NDK_CAPABILITIES.NdkInfo";
  return true;
}

nlohmann::ordered_json interfaceJson(NET_IFINDEX i) {
  nlohmann::ordered_json j;
  NDK_HOST_INTERFACE_INFO hi;
  if (OpenNdkQueryInterfaceInfo(i, &hi) != NDIS_STATUS_SUCCESS) return j;
  j["ifindex"] = hi.InterfaceIndex;
  j["name"] = hi.Name;
  j["ndk_enabled"] = hi.NdkEnabled != FALSE;
  j["provider_enabled"] = hi.ProviderEnabled != FALSE;
  j["network_direct"] = hi.NetworkDirect;
  j["open_adapters"] = hi.OpenAdapterCount;
  j["pending_events"] = hi.PendingEvents;
  ULONG count = 0;
  OpenNdkQueryInterfaceAddresses(i, nullptr, 0, &count);
  std::vector<SOCKADDR_INET> addrs(count);
  if (count) OpenNdkQueryInterfaceAddresses(i, addrs.data(), count, &count);
  j["addresses"] = nlohmann::ordered_json::array();
  for (ULONG k = 0; k < count && k < addrs.size(); ++k) j["addresses"].push_back(addressString(addrs[k]));
  NDK_ADAPTER_INFO info{};
  std::string source;
  if (adapterInfo(i, hi.NdkEnabled != FALSE, &info, &source)) {
    j["adapter_info"] = adapterInfoJson(info);
    j["adapter_info_source"] = source;
  }
  NDIS_NDK_CAPABILITIES caps;
  if (OpenNdkQueryInterfaceCapabilities(i, &caps, nullptr) == NDIS_STATUS_SUCCESS) j["capabilities"] = capabilitiesJson(caps);
  return j;
}

nlohmann::ordered_json configJson() {
  ULONG n = OpenNdkQueryTunables(nullptr, 0);
  std::vector<NDK_HOST_TUNABLE> rows(n);
  n = OpenNdkQueryTunables(rows.data(), n);
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (ULONG k = 0; k < n && k < rows.size(); ++k) {
    const auto& r = rows[k];
    nlohmann::ordered_json row{{"name", r.Name}, {"value", r.Value}, {"default", r.DefaultValue}, {"unit", r.Unit},
                               {"description", r.Description}};
    // The library returns the value in force; an environment value that differs from it was
    // rejected (logged by the library) and the default is used instead.
    std::string env = "OPENNDK_";
    for (const char* c = r.Name; *c; ++c) env += static_cast<char>(std::toupper(static_cast<unsigned char>(*c)));
    if (const char* e = std::getenv(env.c_str()); e && std::string_view(e) != r.Value) {
      row["env"] = env;
      row["env_rejected"] = e;
    }
    arr.push_back(row);
  }
  return arr;
}

void printInterface(const nlohmann::ordered_json& j) {
  fmt::print("interface {} ({})\n", j["ifindex"].get<unsigned>(), j["name"].get<std::string>());
  fmt::print("  {:<24}{}\n", "ndk_state:", j["ndk_enabled"].get<bool>() ? "enabled" : "disabled");
  fmt::print("  {:<24}{}\n", "provider_state:", j["provider_enabled"].get<bool>() ? "enabled" : "disabled");
  fmt::print("  {:<24}{}\n", "*NetworkDirect:", j["network_direct"].get<unsigned>());
  std::string addrs;
  for (const auto& a : j["addresses"]) addrs += (addrs.empty() ? "" : ", ") + a.get<std::string>();
  fmt::print("  {:<24}{}\n", "addresses:", addrs.empty() ? "(none)" : addrs);
  fmt::print("  {:<24}{} (all OpenNDK processes)\n", "open_adapters:", j["open_adapters"].get<unsigned>());
  for (const auto& p : j["processes"])
    fmt::print("    pid {:<8} {:<16} {} adapter(s), ndk {}\n", p["pid"].get<long>(), p["comm"].get<std::string>(),
               p["open_adapters"].get<unsigned>(), p["ndk_enabled"].get<bool>() ? "enabled" : "disabled");
  if (j.contains("adapter_info")) {
    const auto& ai = j["adapter_info"];
    fmt::print("  NDK_ADAPTER_INFO (from {}):\n", j["adapter_info_source"].get<std::string>());
    for (const auto& [k, v] : ai.items()) {
      if (k == "AdapterFlagNames" || k == "RdmaTechnologyName") continue;
      std::string val;
      if (k == "Version") {
        val = fmt::format("{}.{}", v["Major"].get<unsigned>(), v["Minor"].get<unsigned>());
      } else if (k == "AdapterFlags") {
        std::string names;
        for (const auto& n : ai["AdapterFlagNames"]) names += (names.empty() ? "" : " | ") + n.get<std::string>();
        val = fmt::format("{} ({})", hex(v.get<std::uint64_t>(), 8), names.empty() ? "none" : names);
      } else if (k == "RdmaTechnology") {
        val = fmt::format("{} ({})", ai["RdmaTechnologyName"].get<std::string>(), v.get<int>());
      } else if (k == "VendorId" || k == "DeviceId") {
        val = hex(v.get<std::uint64_t>(), 8);
      } else {
        val = v.dump();
      }
      fmt::print("    {:<28}{}\n", k + ":", val);
    }
  }
  if (j.contains("capabilities")) {
    const auto& c = j["capabilities"];
    fmt::print("  NDIS_NDK_CAPABILITIES:\n");
    for (const auto& [k, v] : c.items()) {
      std::string val = v.dump();
      if (k == "Header")
        val = fmt::format("Type {} Revision {} Size {}", hex(v["Type"].get<unsigned>()), v["Revision"].get<unsigned>(),
                          v["Size"].get<unsigned>());
      else if (k == "MissingCounterMask")
        val = v.get<std::uint64_t>() ? hex(v.get<std::uint64_t>()) : "0x0 (every counter supported)";
      fmt::print("    {:<28}{}\n", k + ":", val);
    }
  }
}

// Adds what every live OpenNDK process reports for interface j["ifindex"]: its open adapters
// are summed into open_adapters (this process's own are already there) and listed per process.
void addProcesses(nlohmann::ordered_json& j, const ControlSweep& sweep) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  unsigned total = j["open_adapters"].get<unsigned>();
  for (const ProcessReply& p : sweep.processes) {
    if (!p.reply.is_object() || !p.reply.contains("interfaces")) continue;
    for (const auto& i : p.reply["interfaces"]) {
      if (i.value("ifindex", 0u) != j["ifindex"].get<unsigned>()) continue;
      const unsigned open = i.value("open_adapters", 0u);
      total += open;
      rows.push_back({{"pid", p.pid}, {"comm", p.reply.value("comm", "")}, {"open_adapters", open},
                      {"ndk_enabled", i.value("ndk_enabled", false)}});
    }
  }
  j["open_adapters"] = total;
  j["processes"] = rows;
}

int runInfo(const InfoOptions& o) {
  // This command's own adapter opens (NdkQueryAdapterInfo) are momentary: no control endpoint.
  ::setenv("OPENNDK_CONTROL", "0", 1);
  auto sel = selectInterfaces(o.ifindex);
  if (!sel) return kExitFailed;
  const ControlSweep sweep = askAllProcesses({{"command", "status"}}, 5000);
  nlohmann::ordered_json out = versionJson();
  out["runtime_dir"] = sweep.directory;
  out["interfaces"] = nlohmann::ordered_json::array();
  for (NET_IFINDEX i : *sel) {
    auto j = interfaceJson(i);
    if (j.is_null()) continue;
    addProcesses(j, sweep);
    out["interfaces"].push_back(j);
  }
  if (o.config) out["config"] = configJson();
  if (o.json) {
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  if (out["interfaces"].empty()) fmt::print("no NDK-capable interface\n");
  bool first = true;
  for (const auto& j : out["interfaces"]) {
    if (!first) fmt::print("\n");
    first = false;
    printInterface(j);
  }
  if (o.config) {
    fmt::print("\ntunables (environment OPENNDK_<NAME> overrides the default):\n");
    fmt::print("  {:<24}{:<16}{:<16}{:<8}{}\n", "name", "value", "default", "unit", "description");
    bool anyRejected = false;
    for (const auto& t : out["config"]) {
      const bool rejected = t.contains("env_rejected");
      anyRejected = anyRejected || rejected;
      fmt::print("  {:<24}{:<16}{:<16}{:<8}{}\n", t["name"].get<std::string>(),
                 t["value"].get<std::string>() + (rejected ? " (!)" : ""), t["default"].get<std::string>(),
                 t["unit"].get<std::string>(), t["description"].get<std::string>());
      if (rejected)
        fmt::print("  {:<24}(!) {}='{}' was rejected: the value above is in force\n", "",
                   t["env"].get<std::string>(), t["env_rejected"].get<std::string>());
    }
    if (anyRejected) fmt::print("  (!): an environment value was rejected; the library logged a warning\n");
  }
  return kExitOk;
}

}  // namespace

void addInfoCommand(CLI::App& app, int* exitCode) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "List NDK-capable interfaces, NDK_ADAPTER_INFO and capabilities");
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->add_flag("--config", opts->config, "Also print the tunable table");
  sub->add_option("-i,--interface", opts->ifindex, "Only this interface index");
  sub->callback([opts, exitCode] { *exitCode = runInfo(*opts); });
}

}  // namespace ndktool
