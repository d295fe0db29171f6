// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming_support.h"

#include <stdlib.h>  // mkdtemp (POSIX)

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace harpc::namingtest {

Sentinel::Sentinel() {
  if (!Spawn(0)) ADD_FAILURE() << "cannot start harpc sentinel";
}

bool Sentinel::Spawn(int port) {
  dir_ = std::make_unique<TempDir>();
  // A restart may find the port still held for a moment: StartDaemon retries.
  address_ = testing::StartDaemon({"sentinel", "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
                                   dir_->path(), "--probe-interval-ms", "200", "--down-after-ms", "1000"},
                                  &process_, 10s, dir_->path() + "/sentinel.log");
  if (address_.empty()) return false;
  port_ = testing::PortOf(address_);
  return true;
}

void Sentinel::Kill() {
  process_.Signal(SIGKILL);
  process_.Wait(5s);
}

bool Sentinel::RestartForgetting() {
  Kill();
  process_ = Subprocess();
  return Spawn(port_);
}

RegistryClient::RegistryClient(const std::string& sentinel) {
  ChannelOptions o;
  o.retry.max_retries = 0;
  o.health.interval = 0ms;
  o.outlier.consecutive_failures = 0;
  o.outlier.failure_ratio = 0;
  o.breaker.failure_ratio = 0;
  o.timeout = 2s;
  channel_ = std::make_unique<Channel>("list://" + sentinel, o);
}

CallResult RegistryClient::Call(const std::string& method, const json::value& params) {
  return channel_->Call(method, params);
}

std::string RegistryClient::Register(const std::string& service, const std::string& address, int64_t ttl_ms) {
  CallResult r = Call("Registry.register", {{"service", service}, {"address", address}, {"ttl_ms", ttl_ms}});
  if (!r.ok()) return "";
  return std::string(r.value.at("lease").as_string());
}

bool RegistryClient::Deregister(const std::string& lease) {
  return Call("Registry.deregister", {{"lease", lease}}).ok();
}

std::optional<bool> RegistryClient::Lists(const std::string& service, const std::string& address) {
  CallResult r = Call("Registry.list", json::object{});
  if (!r.ok()) return std::nullopt;
  const json::value* services = r.value.as_object().if_contains("services");
  if (!services || !services->is_object()) return std::nullopt;
  const json::value* list = services->as_object().if_contains(service);
  if (!list) return false;
  for (const json::value& i : list->as_array()) {
    if (i.as_object().at("address").as_string() == address) return true;
  }
  return false;
}

std::vector<std::string> Addresses(const Channel& channel) {
  std::vector<std::string> out;
  for (const EndpointInfo& e : channel.Endpoints()) out.push_back(e.address);
  return out;
}

bool Knows(const Channel& channel, const std::string& address) {
  for (const EndpointInfo& e : channel.Endpoints()) {
    if (e.address == address) return true;
  }
  return false;
}

ChannelOptions EchoOptions() {
  ChannelOptions o;
  o.lb = "rr";
  o.timeout = 2s;
  o.idempotent_methods = {"Echo.echo"};
  o.health.interval = 200ms;
  return o;
}

bool EchoOk(Channel& channel, std::string* endpoint) {
  CallResult r = channel.Call("Echo.echo", json::object{{"n", 1}});
  if (endpoint) *endpoint = r.endpoint;
  return r.ok();
}

ServeProcess StartRegisteredServe(const std::vector<std::string>& sentinels, int ttl_ms) {
  std::string spec = "sentinel://";
  for (size_t i = 0; i < sentinels.size(); ++i) spec += (i ? "," : "") + sentinels[i];
  return StartServe({"--threads", "1", "--register", spec, "--lease-ttl-ms", std::to_string(ttl_ms)});
}

}  // namespace harpc::namingtest
