// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc call TARGET METHOD [JSON]: one call; the result JSON on one line.
#include <cstdio>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/channel_flags.h"
#include "cli/commands.h"

namespace harpc::cli {

namespace {
struct CallFlags {
  std::string target;
  std::string method;
  std::string params;
  std::string idempotency_key;
  ChannelFlags channel;
};

int RunCall(const CallFlags& f) {
  // Exit status and at most one line on stderr (docs/cli.md): the channel's
  // informational logs (heartbeat transitions, ejections) would add more.
  spdlog::set_level(spdlog::level::err);
  boost::json::value params;
  if (!f.params.empty()) {
    boost::system::error_code ec;
    params = boost::json::parse(f.params, ec);
    if (ec) {
      std::fprintf(stderr, "harpc call: params are not valid JSON: %s\n", ec.message().c_str());
      return 2;
    }
  }
  ChannelOptions options;
  if (Status s = f.channel.ToOptions(&options); !s.ok()) {
    std::fprintf(stderr, "harpc %s: %s\n", "call", s.message().c_str());
    return 2;
  }
  Channel channel(f.target, std::move(options));
  if (!channel.status().ok()) {
    std::fprintf(stderr, "harpc call: %s\n", channel.status().ToString().c_str());
    return 2;
  }
  CallResult r =
      channel.Call(f.method, params, {.idempotent = f.channel.idempotent, .idempotency_key = f.idempotency_key});
  if (!r.ok()) {
    std::fprintf(stderr, "harpc call: %s (after %d attempt%s)\n", r.status.ToString().c_str(), r.attempts,
                 r.attempts == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s\n", boost::json::serialize(r.value).c_str());
  return 0;
}
}  // namespace

void AddCallCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<CallFlags>();
  CLI::App* cmd = app.add_subcommand("call", "Call one method and print its result as JSON");
  cmd->add_option("target", f->target, kTargetHelp)->required();
  cmd->add_option("method", f->method, "Method name, e.g. Echo.echo; '/' is the server's default method")->required();
  cmd->add_option("params", f->params, "Params as JSON (default: none)");
  cmd->add_option("--idempotency-key", f->idempotency_key, "Sent as Idempotency-Key");
  AddChannelFlags(cmd, f->channel);
  cmd->callback([f, &exit_code] { exit_code = RunCall(*f); });
}

}  // namespace harpc::cli
