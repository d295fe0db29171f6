// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Replicated groups seen by a sentinel: three in-process group members
// register with a `harpc sentinel` (metadata "group"), which reads their GET
// /status; `harpc status` shows the group's leader, term and lag; losing the
// leader raises one "leader-change" alert, losing a majority one
// "group-no-quorum", and bringing it back one "group-quorum-restored"; the
// dashboard shows the group.
#include <algorithm>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "naming/registrar.h"
#include "replication/group_support.h"
#include "sentinel/group_view.h"
#include "sentinel/sentinel_support.h"

namespace harpc::sentineltest {
namespace {

using testing::CliRun;
using testing::GroupMember;
using testing::MakeMembers;
using testing::OptionsFor;
using testing::RunHarpc;
using testing::WaitForLeader;

constexpr char kService[] = "counter";

// A group member registered with the sentinel by its own registrar, on its loop.
struct RegisteredMember {
  GroupMember* member;
  std::unique_ptr<Registrar> registrar;
};

class SentinelGroupView : public ::testing::Test {
 protected:
  void SetUp() override {
    // Down-after well above an election (300-600 ms, more on a loaded machine):
    // an election in progress is no loss of quorum.
    sentinel = StartSentinel({.data_dir = sentinel_dir.path(), .down_after_ms = 2000, .notify = "cat >> " + alerts});
    ASSERT_GT(sentinel.port, 0);
    client = std::make_unique<RegistryClient>(sentinel.address);
    for (auto& m : group) registered.push_back({m.get(), nullptr});
  }
  void TearDown() override {
    for (size_t i = 0; i < registered.size(); ++i) Crash(i);
  }

  // Starts member `i` and registers it as a member of the group.
  void Start(size_t i) {
    RegisteredMember& r = registered[i];
    ASSERT_TRUE(r.member->Start(OptionsFor(group)).ok()) << r.member->address;
    Registration registration{
        .service = kService, .address = r.member->address, .ttl = std::chrono::milliseconds(1000)};
    for (const auto& m : group) registration.group.push_back(m->address);
    ASSERT_TRUE(MakeRegistrar("sentinel://" + sentinel.address, registration, {}, &r.registrar).ok());
    r.registrar->Start(r.member->server->executor());
  }
  // As a crash: no deregistration (the lease expires), the member's loop stops at once.
  void Crash(size_t i) {
    registered[i].registrar.reset();  // before the loop it runs on
    registered[i].member->Stop();
  }
  size_t IndexOf(const GroupMember* m) const {
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i].get() == m) return i;
    }
    return group.size();
  }

  // Starts every member; returns once the sentinel shows their leader and,
  // having read every member's state and the leader's commit index, a lag for each.
  void StartAllAndWaitForTheirView(GroupMember** leader) {
    for (size_t i = 0; i < group.size(); ++i) ASSERT_NO_FATAL_FAILURE(Start(i));
    *leader = WaitForLeader(group, 10s);
    ASSERT_NE(*leader, nullptr);
    const std::string address = (*leader)->address;
    ASSERT_TRUE(PollUntil(
        [&] {
          json::object g = GroupSummary();
          return !g.empty() && g.at("leader") == json::value(address) && g.at("lag").as_object().size() == 3;
        },
        10s))
        << Describe();
  }

  // Registry.list's "groups" member for the service (an empty object when absent).
  json::object GroupSummary() {
    auto list = client->List();
    if (!list || !list->contains("groups")) return {};
    const json::value* g = list->at("groups").as_object().if_contains(kService);
    return g && g->is_object() ? g->as_object() : json::object{};
  }
  bool Shows(const std::string& leader, bool quorum) {
    json::object g = GroupSummary();
    return !g.empty() && g.at("leader") == json::value(leader) && g.at("quorum") == json::value(quorum);
  }
  std::string Describe() {
    auto list = client->List();
    return (list ? json::serialize(*list) : std::string("(no answer)")) + "\nalerts:\n" + Tail(alerts) +
           "\nsentinel log:\n" + Tail(sentinel.log_path());
  }

  TempDir sentinel_dir{"harpc-group-sentinel"};
  TempDir members_dir{"harpc-group-members"};
  const std::string alerts = sentinel_dir.File("alerts.jsonl");
  SentinelProcess sentinel;
  std::unique_ptr<RegistryClient> client;
  std::vector<std::unique_ptr<GroupMember>> group = MakeMembers(3, members_dir.path());
  std::vector<RegisteredMember> registered;
};

