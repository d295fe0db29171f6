// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The participant's state machine (txn/participant_machine.h): every change
// is a command, and the same commands give the same database anywhere — what
// lets the members of a participant group replay one log into one state.
#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/txn.h"
#include "storage/group_commit.h"
#include "storage/sqlite.h"
#include "support/test_support.h"
#include "txn/counter_table.h"
#include "txn/participant_log.h"
#include "txn/participant_machine.h"
#include "txn/replicated_db.h"

namespace harpc {
namespace {

namespace json = boost::json;
using storage::GroupCommitDb;
using testing::TempDir;

int64_t ValueOf(Database db, const std::string& name) {
  Statement select(db, "SELECT value FROM counter WHERE name = ?");
  select.Bind(1, name);
  return select.Step() == Statement::kRow ? select.Int(0) : 0;
}

// Every row of every table, in a stable order, readable in a failure
// message: two databases with the same digest hold the same state (the count
// of commands a group member keeps aside).
std::string DigestOf(Database db) {
  std::string digest;
  std::vector<std::string> tables;
  Statement names(db,
                  "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'harpc_replicated'"
                  " ORDER BY name");
  while (names.Step() == Statement::kRow) tables.push_back(names.Text(0));
  for (const std::string& table : tables) {
    std::string columns;
    Statement info(db, "SELECT name FROM pragma_table_info(?) ORDER BY cid");
    info.Bind(1, table);
    while (info.Step() == Statement::kRow) columns += (columns.empty() ? "" : ", ") + info.Text(0);
    digest += table + ":\n";
    Statement rows(db, "SELECT json_array(" + columns + ") AS r FROM " + table + " ORDER BY r");
    while (rows.Step() == Statement::kRow) digest += rows.Text(0) + "\n";
  }
  return digest;
}

// A participant's methods: Counter.add (local, not idempotent), Counter.hold
// (transactional: prepare holds n, commit adds it, abort drops it).
struct Methods {
  std::map<std::string, TxnMethod, std::less<>> txn;
  std::map<std::string, Participant::LocalHandler, std::less<>> local;
  Methods() {
    local["Counter.add"] = [](Database db, const json::value& p) -> Result {
      const std::string name(p.at("name").as_string());
      if (Status s = AddToCounter(db, name, p.at("n").as_int64(), 0); !s.ok()) return s;
      return json::value{{"name", name}, {"value", ValueOf(db, name)}};
    };
    local["Counter.add_then_fail"] = [](Database db, const json::value& p) -> Result {
      if (Status s = AddToCounter(db, std::string(p.at("name").as_string()), p.at("n").as_int64(), 0); !s.ok())
        return s;
      return Aborted("changed my mind");
    };
    txn["Counter.hold"] = {.prepare = [](Database db, const json::value& p) -> Result {
                             const int64_t n = p.at("n").as_int64();
                             if (n <= 0) return FailedPrecondition("n must be positive");
                             if (Status s = AddToCounter(db, std::string(p.at("name").as_string()), 0, n); !s.ok())
                               return s;
                             return json::value{{"held", n}};
                           },
                           .commit = [](Database db, const json::value& p) -> Status {
                             const int64_t n = p.at("n").as_int64();
                             return AddToCounter(db, std::string(p.at("name").as_string()), n, -n);
                           },
                           .abort = [](Database db, const json::value& p) -> Status {
                             return AddToCounter(db, std::string(p.at("name").as_string()), 0, -p.at("n").as_int64());
                           }};
  }
};

// The machine over those methods.
class Machine {
 public:
  Machine()
      : log_("p",
             [this](std::string_view name) -> const TxnMethod* {
               auto it = methods_.txn.find(name);
               return it == methods_.txn.end() ? nullptr : &it->second;
             }),
        machine_(&log_, [this](std::string_view name) -> const Participant::LocalHandler* {
          auto it = methods_.local.find(name);
          return it == methods_.local.end() ? nullptr : &it->second;
        }) {}
  Result Execute(Database db, const json::value& command) const { return machine_.Execute(db, command); }

