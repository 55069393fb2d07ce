// ndk set-state -i IFINDEX on|off [--timeout MS] [--no-wait]: OID_NDK_SET_STATE (R159). The OID
// returns before the change is signalled (R160); the tool then waits for the PnP event (R161).
#include <fmt/format.h>

#include <iostream>

#include "common.h"

namespace ndktool {
namespace {

struct SetStateOptions {
  unsigned ifindex = 0;
  std::string state;
  unsigned timeoutMs = 30000;
  bool noWait = false;
};

int runSetState(const SetStateOptions& o) {
  auto sel = selectInterfaces(o.ifindex);
  if (!sel) return kExitFailed;
  BOOLEAN on = o.state == "on" ? TRUE : FALSE;
  ULONG read = 0, needed = 0;
  NDIS_STATUS s = OpenNdkSetInterfaceOid(o.ifindex, OID_NDK_SET_STATE, &on, sizeof on, &read, &needed);
  if (s != NDIS_STATUS_SUCCESS) {
    std::cerr << fmt::format("ndk set-state: OID_NDK_SET_STATE failed: {}\n", statusName(s));
    return kExitFailed;
  }
  NDK_HOST_INTERFACE_INFO hi;
  bool expect = on != FALSE;
  if (OpenNdkQueryInterfaceInfo(o.ifindex, &hi) == NDIS_STATUS_SUCCESS && on && hi.NetworkDirect == 0) {
    std::cerr << fmt::format("ndk set-state: *NetworkDirect is 0 on interface {}: NDK stays disabled (R159)\n",
                             o.ifindex);
    expect = false;
  }
  if (!o.noWait) {
    s = OpenNdkWaitInterfaceState(o.ifindex, expect ? TRUE : FALSE, o.timeoutMs);
    if (s != NDIS_STATUS_SUCCESS) {
      std::cerr << fmt::format("ndk set-state: state change not signalled: {}\n", statusName(s));
      return kExitFailed;
    }
  }
  fmt::print("interface {}: NDK {}\n", o.ifindex, expect ? "enabled" : "disabled");
  return expect == (on != FALSE) ? kExitOk : kExitFailed;
}

}  // namespace

void addSetStateCommand(CLI::App& app, int* exitCode) {
  auto opts = std::make_shared<SetStateOptions>();
  CLI::App* sub = app.add_subcommand("set-state", "Enable or disable NDK on an interface (OID_NDK_SET_STATE)");
  sub->add_option("-i,--interface", opts->ifindex, "Interface index")->required();
  sub->add_option("state", opts->state, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  sub->add_option("--timeout", opts->timeoutMs, "Wait at most MS milliseconds for the PnP event");
  sub->add_flag("--no-wait", opts->noWait, "Return as soon as the OID is accepted");
  sub->callback([opts, exitCode] { *exitCode = runSetState(*opts); });
}

}  // namespace ndktool
