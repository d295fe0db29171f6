// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc bench TARGET: a closed-loop load at a fixed concurrency.
#include <cstdio>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "cli/channel_flags.h"
#include "cli/commands.h"
#include "cli/load_generator.h"
#include "cli/number_checks.h"

namespace harpc::cli {

namespace {
struct BenchFlags {
  std::string target;
  std::string method = "/";
  std::string data = R"({"key":"value"})";
  int concurrency = 1;
  int threads = 1;
  double duration_s = 0;
  uint64_t requests = 0;
  bool json = false;
  bool progress = false;
  ChannelFlags channel;
};

int RunBench(const BenchFlags& f) {
  LoadSpec spec;
  boost::system::error_code ec;
  spec.params = boost::json::parse(f.data, ec);
  if (ec) {
    std::fprintf(stderr, "harpc bench: --data is not valid JSON: %s\n", ec.message().c_str());
    return 2;
  }
  spec.method = f.method;
  spec.idempotent = f.channel.idempotent;
  spec.concurrency = f.concurrency;
  spec.requests = f.requests;
  spec.duration = std::chrono::milliseconds(static_cast<int64_t>((f.duration_s > 0 ? f.duration_s : 10) * 1000));
  if (f.requests > 0 && f.duration_s > 0) {
    std::fprintf(stderr, "harpc bench: give --duration or --requests, not both\n");
    return 2;
  }
  ChannelOptions options;
  if (Status s = f.channel.ToOptions(&options); !s.ok()) {
    std::fprintf(stderr, "harpc %s: %s\n", "bench", s.message().c_str());
    return 2;
  }
  if (f.progress && f.threads > 1) {
    std::fprintf(stderr, "harpc bench: --progress needs --threads 1\n");
    return 2;
  }
  if (f.threads > f.concurrency) {
    std::fprintf(stderr, "harpc bench: --threads %d is more than --concurrency %d\n", f.threads, f.concurrency);
    return 2;
  }
  // One channel, and so one event loop thread, per --threads; the callers
  // and the requests are dealt out evenly among them.
  std::vector<std::unique_ptr<Channel>> channels;
  for (int i = 0; i < f.threads; ++i) {
    channels.push_back(std::make_unique<Channel>(f.target, options));
    if (!channels.back()->status().ok()) {
      std::fprintf(stderr, "harpc bench: %s\n", channels.back()->status().ToString().c_str());
      return 2;
    }
  }
  std::function<void(const LoadReport&)> on_tick;
  if (f.progress) {
    on_tick = [](const LoadReport& so_far) { PrintProgressLine(so_far.ToJson()); };
  }
  std::vector<LoadReport> parts(channels.size());
  std::vector<std::thread> runners;
  for (size_t i = 0; i < channels.size(); ++i) {
    LoadSpec part = spec;
    const auto n = static_cast<uint64_t>(f.threads), k = static_cast<uint64_t>(i);
    part.concurrency = f.concurrency / f.threads + (static_cast<int>(i) < f.concurrency % f.threads ? 1 : 0);
    part.requests = spec.requests / n + (k < spec.requests % n ? 1 : 0);
    if (spec.requests > 0 && part.requests == 0) continue;
    runners.emplace_back([&, i, part] { parts[i] = RunLoad(*channels[i], part, on_tick); });
  }
  for (auto& t : runners) t.join();
  LoadReport report = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) report.Add(parts[i]);
  if (f.json) {
    std::printf("%s\n", boost::json::serialize(report.ToJson()).c_str());
  } else {
    std::printf("%s", report.ToText().c_str());
  }
  return 0;
}
}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "Closed-loop load at a fixed concurrency; latency percentiles");
  cmd->add_option("target", f->target, kTargetHelp)->required();
  cmd->add_option("--method", f->method, "Method to call; '/' is the server's default method")->capture_default_str();
  cmd->add_option("--data", f->data, "Params as JSON")->capture_default_str();
  cmd->add_option("--concurrency,-c", f->concurrency, "Calls in flight at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--threads", f->threads,
                  "Client threads, each with its own channel and event loop; the callers are dealt out among them")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--duration", f->duration_s, "Seconds to run (default 10 unless --requests)")->check(Positive());
  cmd->add_option("--requests", f->requests, "Calls to make in all, instead of --duration");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of a table (schema in docs/cli.md)");
  cmd->add_flag("--progress", f->progress,
                "Also print the totals so far every second, as one JSON line with \"unix_ms\" (docs/cli.md)");
  AddChannelFlags(cmd, f->channel);
  cmd->callback([f, &exit_code] { exit_code = RunBench(*f); });
}

}  // namespace harpc::cli
