// Small helpers over SQLite's C API, shared by every durable store of harpc
// (sentinel registry, idempotency log, transaction logs, participant databases).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harpc/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace harpc::sql {

// Opens (creating) `path` for durable writes: WAL journal, synchronous=FULL
// (each commit is fsynced before it returns), a busy timeout, and a VFS that
// counts fsyncs (FsyncCount). `what` names the store in error messages.
Status OpenDurable(const std::string& path, std::string_view what, sqlite3** db);

// Runs one or more statements without results.
Status Exec(sqlite3* db, std::string_view sql, std::string_view what);

// fsync/fdatasync calls made by SQLite files opened with OpenDurable in this
// process, since it started (harpc_txn_fsyncs_total in /metrics).
uint64_t FsyncCount();
// The same as a Prometheus counter family, harpc_txn_fsyncs_total.
std::string FsyncMetricText();

// A prepared statement, finalized when it goes out of scope. Bind indexes
// start at 1, column indexes at 0, as in SQLite.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t number);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step();
  // Step() until done; OK when it finished without error.
  Status Run();
  void Reset();

  std::string Text(int column) const;
  int64_t Int(int column) const;
  bool prepared() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace harpc::sql
