// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
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
// Runs on the sentinel's single event loop: no locks. Its durable state is
// written by the store's own thread, never on the loop.
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
#include "naming/registrar.h"
#include "sentinel/group_view.h"
#include "sentinel/instance_history.h"
#include "sentinel/registry_store.h"

namespace harpc::sentinel {

struct Instance {
  std::string service;
  std::string address;  // "host:port", unique within the service
  std::string name;
  int weight = 1;
  boost::json::object metadata;
  std::chrono::milliseconds ttl = kDefaultLeaseTtl;
  std::string lease;              // id the server renews with
  bool draining = false;          // answers its probes NOT_SERVING; no new calls
  bool sdown = false;             // this sentinel's own view
  bool odown = false;             // the group's decision
  int64_t odown_epoch = 0;        // epoch of the last decision on it
  std::string odown_leader;       // the sentinel elected in that epoch, who decided it ("" before one)
  int64_t registered_at_ms = 0;   // wall clock, for people
  int64_t last_heartbeat_ms = 0;  // wall clock, for people
  double probe_latency_ms = -1;   // last good /health probe; -1 before one
  // A replicated group's member (metadata "group"): its GET /status "group" as last read.
  std::optional<MemberView> group = std::nullopt;
  std::chrono::steady_clock::time_point expires_at{};

  // "up", "sdown", "odown" or "draining", as `harpc status` shows it.
  std::string_view State() const;
  boost::json::object ToJson() const;
};

// How much one sentinel holds, so that no caller can make it probe, list or
// wake without bound. Over a limit: RESOURCE_EXHAUSTED (HTTP 429), nothing changed.
struct RegistryLimits {
  size_t max_services = 1000;               // distinct service names
  size_t max_instances_per_service = 1000;  // instances registered under one service
  size_t max_instances = 10000;             // instances in all, each probed every probe interval
  size_t max_watchers_per_service = 1000;   // Registry.watch long polls waiting on one service
  size_t max_watchers = 10000;              // long polls waiting in all
  // How long an instance that left the registry (lease expired, deregistered)
  // is still shown with its history (InstanceHistory, at most kMaxDeparted).
  std::chrono::milliseconds history_retention{600000};
};

class Registry {
 public:
  using Clock = std::chrono::steady_clock;

  // Bounds of one registration: service, address and name in bytes, and
  // metadata as serialized JSON (longer: INVALID_ARGUMENT).
  static constexpr size_t kMaxNameBytes = 255;
  static constexpr size_t kMaxMetadataBytes = 4096;
  // Weights a registration may ask for (outside: INVALID_ARGUMENT): one
  // instance gets at most 1000 times the calls of another, never all of them.
  static constexpr int kMinWeight = 1;
  static constexpr int kMaxWeight = 1000;
  // Votes remembered (and persisted) for the epochs before the last one, so
  // that peers can check a decision of a recent epoch (Sentinel.voted).
  static constexpr size_t kVotesKept = 1000;

  // `store` may be null (memory only, for tests).
  explicit Registry(std::unique_ptr<RegistryStore> store, RegistryLimits limits = {})
      : store_(std::move(store)), limits_(limits), history_(limits.history_retention) {}

  // Loads the durable state. Restored leases get a full TTL from now, so that
  // servers that kept heartbeating through a sentinel restart are not disturbed.
  Status Load();

  struct Registration {
    std::string service, address, name;
    int weight = 1;
    boost::json::object metadata;
    std::chrono::milliseconds ttl = kDefaultLeaseTtl;
    // The lease that holds this service and address, to re-register it in
    // place (new weight, name, metadata, TTL; same lease). Empty: a new one.
    std::string lease;
  };
  // Registers an instance; returns its lease. An address that another live
  // lease holds under the service stays its holder's: ALREADY_EXISTS (409),
  // until that lease is deregistered or expires (no caller evicts another).
  Status Register(const Registration& r, std::string* lease);
  // NOT_FOUND when the lease is unknown (expired, or this sentinel forgot it): register again.
  Status Heartbeat(const std::string& lease);
  // Removes the instance that `lease` holds; `removed` gets its (service, address).
  Status Deregister(const std::string& lease, std::pair<std::string, std::string>* removed = nullptr);
  // Removes the instances whose lease expired, and returns them as they were.
  std::vector<Instance> ExpireLeases(Clock::time_point now);

  Instance* Find(const std::string& service, const std::string& address);
  std::vector<Instance*> All();
  const std::map<std::string, std::map<std::string, Instance>>& services() const { return services_; }

