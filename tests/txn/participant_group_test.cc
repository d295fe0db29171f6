// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Participant groups: a bank replicated over three `harpc serve --service bank
// --group A,B,C` processes. Calls work through any member; the leader's
// SIGKILL loses no acknowledged deposit and applies none twice; a leg
// prepared on a leader that dies is committed by the next one.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <set>

#include "txn_support.h"

namespace harpc::txntest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// What a member says of its group in GET /status ({"role","leader","term",
// "commit_index","applied_index","members"}); null when it does not answer.
json::value GroupOf(int port) {
  testing::RawSocket socket(port);
  if (!socket.connected()) return nullptr;
  socket.Send("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string response = socket.ReadResponse(2s);
  if (testing::StatusOf(response) != 200) return nullptr;
  boost::system::error_code ec;
  json::value status = json::parse(testing::BodyOf(response), ec);
  if (ec || !status.is_object()) return nullptr;
  const json::value* group = status.as_object().if_contains("group");
  return group && group->is_object() ? *group : json::value(nullptr);
}

std::string RoleOf(int port) {
  json::value group = GroupOf(port);
  return group.is_object() && group.at("role").is_string() ? std::string(group.at("role").as_string()) : "";
}

int64_t IndexOf(int port, const char* which) {
  json::value group = GroupOf(port);
  return group.is_object() ? group.at(which).to_number<int64_t>() : -1;
}

// A coordinator and a bank of `size` members on ports chosen beforehand.
struct BankGroup {
  explicit BankGroup(int size = 3) {
    coordinator = std::make_unique<Daemon>();
    if (!coordinator->Start({"coordinator", "--data-dir", dir.File("coordinator")}, dir.File("coordinator.log"))) {
      return;
    }
    std::string group_list;
    for (int i = 0; i < size; ++i) {
      addresses.push_back("127.0.0.1:" + std::to_string(testing::FreePort()));
      group_list += (i ? "," : "") + addresses.back();
    }
    target = "list://" + group_list;
    for (int i = 0; i < size; ++i) {
      auto member = std::make_unique<Daemon>();
      const std::string name = "bank" + std::to_string(i);
      if (!member->Start({"serve", "--service", "bank", "--threads", "1", "--name", name, "--db",
                          dir.File(name + ".db"), "--coordinator", coordinator->address(), "--group", group_list},
                         dir.File(name + ".log"), addresses[i])) {
        return;
      }
      members.push_back(std::move(member));
    }
  }
  ~BankGroup() {
    if (!::testing::Test::HasFailure()) return;
    for (const std::string name : {"coordinator", "bank0", "bank1", "bank2"}) {
      std::fprintf(stderr, "----- %s.log -----\n%s\n", name.c_str(), LogTail(dir.File(name + ".log")).c_str());
    }
  }
  bool ok() const { return members.size() == addresses.size() && !addresses.empty(); }

  // The index of the member that says it leads (of those running, not
  // `except`); -1 after `timeout`.
  int Leader(std::chrono::milliseconds timeout = 10s, int except = -1) {
    int leader = -1;
    PollUntil(
        [&] {
          for (size_t i = 0; i < members.size(); ++i) {
            if (static_cast<int>(i) == except || !members[i]->running()) continue;
            if (RoleOf(members[i]->port()) == "leader") {
              leader = static_cast<int>(i);
              return true;
            }
          }
          return false;
        },
        timeout);
    return leader;
  }

  TempDir dir{"harpc-bank-group"};
  std::unique_ptr<Daemon> coordinator;
  std::vector<std::unique_ptr<Daemon>> members;
  std::vector<std::string> addresses;
  std::string target;
};

int64_t BalanceThrough(Channel& channel, const std::string& account) {
  CallOptions call;
  call.idempotent = true;
  CallResult r = channel.Call("Bank.balance", json::value{{"account", account}}, call);
  return r.ok() ? r.value.at("balance").to_number<int64_t>() : -1;
}

TEST(ParticipantGroup, CallsWorkThroughAnyMember) {
  BankGroup bank;
  ASSERT_TRUE(bank.ok());
  ASSERT_GE(bank.Leader(), 0);
  // Every member in the target: calls that reach a follower are redirected
  // to the leader and replicated.
  Channel group(bank.target, OneShotOptions(5s));
  CallResult opened = group.Call("Bank.open", json::value{{"account", "alice"}, {"balance", 100}});
  ASSERT_TRUE(opened.ok()) << opened.status;
  for (int i = 0; i < 9; ++i) {
    CallResult deposit = group.Call("Bank.deposit", json::value{{"account", "alice"}, {"amount", 10}});
    ASSERT_TRUE(deposit.ok()) << deposit.status;
  }
  EXPECT_EQ(BalanceThrough(group, "alice"), 190);
  // A follower's own answer is HTTP 421 with the leader's address (what the
  // channel followed), for a write and for a read alike: only the leader
  // answers, so every answer is linearizable. (Polled: leadership may move
  // between finding the leader and asking a follower; a deposit that
  // reached the leader meanwhile is counted.)
  int64_t expected = 190;
  for (const char* method : {"/rpc/Bank.deposit", "/rpc/Bank.balance"}) {
    std::string direct;
    const bool redirected = PollUntil(
        [&] {
          const int leader = bank.Leader();
          if (leader < 0) return false;
          direct = RawPost(bank.members[(leader + 1) % 3]->port(), method, R"({"account":"alice","amount":10})");
          if (testing::StatusOf(direct) == 200 && std::string(method) == "/rpc/Bank.deposit") expected += 10;
          return testing::StatusOf(direct) == 421 &&
                 testing::BodyOf(direct).find(bank.addresses[leader]) != std::string::npos;
        },
        10s);
    EXPECT_TRUE(redirected) << method << ": " << direct;
  }
  EXPECT_EQ(BalanceThrough(group, "alice"), expected);  // a refused deposit changed nothing
}

TEST(ParticipantGroup, LeaderKilledUnderDepositsLosesNoneAndAppliesNoneTwice) {
  BankGroup bank;
  ASSERT_TRUE(bank.ok());
  ASSERT_GE(bank.Leader(), 0);
  Channel channel(bank.target, ClientOptions(8s));
  ASSERT_TRUE(channel.Call("Bank.open", json::value{{"account", "acc"}, {"balance", 0}}).ok());
  std::atomic<int> leader = -1;

  constexpr int kDeposits = 300;
  std::atomic<int> acknowledged = 0;
  std::vector<std::string> errors;
  const auto start = Clock::now();
  // SIGKILLed while deposits are in flight, a third of the way in.
  std::thread killer([&] {
    PollUntil([&] { return acknowledged >= kDeposits / 3; }, 30s);
    leader = bank.Leader();  // whoever leads now
    if (leader >= 0) bank.members[leader]->Kill();
  });
  // Bounded: a group that stays unavailable fails the test in a few calls, not in 300 deadlines.
  for (int i = 0; i < kDeposits && errors.size() < 3; ++i) {
    CallOptions call;
    call.idempotency_key = "deposit-" + std::to_string(i);  // the caller's own key: retried, applied once
    CallResult r = channel.Call("Bank.deposit", json::value{{"account", "acc"}, {"amount", 1}}, call);
    if (r.ok()) {
      ++acknowledged;
    } else {
      errors.push_back(r.status.ToString());
    }
  }
  killer.join();
  ASSERT_GE(leader, 0);
  EXPECT_FALSE(bank.members[leader]->running());
  EXPECT_TRUE(errors.empty()) << errors.size() << " failed after " << acknowledged
                              << " acknowledged: " << fmt::format("{}", fmt::join(errors, "; "));
  EXPECT_EQ(acknowledged.load(), kDeposits);
  const int next = bank.Leader(10s, leader);
  ASSERT_GE(next, 0);
  EXPECT_NE(next, leader);
  Channel on_next("list://" + bank.addresses[next], OneShotOptions(5s));
  EXPECT_EQ(BalanceThrough(on_next, "acc"), acknowledged.load());  // each once: none lost, none twice
  std::fprintf(stderr, "%d deposits through a leader SIGKILL in %lld ms\n", kDeposits,
               static_cast<long long>(Since(start).count()));

  // The killed member comes back from its disk and applies what it missed.
  const int64_t committed = IndexOf(bank.members[next]->port(), "commit_index");
  ASSERT_GT(committed, kDeposits);
  ASSERT_TRUE(bank.members[leader]->Restart());
  EXPECT_TRUE(PollUntil([&] { return IndexOf(bank.members[leader]->port(), "applied_index") >= committed; }, 10s));
  // Every member, the restarted one included, holds the same state.
  std::vector<std::string> digests;
  EXPECT_TRUE(PollUntil(
      [&] {
        digests.clear();
        for (const std::string& address : bank.addresses) {
          CallResult r = CallOnce(address, "Participant.digest", json::object{}, 2s);
          digests.push_back(r.ok() ? json::serialize(r.value) : r.status.ToString());
        }
        return digests[0].starts_with("{") && digests[0] == digests[1] && digests[1] == digests[2];
      },
      10s))
      << digests[0] << " " << digests[1] << " " << digests[2];
}

TEST(ParticipantGroup, APreparedLegSurvivesTheLeadersDeath) {
  BankGroup bank;
  ASSERT_TRUE(bank.ok());
  ASSERT_GE(bank.Leader(), 0);
  Channel channel(bank.target, ClientOptions(5s));
  ASSERT_TRUE(channel.Call("Bank.open", json::value{{"account", "alice"}, {"balance", 100}}).ok());

  Channel coordinator("list://" + bank.coordinator->address(), OneShotOptions(5s));
  Transaction txn(coordinator, {.timeout = 20s});
  ASSERT_TRUE(txn.Begin().ok());
  CallResult prepared = txn.Call(channel, "Bank.debit", json::value{{"account", "alice"}, {"amount", 30}});
  ASSERT_TRUE(prepared.ok()) << prepared.status;
  const int leader = bank.Leader();
  ASSERT_GE(leader, 0);
  bank.members[leader]->Kill();  // the leg prepared (and replicated), nothing decided yet

  const int next = bank.Leader(10s, leader);
  ASSERT_GE(next, 0);
  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.committed) << outcome.reason;
  // Phase two reached the new leader at the group's address.
  ASSERT_TRUE(PollUntil(
      [&] {
        Channel on_next("list://" + bank.addresses[next], OneShotOptions(2s));
        CallStates calls = CallsOf(on_next, txn.id());
        return calls.size() == 1 && calls.begin()->second.second == "committed";
      },
      15s));
  Channel on_next("list://" + bank.addresses[next], OneShotOptions(5s));
  EXPECT_EQ(BalanceThrough(on_next, "alice"), 70);
  std::optional<Account> account = AccountOf(bank.addresses[next], "alice");
  ASSERT_TRUE(account.has_value());
  EXPECT_EQ(account->reserved, 0);
}

