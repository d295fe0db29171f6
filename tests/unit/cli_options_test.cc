// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Command-line option parsing of the built harpc binary: bad flags exit
// non-zero with one clear message, --help works on every subcommand. No test
// here reaches the network: every refused command line fails before it would.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/subprocess.h"

namespace harpc {
namespace {

using ::testing::HasSubstr;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `harpc args...` to completion (10 s at most) and collects its output.
RunResult RunHarpc(const std::vector<std::string>& args) {
  RunResult result;
  char err_path[] = "/tmp/harpc_cli_test_XXXXXX";
  int fd = ::mkstemp(err_path);
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return result;
  }
  ::close(fd);

  std::vector<std::string> argv = {HARPC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p;
  Status s = Subprocess::Spawn(argv, &p, err_path);
  if (!s.ok()) {
    ADD_FAILURE() << "cannot start harpc: " << s;
    ::unlink(err_path);
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ADD_FAILURE() << "harpc did not finish its output in time";
      break;
    }
    std::string line;
    Status r = p.ReadLine(left, &line);
    if (r.code() == StatusCode::kUnavailable) break;  // end of output
    if (!r.ok()) continue;
    result.out += line;
    result.out += '\n';
  }
  std::optional<int> code = p.Wait(std::chrono::seconds(10));
  if (!code) {
    ADD_FAILURE() << "harpc did not exit in time";
  } else {
    result.exit_code = *code;
  }
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  result.err = ss.str();
  ::unlink(err_path);
  return result;
}

std::string Describe(const std::vector<std::string>& args, const RunResult& r) {
  std::string cmd = "harpc";
  for (const auto& a : args) cmd += " '" + a + "'";
  return cmd + "\nexit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// A command line that must be refused: non-zero exit, nothing on stdout, and
// a message on stderr that mentions `mention`.
void ExpectRefused(const std::vector<std::string>& args, const std::string& mention) {
  RunResult r = RunHarpc(args);
  EXPECT_NE(r.exit_code, 0) << Describe(args, r);
  EXPECT_NE(r.exit_code, -1) << Describe(args, r);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal? " << Describe(args, r);
  EXPECT_EQ(r.out, "") << Describe(args, r);
  EXPECT_THAT(r.err, HasSubstr(mention)) << Describe(args, r);
}

// ---- refused command lines ----

TEST(CliOptions, ServeRefusesAFailRateOutsideZeroToOne) {
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--fail-rate", "2"}, "--fail-rate");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--fail-rate", "-0.5"}, "--fail-rate");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--fail-rate", "often"}, "--fail-rate");
}

TEST(CliOptions, ServeRefusesBadNumbers) {
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--threads", "-1"}, "--threads");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--weight", "0"}, "--weight");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--delay-ms", "-3"}, "--delay-ms");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--header-timeout-ms", "0"}, "--header-timeout-ms");
}

TEST(CliOptions, ServeRefusesABadListenAddress) {
  ExpectRefused({"serve", "--listen", "127.0.0.1"}, "no port");
  ExpectRefused({"serve", "--listen", "127.0.0.1:99999"}, "127.0.0.1:99999");
}

TEST(CliOptions, ServeRefusesUnknownFlagsAndArguments) {
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "--no-such-flag"}, "--no-such-flag");
  ExpectRefused({"serve", "--listen", "127.0.0.1:0", "extra"}, "extra");
}

TEST(CliOptions, BenchRefusesZeroConcurrency) {
  ExpectRefused({"bench", "127.0.0.1:1", "--concurrency", "0", "--requests", "1"}, "--concurrency");
  ExpectRefused({"bench", "127.0.0.1:1", "-c", "-4", "--requests", "1"}, "-c");
}

TEST(CliOptions, BenchRefusesBadDurationDataAndCombinations) {
  ExpectRefused({"bench", "127.0.0.1:1", "--duration", "0"}, "--duration");
  ExpectRefused({"bench", "127.0.0.1:1", "--requests", "5", "--duration", "1"}, "not both");
  ExpectRefused({"bench", "127.0.0.1:1", "--requests", "5", "--data", "{oops"}, "--data is not valid JSON");
  ExpectRefused({"bench"}, "target");
}

TEST(CliOptions, CallNeedsATargetAndAMethod) {
  ExpectRefused({"call"}, "target");
  ExpectRefused({"call", "127.0.0.1:1"}, "method");
}

TEST(CliOptions, CallRefusesBadParamsAndTargets) {
  ExpectRefused({"call", "127.0.0.1:1", "Echo.echo", "{not json"}, "not valid JSON");
  ExpectRefused({"call", "bogus://127.0.0.1:1", "/"}, "unsupported target");
  ExpectRefused({"call", "list://127.0.0.1:1=0", "/"}, "bad weight");
  ExpectRefused({"call", "127.0.0.1:1,127.0.0.1:1", "/"}, "listed twice");
}

TEST(CliOptions, UnknownLoadBalancerIsRefused) {
  ExpectRefused({"call", "127.0.0.1:1", "/", "--lb", "nope"}, "--lb");
  ExpectRefused({"bench", "127.0.0.1:1", "--requests", "1", "--lb", "nope"}, "--lb");
}

