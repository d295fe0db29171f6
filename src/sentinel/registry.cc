// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/registry.h"

#include "util/random_id.h"

#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
std::string NewLease() { return RandomId(); }

StoredInstance ToStored(const Instance& i) {
  return {.service = i.service,
          .address = i.address,
          .name = i.name,
          .metadata_json = json::serialize(i.metadata),
          .lease = i.lease,
          .weight = i.weight,
          .ttl_ms = i.ttl.count(),
          .registered_at_ms = i.registered_at_ms,
          .odown = i.odown,
          .odown_epoch = i.odown_epoch,
          .odown_leader = i.odown_leader};
}
}  // namespace

std::string_view Instance::State() const {
  if (draining) return "draining";
  if (odown) return "odown";
  if (sdown) return "sdown";
  return "up";
}

json::object Instance::ToJson() const {
  json::object o{{"address", address},    {"name", name},
                 {"weight", weight},      {"state", State()},
                 {"epoch", odown_epoch},  {"last_heartbeat_ms", last_heartbeat_ms},
                 {"ttl_ms", ttl.count()}, {"probe_latency_ms", probe_latency_ms},
                 {"metadata", metadata}};
  if (group) o["group"] = group->ToJson();
  return o;
}

Status Registry::Load() {
  if (!store_) return Status::Ok();
  std::vector<StoredInstance> stored;
  if (Status s = store_->LoadAll(&stored, &epoch_, &index_, &votes_); !s.ok()) return s;
  const auto now = Clock::now();
  for (StoredInstance& si : stored) {
    Instance i{.service = si.service,
               .address = si.address,
               .name = si.name,
               .weight = si.weight,
               .ttl = std::chrono::milliseconds(si.ttl_ms),
               .lease = si.lease,
               .odown = si.odown,
               .odown_epoch = si.odown_epoch,
               .odown_leader = si.odown_leader,
               .registered_at_ms = si.registered_at_ms,
               .last_heartbeat_ms = WallClockMs()};
    boost::system::error_code ec;
    json::value meta = json::parse(si.metadata_json, ec);
    if (!ec && meta.is_object()) i.metadata = meta.as_object();
    i.expires_at = now + i.ttl;
    history_.Record(i.service, i.address, i.name, i.State(), i.last_heartbeat_ms);
    leases_[i.lease] = {i.service, i.address};
    services_[i.service][i.address] = std::move(i);
  }
  // The own view (SDOWN) starts afresh: a new index, so that watchers from
  // before the restart get the state as it is now.
  ++index_;
  forgotten_at_ = index_;  // every service changed, as far as watchers from before can tell
  for (const auto& [service, instances] : services_) changed_at_[service] = index_;
  store_->SetIndex(index_);
  spdlog::info("registry: restored {} instances, epoch {}, index {}, last vote in epoch {}", stored.size(), epoch_,
               index_, voted_epoch());
  return Status::Ok();
}

void Registry::Changed(const std::string& service, const Instance* instance, bool removed) {
  ++index_;
  if (services_.contains(service)) {
    changed_at_[service] = index_;
  } else {
    changed_at_.erase(service);  // (an emptied service: forgotten, so that names do not pile up)
    forgotten_at_ = index_;
  }
  if (store_) {
    // Every change persists the index (a change of the own view alone too), so
    // that watchers never see it go backwards across a restart.
    if (!instance) {
      store_->SetIndex(index_);
    } else if (removed) {
      store_->Remove(instance->service, instance->address, index_);
    } else {
      store_->Put(ToStored(*instance), index_);
    }
  }
  if (auto waiting = watchers_.find(service); waiting != watchers_.end()) {
    for (auto& w : waiting->second) w->cancel();  // each one leaves the list itself
  }
}

uint64_t Registry::ChangedAt(const std::string& service) const {
  auto it = changed_at_.find(service);
  return it == changed_at_.end() ? forgotten_at_ : it->second;
}