// A member list that cannot make a group is one clear line and exit 2,
// before anything listens or is written.
TEST(ParticipantGroup, ABadMemberListIsOneLineAndExitTwo) {
  TempDir dir("harpc-bank-group");
  const std::string self = "127.0.0.1:" + std::to_string(testing::FreePort());
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--listen", self, "--group", self + ",localhost:9"}, "not a numeric address"},
      {{"--listen", self, "--group", self + ",127.0.0.1:9," + self}, "is listed twice"},
      {{"--listen", self, "--group", "127.0.0.1:9,127.0.0.1:10"}, "is not one of the members"},
      {{"--listen", "127.0.0.1:0", "--group", "127.0.0.1:9,127.0.0.1:10"}, "must be a numeric address with its port"},
      {{"--listen", self, "--group", self + ",,127.0.0.1:9"}, "--group"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"serve", "--service", "bank", "--db", dir.File("bank.db")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    CliRun run = testing::RunHarpc(args);
    EXPECT_EQ(run.exit_code, 2) << c.flags.back() << ": " << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
  CliRun echo = testing::RunHarpc({"serve", "--listen", self, "--group", self});
  EXPECT_EQ(echo.exit_code, 2) << echo.err;
  EXPECT_NE(echo.err.find("only --service bank"), std::string::npos) << echo.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("bank.db.raft")));
}

}  // namespace
}  // namespace harpc::txntest

