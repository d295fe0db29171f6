// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The channel options that `harpc call` and `harpc bench` share.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/security_flags.h"
#include "harpc/channel.h"

namespace harpc::cli {

// What a client subcommand's target may be (docs/client.md, "Targets").
inline constexpr const char* kTargetHelp =
    "list://H:P[=W],... or H:P[,H:P] (fixed); file:///path.json (reloaded on change); "
    "sentinel://H:P[,H:P]/SERVICE or etcd://H:P[,H:P]/SERVICE (watched)";

struct ChannelFlags {
  std::string protocol = "harpc";  // harpc or jsonrpc
  std::string jsonrpc_path = "/rpc";
  std::string lb = "wrr";
  int timeout_ms = 1000;
  int connect_timeout_ms = 200;
  int pipeline_connections = 4;
  int pipeline_depth = 1;
  int retries = 2;
  std::string hedge = "off";  // N (ms), p95 or off
  int health_interval_ms = 1000;
  std::string health_path = "/health";
  std::string fault_mode = "failover";
  bool idempotent = false;
  SecurityFlags security;  // --token-file, --tls-*

  // INVALID_ARGUMENT for a bad --hedge-ms or trust flags (SecurityFlags).
  Status ToOptions(ChannelOptions* out) const;
};

void AddChannelFlags(CLI::App* cmd, ChannelFlags& flags);

}  // namespace harpc::cli
