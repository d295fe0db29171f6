// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc status sentinel://H:P[,H:P]: the services, instances and states a sentinel group knows.
#include <cstdio>
#include <ctime>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "cli/security_flags.h"
#include "cli/terminal_text.h"
#include "harpc/channel.h"
#include "sentinel/registry.h"

namespace harpc::cli {

namespace {
namespace json = boost::json;

std::string TextOf(const json::value* v) {
  if (!v || v->is_null()) return "-";
  return TerminalSafe(v->is_string() ? std::string(v->as_string()) : json::serialize(*v));
}

// Each replicated group: its leader, term and quorum, then per member its
// role and lag (the leader's commit index minus the member's applied index).
void PrintGroups(const json::object& services, const json::object& groups) {
  if (groups.empty()) return;
  std::printf("\nGROUPS\n%-12s %-22s %6s %5s %-6s\n", "SERVICE", "LEADER", "TERM", "UP", "QUORUM");
  for (const auto& [service, value] : groups) {
    const json::object& g = value.as_object();
    const std::string up =
        std::to_string(g.at("up").to_number<int64_t>()) + "/" + std::to_string(g.at("members").to_number<int64_t>());
    std::printf("%-12s %-22s %6s %5s %-6s\n", TerminalSafe(service).c_str(), TextOf(g.if_contains("leader")).c_str(),
                TextOf(g.if_contains("term")).c_str(), up.c_str(), g.at("quorum").as_bool() ? "yes" : "NO");
    const json::object* lag = g.at("lag").if_object();
    const json::value* instances = services.if_contains(service);
    if (!instances || !instances->is_array()) continue;
    for (const json::value& v : instances->as_array()) {
      const json::object& i = v.as_object();
      const json::value* member = i.if_contains("group");
      if (!member || !member->is_object()) continue;
      const std::string address(i.at("address").as_string());
      std::printf("  %-32s %-11s %-9s lag %s\n", TerminalSafe(address).c_str(),
                  TextOf(member->as_object().if_contains("role")).c_str(), TextOf(i.if_contains("state")).c_str(),
                  TextOf(lag ? lag->if_contains(address) : nullptr).c_str());
    }
  }
}

int RunStatus(const std::string& target, bool as_json, const SecurityFlags& trust) {
  std::string sentinels = target;
  if (sentinels.starts_with("sentinel://")) sentinels = sentinels.substr(11);
  if (auto slash = sentinels.find('/'); slash != std::string::npos) sentinels = sentinels.substr(0, slash);
  ChannelOptions options;
  if (!ResolveSecurityFlags(trust, "status", &options.security)) return 2;
  options.lb = "rr";
  options.health.interval = std::chrono::milliseconds(0);
  Channel channel(sentinels, options);
  if (!channel.status().ok()) {
    std::fprintf(stderr, "harpc status: %s\n", channel.status().ToString().c_str());
    return 2;
  }
  CallResult r = channel.Call("Registry.list", boost::json::object{});
  if (!r.ok()) {
    std::fprintf(stderr, "harpc status: %s\n", r.status.ToString().c_str());
    return 1;
  }
  if (as_json) {
    boost::json::object out{{"services", r.value.at("services")}};
    // Only when there are replicated groups (and the sentinel is not older than them).
    const json::value* groups = r.value.as_object().if_contains("groups");
    if (groups && groups->is_object() && !groups->as_object().empty()) out["groups"] = *groups;
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  const int64_t now = sentinel::WallClockMs();
  std::printf("epoch %lld  (from %s)\n", (long long)r.value.at("epoch").to_number<int64_t>(), r.endpoint.c_str());
  std::printf("%-12s %-22s %-12s %6s %-9s %6s %14s\n", "SERVICE", "ADDRESS", "NAME", "WEIGHT", "STATE", "EPOCH",
              "LAST HEARTBEAT");
  for (const auto& [service, instances] : r.value.at("services").as_object()) {
    for (const auto& v : instances.as_array()) {
      const auto& i = v.as_object();
      const int64_t ago = now - i.at("last_heartbeat_ms").to_number<int64_t>();
      std::printf("%-12s %-22s %-12s %6lld %-9s %6lld %11.1fs ago\n", TerminalSafe(service).c_str(),
                  TerminalSafe(i.at("address").as_string()).c_str(), TerminalSafe(i.at("name").as_string()).c_str(),
                  (long long)i.at("weight").to_number<int64_t>(), TerminalSafe(i.at("state").as_string()).c_str(),
                  (long long)i.at("epoch").to_number<int64_t>(), static_cast<double>(ago) / 1000.0);
    }
  }
  if (const json::value* groups = r.value.as_object().if_contains("groups"); groups && groups->is_object()) {
    PrintGroups(r.value.at("services").as_object(), groups->as_object());
  }
  return 0;
}
}  // namespace

void AddStatusCommand(CLI::App& app, int& exit_code) {
  auto target = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto trust = std::make_shared<SecurityFlags>();
  CLI::App* cmd = app.add_subcommand("status", "Show the services and instances a sentinel group knows");
  cmd->add_option("target", *target, "sentinel://H:P[,H:P]")->required();
  cmd->add_flag("--json", *as_json, "Print one JSON object (schema in docs/cli.md)");
  AddSecurityFlags(cmd, *trust, /*daemon=*/false);
  cmd->callback([target, as_json, trust, &exit_code] { exit_code = RunStatus(*target, *as_json, *trust); });
}

}  // namespace harpc::cli
