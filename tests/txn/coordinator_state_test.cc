// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The coordinator's state machine on its own: deterministic (the same
// commands give the same state on every instance, snapshots included),
// timeouts judged by the time in the command, never by a clock, and the
// decision rules (key, votes recorded against votes heard) inside Apply.
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "txn/coordinator_state.h"

namespace harpc::txn {
namespace {

namespace json = boost::json;
using State = CoordinatorState;

EnlistedCall Vote(std::string call, std::string participant) {
  // The secret first: the members are initialized in order, and call and participant are moved.
  std::string secret = "secret-" + participant + "-" + call;
  return {.call = std::move(call),
          .participant = std::move(participant),
          .address = "127.0.0.1:9001",
          .secret = std::move(secret)};
}

Result Must(State& s, const json::value& command) {
  Result r = s.Apply(command);
  EXPECT_TRUE(r.ok()) << json::serialize(command) << ": " << r.status().ToString();
  return r;
}

// A day's worth of traffic: begins, votes, commits, client aborts, a
// commit that disagrees, a timeout, done marks and forgetting.
std::vector<json::value> History() {
  std::vector<json::value> h;
  const int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 20; ++i) {
    const std::string txid = "t" + std::to_string(i), key = "k" + std::to_string(i);
    const int64_t begun = t0 + i * 10;
    h.push_back(State::BeginCommand(txid, key, 1000, begun));
    h.push_back(State::RegisterCommand(txid, Vote("0", "a"), begun + 1));
    h.push_back(State::RegisterCommand(txid, Vote("1", "b"), begun + 2));
    switch (i % 4) {
      case 0:
        h.push_back(State::CommitCommand(txid, key, {Vote("0", "a"), Vote("1", "b")}, begun + 3));
        break;
      case 1:
        h.push_back(State::AbortCommand(txid, key, "changed my mind", begun + 3));
        break;
      case 2:
        h.push_back(State::CommitCommand(txid, key, {Vote("0", "a")}, begun + 3));
        break;  // disagrees
      case 3:
        h.push_back(State::InternalAbortCommand(txid, "timed out", begun + 2000));
        break;
    }
  }
  h.push_back(State::DoneCommand({"t0", "t4", "t8"}));
  h.push_back(State::ForgetCommand(t0 + 20, t0 + 60));
  return h;
}

TEST(CoordinatorState, TheSameCommandsGiveTheSameStateAndSnapshotsRestoreIt) {
  State one(1000, true), two(1000, true);
  for (const json::value& c : History()) {
    Result a = one.Apply(c), b = two.Apply(c);
    EXPECT_EQ(a.status().code(), b.status().code());
    EXPECT_EQ(json::serialize(a.value()), json::serialize(b.value()));
  }
  const std::string snapshot = one.Snapshot();
  EXPECT_EQ(snapshot, two.Snapshot());
  ASSERT_NE(one.Find("t13"), nullptr);
  EXPECT_EQ(one.Find("t13")->phase, TxnPhase::kAborted);
  EXPECT_EQ(one.Find("t1"), nullptr) << "aborted before 60 ms: forgotten";
  EXPECT_EQ(one.Find("t0"), nullptr) << "done before 20 ms: forgotten";
  ASSERT_NE(one.Find("t4"), nullptr) << "done, but decided after the horizon";
  EXPECT_TRUE(one.Find("t4")->done);
  EXPECT_FALSE(one.Find("t12")->done);

  // A third member restored from the snapshot is the same and goes on the same.
  State three(1000, true);
  ASSERT_TRUE(three.Restore(snapshot).ok());
  EXPECT_EQ(three.Snapshot(), snapshot);
  const json::value later = State::DoneCommand({"t12", "t16"});
  Must(one, later);
  Must(three, later);
  EXPECT_EQ(three.Snapshot(), one.Snapshot());
  // Indexes are rebuilt too: forgetting works the same after a restore.
  const json::value forget = State::ForgetCommand(1'800'000'000'000, 1'800'000'000'000);
  Must(one, forget);
  Must(three, forget);
  EXPECT_EQ(three.Snapshot(), one.Snapshot());
  EXPECT_TRUE(one.transactions().empty()) << "every decision was done or aborted";

  EXPECT_FALSE(three.Restore("{\"transactions\":[{\"txid\":\"x\"}]}").ok());
  EXPECT_FALSE(three.Restore("not json").ok());
  EXPECT_EQ(three.Snapshot(), one.Snapshot()) << "a bad snapshot changes nothing";
}

TEST(CoordinatorState, TimeoutsAreJudgedByTheCommandsTimeNotByAClock) {
  State s(1000, true);
  Must(s, State::BeginCommand("t", "k", 500, 10'000));
  Must(s, State::RegisterCommand("t", Vote("0", "a"), 10'400));
  // A commit made at 10 500 ms is in time, however late it is applied.
  Must(s, State::CommitCommand("t", "k", {Vote("0", "a")}, 10'500));
  EXPECT_EQ(s.Find("t")->phase, TxnPhase::kCommitted);

  Must(s, State::BeginCommand("late", "k", 500, 10'000));
  Must(s, State::RegisterCommand("late", Vote("0", "a"), 10'100));
  Must(s, State::CommitCommand("late", "k", {Vote("0", "a")}, 10'501));
  ASSERT_EQ(s.Find("late")->phase, TxnPhase::kAborted);
  EXPECT_EQ(s.Find("late")->reason, "timed out: not committed within 500 ms");
  EXPECT_TRUE(s.Find("late")->calls.empty());

  // A vote that arrives after the deadline aborts the transaction.
  Must(s, State::BeginCommand("vote-late", "k", 500, 10'000));
  Result refused = s.Apply(State::RegisterCommand("vote-late", Vote("0", "a"), 10'600));
  EXPECT_EQ(refused.status().code(), StatusCode::kAborted);
  EXPECT_EQ(s.Find("vote-late")->phase, TxnPhase::kAborted);

  // The sweeper asks which are past their deadline at a time it gives.
  Must(s, State::BeginCommand("a", "k", 100, 20'000));
  Must(s, State::BeginCommand("b", "k", 300, 20'000));
  EXPECT_EQ(s.Expired(20'099), std::vector<std::string>{});
  EXPECT_EQ(s.Expired(20'200), std::vector<std::string>{"a"});
  EXPECT_EQ(s.Expired(30'000), (std::vector<std::string>{"a", "b"}));
}

TEST(CoordinatorState, OnlyTheKeyDecidesAndTheRecordedVotesAreWhatCommits) {
  State s(2, true);
  std::vector<std::pair<std::string, TxnEvent>> events;
  std::vector<EnlistedCall> told;
  s.Observe([&](const std::string& txid, TxnEvent e, const std::vector<EnlistedCall>& voters) {
    events.emplace_back(txid, e);
    if (e == TxnEvent::kAborted) told = voters;
  });
  Must(s, State::BeginCommand("t", "key", 1000, 0));
  Must(s, State::RegisterCommand("t", Vote("0", "a"), 1));
  EXPECT_TRUE(Must(s, State::RegisterCommand("t", Vote("0", "a"), 2)).value().at("recorded").as_bool()) << "a repeat";
  EnlistedCall forged = Vote("0", "a");
  forged.secret = "other";
  EXPECT_EQ(s.Apply(State::RegisterCommand("t", forged, 3)).status().code(), StatusCode::kFailedPrecondition);
  Must(s, State::RegisterCommand("t", Vote("1", "b"), 3));
  EXPECT_EQ(s.Apply(State::RegisterCommand("t", Vote("2", "c"), 4)).status().code(), StatusCode::kResourceExhausted);

  EXPECT_EQ(s.Apply(State::CommitCommand("t", "wrong", {Vote("0", "a"), Vote("1", "b")}, 5)).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(s.Apply(State::AbortCommand("t", "", "no key", 5)).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.Find("t")->phase, TxnPhase::kActive);

  std::vector<EnlistedCall> calls;
  EXPECT_FALSE(s.WouldCommit(State::CommitCommand("t", "key", {Vote("0", "a")}, 6), &calls)) << "call 1 missing";
  ASSERT_TRUE(s.WouldCommit(State::CommitCommand("t", "key", {Vote("0", "a"), Vote("1", "b")}, 6), &calls));
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_EQ(s.Find("t")->phase, TxnPhase::kActive) << "WouldCommit changes nothing";

  Must(s, State::CommitCommand("t", "key", {Vote("0", "a")}, 6));
  ASSERT_EQ(s.Find("t")->phase, TxnPhase::kAborted);
  EXPECT_EQ(s.Find("t")->reason, "call 1 voted yes at participant b but the commit does not list it");
  EXPECT_EQ(told.size(), 2u) << "the voters of an abort are handed out, to be told";
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), std::make_pair(std::string("t"), TxnEvent::kAborted));

  // Decided: the outcome stands, whatever comes after.
  Must(s, State::CommitCommand("t", "key", {Vote("0", "a"), Vote("1", "b")}, 7));
  EXPECT_EQ(s.Find("t")->phase, TxnPhase::kAborted);
  EXPECT_EQ(s.Apply(State::RegisterCommand("t", Vote("1", "b"), 8)).status().code(), StatusCode::kAborted);
  EXPECT_EQ(s.Apply(State::RegisterCommand("unknown", Vote("0", "a"), 8)).status().code(), StatusCode::kAborted);

  EXPECT_EQ(s.Apply(json::value{{"op", "launch"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Apply(json::value{{"op", "begin"}, {"txid", "x"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(CoordinatorState, AHeldTransactionTakesNoVoteNoAbortAndNoOtherCommit) {
  State s(1000, false);
  Must(s, State::BeginCommand("t", "key", 1000, 0));
  Must(s, State::RegisterCommand("t", Vote("0", "a"), 1));
  const json::value commit = State::CommitCommand("t", "key", {Vote("0", "a")}, 2);
  s.Hold("t");
  EXPECT_EQ(s.Apply(State::RegisterCommand("t", Vote("1", "b"), 3)).status().code(), StatusCode::kAborted);
  Must(s, State::AbortCommand("t", "key", "too late", 3));
  Must(s, State::InternalAbortCommand("t", "timed out", 5000));
  Must(s, commit);  // a second commit waits for the first
  EXPECT_EQ(s.Find("t")->phase, TxnPhase::kDeciding);
  EXPECT_TRUE(s.Expired(100'000).empty());
  s.Release("t");
  Must(s, commit);
  ASSERT_EQ(s.Find("t")->phase, TxnPhase::kCommitted);
  EXPECT_EQ(s.Find("t")->calls.size(), 1u);
  // Single node (keep_done false): a done decision leaves memory, the log answers for it.
  Must(s, State::DoneCommand({"t"}));
  EXPECT_EQ(s.Find("t"), nullptr);
}

}  // namespace
}  // namespace harpc::txn
