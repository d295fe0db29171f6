// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Leader routing without Raft: in-process servers play a replicated group
// whose leader the test names. A member that does not lead answers "Kv.put"
// (not idempotent) with NOT_LEADER and the leader it believes in, as a Raft
// follower does. The tests check the wire (-32010 / HTTP 421 with the leader,
// ABORTED now -32017, NOT_LEADER never remembered by the idempotency store)
// and the channel's routing: straight to the leader, no failure nor retry
// counted, following leader changes, elections and a dead leader.
#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ha/ha_support.h"
#include "harpc/channel.h"
#include "harpc/server.h"
#include "integration/it_support.h"

namespace harpc::hatest {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::TempDir;
using testing::it::ErrorCodeOf;
using testing::it::ParseJson;
using testing::it::Post;
using testing::it::RoundTrip;

// In-process members on free loopback ports. Each believes in a leader (an
// address, "" when it knows none); the member that believes in itself leads:
//   Kv.put   {"id":N} -> {"id":N,"by":"H:P"} on the leader, else NOT_LEADER(belief)
//   Kv.slow  {"ms":N} waits N ms (at most 2 s) on the leader, else NOT_LEADER(belief)
class FakeGroup {
 public:
  explicit FakeGroup(int members, const std::vector<ServerOptions>& options = {}) {
    for (int i = 0; i < members; ++i) {
      ServerOptions o = i < static_cast<int>(options.size()) ? options[static_cast<size_t>(i)] : ServerOptions{};
      o.handle_signals = false;
      o.threads = 1;
      auto m = std::make_unique<Member>();
      m->server = std::make_unique<Server>(o);
      Member* self = m.get();
      EXPECT_TRUE(m->server
                      ->AddMethod("Kv.put",
                                  [this, self](const json::value& p, CallContext&) -> Result {
                                    std::unique_lock lock(mu_);
                                    // Frozen: the member's only thread stops here, as under SIGSTOP.
                                    thawed_.wait(lock, [self] { return !self->frozen; });
                                    ++self->requests;
                                    if (self->belief != self->address) return NotLeader(self->belief);
                                    const json::value* id = p.is_object() ? p.as_object().if_contains("id") : nullptr;
                                    self->ran.push_back(id && id->is_int64() ? id->as_int64() : -1);
                                    return json::value{{"id", id ? *id : json::value(nullptr)}, {"by", self->address}};
                                  })
                      .ok());
      EXPECT_TRUE(m->server
                      ->AddAsyncMethod("Kv.slow",
                                       [this, self](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
                                         {
                                           std::lock_guard lock(mu_);
                                           ++self->requests;
                                           if (self->belief != self->address) co_return NotLeader(self->belief);
                                           self->ran.push_back(-1);
                                         }
                                         const json::value* ms =
                                             p.is_object() ? p.as_object().if_contains("ms") : nullptr;
                                         const int64_t wait =
                                             std::clamp<int64_t>(ms && ms->is_int64() ? ms->as_int64() : 0, 0, 2000);
                                         asio::steady_timer timer(ctx.executor(), std::chrono::milliseconds(wait));
                                         co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
                                         co_return json::value{{"slept", true}};
                                       })
                      .ok());
      Status s = m->server->Start("127.0.0.1:0");
      EXPECT_TRUE(s.ok()) << s;
      std::lock_guard lock(mu_);
      m->address = m->server->address();
      members_.push_back(std::move(m));
    }
  }
  ~FakeGroup() {
    for (int i = 0; i < static_cast<int>(members_.size()); ++i) Thaw(i);
    for (auto& m : members_) Stop(*m);
  }

  const std::string& address(int i) const { return members_[static_cast<size_t>(i)]->address; }
  int port(int i) const { return testing::PortOf(address(i)); }
  // "list://" and the first `n` members (all by default).
  std::string Target(int n = -1) const {
    std::string t = "list://";
    for (size_t i = 0; i < members_.size() && (n < 0 || static_cast<int>(i) < n); ++i) {
      t += (i ? "," : "") + members_[i]->address;
    }
    return t;
  }

