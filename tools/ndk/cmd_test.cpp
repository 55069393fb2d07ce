// ndk test --coverage [--json] [--root DIR] [--missing]: which rules R1..R168 of NDKPI.md are cited
// by the test sources (conformance/ and tests/), with a percentage.
//
// A citation is "R" + 1-3 digits, not preceded by a letter or digit and not followed by a digit:
// "R32", "R32_DepthAboveMaxFails", "(R150)" count; "IR32", "R1234", "R0" do not. Ranges
// ("R157–R166") count their two ends only.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "common.h"
#include "control_client.h"

namespace fs = std::filesystem;

namespace ndktool {
namespace {

constexpr int kRuleCount = 168;

struct TestOptions {
  bool coverage = false;
  bool json = false;
  bool missingOnly = false;
  std::string root;
};

bool isSource(const fs::path& p) {
  static const std::set<std::string> kExt = {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".py", ".sh"};
  return kExt.count(p.extension().string()) > 0;
}

void scanText(const std::string& text, const std::string& file, std::map<int, std::map<std::string, int>>* hits) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != 'R') continue;
    if (i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))) continue;
    std::size_t j = i + 1;
    while (j < text.size() && j - i <= 4 && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    const std::size_t digits = j - i - 1;
    if (digits == 0 || digits > 3) continue;
    if (text[i + 1] == '0') continue;  // "R0", "R01": not a rule number
    const int rule = std::atoi(text.substr(i + 1, digits).c_str());
    if (rule >= 1 && rule <= kRuleCount) ++(*hits)[rule][file];
  }
}

std::string defaultRoot() {
  if (const char* e = std::getenv("OPENNDK_SOURCE_DIR")) return e;
#ifdef OPENNDK_SOURCE_DIR
  return OPENNDK_SOURCE_DIR;
#else
  return ".";
#endif
}

int runCoverage(const TestOptions& o) {
  const fs::path root = o.root.empty() ? fs::path(defaultRoot()) : fs::path(o.root);
  std::vector<std::string> dirs;
  for (const char* d : {"conformance", "tests"})
    if (fs::is_directory(root / d)) dirs.push_back(d);
  if (dirs.empty()) {
    std::cerr << fmt::format("ndk test --coverage: neither {0}/conformance nor {0}/tests exists (use --root)\n",
                             root.string());
    return kExitFailed;
  }
  std::map<int, std::map<std::string, int>> hits;
  std::size_t files = 0;
  for (const auto& d : dirs) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root / d, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file() || !isSource(it->path())) continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      ++files;
      scanText(ss.str(), fs::relative(it->path(), root).string(), &hits);
    }
  }
  const int covered = static_cast<int>(hits.size());
  const double pct = 100.0 * covered / kRuleCount;
  std::vector<int> missing;
  for (int r = 1; r <= kRuleCount; ++r)
    if (!hits.count(r)) missing.push_back(r);

  if (o.json) {
    nlohmann::ordered_json j;
    j["root"] = root.string();
    j["directories"] = dirs;
    j["files_scanned"] = files;
    j["total"] = kRuleCount;
    j["covered"] = covered;
    j["percent"] = std::round(pct * 10) / 10;
    nlohmann::ordered_json rules = nlohmann::ordered_json::object();
    for (auto& [r, byFile] : hits) {
      int n = 0;
      nlohmann::ordered_json fl = nlohmann::ordered_json::array();
      for (auto& [f, c] : byFile) {
        n += c;
        fl.push_back(f);
      }
      rules[fmt::format("R{}", r)] = {{"citations", n}, {"files", fl}};
    }
    j["rules"] = rules;
    nlohmann::ordered_json miss = nlohmann::ordered_json::array();
    for (int r : missing) miss.push_back(fmt::format("R{}", r));
    j["missing"] = miss;
    fmt::print("{}\n", withVersion(j).dump(2));
    return kExitOk;
  }
  fmt::print("rule coverage: {}/{} rules cited by tests ({:.1f}%)\n", covered, kRuleCount, pct);
  fmt::print("scanned {} source files under {}/{{{}}}\n", files, root.string(), fmt::join(dirs, ","));
  if (!o.missingOnly) {
    fmt::print("\ncovered:\n");
    for (auto& [r, byFile] : hits) {
      int n = 0;
      for (auto& [f, c] : byFile) n += c;
      fmt::print("  R{:<4} {:>3} citation(s) in {} file(s)\n", r, n, byFile.size());
    }
  }
  fmt::print("\nmissing ({}):", missing.size());
  for (std::size_t k = 0; k < missing.size(); ++k) fmt::print("{}R{}", k % 16 ? " " : "\n  ", missing[k]);
  fmt::print("\n");
  return kExitOk;
}

}  // namespace

void addTestCommand(CLI::App& app, int* exitCode) {
  auto opts = std::make_shared<TestOptions>();
  CLI::App* sub = app.add_subcommand("test", "Test reports (only --coverage for now; the suites run with ctest)");
  sub->add_flag("--coverage", opts->coverage, "Rule-coverage report: which of R1..R168 the tests cite");
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->add_flag("--missing", opts->missingOnly, "Text output: list only the rules without a test");
  sub->add_option("--root", opts->root, "Source tree to scan (default: the tree ndk was built from)");
  sub->callback([sub, opts, exitCode] {
    if (!opts->coverage) {
      std::cerr << "ndk test: nothing to do: give --coverage\n\n" << sub->help();
      *exitCode = kExitUsage;
      return;
    }
    *exitCode = runCoverage(*opts);
  });
}

}  // namespace ndktool
