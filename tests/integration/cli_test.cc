// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The harpc command line (docs/cli.md) against real servers: `harpc call`
// and `harpc bench --json`.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

// Usage errors, whether harpc's or its flag parser's: exit 2 and one line
// on stderr that names the problem (no 300-digit ranges, no second line).
TEST(ItCli, UsageErrorsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const Case cases[] = {
      {{"nosuch"}, "unknown command 'nosuch'; the commands are serve, call, bench"},
      {{"call"}, "target is required"},
      {{"call", "127.0.0.1:1", "Echo.echo", "{}", "--timeout-ms", "0"}, "--timeout-ms: must be a number > 0, got '0'"},
      {{"call", "127.0.0.1:1", "Echo.echo", "{}", "--retries", "99"}, "--retries"},
      {{"call", "127.0.0.1:1", "Echo.echo", "{}", "--protocol", "grpc"}, "--protocol"},
      {{"bench", "127.0.0.1:1", "--duration", "soon"}, "--duration: must be a number > 0, got 'soon'"},
      {{"bench", "127.0.0.1:1", "--threads", "3", "--concurrency", "2"}, "--threads 3 is more than --concurrency 2"},
      {{"bench", "127.0.0.1:1", "--threads", "2", "--concurrency", "2", "--progress"}, "--progress needs --threads 1"},
      {{"serve", "--no-such-flag"}, "--no-such-flag"},
      {{"call", "127.0.0.1:1", "Echo.echo", "{}", "--health-path", "health"}, "must be a path starting with '/'"},
      // A mistyped flag is named before the missing arguments it likely caused.
      {{"call", "--bogus"}, "unknown flag --bogus for harpc call"},
      {{"call", "--bogus=1", "--timeout-ms", "5"}, "unknown flag --bogus for harpc call"},
  };
  for (const Case& c : cases) {
    CliRun run = RunHarpc(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.args[0] << ": " << run.err;
    EXPECT_TRUE(run.out.empty()) << run.Stdout();
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
  }
  CliRun help = RunHarpc({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_FALSE(help.out.empty());
}

TEST(ItCli, CallPrintsResultOnOneLineAndExitsZero) {
  ServeProcess serve = StartServe({"--threads", "1"});
  ASSERT_GT(serve.port, 0);
  CliRun run = RunHarpc({"call", "list://" + serve.address, "Echo.echo", R"({"a": [1, 2], "b": {"c": "d"}})"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 1u) << "stdout must be exactly one line";
  EXPECT_EQ(ParseJson(run.out[0]), json::parse(R"({"a":[1,2],"b":{"c":"d"}})"));
  EXPECT_EQ(run.out[0].find('\n'), std::string::npos);
  // The default method, and a bare H:P target.
  run = RunHarpc({"call", serve.address, "/", R"({"key":"value"})"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 1u);
  EXPECT_EQ(run.out[0], R"({"key":"value"})");
  EXPECT_EQ(MethodRequests(serve.port, "Echo.echo"), 2);
}

TEST(ItCli, CallToUnreachableTargetFailsWithOneStderrLine) {
  RefusingPort dead;
  const auto start = Clock::now();
  CliRun run = RunHarpc({"call", "list://" + dead.address(), "Echo.echo", "{}"});
  ASSERT_TRUE(run.exit_code.has_value()) << "harpc call hung";
  EXPECT_NE(*run.exit_code, 0);
  EXPECT_TRUE(run.out.empty()) << run.out[0];
  EXPECT_FALSE(run.err.empty());
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "stderr: '" << run.err << "'";
  EXPECT_NE(run.err.find("UNAVAILABLE"), std::string::npos) << run.err;
  EXPECT_LT(Since(start), 5s);
}

TEST(ItCli, CallWithServerErrorFailsWithOneStderrLine) {
  ServeProcess serve = StartServe({"--threads", "1"});
  ASSERT_GT(serve.port, 0);
  CliRun run = RunHarpc({"call", "list://" + serve.address, "Nope.nope", "{}"});
  ASSERT_TRUE(run.exit_code.has_value());
  EXPECT_NE(*run.exit_code, 0);
  EXPECT_TRUE(run.out.empty());
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_NE(run.err.find("UNIMPLEMENTED"), std::string::npos) << run.err;
  // Bad params JSON and a bad target are refused before any call.
  run = RunHarpc({"call", "list://" + serve.address, "Echo.echo", "{not json"});
  EXPECT_NE(run.exit_code.value_or(0), 0);
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  run = RunHarpc({"call", "list://nope", "Echo.echo", "{}"});
  EXPECT_NE(run.exit_code.value_or(0), 0);
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(MethodRequests(serve.port, "Echo.echo"), 0);
}

TEST(ItCli, BenchJsonHasEveryKeyAndEveryEndpoint) {
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ASSERT_TRUE(a.port > 0 && b.port > 0);
  RefusingPort dead;  // listed, never answers: must appear with 0
  const std::string target = "list://" + a.address + "=3," + b.address + "," + dead.address();
  CliRun run = RunHarpc({"bench", target, "--json", "--requests", "200", "--concurrency", "4"}, 60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 1u) << "--json prints one JSON object on one line";
  json::value v = ParseJson(run.out[0]);
  ASSERT_TRUE(v.is_object()) << run.out[0];
  const json::object& o = v.as_object();
  for (std::string_view key :
       {"requests", "ok", "errors", "retries", "hedges", "qps", "latency_ms", "per_endpoint", "error_kinds"}) {
    EXPECT_TRUE(o.contains(key)) << "missing key " << key << " in " << v;
  }
  ASSERT_TRUE(o.at("latency_ms").is_object());
  for (std::string_view key : {"p50", "p99", "p999", "max"}) {
    ASSERT_TRUE(o.at("latency_ms").as_object().contains(key)) << key;
    EXPECT_TRUE(o.at("latency_ms").at(key).is_number()) << key;
  }
  auto number = [](const json::value& x) { return json::value_to<double>(x); };
  EXPECT_EQ(number(o.at("requests")), 200);
  EXPECT_EQ(number(o.at("ok")) + number(o.at("errors")), 200);
  EXPECT_EQ(number(o.at("ok")), 200) << "a refused endpoint must be failed over: " << v;
  EXPECT_GT(number(o.at("qps")), 0);
  EXPECT_LE(number(o.at("latency_ms").at("p50")), number(o.at("latency_ms").at("p99")));
  EXPECT_LE(number(o.at("latency_ms").at("p99")), number(o.at("latency_ms").at("max")));
  ASSERT_TRUE(o.at("error_kinds").is_object());
  ASSERT_TRUE(o.at("per_endpoint").is_object());
  const json::object& per = o.at("per_endpoint").as_object();
  EXPECT_EQ(per.size(), 3u) << v;
  ASSERT_TRUE(per.contains(a.address) && per.contains(b.address) && per.contains(dead.address())) << v;
  EXPECT_EQ(number(per.at(dead.address())), 0);
  EXPECT_EQ(number(per.at(a.address)) + number(per.at(b.address)), number(o.at("ok")));
  EXPECT_GT(number(per.at(a.address)), number(per.at(b.address)));
  // The servers saw the bench's calls (plus nothing else).
  EXPECT_EQ(MethodRequests(a.port, "Echo.echo") + MethodRequests(b.port, "Echo.echo"), 200);
}

// --threads: the callers and the requests dealt out among client threads,
// the reports added up; with pipelining, as bench/run.sh runs it.
TEST(ItCli, BenchThreadsAddUpToTheRequestsAsked) {
  ServeProcess serve = StartServe({"--threads", "2"});
  ASSERT_GT(serve.port, 0);
  CliRun run = RunHarpc({"bench", serve.address, "--method", "Echo.echo", "--json", "--requests", "301",
                         "--concurrency", "7", "--threads", "3", "--pipeline-depth", "4"},
                        60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 1u) << run.Stdout();
  json::value v = ParseJson(run.out[0]);
  ASSERT_TRUE(v.is_object()) << run.out[0];
  EXPECT_EQ(json::value_to<double>(v.at("requests")), 301) << v;
  EXPECT_EQ(json::value_to<double>(v.at("ok")), 301) << v;
  EXPECT_EQ(json::value_to<double>(v.at("per_endpoint").at(serve.address)), 301) << v;
  EXPECT_EQ(MethodRequests(serve.port, "Echo.echo"), 301);
}

// --progress: the totals so far once a second (a watcher places failures in
// time by unix_ms), then the report as without it.
TEST(ItCli, BenchProgressPrintsGrowingTotalsEverySecondThenTheReport) {
  ServeProcess serve = StartServe({"--threads", "1"});
  ASSERT_GT(serve.port, 0);
  CliRun run = RunHarpc(
      {"bench", "list://" + serve.address, "--json", "--progress", "--duration", "3", "--concurrency", "2"}, 60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_GE(run.out.size(), 3u) << run.Stdout();  // at least two seconds' lines, then the report
  double last_requests = 0, last_ms = 0;
  for (size_t i = 0; i + 1 < run.out.size(); ++i) {
    json::value line = ParseJson(run.out[i]);
    ASSERT_TRUE(line.is_object() && line.as_object().contains("unix_ms")) << run.out[i];
    const double requests = json::value_to<double>(line.at("requests"));
    const double ms = json::value_to<double>(line.at("unix_ms"));
    EXPECT_GE(requests, last_requests) << run.Stdout();
    EXPECT_GT(ms, last_ms) << run.Stdout();
    last_requests = requests;
    last_ms = ms;
  }
  EXPECT_GT(last_requests, 0) << run.Stdout();
  json::value report = ParseJson(run.out.back());
  ASSERT_TRUE(report.is_object()) << run.out.back();
  EXPECT_FALSE(report.as_object().contains("unix_ms")) << "the last line is the report";
  EXPECT_GE(json::value_to<double>(report.at("requests")), last_requests);
}

TEST(ItCli, BenchAgainstFailingServerStillExitsZeroAndCountsErrors) {
  ServeProcess failing = StartServe({"--fail-rate", "1.0", "--threads", "1"});
  ASSERT_GT(failing.port, 0);
  CliRun run = RunHarpc({"bench", "list://" + failing.address, "--json", "--requests", "50", "--retries", "0"}, 60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 1u);
  json::value v = ParseJson(run.out[0]);
  EXPECT_EQ(json::value_to<double>(v.at("errors")), 50) << v;
  EXPECT_EQ(json::value_to<double>(v.at("ok")), 0) << v;
  EXPECT_EQ(json::value_to<double>(v.at("per_endpoint").at(failing.address)), 0) << v;
  EXPECT_FALSE(v.at("error_kinds").as_object().empty()) << v;
}

TEST(CliServe, BoundedWorkFlagsReachTheServer) {
  ServeProcess serve = StartServe({"--max-batch-requests", "2", "--max-answer-bytes", "2048"});
  ASSERT_NE(serve.port, 0);
  const std::string call = R"({"jsonrpc":"2.0","method":"Echo.echo","params":{"a":1},"id":1})";
  std::string two = RoundTrip(serve.port, Post("/rpc", "[" + call + "," + call + "]"));
  ASSERT_EQ(StatusOf(two), 200) << two;
  EXPECT_TRUE(ParseJson(BodyOf(two)).is_array()) << two;
  std::string three = RoundTrip(serve.port, Post("/rpc", "[" + call + "," + call + "," + call + "]"));
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(three))), -32600) << three;

  // An echo whose answer passes --max-answer-bytes: refused, not buffered.
  const std::string big = "{\"p\":\"" + std::string(4096, 'x') + "\"}";
  std::string answer = RoundTrip(serve.port, Post("/rpc/Echo.echo", big));
  EXPECT_EQ(StatusOf(answer), 500) << answer.substr(0, 200);
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(answer))), -32603) << answer.substr(0, 200);
}

}  // namespace
}  // namespace harpc::testing::it