Status Registry::Register(const Registration& r, std::string* lease) {
  if (r.service.empty()) return InvalidArgument("service must not be empty");
  if (r.address.empty()) return InvalidArgument("address must not be empty");
  // Every entry is listed to every client and watcher: its size is bounded.
  if (r.service.size() > kMaxNameBytes) return InvalidArgument("service must be at most 255 bytes");
  if (r.address.size() > kMaxNameBytes) return InvalidArgument("address must be at most 255 bytes");
  if (r.name.size() > kMaxNameBytes) return InvalidArgument("name must be at most 255 bytes");
  if (json::serialize(r.metadata).size() > kMaxMetadataBytes) {
    return InvalidArgument("metadata must be at most 4096 bytes of JSON");
  }
  if (r.weight < kMinWeight || r.weight > kMaxWeight) {
    return InvalidArgument("weight must be from " + std::to_string(kMinWeight) + " to " + std::to_string(kMaxWeight));
  }
  if (r.ttl.count() < 100 || r.ttl.count() > 3600000) return InvalidArgument("ttl_ms must be from 100 to 3600000");
  const Instance* holder = Find(r.service, r.address);
  if (holder && holder->lease != r.lease && holder->expires_at <= Clock::now()) {
    Instance expired;
    Remove(std::string(holder->lease), "expired", &expired);  // expired, not yet swept: the address is free
    holder = nullptr;
  }
  auto service = services_.find(r.service);
  if (holder && holder->lease != r.lease) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(holder->expires_at - Clock::now());
    return AlreadyExists("address " + r.address + " of service " + r.service +
                         " is held by another lease (it expires in " +
                         std::to_string(std::max<int64_t>(left.count(), 0)) +
                         " ms unless renewed): deregister it with that lease, or register again with it as \"lease\"");
  }
  if (!holder && !r.lease.empty()) {
    return NotFound("unknown lease '" + r.lease + "' for " + r.service + " " + r.address + ": register without it");
  }
  if (!holder) {
    if (service == services_.end() && services_.size() >= limits_.max_services) {
      return ResourceExhausted("this sentinel holds " + std::to_string(services_.size()) +
                               " services, its limit: no new service");
    }
    if (service != services_.end() && service->second.size() >= limits_.max_instances_per_service) {
      return ResourceExhausted("service " + r.service + " holds " + std::to_string(service->second.size()) +
                               " instances, the limit per service on this sentinel");
    }
    if (leases_.size() >= limits_.max_instances) {
      return ResourceExhausted("this sentinel holds " + std::to_string(leases_.size()) +
                               " instances, its limit: no new instance");
    }
  }
  Instance& i = services_[r.service][r.address];
  const bool fresh = i.lease.empty();
  i.service = r.service;
  i.address = r.address;
  i.name = r.name.empty() ? r.address : r.name;
  i.weight = r.weight;
  i.metadata = r.metadata;
  if (!IsGroupMember(i.metadata)) i.group.reset();
  i.ttl = r.ttl;
  if (fresh) {
    i.lease = NewLease();
    i.registered_at_ms = WallClockMs();
    leases_[i.lease] = {i.service, i.address};
  }
  i.draining = false;
  i.last_heartbeat_ms = WallClockMs();
  i.expires_at = Clock::now() + i.ttl;
  *lease = i.lease;
  history_.Record(i.service, i.address, i.name, i.State(), i.last_heartbeat_ms);
  Changed(i.service, &i, false);
  return Status::Ok();
}

Status Registry::Heartbeat(const std::string& lease) {
  auto it = leases_.find(lease);
  if (it == leases_.end()) return {StatusCode::kNotFound, "unknown lease '" + lease + "': register again"};
  Instance* i = Find(it->second.first, it->second.second);
  i->expires_at = Clock::now() + i->ttl;
  i->last_heartbeat_ms = WallClockMs();
  return Status::Ok();
}

Status Registry::Deregister(const std::string& lease, std::pair<std::string, std::string>* which) {
  Instance removed;
  if (Status s = Remove(lease, "deregistered", &removed); !s.ok()) return s;
  if (which) *which = {removed.service, removed.address};
  return Status::Ok();
}

Status Registry::Remove(const std::string& lease, std::string_view how, Instance* removed) {
  auto it = leases_.find(lease);
  if (it == leases_.end()) return {StatusCode::kNotFound, "unknown lease '" + lease + "'"};
  auto [service, address] = it->second;
  leases_.erase(it);
  *removed = std::move(services_[service][address]);
  services_[service].erase(address);
  if (services_[service].empty()) services_.erase(service);
  history_.Record(service, address, removed->name, how, WallClockMs());
  Changed(service, removed, true);
  return Status::Ok();
}

std::vector<Instance> Registry::ExpireLeases(Clock::time_point now) {
  std::vector<std::string> expired;
  for (const auto& [service, instances] : services_) {
    for (const auto& [address, i] : instances) {
      if (i.expires_at <= now) expired.push_back(i.lease);
    }
  }
  std::vector<Instance> removed(expired.size());
  for (size_t n = 0; n < expired.size(); ++n) {
    Remove(expired[n], "expired", &removed[n]);
    spdlog::info("registry: lease of {} {} expired", removed[n].service, removed[n].address);
  }
  history_.Prune(WallClockMs());
  return removed;
}

Instance* Registry::Find(const std::string& service, const std::string& address) {
  auto s = services_.find(service);
  if (s == services_.end()) return nullptr;
  auto i = s->second.find(address);
  return i == s->second.end() ? nullptr : &i->second;
}

std::vector<Instance*> Registry::All() {
  std::vector<Instance*> out;
  for (auto& [service, instances] : services_) {
    for (auto& [address, i] : instances) out.push_back(&i);
  }
  return out;
}