  // Every member believes in member `leader`; -1: in none (an election).
  void Lead(int leader) {
    std::lock_guard lock(mu_);
    for (auto& m : members_) m->belief = leader < 0 ? "" : address(leader);
  }
  // One member's own view (stale, or naming an address outside the group).
  void Believe(int member, std::string leader) {
    std::lock_guard lock(mu_);
    members_[static_cast<size_t>(member)]->belief = std::move(leader);
  }
  // Member `i` stops answering, as a SIGSTOPped process does, from its next
  // Kv.put on (its only thread blocks there), until Thaw(i).
  void Freeze(int i) {
    std::lock_guard lock(mu_);
    members_[static_cast<size_t>(i)]->frozen = true;
  }
  void Thaw(int i) {
    {
      std::lock_guard lock(mu_);
      members_[static_cast<size_t>(i)]->frozen = false;
    }
    thawed_.notify_all();
  }
  // Stops member `i` as a crash would look to clients: connections refused from now on.
  void Kill(int i) { Stop(*members_[static_cast<size_t>(i)]); }

  // The ids Kv.put ran with on member `i`, and every call it got (run or refused).
  std::vector<int64_t> Ran(int i) const {
    std::lock_guard lock(mu_);
    return members_[static_cast<size_t>(i)]->ran;
  }
  int Requests(int i) const {
    std::lock_guard lock(mu_);
    return members_[static_cast<size_t>(i)]->requests;
  }
  int TotalRuns() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& m : members_) n += m->ran.size();
    return static_cast<int>(n);
  }

 private:
  struct Member {
    std::unique_ptr<Server> server;
    std::string address;
    std::string belief;
    std::vector<int64_t> ran;
    int requests = 0;
    bool frozen = false;
  };
  // Destroyed, not only stopped: its open connections close as a dead process's do.
  static void Stop(Member& m) {
    if (!m.server) return;
    m.server->Shutdown();
    m.server->Wait();
    m.server.reset();
  }

  mutable std::mutex mu_;
  std::condition_variable thawed_;
  std::vector<std::unique_ptr<Member>> members_;
};

json::value Put(int64_t id) { return json::value{{"id", id}}; }

// Every id in [0, n) exactly once over all members' runs.
::testing::AssertionResult EachRanOnce(const FakeGroup& group, int members, int64_t n) {
  std::map<int64_t, int> runs;
  for (int i = 0; i < members; ++i) {
    for (int64_t id : group.Ran(i)) ++runs[id];
  }
  for (int64_t id = 0; id < n; ++id) {
    if (runs[id] != 1) return ::testing::AssertionFailure() << "call " << id << " ran " << runs[id] << " times";
  }
  if (runs.size() != static_cast<size_t>(n)) {
    return ::testing::AssertionFailure() << runs.size() << " distinct ids ran, " << n << " calls were made";
  }
  return ::testing::AssertionSuccess();
}

// ---- the wire ----

TEST(NotLeaderWire, PlainCallGets421WithTheLeader) {
  FakeGroup group(2);
  group.Lead(1);
  std::string r = RoundTrip(group.port(0), Post("/rpc/Kv.put", R"({"id":1})"));
  EXPECT_EQ(testing::StatusOf(r), 421) << r;
  EXPECT_EQ(ParseJson(testing::BodyOf(r)),
            (json::value{
                {"error", {{"code", -32010}, {"message", "not leader"}, {"data", {{"leader", group.address(1)}}}}}}));
  group.Lead(-1);
  r = RoundTrip(group.port(0), Post("/rpc/Kv.put", R"({"id":2})"));
  EXPECT_EQ(testing::StatusOf(r), 421) << r;
  EXPECT_EQ(ParseJson(testing::BodyOf(r)),
            (json::value{{"error", {{"code", -32010}, {"message", "not leader"}, {"data", {{"leader", nullptr}}}}}}));
  EXPECT_TRUE(group.Ran(0).empty());
}