 private:
  Methods methods_;
  txn::ParticipantLog log_;
  txn::ParticipantMachine machine_;
};

// One participant database (a file, group-committed) with its machine.
class Replica {
 public:
  Replica(const TempDir& dir, const std::string& name) : path_(dir.File(name)) {
    Status s = GroupCommitDb::Open(path_, txn::ParticipantLibrarySchema() + kCounterSchema, &db_);
    EXPECT_TRUE(s.ok()) << s;
  }

  Result Execute(const json::value& command) {
    return db_->RunSync([this, &command](Database db) { return machine_.Execute(db, command); });
  }

  int64_t Value(const std::string& name) {
    int64_t value = -1;
    db_->RunSync([&](Database db) -> Result {
      value = ValueOf(db, name);
      return json::value();
    });
    return value;
  }

  std::string Digest() {
    std::string digest;
    db_->RunSync([&digest](Database db) -> Result {
      digest = DigestOf(db);
      return json::value();
    });
    return digest;
  }

 private:
  std::string path_;
  Machine machine_;
  std::unique_ptr<GroupCommitDb> db_;
};

txn::PrepareRequest Hold(const std::string& txid, const std::string& call, int64_t n, const std::string& secret,
                         int64_t at_ms) {
  return {.txid = txid,
          .call = call,
          .coordinator = "127.0.0.1:1",
          .method = "Counter.hold",
          .params = json::value{{"name", "a"}, {"n", n}},
          .max_prepared_per_coordinator = 1000,
          .secret = secret,
          .prepared_ms = at_ms};
}

json::value AddCommand(const std::string& name, int64_t n, const std::string& key, int64_t at_ms) {
  return txn::LocalCommand("Counter.add", json::value{{"name", name}, {"n", n}}, key, at_ms);
}

// The commands of a short history: local changes (one retried by key),
// a committed transaction, one aborted before its prepare arrived, a no
// vote, malformed commands, and a forget.
std::vector<json::value> History() {
  txn::Decision commit{
      .commit = true, .calls = {"0"}, .secrets = std::map<std::string, std::string>{{"0", "s1"}}, .at_ms = 1500};
  txn::Decision abort{.commit = false, .at_ms = 1600};
  return {AddCommand("a", 5, "k1", 1000),
          AddCommand("a", 5, "k1", 1001),  // the retry: answered from the record
          AddCommand("b", 7, "", 1002),
          txn::PrepareCommand(Hold("t1", "0", 3, "s1", 1100)),
          txn::PrepareCommand(Hold("t1", "0", 3, "s1-retry", 1200)),  // a repeat keeps the first secret
          txn::ApplyCommand("t1", commit),
          txn::ApplyCommand("t2", abort),
          txn::PrepareCommand(Hold("t2", "0", 1, "s2", 1700)),   // refused: aborted before
          txn::PrepareCommand(Hold("t3", "0", -1, "s3", 1800)),  // votes no
          json::value{{"op", "prepare"}, {"txid", "t4"}},        // malformed
          json::value{{"op", "teleport"}},
          AddCommand("a", 1, "k2", 2000),
          txn::ForgetCommand(1050)};
}

TEST(ParticipantMachine, SameCommandsGiveTheSameStateAndAnswers) {
  TempDir dir("harpc-machine");
  Replica one(dir, "one.db"), two(dir, "two.db");
  for (const json::value& command : History()) {
    Result a = one.Execute(command), b = two.Execute(command);
    EXPECT_EQ(a.status().code(), b.status().code()) << command;
    if (a.ok() && b.ok()) {
      EXPECT_EQ(json::serialize(a.value()), json::serialize(b.value())) << command;
    }
  }
  EXPECT_EQ(one.Digest(), two.Digest());
  EXPECT_NE(one.Digest().find("t1"), std::string::npos);  // the digest does see the calls
}

TEST(ParticipantMachine, PrepareRecordsTheProposersSecretAndTime) {
  TempDir dir("harpc-machine");
  Replica r(dir, "p.db");
  Result first = r.Execute(txn::PrepareCommand(Hold("t1", "0", 3, "s1", 1234)));
  ASSERT_TRUE(first.ok()) << first.status();
  const json::value& prepared = first.value().at("prepared");
  EXPECT_TRUE(prepared.at("recorded").as_bool());
  EXPECT_EQ(prepared.at("secret"), "s1");
  EXPECT_EQ(prepared.at("state"), "prepared");
  EXPECT_EQ(first.value().at("answer").at("vote"), "yes");
  EXPECT_EQ(first.value().at("answer").at("result").at("held"), 3);

  Result again = r.Execute(txn::PrepareCommand(Hold("t1", "0", 3, "other", 9999)));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again.value().at("prepared").at("recorded").as_bool());
  EXPECT_EQ(again.value().at("prepared").at("secret"), "s1");
  EXPECT_EQ(again.value().at("answer"), first.value().at("answer"));

