// Hooks for subcommands other issues implement: they print "not built yet" and exit 2.
#include <fmt/format.h>

#include "common.h"

namespace ndktool {

void addStubCommands(CLI::App& app, int* exitCode) {
  for (auto [name, what] : {std::pair{"ping", "Connect to a peer and exchange messages (not built yet)"},
                            std::pair{"perf", "Bandwidth and latency benchmarks (not built yet)"}}) {
    CLI::App* sub = app.add_subcommand(name, what);
    sub->allow_extras();
    std::string n = name;
    sub->callback([n, exitCode] {
      fmt::print(stderr, "ndk {}: not built yet\n", n);
      *exitCode = kExitUsage;
    });
  }
}

}  // namespace ndktool
