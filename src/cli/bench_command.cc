// harpc bench TARGET: a closed-loop load at a fixed concurrency.
#include <cstdio>

#include <boost/json.hpp>

#include "cli/number_checks.h"
#include "cli/channel_flags.h"
#include "cli/commands.h"
#include "cli/load_generator.h"

namespace harpc::cli {

namespace {
struct BenchFlags {
  std::string target;
  std::string method = "/";
  std::string data = R"({"key":"value"})";
  int concurrency = 1;
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
  Channel channel(f.target, std::move(options));
  if (!channel.status().ok()) {
    std::fprintf(stderr, "harpc bench: %s\n", channel.status().ToString().c_str());
    return 2;
  }
  std::function<void(const LoadReport&)> on_tick;
  if (f.progress) {
    on_tick = [](const LoadReport& so_far) { PrintProgressLine(so_far.ToJson()); };
  }
  LoadReport report = RunLoad(channel, spec, on_tick);
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
  cmd->add_option("--method", f->method, "Method to call; '/' is the server's default method")
      ->capture_default_str();
  cmd->add_option("--data", f->data, "Params as JSON")->capture_default_str();
  cmd->add_option("--concurrency,-c", f->concurrency, "Calls in flight at once")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--duration", f->duration_s, "Seconds to run (default 10 unless --requests)")
      ->check(Positive());
  cmd->add_option("--requests", f->requests, "Calls to make in all, instead of --duration");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of a table (schema in docs/cli.md)");
  cmd->add_flag("--progress", f->progress,
                "Also print the totals so far every second, as one JSON line with \"unix_ms\" (docs/cli.md)");
  AddChannelFlags(cmd, f->channel);
  cmd->callback([f, &exit_code] { exit_code = RunBench(*f); });
}

}  // namespace harpc::cli
