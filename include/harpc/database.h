// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Database: the SQLite database a participant's handlers work on.
//
// Transactional and local handlers (harpc/txn.h) get a Database that is
// already inside the participant's local transaction: they read and write
// with statements and return; the library commits (durably, with group
// commit) or rolls back.
//
//   harpc::Statement select(db, "SELECT balance FROM accounts WHERE account = ?");
//   select.Bind(1, name);
//   if (select.Step() != harpc::Statement::kRow) return harpc::NotFound("no account " + name);
//   int64_t balance = select.Int(0);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harpc/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace harpc {

namespace sql {
struct Access;  // harpc's own stores make Databases from their connections
}

// A handle on an open database; cheap to copy, owns nothing.
class Database {
 public:
  // Runs one or more statements without results (DDL, UPDATE ...).
  Status Exec(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  // The message of the last error, for error statuses.
  std::string error() const;

 private:
  friend struct sql::Access;
  friend class Statement;
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement, finalized when it goes out of scope. Bind indexes
// start at 1, column indexes at 0, as in SQLite.
class Statement {
 public:
  // What Step() answers besides an error code: a row is ready, or the
  // statement is done (SQLite's SQLITE_ROW and SQLITE_DONE).
  static constexpr int kRow = 100;
  static constexpr int kDone = 101;

  Statement(Database db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t number);
  // kRow, kDone or an SQLite error code.
  int Step();
  // Step() until done; OK when it finished without error.
  Status Run();
  // Ready to run again, bindings cleared.
  void Reset();

  std::string Text(int column) const;
  int64_t Int(int column) const;
  // False when the SQL did not compile; Run() then says why.
  bool prepared() const { return stmt_ != nullptr; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace harpc