namespace harpc::txntest {
namespace {

// A frozen leader cannot commit alone: a deposit sent to it while it is
// frozen (read by it only after SIGCONT) is never applied anywhere, the
// others elect a leader and go on, and after SIGCONT the old leader steps
// down and holds what the majority holds.
TEST(ParticipantGroup, AFrozenLeaderCommitsNothingAloneAndStepsDownWhenThawed) {
  BankGroup bank;
  ASSERT_TRUE(bank.ok());
  // A backup attempt after 300 ms: the channel remembers the leader, which
  // is about to freeze and answer nothing (as harpc transfer does for groups).
  ChannelOptions options = ClientOptions(5s);
  options.hedge.after = 300ms;
  Channel channel(bank.target, options);
  CallOptions open;
  open.idempotency_key = "open-frozen";
  ASSERT_TRUE(channel.Call("Bank.open", json::value{{"account", "x"}, {"balance", 100}}, open).ok());
  const int old = bank.Leader();
  ASSERT_GE(old, 0);
  ASSERT_TRUE(bank.members[old]->Stop());

  // Sent straight to the frozen leader: it sits in its socket until SIGCONT.
  testing::RawSocket frozen(bank.members[old]->port());
  ASSERT_TRUE(
      frozen.Send("POST /rpc/Bank.deposit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Idempotency-Key: to-the-frozen-one\r\nContent-Length: 33\r\n\r\n"
                  "{\"account\":\"x\",\"amount\":1000000}"));
  const int next = bank.Leader(10s, old);
  ASSERT_GE(next, 0) << "the two others elect a leader";
  CallOptions deposit;
  deposit.idempotency_key = "to-the-new-one";
  deposit.idempotent = true;  // keyed: the group applies it once, however often it arrives
  CallResult r = channel.Call("Bank.deposit", json::value{{"account", "x"}, {"amount", 5}}, deposit);
  ASSERT_TRUE(r.ok()) << r.status;

  ASSERT_TRUE(bank.members[old]->Resume());
  // Whatever the thawed member answers its queued deposit, it is not applied.
  const std::string answer = frozen.ReadResponse(10s);
  EXPECT_NE(testing::StatusOf(answer), 200) << answer;
  EXPECT_TRUE(PollUntil([&] { return RoleOf(bank.members[old]->port()) == "follower"; }, 10s))
      << "the thawed leader stepped down";
  EXPECT_EQ(BalanceThrough(channel, "x"), 105) << "only the majority's deposit counts";
  // Every member, the thawed one included, ends with the same state.
  EXPECT_TRUE(PollUntil(
      [&] {
        std::set<std::string> digests;
        for (const std::string& address : bank.addresses) {
          CallResult d = CallOnce(address, "Participant.digest", json::object{}, 2s);
          if (!d.ok()) return false;
          digests.insert(json::serialize(d.value));
        }
        return digests.size() == 1;
      },
      15s));
}

}  // namespace
}  // namespace harpc::txntest
