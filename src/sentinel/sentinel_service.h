// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's service: the registry, the monitor and the notifier behind
// the methods of sentinel.h (Registry.*, Sentinel.*), the dashboard and the
// metrics, on one server whose single loop they share (no locks).
// RunSentinel runs it; tests and fuzzers attach it to a server of their own.
#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "harpc/server.h"
#include "sentinel/monitor.h"
#include "sentinel/notifier.h"
#include "sentinel/registry.h"
#include "sentinel/sentinel.h"

namespace harpc::sentinel {

class SentinelService {
 public:
  // `store` holds the registry's durable state (RegistryStore::Open).
  SentinelService(const SentinelOptions& options, std::unique_ptr<RegistryStore> store);
  ~SentinelService();
  SentinelService(const SentinelService&) = delete;
  SentinelService& operator=(const SentinelService&) = delete;

  // Loads the registry, then adds the methods, the dashboard and the metrics
  // to `server`, before server.Start(). Until StartMonitor the peer protocol
  // answers UNAVAILABLE ("sentinel is starting").
  Status Attach(Server& server);
  // Creates the monitor (this sentinel is server.address()); it probes and
  // talks to the peers once the server's loop runs.
  void StartMonitor(Server& server);
  // After the server's loop stopped: the monitor goes, the registry's queued
  // writes commit.
  void Stop();

 private:
  Result Register(const boost::json::value& params);
  Result Deregister(const boost::json::value& params);
  std::string server_address() const;
  bool IsGroupAddress(const std::string& address) const;
  std::string RegistryMetrics() const;

  SentinelOptions options_;
  Registry registry_;
  Notifier notifier_;
  std::unique_ptr<Monitor> monitor_;
  Server* server_ = nullptr;
};

}  // namespace harpc::sentinel
