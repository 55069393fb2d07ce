// Shared helpers of the ndk subcommands: status names, address and flag formatting, JSON.
#pragma once
#include <ndk/ndk.h>
#include <ndk/ndk_host.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ndktool {

// Exit statuses: 0 success, 1 the operation failed, 2 bad usage (CLI parse errors too).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

std::string statusName(NTSTATUS s);
std::string addressString(const SOCKADDR_INET& a);  // "127.0.0.1", "[::1]:4791" with a port
std::vector<std::string> adapterFlagNames(ULONG flags);
std::string technologyName(int t);
std::string hex(unsigned long long v, int width = 0);

nlohmann::ordered_json adapterInfoJson(const NDK_ADAPTER_INFO& info);
nlohmann::ordered_json capabilitiesJson(const NDIS_NDK_CAPABILITIES& caps);
nlohmann::ordered_json headerJson(const NDIS_OBJECT_HEADER& h);

// The interfaces a command works on: all NDK-capable ones, or the one given with -i (which must
// be NDK-capable; otherwise a message and std::nullopt).
std::optional<std::vector<NET_IFINDEX>> selectInterfaces(const std::optional<unsigned>& ifindex);

// Subcommand registration; each returns through *exitCode when it runs.
void addInfoCommand(CLI::App& app, int* exitCode);
void addStatCommand(CLI::App& app, int* exitCode);
void addSetStateCommand(CLI::App& app, int* exitCode);
void addTestCommand(CLI::App& app, int* exitCode);
void addPingCommand(CLI::App& app, int* exitCode);
void addPerfCommand(CLI::App& app, int* exitCode, const std::string& commandLine);
void addSmbCommand(CLI::App& app, int* exitCode);

}  // namespace ndktool