TEST_F(SentinelGroupView, StatusShowsTheLeaderAndAlertsOnLeaderChangeAndQuorum) {
  for (size_t i = 0; i < group.size(); ++i) ASSERT_NO_FATAL_FAILURE(Start(i));
  GroupMember* leader = WaitForLeader(group, 10s);
  ASSERT_NE(leader, nullptr);
  const uint64_t first_term = leader->group->state().term;

  // The sentinel shows the group: one leader, its term, every member up.
  ASSERT_TRUE(PollUntil([&] { return Shows(leader->address, true); }, 10s)) << Describe();
  CliRun json_run = RunHarpc({"status", "sentinel://" + sentinel.address, "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  ASSERT_EQ(json_run.out.size(), 1u) << json_run.Stdout();
  json::value status = ParseJson(json_run.out[0]);
  const json::object& g = status.at("groups").at(kService).as_object();
  EXPECT_EQ(g.at("leader"), json::value(leader->address));
  EXPECT_EQ(g.at("term").to_number<uint64_t>(), first_term);
  EXPECT_EQ(g.at("members").to_number<int>(), 3);
  EXPECT_EQ(g.at("up").to_number<int>(), 3);
  int leaders = 0;
  for (const json::value& v : status.at("services").at(kService).as_array()) {
    const json::object& i = v.as_object();
    ASSERT_TRUE(i.contains("group")) << json::serialize(i);
    EXPECT_EQ(i.at("metadata").at("group").at("members").as_array().size(), 3u);
    if (i.at("group").at("role") == json::value("leader")) ++leaders;
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_TRUE(EventsInFile(alerts, "leader-change").empty()) << "the first leader seen is no change";

  // The leader dies: one alert names the old leader and the new one.
  const std::string old_leader = leader->address;
  Crash(IndexOf(leader));
  GroupMember* next = WaitForLeader(group, 10s);
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(PollUntil([&] { return !EventsInFile(alerts, "leader-change").empty(); }, 10s)) << Describe();
  std::vector<json::object> changes = EventsInFile(alerts, "leader-change");
  ASSERT_EQ(changes.size(), 1u) << Describe();
  EXPECT_EQ(changes[0].at("service"), json::value(kService));
  EXPECT_EQ(changes[0].at("previous_leader"), json::value(old_leader));
  EXPECT_EQ(changes[0].at("leader"), json::value(next->address));
  EXPECT_EQ(changes[0].at("address"), json::value(next->address));
  EXPECT_GT(changes[0].at("term").to_number<uint64_t>(), first_term);
  EXPECT_EQ(changes[0].at("sentinel"), json::value(sentinel.address));
  EXPECT_TRUE(EventsInFile(alerts, "group-no-quorum").empty()) << "two of three members keep the quorum";

  // The new leader dies too: one of three is left, no quorum.
  Crash(IndexOf(next));
  ASSERT_TRUE(PollUntil([&] { return !EventsInFile(alerts, "group-no-quorum").empty(); }, 10s)) << Describe();
  EXPECT_TRUE(PollUntil([&] { return GroupSummary().at("quorum") == json::value(false); }, 5s)) << Describe();
  std::vector<json::object> lost = EventsInFile(alerts, "group-no-quorum");
  EXPECT_EQ(lost[0].at("members").to_number<int>(), 3);
  EXPECT_LE(lost[0].at("up").to_number<int>(), 2);
  EXPECT_TRUE(lost[0].contains("reason")) << json::serialize(lost[0]);
  EXPECT_TRUE(EventsInFile(alerts, "group-quorum-restored").empty());

  // Both come back: one alert says the quorum is restored; each change was told once.
  Start(IndexOf(leader));
  Start(IndexOf(next));
  ASSERT_NE(WaitForLeader(group, 10s), nullptr);
  ASSERT_TRUE(PollUntil([&] { return !EventsInFile(alerts, "group-quorum-restored").empty(); }, 10s)) << Describe();
  EXPECT_TRUE(PollUntil([&] { return GroupSummary().at("quorum") == json::value(true); }, 5s)) << Describe();
  EXPECT_EQ(EventsInFile(alerts, "group-no-quorum").size(), 1u) << Describe();
  EXPECT_EQ(EventsInFile(alerts, "group-quorum-restored").size(), 1u) << Describe();
}

TEST_F(SentinelGroupView, StatusTextHasAGroupsSection) {
  GroupMember* leader = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartAllAndWaitForTheirView(&leader));

  // The sentinel shows each member as of its last probe of it: one made
  // during the election saw the leader still a candidate.
  CliRun run;
  auto shows_the_leader_leading = [&] {
    return std::any_of(run.out.begin(), run.out.end(), [&](const std::string& line) {
      return line.starts_with("  " + leader->address) && line.find("leader") != std::string::npos;
    });
  };
  ASSERT_TRUE(PollUntil(
      [&] {
        run = RunHarpc({"status", "sentinel://" + sentinel.address});
        return shows_the_leader_leading();
      },
      10s))
      << run.Stdout() << run.err;
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string out = run.Stdout();
  size_t groups_line = run.out.size();
  for (size_t i = 0; i < run.out.size(); ++i) {
    if (run.out[i] == "GROUPS") groups_line = i;
  }
  ASSERT_LT(groups_line + 5, run.out.size()) << out;
  EXPECT_NE(run.out[groups_line + 1].find("LEADER"), std::string::npos) << out;
  EXPECT_NE(run.out[groups_line + 1].find("TERM"), std::string::npos) << out;
  const std::string& summary = run.out[groups_line + 2];
  EXPECT_TRUE(summary.starts_with(kService)) << out;
  EXPECT_NE(summary.find(leader->address), std::string::npos) << out;
  EXPECT_NE(summary.find("3/3"), std::string::npos) << out;
  EXPECT_NE(summary.find("yes"), std::string::npos) << out;
  int leader_lines = 0, follower_lines = 0;
  for (size_t i = groups_line + 3; i < groups_line + 6; ++i) {
    const std::string& line = run.out[i];
    EXPECT_NE(line.find("lag "), std::string::npos) << out;
    if (line.find(leader->address) != std::string::npos) {
      EXPECT_NE(line.find("leader"), std::string::npos) << out;
      ++leader_lines;
    } else if (line.find("follower") != std::string::npos) {
      ++follower_lines;
    }
  }
  EXPECT_EQ(leader_lines, 1) << out;
  EXPECT_EQ(follower_lines, 2) << out;
}

TEST_F(SentinelGroupView, DashboardShowsTheGroup) {
  ASSERT_EQ(::access(kChromium, X_OK), 0) << kChromium << " is not installed: run scripts/setup";
  GroupMember* leader = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartAllAndWaitForTheirView(&leader));

  std::string diagnostics;
  const std::string dom = DumpDom("http://" + sentinel.address + "/", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics;
  const size_t summary = dom.find("<p class=\"group\"");
  ASSERT_NE(summary, std::string::npos) << dom;
  const std::string tag = dom.substr(summary);
  EXPECT_EQ(AttributeOf(tag, "data-service"), kService) << tag.substr(0, 400);
  EXPECT_EQ(AttributeOf(tag, "data-leader"), leader->address) << tag.substr(0, 400);
  EXPECT_EQ(AttributeOf(tag, "data-quorum"), "true") << tag.substr(0, 400);
  for (const auto& m : group) {
    const std::string row = RowOf(dom, m->address);
    ASSERT_FALSE(row.empty()) << "no row for " << m->address << " in:\n" << dom;
    EXPECT_NE(row.find(m.get() == leader ? "role-leader" : "role-follower"), std::string::npos) << row;
    EXPECT_NE(row.find("class=\"lag\">"), std::string::npos) << row;
  }
}

TEST(MemberView, KeepsTheDocumentedFieldsAndRefusesWhatIsNotAGroupState) {
  json::value good =
      ParseJson(R"({"role":"follower","leader":"127.0.0.1:7001","term":3,"commit_index":10,"applied_index":9,)"
                R"("members":["127.0.0.1:7001","127.0.0.1:7002","127.0.0.1:7003"],"extra":"x"})");
  auto view = sentinel::MemberView::Parse(good);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->role, "follower");
  EXPECT_EQ(view->leader, "127.0.0.1:7001");
  EXPECT_EQ(view->term, 3u);
  EXPECT_EQ(view->applied_index, 9u);
  EXPECT_FALSE(view->ToJson().contains("extra"));

  json::object no_leader = good.as_object();
  no_leader["leader"] = nullptr;
  ASSERT_TRUE(sentinel::MemberView::Parse(no_leader));
  EXPECT_FALSE(sentinel::MemberView::Parse(no_leader)->leader);

  auto refused = [&](const char* key, json::value value) {
    json::object bad = good.as_object();
    bad[key] = std::move(value);
    return !sentinel::MemberView::Parse(bad);
  };
  EXPECT_TRUE(refused("role", "king"));
  EXPECT_TRUE(refused("role", 1));
  EXPECT_TRUE(refused("term", -1));
  EXPECT_TRUE(refused("term", "3"));
  EXPECT_TRUE(refused("leader", json::string(std::string(256, 'a'))));
  json::array many;
  for (int i = 0; i < 10; ++i) many.emplace_back("127.0.0.1:" + std::to_string(7000 + i));
  EXPECT_TRUE(refused("members", many));
  EXPECT_FALSE(sentinel::MemberView::Parse(json::value("leader")));
}

}  // namespace
}  // namespace harpc::sentineltest
