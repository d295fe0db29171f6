// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/sentinel_service.h"

#include <algorithm>
#include <map>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "sentinel/dashboard.h"
#include "util/address.h"
#include "util/json_params.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// One change of a decision: {service, address, odown}.
Status ParseChange(const json::value& p, Monitor::Decision::Change* c) {
  if (Status s = StringField(p, "service", true, &c->service); !s.ok()) return s;
  if (Status s = StringField(p, "address", true, &c->address); !s.ok()) return s;
  const json::value* odown = p.as_object().if_contains("odown");
  if (!odown || !odown->is_bool()) return InvalidArgument("\"odown\" must be true or false");
  c->odown = odown->as_bool();
  return Status::Ok();
}

// Sentinel.decide's params: {epoch, leader, instances: [{service, address,
// odown}, ...]} (at most Monitor::kInstancesPerCall), or one change inline,
// {epoch, leader, service, address, odown}: how sentinels told a decision
// before they decided many instances at once.
Status ParseDecision(const json::value& p, Monitor::Decision* d) {
  if (!p.is_object()) return InvalidArgument("params must be a JSON object");
  if (const json::value* listed = p.as_object().if_contains("instances")) {
    if (!listed->is_array() || listed->as_array().empty()) {
      return InvalidArgument("\"instances\" must be a non-empty array of {service, address, odown}");
    }
    const json::array& changes = listed->as_array();
    if (changes.size() > Monitor::kInstancesPerCall) {
      return InvalidArgument("\"instances\" lists " + std::to_string(changes.size()) + " changes, more than " +
                             std::to_string(Monitor::kInstancesPerCall) + " in one call: send the decision in parts");
    }
    for (size_t k = 0; k < changes.size(); ++k) {
      const std::string where = "\"instances\"[" + std::to_string(k) + "]";
      if (!changes[k].is_object()) return InvalidArgument(where + " must be an object {service, address, odown}");
      Monitor::Decision::Change c;
      if (Status s = ParseChange(changes[k], &c); !s.ok()) return InvalidArgument(where + ": " + s.message());
      d->changes.push_back(std::move(c));
    }
  } else {
    Monitor::Decision::Change c;
    if (Status s = ParseChange(p, &c); !s.ok()) return s;
    d->changes.push_back(std::move(c));
  }
  if (Status s = IntField(p, "epoch", false, &d->epoch); !s.ok()) return s;
  if (d->epoch <= 0) return InvalidArgument("\"epoch\" must be a positive integer");
  return StringField(p, "leader", true, &d->leader);  // whose election decided it
}
}  // namespace

SentinelService::SentinelService(const SentinelOptions& options, std::unique_ptr<RegistryStore> store)
    : options_(options),
      registry_(std::move(store), options.limits),
      notifier_({.command = options.notify_command,
                 .webhook = options.webhook_url,
                 .command_timeout = options.notify_timeout,
                 .max_alerts_per_minute = options.max_alerts_per_minute,
                 .webhook_tls = options.security.tls}) {}

SentinelService::~SentinelService() = default;