TEST(NotLeaderWire, JsonRpcErrorIs32010WithTheLeader) {
  FakeGroup group(2);
  group.Lead(1);
  std::string r =
      RoundTrip(group.port(0), Post("/rpc", R"({"jsonrpc":"2.0","method":"Kv.put","params":{"id":1},"id":7})"));
  EXPECT_EQ(testing::StatusOf(r), 200) << r;
  EXPECT_EQ(
      ParseJson(testing::BodyOf(r)),
      (json::value{{"jsonrpc", "2.0"},
                   {"error", {{"code", -32010}, {"message", "not leader"}, {"data", {{"leader", group.address(1)}}}}},
                   {"id", 7}}));
  // In a batch, each follower answer carries it too; the leader runs its own.
  r = RoundTrip(group.port(1), Post("/rpc", R"([{"jsonrpc":"2.0","method":"Kv.put","params":{"id":2},"id":1}])"));
  json::value answer = ParseJson(testing::BodyOf(r));
  ASSERT_TRUE(answer.is_array()) << r;
  EXPECT_EQ(answer.as_array().at(0).at("result").at("by"), json::value(group.address(1))) << r;
  EXPECT_EQ(group.Ran(1), std::vector<int64_t>{2});
  EXPECT_TRUE(group.Ran(0).empty());
}

TEST(NotLeaderWire, AbortedIsNow32017And409) {
  FakeGroup group(1);
  group.Lead(0);
  // The first attempt with the key runs 800 ms; a repeat whose deadline ends first is a conflict.
  auto first = std::async(std::launch::async, [&] {
    return RoundTrip(group.port(0), Post("/rpc/Kv.slow", R"({"ms":800})", "Idempotency-Key: k-1\r\n"), 5s);
  });
  ASSERT_TRUE(PollUntil([&] { return group.Ran(0).size() == 1; }, 5s)) << "the first attempt never started";
  std::string r =
      RoundTrip(group.port(0), Post("/rpc/Kv.slow", R"({"ms":800})", "Idempotency-Key: k-1\r\nX-Deadline-Ms: 100\r\n"));
  EXPECT_EQ(testing::StatusOf(r), 409) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(testing::BodyOf(r))), -32017) << r;
  EXPECT_EQ(testing::StatusOf(first.get()), 200);
  EXPECT_EQ(group.Ran(0).size(), 1u) << "the repeat must not run the method";
}

// A follower's NOT_LEADER is not the method's answer: the same key, sent once
// this member leads, runs the method (memory store and durable log alike).
TEST(NotLeaderWire, IdempotencyStoreNeverKeepsNotLeader) {
  TempDir dir;
  ServerOptions durable;
  durable.idempotency_db = dir.File("idempotency.db");
  FakeGroup group(3, {ServerOptions{}, durable});
  for (int member : {0, 1}) {
    SCOPED_TRACE(member == 0 ? "memory store" : "durable log");
    group.Lead(2);
    const std::string key = "Idempotency-Key: same-key-" + std::to_string(member) + "\r\n";
    std::string r = RoundTrip(group.port(member), Post("/rpc/Kv.put", R"({"id":5})", key));
    ASSERT_EQ(testing::StatusOf(r), 421) << r;
    group.Lead(member);
    r = RoundTrip(group.port(member), Post("/rpc/Kv.put", R"({"id":5})", key));
    ASSERT_EQ(testing::StatusOf(r), 200) << r;
    EXPECT_EQ(group.Ran(member), std::vector<int64_t>{5}) << "the key's second call must run the method";
    // The answer that ran is kept: a third call is a replay, not a second run.
    r = RoundTrip(group.port(member), Post("/rpc/Kv.put", R"({"id":5})", key));
    ASSERT_EQ(testing::StatusOf(r), 200) << r;
    EXPECT_EQ(group.Ran(member), std::vector<int64_t>{5}) << "the stored answer must be replayed";
  }
}

// ---- the channel ----