  // In doubt by the proposer's time, not by the clock of whoever applied it.
  const std::string digest = r.Digest();
  EXPECT_NE(digest.find("1234"), std::string::npos) << digest;
  EXPECT_EQ(digest.find("9999"), std::string::npos) << digest;

  // A commit sent over the wire must present that secret.
  txn::Decision forged{
      .commit = true, .calls = {"0"}, .secrets = std::map<std::string, std::string>{{"0", "other"}}, .at_ms = 2000};
  EXPECT_EQ(r.Execute(txn::ApplyCommand("t1", forged)).status().code(), StatusCode::kPermissionDenied);
  txn::Decision commit = forged;
  commit.secrets = std::map<std::string, std::string>{{"0", "s1"}};
  Result applied = r.Execute(txn::ApplyCommand("t1", commit));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied.value().at("committed"), 1);
  EXPECT_EQ(r.Value("a"), 3);
  // A new prepared call without its proposer's secret is refused.
  txn::PrepareRequest unsigned_call = Hold("t5", "0", 1, "", 3000);
  EXPECT_EQ(r.Execute(txn::PrepareCommand(unsigned_call)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ParticipantMachine, AKeyedLocalCallAppliesOnce) {
  TempDir dir("harpc-machine");
  Replica r(dir, "p.db");
  Result first = r.Execute(AddCommand("a", 5, "k1", 1000));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first.value().at("value"), 5);
  Result retry = r.Execute(AddCommand("a", 5, "k1", 5000));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry.value(), first.value());
  EXPECT_EQ(r.Value("a"), 5);
  // Other params, or another method, under the same key: refused, nothing applied.
  EXPECT_EQ(r.Execute(AddCommand("a", 6, "k1", 5001)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.Value("a"), 5);
  // Unkeyed calls run every time.
  ASSERT_TRUE(r.Execute(AddCommand("a", 5, "", 5002)).ok());
  ASSERT_TRUE(r.Execute(AddCommand("a", 5, "", 5003)).ok());
  EXPECT_EQ(r.Value("a"), 15);
  // A failed call records nothing: its retry runs.
  EXPECT_FALSE(r.Execute(txn::LocalCommand("Counter.add", json::value{{"name", "a"}}, "k2", 5004)).ok());
  ASSERT_TRUE(r.Execute(AddCommand("a", 1, "k2", 5005)).ok());
  EXPECT_EQ(r.Value("a"), 16);
  // Forgotten keys run again (the caller's retries are long over by then).
  Result forgot = r.Execute(txn::ForgetCommand(2000));
  ASSERT_TRUE(forgot.ok()) << forgot.status();
  ASSERT_TRUE(r.Execute(AddCommand("a", 5, "k1", 6000)).ok());
  EXPECT_EQ(r.Value("a"), 21);
  ASSERT_TRUE(r.Execute(AddCommand("a", 1, "k2", 6001)).ok());  // k2 (5005) is kept: answered from it
  EXPECT_EQ(r.Value("a"), 21);
  EXPECT_EQ(r.Execute(txn::LocalCommand("Counter.none", json::value(), "", 1)).status().code(),
            StatusCode::kUnimplemented);
}

// The participant's database as a group's state: in memory, each command in
// a savepoint, snapshots that restore to the same state.
class MemoryReplica {
 public:
  MemoryReplica() {
    Status s = txn::ReplicatedDb::Open(
        txn::ParticipantLibrarySchema() + kCounterSchema,
        [this](Database db, const json::value& command) { return machine_.Execute(db, command); }, &state_);
    EXPECT_TRUE(s.ok()) << s;
    state_->OnApplied([this](const json::value&, const Result&) { ++applied_; });
    state_->OnRestored([this] { ++restored_; });
  }
  txn::ReplicatedDb& state() { return *state_; }
  std::string Digest() {
    bool wrote = true;
    Result r = state_->Read([](Database db) -> Result { return json::value(DigestOf(db)); }, &wrote);
    EXPECT_FALSE(wrote);
    return r.ok() ? std::string(r.value().as_string()) : "";
  }
  int applied_ = 0, restored_ = 0;

