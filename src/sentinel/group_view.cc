// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/group_view.h"

#include <algorithm>

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include "http/request.h"
#include "sentinel/notifier.h"
#include "sentinel/registry.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
constexpr size_t kMaxAddressBytes = 255;
constexpr uint64_t kMaxStatusBytes = 64 * 1024;

bool Address(const json::value& v, std::string* out) {
  const json::string* s = v.if_string();
  if (!s || s->empty() || s->size() > kMaxAddressBytes) return false;
  *out = std::string(*s);
  return true;
}

bool Count(const json::object& o, std::string_view key, uint64_t* out) {
  const json::value* v = o.if_contains(key);
  if (!v) return false;
  boost::system::error_code ec;
  *out = v->to_number<uint64_t>(ec);
  return !ec;
}

json::value OrNull(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }
}  // namespace

std::optional<MemberView> MemberView::Parse(const json::value& status_group) {
  const json::object* o = status_group.if_object();
  if (!o) return std::nullopt;
  MemberView v;
  const json::value* role = o->if_contains("role");
  if (!role || !role->is_string()) return std::nullopt;
  v.role = std::string(role->as_string());
  if (v.role != "leader" && v.role != "follower" && v.role != "candidate" && v.role != "unavailable") {
    return std::nullopt;
  }
  if (const json::value* leader = o->if_contains("leader"); leader && !leader->is_null()) {
    std::string address;
    if (!Address(*leader, &address)) return std::nullopt;
    v.leader = std::move(address);
  }
  if (!Count(*o, "term", &v.term) || !Count(*o, "commit_index", &v.commit_index) ||
      !Count(*o, "applied_index", &v.applied_index)) {
    return std::nullopt;
  }
  const json::value* members = o->if_contains("members");
  if (!members || !members->is_array() || members->as_array().size() > kMaxMembers) return std::nullopt;
  for (const json::value& m : members->as_array()) {
    std::string address;
    if (!Address(m, &address)) return std::nullopt;
    v.members.push_back(std::move(address));
  }
  return v;
}

json::object MemberView::ToJson() const {
  json::array list(members.begin(), members.end());
  return {{"role", role},
          {"leader", OrNull(leader)},
          {"term", term},
          {"commit_index", commit_index},
          {"applied_index", applied_index},
          {"members", std::move(list)}};
}

asio::awaitable<std::optional<MemberView>> ReadMemberView(std::unique_ptr<http1::ClientConnection>& connection,
                                                          const asio::ip::tcp::endpoint& endpoint,
                                                          std::chrono::milliseconds timeout,
                                                          const ClientSecurity& security) {
  const auto deadline = http1::Clock::now() + timeout;
  if (!connection) {
    connection = std::make_unique<http1::ClientConnection>(co_await asio::this_coro::executor);
    if (co_await connection->stream.Connect(endpoint, deadline, security.tls)) {
      connection.reset();
      co_return std::nullopt;
    }
  }
  std::string request;
  http1::AppendRequestLine(request, "GET", "/status", "harpc");
  http1::AppendBearerToken(request, security.bearer_token);
  http1::AppendBody(request, {}, {});
  http1::ClientResponse response =
      co_await http1::Exchange(*connection, request, deadline, {.body_bytes = kMaxStatusBytes});
  if (response.error || !response.reusable) connection.reset();
  if (response.error || response.status != 200) co_return std::nullopt;
  boost::system::error_code ec;
  json::value status = json::parse(response.body, ec);
  const json::object* o = ec ? nullptr : status.if_object();
  const json::value* group = o ? o->if_contains("group") : nullptr;
  co_return group ? MemberView::Parse(*group) : std::nullopt;
}

bool IsGroupMember(const json::object& metadata) {
  const json::value* group = metadata.if_contains("group");
  return group && group->is_object();
}

json::object GroupSummary::ToJson(bool quorum) const {
  json::object lags;
  for (const auto& [address, n] : lag) lags[address] = n;
  return {{"leader", OrNull(leader)}, {"term", term},          {"members", members.size()}, {"up", up},
          {"quorum", quorum},         {"lag", std::move(lags)}};
}

