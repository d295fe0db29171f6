// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn/replicated_db.h"

#include <sqlite3.h>

#include <cstring>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "storage/sqlite.h"
#include "util/hash.h"
#include "util/log.h"

namespace harpc::txn {

namespace {
constexpr std::string_view kWhat = "participant state";
constexpr const char* kCountSchema =
    "CREATE TABLE IF NOT EXISTS harpc_replicated (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO harpc_replicated (key, value) VALUES ('commands', 0);";

Status OpenMemory(sqlite3** db) {
  if (sqlite3_open_v2(":memory:", db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK) {
    return Status::Ok();
  }
  Status s = Internal(std::string("cannot open the participant state in memory: ") + sqlite3_errmsg(*db));
  sqlite3_close(*db);
  *db = nullptr;
  return s;
}
}  // namespace

Status ReplicatedDb::Open(const std::string& schema, Execute execute, std::unique_ptr<ReplicatedDb>* out) {
  std::unique_ptr<ReplicatedDb> made(new ReplicatedDb());
  if (Status s = OpenMemory(&made->db_); !s.ok()) return s;
  if (Status s = sql::Exec(made->db_, schema + kCountSchema, kWhat); !s.ok()) return s;
  made->execute_ = std::move(execute);
  *out = std::move(made);
  return Status::Ok();
}

ReplicatedDb::~ReplicatedDb() { sqlite3_close(db_); }

Result ReplicatedDb::InSavepoint(const std::function<Result(Database db)>& work,
                                 const std::function<bool(const Result&)>& keep) {
  if (Status s = sql::Exec(db_, "SAVEPOINT command", kWhat); !s.ok()) return s;
  Result r = work(sql::Access::Wrap(db_));
  Status ended = sql::Exec(db_, keep(r) ? "RELEASE command" : "ROLLBACK TO command; RELEASE command", kWhat);
  if (!ended.ok()) return ended;
  return r;
}

Result ReplicatedDb::Apply(const boost::json::value& command) {
  Result r = InSavepoint([this, &command](Database db) { return execute_(db, command); },
                         [](const Result& result) { return result.ok(); });
  // Counted whatever its result: a failed command is applied too (as nothing).
  if (Status s = sql::Exec(db_, "UPDATE harpc_replicated SET value = value + 1 WHERE key = 'commands'", kWhat);
      !s.ok()) {
    Log().error("{}", s.ToString());
  }
  if (applied_) applied_(command, r);
  return r;
}

Result ReplicatedDb::Read(const std::function<Result(Database db)>& read, bool* wrote) {
  const int64_t before = sqlite3_total_changes64(db_);
  Result r = InSavepoint(read, [](const Result&) { return false; });
  *wrote = sqlite3_total_changes64(db_) != before;
  return r;
}

Result ReplicatedDb::ChangeLocally(const std::function<Result(Database db)>& change) {
  return InSavepoint(change, [](const Result& result) { return result.ok(); });
}

Result ReplicatedDb::Digest() {
  bool wrote = false;
  return Read(
      [](Database db) -> Result {
        std::vector<std::string> tables;
        Statement names(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
        while (names.Step() == Statement::kRow) tables.push_back(names.Text(0));
        uint64_t hash = 0;
        for (const std::string& table : tables) {
          std::string columns;
          Statement info(db, "SELECT name FROM pragma_table_info(?) ORDER BY cid");
          info.Bind(1, table);
          while (info.Step() == Statement::kRow) columns += (columns.empty() ? "\"" : ", \"") + info.Text(0) + "\"";
          hash = StableHash(table, hash);
          Statement rows(db, "SELECT json_array(" + columns + ") AS r FROM \"" + table + "\" ORDER BY r");
          while (rows.Step() == Statement::kRow) hash = StableHash(rows.Text(0), hash);
        }
        Statement count(db, "SELECT value FROM harpc_replicated WHERE key = 'commands'");
        const int64_t commands = count.Step() == Statement::kRow ? count.Int(0) : 0;
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016" PRIx64, hash);
        return boost::json::value{{"commands", commands}, {"digest", hex}};
      },
      &wrote);
}

std::string ReplicatedDb::Snapshot() {
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(db_, "main", &size, 0);
  if (!bytes) {
    // Only when memory runs out: the group cannot compact its log now and
    // tries again at its next snapshot.
    Log().error("participant state: cannot serialize the database for a snapshot ({} bytes)", size);
    return {};
  }
  std::string snapshot(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
  sqlite3_free(bytes);
  return snapshot;
}

Status ReplicatedDb::Restore(std::string_view snapshot) {
  if (snapshot.empty()) return InvalidArgument("participant state: an empty snapshot");
  sqlite3* fresh = nullptr;
  if (Status s = OpenMemory(&fresh); !s.ok()) return s;
  // SQLite owns (and may grow) the copy from here on, failure included.
  auto* copy = static_cast<unsigned char*>(sqlite3_malloc64(snapshot.size()));
  if (!copy) {
    sqlite3_close(fresh);
    return ResourceExhausted("participant state: no memory for a snapshot of " + std::to_string(snapshot.size()) +
                             " bytes");
  }
  std::memcpy(copy, snapshot.data(), snapshot.size());
  const int rc = sqlite3_deserialize(fresh, "main", copy, snapshot.size(), snapshot.size(),
                                     SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
  Status s = rc == SQLITE_OK ? Status::Ok() : DataLoss(std::string("participant state: ") + sqlite3_errstr(rc));
  if (s.ok()) {
    Statement check(sql::Access::Wrap(fresh), "PRAGMA quick_check");
    if (check.Step() != Statement::kRow || check.Text(0) != "ok") {
      s = DataLoss("participant state: the snapshot is not a sound SQLite database");
    }
  }
  if (!s.ok()) {
    sqlite3_close(fresh);
    return s;
  }
  sqlite3_close(db_);
  db_ = fresh;
  if (restored_) restored_();
  return Status::Ok();
}

void ReplicatedDb::OnLeadership(bool leader) {
  if (leadership_) leadership_(leader);
}

}  // namespace harpc::txn