TEST(LeaderRouting, CallsGoToTheLeaderAndRunOnceWithoutFailures) {
  FakeGroup group(3);
  group.Lead(1);
  Channel channel(group.Target(), FastOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  constexpr int kCalls = 60;
  for (int64_t id = 0; id < kCalls; ++id) {
    CallResult r = channel.Call("Kv.put", Put(id));
    ASSERT_TRUE(r.ok()) << "call " << id << ": " << r.status;
    EXPECT_EQ(r.endpoint, group.address(1));
    EXPECT_EQ(r.value.at("by"), json::value(group.address(1)));
  }
  EXPECT_TRUE(EachRanOnce(group, 3, kCalls));
  EXPECT_EQ(group.Ran(1).size(), static_cast<size_t>(kCalls));
  // Once learnt, the leader is called first: at most the first call met a follower.
  const int refused = group.Requests(0) + group.Requests(2);
  EXPECT_LE(refused, 1);
  const Channel::Counters c = channel.counters();
  EXPECT_EQ(c.leader_redirects, static_cast<uint64_t>(refused));
  EXPECT_EQ(c.retries, 0u);
  EXPECT_EQ(c.budget_exhausted, 0u);
  for (int i = 0; i < 3; ++i) {
    std::optional<EndpointInfo> info = InfoOf(channel, group.address(i));
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->state, "healthy") << Describe(channel);
    EXPECT_EQ(info->failures, 0u) << group.address(i);
  }
}