void Registry::SetSdown(Instance& i, bool sdown) {
  if (i.sdown == sdown) return;
  i.sdown = sdown;
  history_.Record(i.service, i.address, i.name, i.State(), WallClockMs());
  Changed(i.service, nullptr, false);  // the own view is not durable: probes rebuild it
}

void Registry::SetDraining(Instance& i, bool draining) {
  if (i.draining == draining) return;
  i.draining = draining;
  history_.Record(i.service, i.address, i.name, i.State(), WallClockMs());
  Changed(i.service, nullptr, false);  // like SDOWN, the probes' own view
}

void Registry::SetGroupView(Instance& i, MemberView view) {
  const bool changed = !i.group || !i.group->SameRoleAs(view);
  i.group = std::move(view);
  if (changed) Changed(i.service, nullptr, false);  // the own view, as SDOWN
}

void Registry::SetOdown(Instance& i, bool odown, int64_t epoch, const std::string& leader) {
  ObserveEpoch(epoch);
  if (i.odown == odown && i.odown_epoch >= epoch) return;
  i.odown = odown;
  i.odown_epoch = epoch;
  i.odown_leader = leader;
  history_.Record(i.service, i.address, i.name, i.State(), WallClockMs());
  Changed(i.service, &i, false);
}

std::string Registry::VotedFor(int64_t epoch) const {
  auto it = votes_.find(epoch);
  return it == votes_.end() ? std::string() : it->second;
}

asio::awaitable<Status> Registry::RecordVote(int64_t epoch, const std::string& candidate) {
  if (epoch <= voted_epoch()) co_return FailedPrecondition("already voted in epoch " + std::to_string(voted_epoch()));
  // In memory first, at once: a second request for this epoch sees the vote
  // while it is being written (and waits for it: Durable).
  votes_[epoch] = candidate;
  while (votes_.size() > kVotesKept) votes_.erase(votes_.begin());
  epoch_ = std::max(epoch_, epoch);
  if (!store_) co_return Status::Ok();
  const int64_t forget_before = votes_.begin()->first;
  co_return co_await store_->RecordVote(epoch, candidate, forget_before);
}

void Registry::FinishWrites() {
  if (store_) store_->FlushSync();
}

asio::awaitable<Status> Registry::Durable() {
  if (!store_) co_return Status::Ok();
  co_return co_await store_->Flush();
}

void Registry::ObserveEpoch(int64_t epoch) {
  if (epoch <= epoch_) return;
  epoch_ = epoch;
  if (store_) store_->SetEpoch(epoch);
}

asio::awaitable<Status> Registry::WaitForChange(const std::string& service, uint64_t known,
                                                std::chrono::milliseconds timeout) {
  if (known > index_ || known < ChangedAt(service) || timeout.count() <= 0) co_return Status::Ok();
  Waiters& waiting = watchers_[service];
  if (waiting.size() >= limits_.max_watchers_per_service || watcher_count_ >= limits_.max_watchers) {
    const bool per_service = waiting.size() >= limits_.max_watchers_per_service;
    if (waiting.empty()) watchers_.erase(service);
    co_return ResourceExhausted(per_service ? "too many watchers of service " + service + " on this sentinel (limit " +
                                                  std::to_string(limits_.max_watchers_per_service) + "): retry later"
                                            : "too many watchers on this sentinel (limit " +
                                                  std::to_string(limits_.max_watchers) + "): retry later");
  }
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, timeout);
  waiting.push_back(timer);
  ++watcher_count_;
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  --watcher_count_;
  // (The list may have moved: other services' watchers come and go meanwhile.)
  if (auto it = watchers_.find(service); it != watchers_.end()) {
    std::erase(it->second, timer);
    if (it->second.empty()) watchers_.erase(it);
  }
  co_return Status::Ok();
}

json::object Registry::Snapshot(const std::string& service) const {
  json::array instances;
  if (auto s = services_.find(service); s != services_.end()) {
    for (const auto& [address, i] : s->second) instances.push_back(i.ToJson());
  }
  return {{"service", service}, {"index", index_}, {"epoch", epoch_}, {"instances", std::move(instances)}};
}

json::object Registry::StatusJson(const GroupAlerts* alerts) const {
  json::object services, groups;
  for (const auto& [service, instances] : services_) {
    json::array list;
    for (const auto& [address, i] : instances) list.push_back(i.ToJson());
    services[service] = std::move(list);
    if (std::optional<GroupSummary> g = Summarize(instances)) {
      groups[service] = g->ToJson(alerts ? alerts->quorum(service) : g->up >= g->majority());
    }
  }
  return {{"services", std::move(services)}, {"groups", std::move(groups)}, {"epoch", epoch_}, {"index", index_}};
}

}  // namespace harpc::sentinel
