// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "replication/group_support.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "support/test_support.h"

namespace harpc::testing {

namespace asio = boost::asio;
namespace json = boost::json;

Result NumberList::Apply(const json::value& command) {
  const json::value* v = command.is_object() ? command.as_object().if_contains("v") : nullptr;
  if (!v || !v->is_int64()) return InvalidArgument("a command is {\"v\":N}");
  std::lock_guard lock(mutex_);
  // Idempotent, as harpc's replicated services make their commands: a
  // proposal retried after a lost leadership may be in the log twice.
  if (std::find(values_.begin(), values_.end(), v->as_int64()) == values_.end()) values_.push_back(v->as_int64());
  return json::value(values_.size());
}

std::string NumberList::Snapshot() {
  std::lock_guard lock(mutex_);
  json::array list(values_.begin(), values_.end());
  return json::serialize(list);
}

Status NumberList::Restore(std::string_view snapshot) {
  boost::system::error_code ec;
  json::value list = json::parse(snapshot, ec);
  if (ec || !list.is_array()) return DataLoss("not a snapshot of a number list");
  std::lock_guard lock(mutex_);
  values_.clear();
  for (const json::value& v : list.as_array()) values_.push_back(v.as_int64());
  return Status::Ok();
}

std::vector<int64_t> NumberList::values() const {
  std::lock_guard lock(mutex_);
  return values_;
}

Status GroupMember::Start(GroupOptions options, ServerOptions server_options) {
  options.self = address;
  options.data_dir = data_dir;
  server_options.threads = 1;
  server_options.handle_signals = false;
  server = std::make_unique<Server>(server_options);
  machine = std::make_unique<NumberList>();
  Status s = ReplicatedGroup::Open(std::move(options), machine.get(), &group);
  if (s.ok()) s = group->Attach(*server);
  if (s.ok()) {
    ReplicatedGroup* g = group.get();
    s = server->AddAsyncMethod("List.add", [g](json::value p, CallContext&) { return g->Propose(std::move(p)); });
  }
  if (s.ok()) s = server->Start(address);
  if (s.ok()) s = group->Start(*server);
  if (!s.ok()) Stop();
  return s;
}

void GroupMember::Stop() {
  // As a crash for the group: nothing is sent on close, the disk has what was fsynced.
  group.reset();
  server.reset();
}

Result GroupMember::Propose(int64_t value) {
  ReplicatedGroup* g = group.get();
  // use_future needs a default-constructible value: Result is not.
  auto propose = [g, value]() -> asio::awaitable<std::optional<Result>> {
    json::value command{{"v", value}};
    co_return co_await g->Propose(std::move(command));
  };
  return *asio::co_spawn(server->executor(), propose, asio::use_future).get();
}

Status GroupMember::Read() { return asio::co_spawn(server->executor(), group->Read(), asio::use_future).get(); }

std::vector<std::unique_ptr<GroupMember>> MakeMembers(int count, const std::string& root) {
  std::vector<std::unique_ptr<GroupMember>> members;
  for (int i = 0; i < count; ++i) {
    auto m = std::make_unique<GroupMember>();
    m->address = "127.0.0.1:" + std::to_string(FreePort());
    m->data_dir = root + "/member" + std::to_string(i);
    members.push_back(std::move(m));
  }
  return members;
}

GroupOptions OptionsFor(const std::vector<std::unique_ptr<GroupMember>>& members) {
  GroupOptions o;
  for (const auto& m : members) o.members.push_back(m->address);
  o.election_timeout = std::chrono::milliseconds(300);
  o.heartbeat_interval = std::chrono::milliseconds(50);
  return o;
}

Result ProposeToLeader(const std::vector<std::unique_ptr<GroupMember>>& members, int64_t value,
                       std::chrono::milliseconds timeout) {
  std::optional<Result> last;
  PollUntil(
      [&] {
        GroupMember* leader = WaitForLeader(members, std::chrono::milliseconds(500));
        if (!leader) return false;
        last = leader->Propose(value);
        return last->ok();
      },
      timeout);
  return last ? *last : Result(Unavailable("no leader"));
}

GroupMember* WaitForLeader(const std::vector<std::unique_ptr<GroupMember>>& members,
                           std::chrono::milliseconds timeout) {
  GroupMember* leader = nullptr;
  PollUntil(
      [&] {
        leader = nullptr;
        std::optional<std::string> named;
        for (const auto& m : members) {
          if (!m->running()) continue;
          GroupState s = m->group->state();
          if (!s.leader || (named && *named != *s.leader)) return false;
          named = s.leader;
        }
        for (const auto& m : members) {
          if (m->running() && named && m->address == *named && m->group->is_leader()) leader = m.get();
        }
        return leader != nullptr;
      },
      timeout);
  return leader;
}

}  // namespace harpc::testing