TEST(LeaderRouting, FollowsLeaderChangesUnderLoad) {
  FakeGroup group(3);
  group.Lead(0);
  Channel channel(group.Target(), FastOptions());
  LoadOptions load_options;
  load_options.method = "Kv.put";
  load_options.params = Put(0);
  load_options.threads = 2;
  Load load(channel, load_options);
  ASSERT_TRUE(load.WaitForMore(20, 10s)) << load.FailureSummary();
  for (int leader : {2, 1, 0, 2}) {
    const size_t before = group.Ran(leader).size();
    group.Lead(leader);
    // The channel follows: calls keep landing on the new leader.
    ASSERT_TRUE(PollUntil([&] { return group.Ran(leader).size() >= before + 20; }, 10s))
        << "the new leader " << group.address(leader) << " got " << group.Ran(leader).size() - before << " calls; "
        << load.FailureSummary();
  }
  load.Stop();
  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary();
  EXPECT_EQ(static_cast<uint64_t>(group.TotalRuns()), load.ok()) << "every call ran exactly once";
  const Channel::Counters c = channel.counters();
  EXPECT_GE(c.leader_redirects, 4u) << "each leader change is met by a redirect";
  EXPECT_EQ(c.retries, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(InfoOf(channel, group.address(i))->failures, 0u) << Describe(channel);
}

TEST(LeaderRouting, CallsDuringAnElectionSucceedOnceALeaderIsThere) {
  FakeGroup group(3);
  group.Lead(-1);
  ChannelOptions options = FastOptions();
  Channel channel(group.Target(), options);
  const auto start = Clock::now();
  std::vector<std::future<CallResult>> calls;
  for (int64_t id = 0; id < 3; ++id) {
    calls.push_back(std::async(std::launch::async, [&channel, id] { return channel.Call("Kv.put", Put(id)); }));
  }
  // Every member refuses for a while (the election), then member 2 wins.
  ASSERT_TRUE(PollUntil([&] { return group.Requests(0) + group.Requests(1) + group.Requests(2) >= 6; }, 5s));
  std::this_thread::sleep_until(start + 300ms);
  group.Lead(2);
  for (auto& call : calls) {
    CallResult r = call.get();
    EXPECT_TRUE(r.ok()) << r.status;
    EXPECT_EQ(r.endpoint, group.address(2));
  }
  EXPECT_LT(testing::Since(start), options.timeout) << "the calls must end within their deadline";
  EXPECT_TRUE(EachRanOnce(group, 3, 3));
  const Channel::Counters c = channel.counters();
  EXPECT_EQ(c.retries, 0u);
  EXPECT_EQ(c.budget_exhausted, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(InfoOf(channel, group.address(i))->state, "healthy") << Describe(channel);
}

TEST(LeaderRouting, NoLeaderAtAllFailsUnavailableAtTheDeadline) {
  FakeGroup group(3);
  group.Lead(-1);
  ChannelOptions options = FastOptions();
  options.timeout = 1500ms;
  Channel channel(group.Target(), options);
  const auto start = Clock::now();
  CallResult r = channel.Call("Kv.put", Put(0));
  const auto took = testing::Since(start);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_NE(r.status.message().find("no leader found before the deadline"), std::string::npos) << r.status;
  EXPECT_GE(took, options.timeout - 50ms) << "it gave up before its deadline";
  EXPECT_LT(took, options.timeout + 1000ms);
  EXPECT_EQ(group.TotalRuns(), 0);
  // Hops back off from 10 ms to 100 ms: about 20 requests in 1.5 s, not a storm.
  EXPECT_LE(group.Requests(0) + group.Requests(1) + group.Requests(2), 40);
  EXPECT_EQ(channel.counters().retries, 0u);
}

// An election that outlasts what a fixed number of hops would wait (under
// load, split votes and restarting members make it take seconds): the call
// keeps asking, within its deadline, and runs once on the leader elected.
TEST(LeaderRouting, ALongElectionEndsInTheCallRunningOnceWithinItsDeadline) {
  FakeGroup group(3);
  group.Lead(-1);
  ChannelOptions options = FastOptions();
  options.timeout = 20000ms;
  Channel channel(group.Target(), options);
  auto call = std::async(std::launch::async, [&] { return channel.Call("Kv.put", Put(7)); });
  // More NOT_LEADER answers than 12 per member, the bound of a call without a deadline.
  ASSERT_TRUE(PollUntil([&] { return group.Requests(0) + group.Requests(1) + group.Requests(2) > 12 * 3 + 1; }, 15s));
  group.Lead(2);
  CallResult r = call.get();
  EXPECT_TRUE(r.ok()) << r.status << " " << Describe(channel);
  EXPECT_EQ(r.endpoint, group.address(2));
  EXPECT_EQ(group.Ran(2), std::vector<int64_t>{7});
  EXPECT_EQ(group.TotalRuns(), 1);
}

TEST(LeaderRouting, LeaderOutsideTheTargetIsNeverDialled) {
  // Members 0..2 are the channel's target; member 3 is not. Members 0 and 1
  // name member 3 as leader; member 2 leads.
  FakeGroup group(4);
  group.Lead(2);
  group.Believe(0, group.address(3));
  group.Believe(1, group.address(3));
  Channel channel(group.Target(3), FastOptions());
  for (int64_t id = 0; id < 10; ++id) {
    CallResult r = channel.Call("Kv.put", Put(id));
    ASSERT_TRUE(r.ok()) << "call " << id << ": " << r.status;
    EXPECT_EQ(r.endpoint, group.address(2));
  }
  EXPECT_TRUE(EachRanOnce(group, 4, 10));
  EXPECT_EQ(group.Requests(3), 0) << "an address outside the target was dialled";
  EXPECT_EQ(channel.counters().leader_redirects, 0u);

  // With every member naming it, the call fails UNAVAILABLE and says why.
  group.Believe(2, group.address(3));
  CallResult r = channel.Call("Kv.put", Put(10));
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_NE(r.status.message().find("not an endpoint"), std::string::npos) << r.status;
  EXPECT_NE(r.status.message().find(group.address(3)), std::string::npos) << r.status;
  EXPECT_EQ(group.Requests(3), 0);
}

TEST(LeaderRouting, ADeadLeaderIsReplacedWithinTheElection) {
  FakeGroup group(3);
  group.Lead(0);
  Channel channel(group.Target(), FastOptions());
  for (int64_t id = 0; id < 10; ++id) ASSERT_TRUE(channel.Call("Kv.put", Put(id)).ok());
  EXPECT_EQ(group.Ran(0).size(), 10u);
  group.Kill(0);
  // The survivors still name the dead leader for a while, then elect member 1.
  group.Believe(1, group.address(0));
  group.Believe(2, group.address(0));
  auto elect = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(200ms);  // the election's length: the behaviour under test, not a wait
    group.Lead(1);
    group.Believe(0, "");
  });
  const auto start = Clock::now();
  for (int64_t id = 10; id < 30; ++id) {
    CallResult r = channel.Call("Kv.put", Put(id));
    ASSERT_TRUE(r.ok()) << "call " << id << ": " << r.status << " " << Describe(channel);
    EXPECT_EQ(r.endpoint, group.address(1));
  }
  elect.get();
  EXPECT_LT(testing::Since(start), 1500ms) << "the channel took too long to find the new leader";
  EXPECT_TRUE(EachRanOnce(group, 3, 30));
}

