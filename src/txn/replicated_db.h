// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// ReplicatedDb: a SQLite database in memory as the state of a replicated
// group (harpc/replicated.h), for a participant group.
//
// The group's Raft log is the durable record; this database is what the log
// has built so far: every member starts from the latest snapshot (or an
// empty database made with the schema) and applies the committed commands
// after it, so it needs no fsync of its own.
//
// Each command runs in a savepoint: one that fails is rolled back and its
// error is the command's result, on every member alike. Snapshot() is the
// whole database file (sqlite3_serialize), Restore() loads one into a fresh
// connection and then swaps it in, so a bad snapshot leaves the state as it
// was. Every method runs on the group's loop, one at a time.
//
// The database also counts the commands it applied (table harpc_replicated),
// so that Digest() can tell whether two members hold the same state: equal
// counts must come with equal digests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "harpc/database.h"
#include "harpc/replicated.h"

struct sqlite3;

namespace harpc::txn {

class ReplicatedDb : public StateMachine {
 public:
  // Runs one command on the database (deterministically: see StateMachine::Apply).
  using Execute = std::function<Result(Database db, const boost::json::value& command)>;
  // Called after each command with its result (gauges, logs).
  using Applied = std::function<void(const boost::json::value& command, const Result& result)>;

  // An empty database in memory with `schema` (idempotent DDL).
  static Status Open(const std::string& schema, Execute execute, std::unique_ptr<ReplicatedDb>* out);
  ~ReplicatedDb() override;

  void OnApplied(Applied applied) { applied_ = std::move(applied); }
  // Called after a snapshot replaced the whole state.
  void OnRestored(std::function<void()> restored) { restored_ = std::move(restored); }
  void OnLeadershipChange(std::function<void(bool leader)> changed) { leadership_ = std::move(changed); }

  Result Apply(const boost::json::value& command) override;
  std::string Snapshot() override;
  Status Restore(std::string_view snapshot) override;
  void OnLeadership(bool leader) override;

  // Runs `read` in a savepoint that is rolled back whatever it did;
  // `*wrote` tells whether it changed anything (then its result must not
  // be trusted as a read: run it as a command instead).
  Result Read(const std::function<Result(Database db)>& read, bool* wrote);
  // Runs `change` on this member's copy alone, kept when it succeeds: for
  // setup before the group starts (every member runs the same).
  Result ChangeLocally(const std::function<Result(Database db)>& change);
  // {"commands":N,"digest":"16 hex digits"}: the commands applied so far
  // and a hash of every row of every table (the count included), in a
  // stable order.
  Result Digest();

 private:
  ReplicatedDb() = default;
  // Runs `work` in a savepoint, kept when `keep` says so.
  Result InSavepoint(const std::function<Result(Database db)>& work, const std::function<bool(const Result&)>& keep);

  sqlite3* db_ = nullptr;
  Execute execute_;
  Applied applied_;
  std::function<void()> restored_;
  std::function<void(bool)> leadership_;
};

}  // namespace harpc::txn