std::optional<GroupSummary> Summarize(const std::map<std::string, Instance>& instances) {
  GroupSummary g;
  bool any = false;
  const MemberView* newest = nullptr;  // the up member's view with the highest term
  std::vector<const Instance*> seen;   // up members whose state was read
  for (const auto& [address, i] : instances) {
    if (!IsGroupMember(i.metadata)) continue;
    any = true;
    if (i.State() != "up" || !i.group) continue;
    seen.push_back(&i);
    if (!newest || i.group->term > newest->term) newest = &*i.group;
  }
  if (!any) return std::nullopt;
  g.views = newest != nullptr;
  if (newest) {
    g.term = newest->term;
    g.members = newest->members;
    // Raft elects one leader per term: the members of that term that know it agree.
    for (const Instance* i : seen) {
      if (i->group->term == g.term && i->group->leader) g.leader = i->group->leader;
    }
  } else {
    // No state read yet (or none readable): the members as registered.
    for (const auto& [address, i] : instances) {
      if (!IsGroupMember(i.metadata)) continue;
      const json::value* listed = i.metadata.at("group").as_object().if_contains("members");
      if (!listed || !listed->is_array() || listed->as_array().size() > MemberView::kMaxMembers) continue;
      for (const json::value& m : listed->as_array()) {
        std::string a;
        if (Address(m, &a) && std::find(g.members.begin(), g.members.end(), a) == g.members.end())
          g.members.push_back(a);
      }
      if (!g.members.empty()) break;
    }
  }
  if (g.members.empty()) {
    for (const auto& [address, i] : instances) {
      if (IsGroupMember(i.metadata)) g.members.push_back(address);
    }
  }
  for (const std::string& m : g.members) {
    auto i = instances.find(m);
    if (i != instances.end() && IsGroupMember(i->second.metadata) && i->second.State() == "up") ++g.up;
  }
  const Instance* leader = nullptr;
  if (g.leader) {
    auto it = instances.find(*g.leader);
    if (it != instances.end() && it->second.group && it->second.State() == "up") leader = &it->second;
  }
  if (leader) {
    const uint64_t commit = leader->group->commit_index;
    for (const Instance* i : seen) {
      g.lag[i->address] = commit > i->group->applied_index ? commit - i->group->applied_index : 0;
    }
  }
  return g;
}

bool GroupAlerts::quorum(const std::string& service) const {
  auto it = seen_.find(service);
  return it == seen_.end() || it->second.quorum;
}

void GroupAlerts::Tell(const std::string& event, const std::string& service, const std::string& address, int64_t epoch,
                       json::object details) {
  notifier_.Publish({.event = event,
                     .service = service,
                     .address = address,
                     .epoch = epoch,
                     .time_ms = WallClockMs(),
                     .sentinel = self_,
                     .details = std::move(details)},
                    /*alert=*/true);
}

void GroupAlerts::Check(const std::map<std::string, std::map<std::string, Instance>>& services, int64_t epoch,
                        Clock::time_point now) {
  std::erase_if(seen_, [&](const auto& s) { return !services.contains(s.first); });
  for (const auto& [service, instances] : services) {
    std::optional<GroupSummary> g = Summarize(instances);
    if (!g) {
      seen_.erase(service);
      continue;
    }
    auto [it, first] = seen_.try_emplace(service);
    Seen& seen = it->second;
    if (g->leader) {
      if (!first && seen.leader && *seen.leader != *g->leader) {
        Tell("leader-change", service, *g->leader, epoch,
             {{"leader", *g->leader}, {"previous_leader", *seen.leader}, {"term", g->term}});
      }
      seen.leader = g->leader;
      seen.term = g->term;
    }
    // Members answer and none names a leader; nothing read is no evidence either way.
    const bool leaderless = g->views && !g->leader;
    const bool majority_up = g->up >= g->majority();
    if (majority_up && !leaderless) {
      seen.lacking_since.reset();
    } else if (!seen.lacking_since) {
      seen.lacking_since = now;
    }
    // Lacking for down-after: not an election in progress, nor members still registering.
    const bool quorum = !seen.lacking_since || now - *seen.lacking_since < down_after_;
    if (quorum == seen.quorum) continue;
    seen.quorum = quorum;
    json::object details{
        {"leader", OrNull(g->leader)}, {"term", g->term}, {"members", g->members.size()}, {"up", g->up}};
    if (!quorum) {
      details["reason"] = !majority_up ? std::to_string(g->up) + " of " + std::to_string(g->members.size()) +
                                             " members up, fewer than a majority"
                                       : "no member names a leader for " + std::to_string(down_after_.count()) + " ms";
    }
    Tell(quorum ? "group-quorum-restored" : "group-no-quorum", service, g->leader.value_or(""), epoch,
         std::move(details));
  }
}

}  // namespace harpc::sentinel