 private:
  Machine machine_;
  std::unique_ptr<txn::ReplicatedDb> state_;
};

TEST(ReplicatedDb, TheSameLogGivesTheSameStateAndSnapshot) {
  TempDir dir("harpc-machine");
  Replica file(dir, "file.db");
  MemoryReplica one, two;
  for (const json::value& command : History()) {
    Result a = one.state().Apply(command), b = two.state().Apply(command), c = file.Execute(command);
    EXPECT_EQ(a.status().code(), b.status().code()) << command;
    EXPECT_EQ(a.status().code(), c.status().code()) << command;
    if (a.ok() && c.ok()) {
      EXPECT_EQ(json::serialize(a.value()), json::serialize(c.value())) << command;
    }
  }
  EXPECT_EQ(one.applied_, static_cast<int>(History().size()));
  EXPECT_EQ(one.Digest(), two.Digest());
  EXPECT_EQ(one.Digest(), file.Digest());  // in memory or on disk, one state
  EXPECT_EQ(one.state().Snapshot(), two.state().Snapshot());
  Result digest = one.state().Digest();
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(digest.value().at("commands"), static_cast<int64_t>(History().size()));
  EXPECT_EQ(digest.value(), two.state().Digest().value());

  // A member catching up by snapshot has the same state, and goes on alike.
  MemoryReplica late;
  ASSERT_TRUE(late.state().Restore(one.state().Snapshot()).ok());
  EXPECT_EQ(late.restored_, 1);
  EXPECT_EQ(late.Digest(), one.Digest());
  const json::value next = AddCommand("a", 2, "k9", 9000);
  EXPECT_EQ(late.state().Digest().value(), one.state().Digest().value());
  ASSERT_TRUE(late.state().Apply(next).ok());
  EXPECT_NE(late.state().Digest().value(), one.state().Digest().value());  // one command apart
  ASSERT_TRUE(one.state().Apply(next).ok());
  EXPECT_EQ(late.Digest(), one.Digest());
  EXPECT_EQ(late.state().Digest().value(), one.state().Digest().value());
}

TEST(ReplicatedDb, AFailedCommandChangesNothingAndABadSnapshotIsRefused) {
  MemoryReplica r;
  ASSERT_TRUE(r.state().Apply(AddCommand("a", 1, "", 1)).ok());
  const std::string before = r.Digest();
  // The handler adds, then fails: its change is rolled back.
  json::value failing = txn::LocalCommand("Counter.add_then_fail", json::value{{"name", "a"}, {"n", 5}}, "", 2);
  EXPECT_EQ(r.state().Apply(failing).status().code(), StatusCode::kAborted);
  EXPECT_EQ(r.Digest(), before);

  // A read that writes is reported (and rolled back).
  bool wrote = false;
  Result read = r.state().Read(
      [](Database db) -> Result {
        Status s = db.Exec("UPDATE counter SET value = value + 1");
        return s.ok() ? Result(json::value()) : Result(s);
      },
      &wrote);
  EXPECT_TRUE(wrote);
  EXPECT_EQ(r.Digest(), before);

  EXPECT_FALSE(r.state().Restore("").ok());
  EXPECT_FALSE(r.state().Restore("not a database at all, not even close to one").ok());
  std::string cut = r.state().Snapshot();
  cut.resize(cut.size() / 2);
  EXPECT_FALSE(r.state().Restore(cut).ok());
  EXPECT_EQ(r.Digest(), before);
  EXPECT_EQ(r.restored_, 0);
}

}  // namespace
}  // namespace harpc