  // The monitor's verdicts. Both bump the index when they change something.
  void SetSdown(Instance& instance, bool sdown);
  // The instance answers its probes 503 NOT_SERVING (shutting down): listed
  // as "draining", and dropped from clients' memberships.
  void SetDraining(Instance& instance, bool draining);
  void SetOdown(Instance& instance, bool odown, int64_t epoch, const std::string& leader);
  void SetProbeLatency(Instance& instance, double ms) { instance.probe_latency_ms = ms; }
  // What a group member's GET /status says of its group; bumps the index when
  // its role, leader or term changed (its log indexes move at every command).
  void SetGroupView(Instance& instance, MemberView view);

  // The configuration epoch: bumped by every election of the sentinel group.
  int64_t epoch() const { return epoch_; }
  // Adopts a higher epoch (elections, peers' proven decisions); durable.
  void ObserveEpoch(int64_t epoch);
  uint64_t index() const { return index_; }

  // Every instance's recent state changes, those that left the registry
  // included (for a while): the registry records each change there.
  InstanceHistory& history() { return history_; }

  // This sentinel's vote in `epoch` ("" if it cast none, or forgot it: older than kVotesKept).
  std::string VotedFor(int64_t epoch) const;
  // The last epoch this sentinel voted in (0 before any).
  int64_t voted_epoch() const { return votes_.empty() ? 0 : votes_.rbegin()->first; }
  // Records a vote and adopts its epoch (at once, in memory), and resumes
  // once both are durable (one SQLite transaction), so that a restarted
  // sentinel never votes twice in one epoch. Only for an epoch after voted_epoch().
  boost::asio::awaitable<Status> RecordVote(int64_t epoch, const std::string& candidate);
  // Resumes once every change made so far is durable: changes are written
  // by another thread (RegistryStore), and an answer that reports one waits
  // for this first.
  boost::asio::awaitable<Status> Durable();
  // Blocks until every change made so far is durable: at the end, with the loop stopped.
  void FinishWrites();

  // Waits while `service` is unchanged since the index `known` (at most
  // `timeout`); answers at once when it changed after `known`, or when
  // `known` is not an index of this registry (another sentinel's, or from
  // before a restart). Changes of other services do not wake it.
  // RESOURCE_EXHAUSTED when the limits on waiting watchers are reached.
  boost::asio::awaitable<Status> WaitForChange(const std::string& service, uint64_t known,
                                               std::chrono::milliseconds timeout);
  size_t watchers() const { return watcher_count_; }
  // The watch answer for a service: {"index","epoch","instances":[...]}.
  boost::json::object Snapshot(const std::string& service) const;
  // Every service, as `harpc status --json` prints it; `groups` (group_view.h)
  // tells whether each replicated group has a quorum, by service.
  boost::json::object StatusJson(const GroupAlerts* groups = nullptr) const;

 private:
  // Bumps the index, persists (`instance`: its row, or its removal; null:
  // the index alone), and wakes the watchers of `service`.
  void Changed(const std::string& service, const Instance* instance, bool removed);
  // The index of the last change of `service` (for a service that has none
  // now: of the last removal of any emptied service, or of the load).
  uint64_t ChangedAt(const std::string& service) const;
  // Removes the instance `lease` holds, which leaves as `how` ("expired",
  // "deregistered"); `removed` gets it. NOT_FOUND when the lease is unknown.
  Status Remove(const std::string& lease, std::string_view how, Instance* removed);

  std::unique_ptr<RegistryStore> store_;
  RegistryLimits limits_;
  std::map<std::string, std::map<std::string, Instance>> services_;    // service → address → instance
  std::map<std::string, std::pair<std::string, std::string>> leases_;  // lease → (service, address)
  int64_t epoch_ = 0;
  uint64_t index_ = 0;
  std::map<int64_t, std::string> votes_;        // epoch → candidate, the last kVotesKept
  std::map<std::string, uint64_t> changed_at_;  // service → index of its last change
  uint64_t forgotten_at_ = 0;                   // index of the last removal of a service (and of the load)
  using Waiters = std::vector<std::shared_ptr<boost::asio::steady_timer>>;
  std::map<std::string, Waiters> watchers_;  // service → its waiting long polls
  size_t watcher_count_ = 0;
  InstanceHistory history_;
};

int64_t WallClockMs();

}  // namespace harpc::sentinel