Status SentinelService::Attach(Server& server) {
  if (Status s = registry_.Load(); !s.ok()) return s;
  // A registry write is answered once durable; its commit is the store's
  // thread's work, so the loop serves others meanwhile (between the
  // elements of a batch too).
  Status added = server.AddAsyncMethod("Registry.register",
                                       [this](json::value p, CallContext&) -> asio::awaitable<Result> {
                                         Result r = Register(p);
                                         co_await registry_.Durable();  // (a failed write is logged by the store)
                                         co_return r;
                                       },
                                       {.role = Role::kService});
  if (added.ok())
    added = server.AddMethod("Registry.heartbeat",
                             [this](const json::value& p, CallContext&) -> Result {
                               std::string lease;
                               if (Status s = StringField(p, "lease", true, &lease); !s.ok()) return s;
                               if (Status s = registry_.Heartbeat(lease); !s.ok()) return s;
                               return json::value{{"ok", true}};
                             },
                             {.idempotent = true, .role = Role::kService});
  if (added.ok())
    added = server.AddAsyncMethod("Registry.deregister",
                                  [this](json::value p, CallContext&) -> asio::awaitable<Result> {
                                    Result r = Deregister(p);
                                    co_await registry_.Durable();
                                    co_return r;
                                  },
                                  {.idempotent = true, .role = Role::kService});
  // An index is shown only once durable, so that no client ever sees it go
  // backwards across a restart: the answer is made, then waits for its writes.
  if (added.ok())
    added = server.AddAsyncMethod("Registry.list",
                                  [this](json::value, CallContext&) -> asio::awaitable<Result> {
                                    json::value answer(registry_.StatusJson(monitor_ ? &monitor_->groups() : nullptr));
                                    co_await registry_.Durable();
                                    co_return answer;
                                  },
                                  {.idempotent = true});
  if (added.ok())
    added = server.AddAsyncMethod("Registry.watch",
                                  [this](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
                                    std::string service;
                                    if (Status s = StringField(p, "service", true, &service); !s.ok()) co_return s;
                                    int64_t index = -1, timeout_ms = 5000;
                                    if (Status s = IntField(p, "index", false, &index); !s.ok()) co_return s;
                                    if (Status s = IntField(p, "timeout_ms", false, &timeout_ms); !s.ok()) co_return s;
                                    auto timeout =
                                        std::min(std::chrono::milliseconds(std::clamp<int64_t>(timeout_ms, 0, 60000)),
                                                 ctx.remaining() - std::chrono::milliseconds(50));
                                    if (index >= 0) {
                                      const uint64_t known = static_cast<uint64_t>(index);
                                      Status waited = co_await registry_.WaitForChange(service, known, timeout);
                                      if (!waited.ok()) co_return waited;
                                    }
                                    json::value answer(registry_.Snapshot(service));
                                    co_await registry_.Durable();
                                    co_return answer;
                                  },
                                  {.idempotent = true});
  if (added.ok())
    added = server.AddMethod("Sentinel.opinion",
                             [this](const json::value& p, CallContext&) -> Result {
                               std::string service, address;
                               if (Status s = StringField(p, "service", true, &service); !s.ok()) return s;
                               if (Status s = StringField(p, "address", true, &address); !s.ok()) return s;
                               return json::value(monitor_ ? monitor_->Opinion(service, address) : json::object{});
                             },
                             {.idempotent = true, .role = Role::kPeer});
  if (added.ok())
    added = server.AddAsyncMethod("Sentinel.vote",
                                  [this](json::value p, CallContext&) -> asio::awaitable<Result> {
                                    std::string candidate;
                                    int64_t epoch = 0;
                                    if (Status s = StringField(p, "candidate", true, &candidate); !s.ok()) co_return s;
                                    if (Status s = IntField(p, "epoch", false, &epoch); !s.ok()) co_return s;
                                    if (epoch <= 0) co_return InvalidArgument("\"epoch\" must be a positive integer");
                                    if (!monitor_) co_return Unavailable("sentinel is starting");
                                    co_return co_await monitor_->Vote(epoch, candidate);
                                  },
                                  {.role = Role::kPeer});
  if (added.ok())
    added = server.AddMethod("Sentinel.voted",
                             [this](const json::value& p, CallContext&) -> Result {
                               int64_t epoch = 0;
                               if (Status s = IntField(p, "epoch", true, &epoch); !s.ok()) return s;
                               if (!monitor_) return Unavailable("sentinel is starting");
                               return json::value(monitor_->Voted(epoch));
                             },
                             {.idempotent = true, .role = Role::kPeer});
  if (added.ok())
    added = server.AddAsyncMethod("Sentinel.decide",
                                  [this](json::value p, CallContext&) -> asio::awaitable<Result> {
                                    Monitor::Decision d;
                                    if (Status s = ParseDecision(p, &d); !s.ok()) co_return s;
                                    if (!monitor_) co_return Unavailable("sentinel is starting");
                                    co_return co_await monitor_->Decide(d);
                                  },
                                  {.idempotent = true, .role = Role::kPeer});
  if (added.ok())
    added = server.AddMethod("Sentinel.events",
                             [this](const json::value& p, CallContext&) -> Result {
                               int64_t limit = Notifier::kRecentEvents;
                               if (p.is_object()) {
                                 if (Status s = IntField(p, "limit", false, &limit); !s.ok()) return s;
                               }
                               return json::value(notifier_.Recent(
                                   static_cast<size_t>(std::clamp<int64_t>(limit, 0, Notifier::kRecentEvents))));
                             },
                             {.idempotent = true});
  if (added.ok())
    added = server.AddMethod("Sentinel.history",
                             [this](const json::value&, CallContext&) -> Result {
                               registry_.history().Prune(WallClockMs());
                               return json::value{{"instances", registry_.history().ToJson()},
                                                  {"retention_ms", options_.limits.history_retention.count()}};
                             },
                             {.idempotent = true});
  // The dashboard, like /status, needs role client (the default of pages).
  if (added.ok()) added = server.AddPage("/", [] { return Server::Page{.body = std::string(DashboardHtml())}; });
  if (added.ok()) added = server.AddMetrics([this] { return notifier_.MetricsText() + RegistryMetrics(); });
  server_ = &server;
  return added;
}

