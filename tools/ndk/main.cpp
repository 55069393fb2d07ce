// ndk: the OpenNDK management tool (docs/tools.md).
#include <fmt/format.h>

#include <ndk/openndk.h>

#include <iostream>

#include "common.h"

int main(int argc, char** argv) {
  CLI::App app{"ndk - OpenNDK management tool (NDKPI over a software iWARP RNIC)"};
  app.require_subcommand(1);
  // `ndk --version`: the library's version (the tool is built from the same tree), its commit and
  // the NDKPI versions an adapter can be opened with.
  const OPENNDK_VERSION_INFO* v = OpenNdkGetVersion();
  std::string ndkpi;
  for (unsigned k = 0; k < v->NdkpiVersionCount; ++k)
    ndkpi += fmt::format("{}{}.{}", k ? " " : "", v->NdkpiVersions[k][0], v->NdkpiVersions[k][1]);
  app.set_version_flag("--version", fmt::format("ndk (OpenNDK) {}\ncommit {}\nNDKPI versions {}", v->VersionString,
                                                v->GitCommit, ndkpi));
  int exitCode = ndktool::kExitOk;
  ndktool::addInfoCommand(app, &exitCode);
  ndktool::addStatCommand(app, &exitCode);
  ndktool::addSetStateCommand(app, &exitCode);
  ndktool::addTestCommand(app, &exitCode);
  std::string commandLine;
  for (int i = 0; i < argc; ++i) commandLine += (i ? " " : "") + std::string(argv[i]);
  ndktool::addPingCommand(app, &exitCode);
  ndktool::addPerfCommand(app, &exitCode, commandLine);
  ndktool::addSmbCommand(app, &exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "ndk: error: " << e.what() << "\n\n";
    const CLI::App* failed = &app;
    for (const CLI::App* sub : app.get_subcommands()) failed = sub;
    std::cerr << failed->help();
    return ndktool::kExitUsage;
  }
  return exitCode;
}
