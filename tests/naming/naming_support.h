// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the naming tests share: temporary data directories, `harpc sentinel`
// children (restartable on their port), a registry client, and Registry.list
// lookups.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "harpc/channel.h"
#include "support/test_support.h"

namespace harpc::namingtest {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using testing::HoldsFor;
using testing::PollUntil;
using testing::ServeProcess;
using testing::Since;
using testing::StartServe;
using testing::TempDir;
using namespace std::chrono_literals;

// A `harpc sentinel` child with its own data dir; SIGKILLed when destroyed.
class Sentinel {
 public:
  // Starts on a free port. Check address() (empty: it did not start; the test failed).
  Sentinel();
  // SIGKILL (the sentinel forgets nothing on disk, but it is gone).
  void Kill();
  // Starts again on the same port with a NEW, empty data dir (it forgot every lease).
  bool RestartForgetting();
  const std::string& address() const { return address_; }
  int port() const { return port_; }

 private:
  bool Spawn(int port);
  std::unique_ptr<TempDir> dir_;
  Subprocess process_;
  std::string address_;
  int port_ = 0;
};

// Calls one sentinel, no retries, no health checks.
class RegistryClient {
 public:
  explicit RegistryClient(const std::string& sentinel);
  CallResult Call(const std::string& method, const json::value& params);
  // Registry.register; the lease, or "" on failure.
  std::string Register(const std::string& service, const std::string& address, int64_t ttl_ms);
  bool Deregister(const std::string& lease);
  // Whether Registry.list lists `address` under `service`; nullopt if the call failed.
  std::optional<bool> Lists(const std::string& service, const std::string& address);
  // Lists == true / Lists == false (a failed call counts as neither).
  bool Has(const std::string& service, const std::string& address) { return Lists(service, address) == true; }
  bool Lacks(const std::string& service, const std::string& address) { return Lists(service, address) == false; }

 private:
  std::unique_ptr<Channel> channel_;
};

// The addresses a channel currently knows.
std::vector<std::string> Addresses(const Channel& channel);
bool Knows(const Channel& channel, const std::string& address);

// ChannelOptions for calls to echo servers in these tests.
ChannelOptions EchoOptions();
// One Echo.echo call; true when it succeeded.
bool EchoOk(Channel& channel, std::string* endpoint = nullptr);

// "--register sentinel://A,B --lease-ttl-ms T" and `harpc serve` with them.
ServeProcess StartRegisteredServe(const std::vector<std::string>& sentinels, int ttl_ms);

}  // namespace harpc::namingtest