Result SentinelService::Register(const json::value& p) {
  Registry::Registration r;
  int64_t weight = 1, ttl = options_.lease_ttl.count();
  if (Status s = StringField(p, "service", true, &r.service); !s.ok()) return s;
  if (Status s = StringField(p, "address", true, &r.address); !s.ok()) return s;
  if (Status s = StringField(p, "name", false, &r.name); !s.ok()) return s;
  if (Status s = StringField(p, "lease", false, &r.lease); !s.ok()) return s;
  if (Status s = IntField(p, "weight", false, &weight); !s.ok()) return s;
  if (Status s = IntField(p, "ttl_ms", false, &ttl); !s.ok()) return s;
  if (const json::value* m = p.as_object().if_contains("metadata")) {
    if (!m->is_object()) return InvalidArgument("\"metadata\" must be an object");
    r.metadata = m->as_object();
  }
  if (IsGroupAddress(r.address)) {
    return InvalidArgument("address " + r.address + " is a sentinel of this group, not an instance to watch");
  }
  r.weight = static_cast<int>(std::clamp<int64_t>(weight, -1, Registry::kMaxWeight + 1));  // out of range stays so
  r.ttl = std::chrono::milliseconds(ttl);
  std::string lease;
  const bool known = registry_.Find(r.service, r.address) != nullptr;
  if (Status s = registry_.Register(r, &lease); !s.ok()) return s;
  if (!known)
    notifier_.Publish({"registered", r.service, r.address, registry_.epoch(), WallClockMs(), server_address()}, false);
  json::object answer{{"lease", lease}, {"ttl_ms", ttl}, {"epoch", registry_.epoch()}};
  const std::chrono::milliseconds detection = DetectionBound(options_.down_after, options_.probe_interval);
  if (LeaseLeftAfterCrash(r.ttl) <= detection) {
    // Accepted: the alert of a crash is then "lease-expired" (Monitor::TellLeaseExpiries), not "odown".
    std::string warning = "a lease TTL of " + std::to_string(ttl) + " ms can expire " +
                          std::to_string(LeaseLeftAfterCrash(r.ttl).count()) +
                          " ms after a crash, before this sentinel's group declares it down (up to " +
                          std::to_string(detection.count()) + " ms): a crash will alert as lease-expired, not odown";
    if (!known) spdlog::warn("registry: {} {}: {}", r.service, r.address, warning);
    answer["warning"] = warning;
  }
  return json::value(std::move(answer));
}

Result SentinelService::Deregister(const json::value& p) {
  std::string lease;
  if (Status s = StringField(p, "lease", true, &lease); !s.ok()) return s;
  std::pair<std::string, std::string> removed;
  if (Status s = registry_.Deregister(lease, &removed); !s.ok()) return s;
  notifier_.Publish({"deregistered", removed.first, removed.second, registry_.epoch(), WallClockMs(), server_address()},
                    false);
  return json::value{{"ok", true}};
}

std::string SentinelService::server_address() const { return server_ ? server_->address() : options_.listen; }

// Whether `address` is this sentinel or one of its peers: registered as an
// instance, it would have the group probe (and vote on) itself. A sentinel
// listening on 0.0.0.0 or :: is every local address.
bool SentinelService::IsGroupAddress(const std::string& address) const {
  if (SameListener(address, server_address())) return true;
  return std::any_of(options_.peers.begin(), options_.peers.end(),
                     [&](const std::string& peer) { return SameListener(address, peer); });
}

std::string SentinelService::RegistryMetrics() const {
  std::map<std::string, uint64_t> by_state;
  for (const auto& [service, instances] : registry_.services()) {
    for (const auto& [address, i] : instances) ++by_state[std::string(i.State())];
  }
  std::string out =
      "# HELP harpc_sentinel_instances Registered instances by state.\n"
      "# TYPE harpc_sentinel_instances gauge\n";
  for (const char* state : {"up", "sdown", "odown", "draining"}) {
    out += "harpc_sentinel_instances{state=\"" + std::string(state) + "\"} " + std::to_string(by_state[state]) + "\n";
  }
  out += "# HELP harpc_sentinel_epoch The configuration epoch.\n# TYPE harpc_sentinel_epoch gauge\n";
  out += "harpc_sentinel_epoch " + std::to_string(registry_.epoch()) + "\n";
  out += "# HELP harpc_sentinel_watchers Registry.watch long polls waiting.\n# TYPE harpc_sentinel_watchers gauge\n";
  out += "harpc_sentinel_watchers " + std::to_string(registry_.watchers()) + "\n";
  return out;
}

void SentinelService::StartMonitor(Server& server) {
  MonitorOptions mo{.self = server.address(),
                    .peers = options_.peers,
                    .quorum = options_.quorum,
                    .down_after = options_.down_after,
                    .probe_interval = options_.probe_interval,
                    .security = options_.security};
  if (mo.quorum <= 0) mo.quorum = static_cast<int>(options_.peers.size() + 1) / 2 + 1;
  spdlog::info("sentinel {}: peers [{}], quorum {}, down-after {} ms, probe every {} ms, data in {}", server.address(),
               fmt::join(options_.peers, ","), mo.quorum, options_.down_after.count(), options_.probe_interval.count(),
               options_.data_dir);
  // Made and started on the loop that serves the methods: they see no
  // monitor ("sentinel is starting") or a started one with its peer
  // channels, never one half made by another thread (the
  // same for the notifier's executor).
  asio::post(server.executor(), [this, mo = std::move(mo), executor = server.executor()]() mutable {
    notifier_.SetExecutor(executor);
    monitor_ = std::make_unique<Monitor>(registry_, notifier_, std::move(mo));
    monitor_->Start(executor);
  });
}

void SentinelService::Stop() {
  monitor_.reset();  // its channels run on the server's loop
  // The writes still queued commit now, while the loop that their waiters
  // resume on still exists (stopped: they never run).
  registry_.FinishWrites();
}

}  // namespace harpc::sentinel