// A frozen leader (SIGSTOP) keeps its connections and answers nothing; the
// others name it until they elect. A hedged call must not hop back to it and
// wait there with its first attempt: it asks the others until one names the
// new leader. (It once waited its whole deadline: harpc transfer aborted.)
TEST(LeaderRouting, AFrozenLeaderIsLeftForTheOneTheOthersElect) {
  FakeGroup group(3);
  group.Lead(0);
  ChannelOptions options = FastOptions();
  options.timeout = 5000ms;
  options.hedge.after = 100ms;
  options.health.interval = 60s;  // the routing alone must find the new leader, not a failed heartbeat
  Channel channel(group.Target(), options);
  CallOptions idempotent;
  idempotent.idempotent = true;
  // Until the channel has learnt the leader, so that the next call goes there first.
  int64_t id = 0;
  for (; id < 10 && channel.counters().leader_redirects == 0; ++id) {
    ASSERT_TRUE(channel.Call("Kv.put", Put(id), idempotent).ok());
  }
  ASSERT_GT(channel.counters().leader_redirects, 0u);
  const int followers_met = group.Requests(1) + group.Requests(2);
  group.Freeze(0);
  auto call = std::async(std::launch::async, [&] { return channel.Call("Kv.put", Put(id), idempotent); });
  // The others name the frozen leader until the hedge has met one of them, then elect member 1.
  ASSERT_TRUE(PollUntil([&] { return group.Requests(1) + group.Requests(2) > followers_met; }, 5s));
  group.Believe(1, group.address(1));
  group.Believe(2, group.address(1));
  CallResult r = call.get();
  EXPECT_TRUE(r.ok()) << r.status << " " << Describe(channel);
  EXPECT_EQ(r.endpoint, group.address(1));
  EXPECT_TRUE(r.hedged);
  group.Believe(0, group.address(1));  // it thaws deposed, as a Raft leader would
  group.Thaw(0);
  // The frozen attempt, cancelled, ran nowhere; the call ran once on the new leader.
  EXPECT_TRUE(PollUntil([&] { return group.Requests(0) >= static_cast<int>(group.Ran(0).size()) + 1; }, 5s));
  EXPECT_EQ(group.Ran(1), std::vector<int64_t>{id});
  EXPECT_TRUE(EachRanOnce(group, 3, id + 1));
}

// The same routing with Protocol::kJsonRpc: harpc's server answers a JSON-RPC
// 2.0 request at POST /rpc, NOT_LEADER as error -32010 with data.leader.
TEST(LeaderRouting, JsonRpcCallsFollowTheLeaderAndKeepErrorCodes) {
  FakeGroup group(3);
  group.Lead(2);
  ChannelOptions options = FastOptions();
  options.protocol = Protocol::kJsonRpc;
  Channel channel(group.Target(), options);
  for (int64_t id = 0; id < 10; ++id) {
    CallResult r = channel.Call("Kv.put", Put(id));
    ASSERT_TRUE(r.ok()) << "call " << id << ": " << r.status;
    EXPECT_EQ(r.endpoint, group.address(2));
    EXPECT_EQ(r.value, json::value({{"id", id}, {"by", group.address(2)}}));
  }
  EXPECT_TRUE(EachRanOnce(group, 3, 10));
  EXPECT_GE(channel.counters().leader_redirects, 1u);
  CallResult r = channel.Call("Kv.nosuch", json::array{});
  EXPECT_EQ(r.status.code(), StatusCode::kUnimplemented) << r.status;
  r = channel.Call("Kv.put", json::value(7));
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << r.status;
  EXPECT_THAT(r.status.message(), ::testing::HasSubstr("array or an object"));
}

}  // namespace
}  // namespace harpc::hatest
