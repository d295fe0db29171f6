// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc sentinel: a registry with leases that watches every instance and,
// with its peers, decides by quorum when one is down.
#include <cstdio>

#include "cli/commands.h"
#include "cli/number_checks.h"
#include "cli/security_flags.h"
#include "naming/sentinel_registrar.h"
#include "sentinel/sentinel.h"

namespace harpc::cli {

namespace {
struct SentinelFlags {
  sentinel::SentinelOptions options;
  std::string peers;
  int down_after_ms = 3000;
  int probe_interval_ms = 500;
  int lease_ttl_ms = static_cast<int>(kDefaultLeaseTtl.count());
  int history_retention_ms = 600000;
  int notify_timeout_ms = 10000;
  SecurityFlags security;
};

}  // namespace

void AddSentinelCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<SentinelFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sentinel", "Run a sentinel: registry with leases, quorum failure detection, alerts, dashboard");
  cmd->add_option("--listen", f->options.listen, "Address to listen on; port 0 picks a free one")
      ->capture_default_str();
  cmd->add_option("--data-dir", f->options.data_dir, "Directory of the durable registry (SQLite)")->required();
  cmd->add_option("--peers", f->peers, "The other sentinels of the group: H:P,H:P");
  cmd->add_option("--quorum", f->options.quorum,
                  "Sentinels that must agree before an instance is down (default: a majority)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--down-after-ms", f->down_after_ms, "No valid /health answer for this long: subjectively down")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--probe-interval-ms", f->probe_interval_ms, "Period of the /health probes")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--lease-ttl-ms", f->lease_ttl_ms,
                  "Lease TTL of a registration that names none; must outlive --down-after-ms + 4 probe intervals "
                  "by a third (a lease renewed every TTL/3)")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cmd->add_option("--history-retention-ms", f->history_retention_ms,
                  "How long the dashboard keeps an instance that left the registry (lease expired, deregistered)")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--notify", f->options.notify_command,
                  "Command run on each alert (odown, up, lease-expired, group events), the event as JSON on stdin");
  cmd->add_option("--webhook", f->options.webhook_url, "http:// URL POSTed each alert as JSON");
  cmd->add_option("--notify-timeout-ms", f->notify_timeout_ms, "A --notify command still running after this is killed")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option(
         "--max-alerts-per-minute", f->options.max_alerts_per_minute,
         "Alerts (--notify, --webhook) told at most per minute, bursts included; the excess is counted and summed up")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  auto& limits = f->options.limits;
  cmd->add_option("--max-services", limits.max_services, "Distinct services this sentinel holds")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-instances-per-service", limits.max_instances_per_service, "Instances one service may hold")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-instances", limits.max_instances, "Instances this sentinel holds in all (each one is probed)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-watchers-per-service", limits.max_watchers_per_service,
                  "Registry.watch long polls waiting on one service")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-watchers", limits.max_watchers, "Registry.watch long polls waiting in all")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  AddSecurityFlags(cmd, f->security, /*daemon=*/true);
  cmd->callback([f, &exit_code] {
    if (!ResolveSecurityFlags(f->security, "sentinel", &f->options.security)) {
      exit_code = 2;
      return;
    }
    f->options.tls = f->security.ServerTls();
    f->options.auth = f->security.Auth();
    if (!f->peers.empty()) {
      if (Status s = ParseSentinelList(f->peers, &f->options.peers); !s.ok()) {
        std::fprintf(stderr, "harpc sentinel: --peers: %s\n", s.message().c_str());
        exit_code = 2;
        return;
      }
    }
    f->options.down_after = std::chrono::milliseconds(f->down_after_ms);
    f->options.probe_interval = std::chrono::milliseconds(f->probe_interval_ms);
    f->options.notify_timeout = std::chrono::milliseconds(f->notify_timeout_ms);
    f->options.lease_ttl = std::chrono::milliseconds(f->lease_ttl_ms);
    f->options.limits.history_retention = std::chrono::milliseconds(f->history_retention_ms);
    if (Status s = sentinel::CheckDetectionSettings(f->options); !s.ok()) {
      std::fprintf(stderr, "harpc sentinel: %s\n", s.message().c_str());
      exit_code = 2;
      return;
    }
    if (f->options.quorum > static_cast<int>(f->options.peers.size()) + 1) {
      std::fprintf(stderr, "harpc sentinel: --quorum %d is larger than the group (%zu sentinels)\n", f->options.quorum,
                   f->options.peers.size() + 1);
      exit_code = 2;
      return;
    }
    Status s = sentinel::RunSentinel(f->options);
    if (!s.ok()) {
      std::fprintf(stderr, "harpc sentinel: %s\n", s.ToString().c_str());
      exit_code = 1;
    }
  });
}

}  // namespace harpc::cli
