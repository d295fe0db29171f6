// The sentinel's registry: services and their instances, each held by a lease
// that its server renews with heartbeats. A lease that is not renewed within
// its TTL expires and the instance goes away; a deregistration removes it at
// once. Every change bumps the registry's index, which watchers long-poll on.
//
// The monitor adds what the sentinels see of each instance: subjectively down
// (SDOWN: this sentinel gets no valid /health answer) and objectively down
// (ODOWN: a quorum of sentinels agreed, recorded with the configuration epoch
// of that decision). Clients never call an instance that is ODOWN or draining.
//
// Runs on the sentinel's single event loop: no locks.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include "harpc/status.h"
#include "sentinel/registry_store.h"

namespace harpc::sentinel {

struct Instance {
  std::string service;
  std::string address;  // "host:port", unique within the service
  std::string name;
  int weight = 1;
  boost::json::object metadata;
  std::chrono::milliseconds ttl{3000};
  std::string lease;             // id the server renews with
  bool draining = false;         // answers its probes NOT_SERVING; no new calls
  bool sdown = false;            // this sentinel's own view
  bool odown = false;            // the group's decision
  int64_t odown_epoch = 0;       // epoch of the last decision on it
  int64_t registered_at_ms = 0;  // wall clock, for people
  int64_t last_heartbeat_ms = 0; // wall clock, for people
  double probe_latency_ms = -1;  // last good /health probe; -1 before one
  std::chrono::steady_clock::time_point expires_at{};

  // "up", "sdown", "odown" or "draining", as `harpc status` shows it.
  std::string_view State() const;
  boost::json::object ToJson() const;
};

class Registry {
 public:
  using Clock = std::chrono::steady_clock;

  // Bounds of one registration: service, address and name in bytes, and
  // metadata as serialized JSON (longer: INVALID_ARGUMENT).
  static constexpr size_t kMaxNameBytes = 255;
  static constexpr size_t kMaxMetadataBytes = 4096;

  // `store` may be null (memory only, for tests).
  explicit Registry(std::unique_ptr<RegistryStore> store) : store_(std::move(store)) {}

  // Loads the durable state. Restored leases get a full TTL from now, so that
  // servers that kept heartbeating through a sentinel restart are not disturbed.
  Status Load();

  struct Registration {
    std::string service, address, name;
    int weight = 1;
    boost::json::object metadata;
    std::chrono::milliseconds ttl{3000};
  };
  // Registers (or re-registers: same service and address) an instance; returns its lease.
  Status Register(const Registration& r, std::string* lease);
  // NOT_FOUND when the lease is unknown (expired, or this sentinel forgot it): register again.
  Status Heartbeat(const std::string& lease);
  Status Deregister(const std::string& lease);
  // Removes instances whose lease expired; returns them as (service, address).
  std::vector<std::pair<std::string, std::string>> ExpireLeases(Clock::time_point now);

  Instance* Find(const std::string& service, const std::string& address);
  std::vector<Instance*> All();
  const std::map<std::string, std::map<std::string, Instance>>& services() const { return services_; }

  // The monitor's verdicts. Both bump the index when they change something.
  void SetSdown(Instance& instance, bool sdown);
  // The instance answers its probes 503 NOT_SERVING (shutting down): listed
  // as "draining", and dropped from clients' memberships.
  void SetDraining(Instance& instance, bool draining);
  void SetOdown(Instance& instance, bool odown, int64_t epoch);
  void SetProbeLatency(Instance& instance, double ms) { instance.probe_latency_ms = ms; }

  // The configuration epoch: bumped by every decision of the sentinel group.
  int64_t epoch() const { return epoch_; }
  // Adopts a higher epoch (elections, peers' decisions); durable.
  void ObserveEpoch(int64_t epoch);
  uint64_t index() const { return index_; }

  // Waits until the index differs from `known` or `timeout` passes; returns the index then.
  boost::asio::awaitable<uint64_t> WaitForChange(uint64_t known, std::chrono::milliseconds timeout);
  // The watch answer for a service: {"index","epoch","instances":[...]}.
  boost::json::object Snapshot(const std::string& service) const;
  // Every service, as `harpc status --json` prints it.
  boost::json::object StatusJson() const;

 private:
  void Changed(const Instance* instance, bool removed);  // bump index, persist, wake watchers

  std::unique_ptr<RegistryStore> store_;
  std::map<std::string, std::map<std::string, Instance>> services_;  // service → address → instance
  std::map<std::string, std::pair<std::string, std::string>> leases_;  // lease → (service, address)
  int64_t epoch_ = 0;
  uint64_t index_ = 0;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> watchers_;
};

int64_t WallClockMs();

}  // namespace harpc::sentinel
