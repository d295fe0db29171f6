// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/channel_flags.h"

#include "cli/number_checks.h"

#include <charconv>

namespace harpc::cli {

Status ChannelFlags::ToOptions(ChannelOptions* out) const {
  ChannelOptions o;
  o.protocol = protocol == "jsonrpc" ? Protocol::kJsonRpc : Protocol::kHarpc;
  o.jsonrpc_path = jsonrpc_path;
  o.lb = lb;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
  o.pipeline.connections = static_cast<size_t>(pipeline_connections);
  o.pipeline.depth = static_cast<size_t>(pipeline_depth);
  o.retry.max_retries = retries;
  o.health.interval = std::chrono::milliseconds(health_interval_ms);
  o.health.path = health_path;
  o.fault_mode = fault_mode == "failfast"   ? FaultMode::kFailfast
                 : fault_mode == "failsafe" ? FaultMode::kFailsafe
                                            : FaultMode::kFailover;
  if (hedge == "p95") {
    o.hedge.use_p95 = true;
  } else if (hedge != "off") {
    int ms = 0;
    auto [ptr, ec] = std::from_chars(hedge.data(), hedge.data() + hedge.size(), ms);
    if (ec != std::errc() || ptr != hedge.data() + hedge.size() || ms <= 0) {
      return InvalidArgument("--hedge-ms must be a positive number of milliseconds, p95 or off; got '" + hedge + "'");
    }
    o.hedge.after = std::chrono::milliseconds(ms);
  }
  if (Status s = security.ClientSecurityOf(&o.security); !s.ok()) return s;
  *out = std::move(o);
  return Status::Ok();
}

void AddChannelFlags(CLI::App* cmd, ChannelFlags& f) {
  cmd->add_option("--protocol", f.protocol,
                  "harpc: POST /rpc/<Method> with the params as the body; jsonrpc: a JSON-RPC 2.0 request to "
                  "--jsonrpc-path, for any JSON-RPC 2.0 server")
      ->check(CLI::IsMember({"harpc", "jsonrpc"}))
      ->capture_default_str();
  cmd->add_option("--jsonrpc-path", f.jsonrpc_path, "Where --protocol jsonrpc posts its requests")
      ->capture_default_str();
  cmd->add_option("--lb", f.lb, "Load balancer: wrr, least_time, p2c, random, hash, rr")
      ->check(CLI::IsMember({"wrr", "least_time", "p2c", "random", "hash", "rr"}))
      ->capture_default_str();
  cmd->add_option("--timeout-ms", f.timeout_ms, "Deadline of a whole call, all attempts included")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--connect-timeout-ms", f.connect_timeout_ms, "Longest wait for a TCP connection")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--pipeline-connections", f.pipeline_connections,
                  "With --pipeline-depth above 1: connections per endpoint used one call at a time before calls "
                  "share them")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--pipeline-depth", f.pipeline_depth,
                  "Calls on one connection at once (HTTP/1.1 pipelining: for methods that answer in "
                  "microseconds; a call waits for those before it); 1: a connection per call in flight")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--retries", f.retries, "Extra attempts on other endpoints after a retryable failure")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  cmd->add_option("--hedge-ms", f.hedge,
                  "Send a backup attempt to another endpoint after N ms, or after the recent p95 latency (p95); off")
      ->capture_default_str();
  cmd->add_option("--health-interval-ms", f.health_interval_ms,
                  "Heartbeat period per endpoint; 0: no heartbeats (passive detection only)")
      ->check(NonNegative())
      ->capture_default_str();
  cmd->add_option("--health-path", f.health_path,
                  "What heartbeats GET: 200 serving, 503 draining; 404 or 405 (no such endpoint) is logged once "
                  "and the endpoint probed for liveness only")
      ->capture_default_str();
  cmd->add_option("--fault-mode", f.fault_mode, "failover (retry elsewhere), failfast, failsafe (empty result)")
      ->check(CLI::IsMember({"failover", "failfast", "failsafe"}))
      ->capture_default_str();
  cmd->add_flag("--idempotent", f.idempotent,
                "The method is safe to run twice: retry after timeouts and hedge without an idempotency key");
  AddSecurityFlags(cmd, f.security, /*daemon=*/false);
}

}  // namespace harpc::cli