TEST(CliOptions, ChannelFlagsAreChecked) {
  ExpectRefused({"call", "127.0.0.1:1", "/", "--timeout-ms", "0"}, "--timeout-ms");
  ExpectRefused({"call", "127.0.0.1:1", "/", "--retries", "-1"}, "--retries");
  ExpectRefused({"bench", "127.0.0.1:1", "--requests", "1", "--timeout-ms", "soon"}, "--timeout-ms");
}

TEST(CliOptions, ASubcommandIsRequired) {
  RunResult r = RunHarpc({});
  EXPECT_EQ(r.exit_code, 2) << Describe({}, r);
  EXPECT_THAT(r.err, HasSubstr("subcommand")) << Describe({}, r);
  r = RunHarpc({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << Describe({"frobnicate"}, r);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'")) << Describe({"frobnicate"}, r);
}

// ---- --help ----

// Subcommand names listed by `harpc --help` (CLI11: an indented "SUBCOMMANDS:" block).
std::vector<std::string> ListedSubcommands(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line.rfind("Subcommands:", 0) == 0 || line.rfind("SUBCOMMANDS:", 0) == 0) {
      in_block = true;
      continue;
    }
    if (!in_block) continue;
    if (line.empty() || line[0] != ' ') break;
    std::istringstream words(line);
    std::string name;
    if (words >> name) names.push_back(name);
  }
  return names;
}

TEST(CliOptions, TopLevelHelpListsTheSubcommands) {
  RunResult r = RunHarpc({"--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe({"--help"}, r);
  std::vector<std::string> names = ListedSubcommands(r.out);
  for (const char* expected : {"serve", "call", "bench", "demo"}) {
    EXPECT_THAT(names, ::testing::Contains(expected)) << r.out;
  }
}

// docs/cli.md: "harpc VERSION (REVISION)", the revision a short hash,
// "-dirty" or "unknown"; no subcommand needed. (The installed and packaged
// binaries say the same: tests/packaging.)
TEST(CliOptions, VersionNamesTheVersionAndTheGitRevision) {
  RunResult r = RunHarpc({"--version"});
  EXPECT_EQ(r.exit_code, 0) << Describe({"--version"}, r);
  EXPECT_THAT(r.out, ::testing::MatchesRegex(R"(harpc [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{7,40}(-dirty)?|unknown)\))"
                                             "\n"))
      << Describe({"--version"}, r);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(RunHarpc({"--help"}).out, HasSubstr("--version"));
}

TEST(CliOptions, HelpOnEverySubcommandExitsZero) {
  RunResult top = RunHarpc({"--help"});
  std::vector<std::string> names = ListedSubcommands(top.out);
  ASSERT_GE(names.size(), 4u) << top.out;
  for (const std::string& name : names) {
    RunResult r = RunHarpc({name, "--help"});
    EXPECT_EQ(r.exit_code, 0) << Describe({name, "--help"}, r);
    EXPECT_THAT(r.out, HasSubstr(name)) << Describe({name, "--help"}, r);
    EXPECT_THAT(r.out, HasSubstr("--help")) << Describe({name, "--help"}, r);
  }
}

void ExpectHelpMentions(const std::string& subcommand, const std::vector<std::string>& flags) {
  RunResult r = RunHarpc({subcommand, "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe({subcommand, "--help"}, r);
  for (const std::string& flag : flags) {
    EXPECT_THAT(r.out, HasSubstr(flag)) << subcommand << " --help does not mention " << flag << ":\n" << r.out;
  }
}

TEST(CliOptions, ServeHelpMentionsItsFlags) {
  ExpectHelpMentions("serve", {"--listen", "--name", "--service", "--weight", "--threads", "--max-body-bytes",
                               "--max-header-bytes", "--header-timeout-ms", "--idle-timeout-ms", "--max-connections",
                               "--max-concurrency", "--delay-ms", "--fail-rate"});
}

TEST(CliOptions, CallHelpMentionsItsFlags) {
  ExpectHelpMentions("call", {"target", "method", "params", "--idempotency-key", "--lb", "--timeout-ms", "--retries"});
}

TEST(CliOptions, BenchHelpMentionsItsFlags) {
  ExpectHelpMentions("bench", {"target", "--method", "--data", "--concurrency", "--duration", "--requests", "--json",
                               "--lb", "--timeout-ms", "--retries"});
}

TEST(CliOptions, EverySubcommandHasTheTrustFlags) {
  for (const char* client : {"call", "bench", "status", "transfer"}) {
    ExpectHelpMentions(client, {"--token-file", "--tls-cert", "--tls-key", "--tls-ca"});
  }
  for (const char* daemon : {"serve", "sentinel", "coordinator", "demo"}) {
    ExpectHelpMentions(daemon,
                       {"--token-file", "--auth-file", "--tls-cert", "--tls-key", "--tls-ca", "--tls-client-ca"});
  }
}

}  // namespace
}  // namespace harpc
