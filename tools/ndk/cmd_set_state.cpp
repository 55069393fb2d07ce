// ndk set-state -i IFINDEX on|off [--timeout MS] [--json]: OID_NDK_SET_STATE (R159) in every
// running OpenNDK process, through its control endpoint (control_client.h). Each process applies
// the OID to its own emulated NDIS, whose miniport signals NetEventNDKDisable/Enable from a work
// item (R160); a disable completes when every NDK_ADAPTER of the interface in that process is
// closed (R161). The tool reports what each process did and exits 1 if no process has the
// interface or any process failed: it never reports a change that did not happen.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "common.h"
#include "control_client.h"

namespace ndktool {
namespace {

struct SetStateOptions {
  unsigned ifindex = 0;
  std::string state;
  unsigned timeoutMs = 30000;
  bool json = false;
};

int runSetState(const SetStateOptions& o) {
  ::setenv("OPENNDK_CONTROL", "0", 1);  // the tool steers other processes, it does not publish
  auto sel = selectInterfaces(o.ifindex);
  if (!sel) return kExitFailed;
  const bool on = o.state == "on";
  // The processes get the whole timeout to close their adapters; the tool waits a little longer.
  const ControlSweep sweep = askAllProcesses(
      {{"command", "set_state"}, {"ifindex", o.ifindex}, {"enabled", on}, {"timeout_ms", o.timeoutMs}},
      static_cast<int>(o.timeoutMs) + 5000);
  nlohmann::ordered_json out = versionJson();
  out["ifindex"] = o.ifindex;
  out["requested"] = o.state;
  out["processes"] = nlohmann::ordered_json::array();
  out["stale_endpoints_removed"] = sweep.staleRemoved;
  unsigned done = 0, failed = 0;
  for (const ProcessReply& p : sweep.processes) {
    nlohmann::ordered_json row{{"pid", p.pid}};
    if (!p.error.empty()) {
      row["ok"] = false;
      row["error"] = p.error;
    } else {
      row["comm"] = p.reply.value("comm", "");
      row["ok"] = p.reply.value("ok", false);
      for (const char* k : {"ndk_enabled", "open_adapters_before", "open_adapters_after", "forced_closes", "error"})
        if (p.reply.contains(k)) row[k] = p.reply[k];
    }
    (row["ok"].get<bool>() ? done : failed)++;
    out["processes"].push_back(row);
  }
  out["ok"] = done > 0 && failed == 0;
  if (o.json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const auto& r : out["processes"]) {
      const std::string who = fmt::format("pid {} ({})", r["pid"].get<long>(), r.value("comm", "?"));
      if (!r["ok"].get<bool>()) {
        fmt::print("{}: FAILED: {}\n", who, r.value("error", "unknown error"));
      } else if (!on) {
        fmt::print("{}: NDK disabled on interface {}, {} adapter(s) were open, {} closed by the framework after the "
                   "grace period\n",
                   who, o.ifindex, r.value("open_adapters_before", 0u), r.value("forced_closes", 0u));
      } else {
        fmt::print("{}: NDK enabled on interface {}\n", who, o.ifindex);
      }
    }
    for (const auto& s : sweep.staleRemoved) fmt::print("removed stale endpoint {} (process gone)\n", s);
    if (sweep.processes.empty())
      std::cerr << fmt::format(
          "ndk set-state: no running OpenNDK process has a control endpoint in {}: nothing changed "
          "(a process's NDK state is its own; processes started later are not affected)\n",
          sweep.directory);
  }
  return out["ok"].get<bool>() ? kExitOk : kExitFailed;
}

}  // namespace

void addSetStateCommand(CLI::App& app, int* exitCode) {
  auto opts = std::make_shared<SetStateOptions>();
  CLI::App* sub =
      app.add_subcommand("set-state", "Enable or disable NDK on an interface in every OpenNDK process (OID_NDK_SET_STATE)");
  sub->add_option("-i,--interface", opts->ifindex, "Interface index")->required();
  sub->add_option("state", opts->state, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  sub->add_option("--timeout", opts->timeoutMs, "Give each process at most MS milliseconds for the PnP event");
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->callback([opts, exitCode] { *exitCode = runSetState(*opts); });
}

}  // namespace ndktool
