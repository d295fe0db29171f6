// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Sanitizer builds (`make test-asan`, `make test-tsan`; docs/sanitizers.md)
// write every report to a file: the options' log_path. The harpc processes a
// test starts are instrumented too and inherit this process's options, but a
// report there ends only that child (often killed by the test a moment later
// anyway), not the test. So before main() their log_path gets this process's
// id in it, and after the last test any report of a child of this process
// fails the test binary, with the report in its output.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace harpc::testing {
namespace {

constexpr const char* kOptionVariables[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"};

// The value of `key` in "k1=v1:k2=v2", or "".
std::string OptionValue(const std::string& options, const std::string& key) {
  std::istringstream in(options);
  for (std::string item; std::getline(in, item, ':');) {
    if (item.rfind(key + "=", 0) == 0) return item.substr(key.size() + 1);
  }
  return {};
}

class ChildReports : public ::testing::Environment {
 public:
  // Gives the children's reports a prefix of their own: "<log_path>.children-of-<pid>".
  // A static object: this runs before main, when no other thread exists to
  // read the environment while it changes.
  ChildReports() {
    for (const char* variable : kOptionVariables) {
      const char* value = std::getenv(variable);  // NOLINT(concurrency-mt-unsafe)
      if (!value) continue;
      const std::string options = value;
      const std::string log_path = OptionValue(options, "log_path");
      if (log_path.empty() || log_path == "stderr" || log_path == "stdout") continue;
      const std::string prefix = log_path + ".children-of-" + std::to_string(::getpid());
      if (std::find(prefixes_.begin(), prefixes_.end(), prefix) == prefixes_.end()) prefixes_.push_back(prefix);
      ::setenv(variable, (options + ":log_path=" + prefix).c_str(), 1);  // NOLINT(concurrency-mt-unsafe): the last wins
    }
  }

  void TearDown() override {
    for (const std::string& prefix : prefixes_) {
      const std::filesystem::path path(prefix);
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(path.parent_path(), ec)) {
        if (entry.path().filename().string().rfind(path.filename().string(), 0) != 0) continue;
        std::ifstream in(entry.path());
        std::stringstream report;
        report << in.rdbuf();
        ADD_FAILURE() << "a harpc process this test started reported (" << entry.path().string() << "):\n"
                      << report.str();
      }
    }
  }

 private:
  std::vector<std::string> prefixes_;
};

// Registered before main(): gtest owns and runs it after the last test.
[[maybe_unused]] ::testing::Environment* const kChildReports = ::testing::AddGlobalTestEnvironment(new ChildReports);

}  // namespace
}  // namespace harpc::testing
