// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/registry_store.h"

#include <filesystem>

#include "harpc/database.h"
#include "storage/group_commit.h"

namespace harpc::sentinel {

namespace {

constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS instances (service TEXT NOT NULL, address TEXT NOT NULL,"
    " name TEXT, weight INTEGER, metadata TEXT, ttl_ms INTEGER, lease TEXT,"
    " registered_at_ms INTEGER, odown INTEGER, odown_epoch INTEGER, odown_leader TEXT,"
    " PRIMARY KEY (service, address));"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);"
    "CREATE TABLE IF NOT EXISTS votes (epoch INTEGER PRIMARY KEY, candidate TEXT NOT NULL);";

Result Done(const Status& s) { return s.ok() ? Result(boost::json::value()) : Result(s); }

Status SetMeta(Database db, const char* key, int64_t value) {
  return Statement(db,
                   "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .Bind(1, key)
      .Bind(2, value)
      .Run();
}

}  // namespace

RegistryStore::~RegistryStore() = default;

Status RegistryStore::Open(const std::string& data_dir, std::unique_ptr<RegistryStore>* out) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Internal("cannot create data dir " + data_dir + ": " + ec.message());
  std::unique_ptr<RegistryStore> store(new RegistryStore());
  if (Status s = storage::GroupCommitDb::Open(data_dir + "/registry.db", kSchema, &store->db_); !s.ok()) return s;
  // Data dirs from before decisions named their leader gain the column.
  Result migrated = store->db_->RunSync([](Database db) -> Result {
    if (Statement(db, "SELECT odown_leader FROM instances LIMIT 0").prepared()) return Done(Status::Ok());
    return Done(db.Exec("ALTER TABLE instances ADD COLUMN odown_leader TEXT"));
  });
  if (!migrated.ok()) return migrated.status();
  *out = std::move(store);
  return Status::Ok();
}

Status RegistryStore::LoadAll(std::vector<StoredInstance>* instances, int64_t* epoch, uint64_t* index,
                              std::map<int64_t, std::string>* votes) {
  *epoch = 0;
  *index = 0;
  Result r = db_->RunSync([&](Database db) -> Result {
    Statement rows(db,
                   "SELECT service, address, name, weight, metadata, ttl_ms, lease, registered_at_ms, odown,"
                   " odown_epoch, odown_leader FROM instances");
    while (rows.Step() == Statement::kRow) {
      StoredInstance i;
      i.service = rows.Text(0);
      i.address = rows.Text(1);
      i.name = rows.Text(2);
      i.weight = static_cast<int>(rows.Int(3));
      i.metadata_json = rows.Text(4);
      i.ttl_ms = rows.Int(5);
      i.lease = rows.Text(6);
      i.registered_at_ms = rows.Int(7);
      i.odown = rows.Int(8) != 0;
      i.odown_epoch = rows.Int(9);
      i.odown_leader = rows.Text(10);
      instances->push_back(std::move(i));
    }
    Statement meta(db, "SELECT key, value FROM meta");
    while (meta.Step() == Statement::kRow) {
      const std::string key = meta.Text(0);
      if (key == "epoch") *epoch = meta.Int(1);
      if (key == "index") *index = static_cast<uint64_t>(meta.Int(1));
    }
    Statement voted(db, "SELECT epoch, candidate FROM votes");
    while (voted.Step() == Statement::kRow) (*votes)[voted.Int(0)] = voted.Text(1);
    return Done(Status::Ok());
  });
  return r.status();
}

void RegistryStore::Put(const StoredInstance& i, uint64_t index) {
  db_->Post([i, index](Database db) -> Result {
    Status s = Statement(db,
                         "INSERT OR REPLACE INTO instances (service, address, name, weight, metadata, ttl_ms,"
                         " lease, registered_at_ms, odown, odown_epoch, odown_leader)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                   .Bind(1, i.service)
                   .Bind(2, i.address)
                   .Bind(3, i.name)
                   .Bind(4, static_cast<int64_t>(i.weight))
                   .Bind(5, i.metadata_json)
                   .Bind(6, i.ttl_ms)
                   .Bind(7, i.lease)
                   .Bind(8, i.registered_at_ms)
                   .Bind(9, static_cast<int64_t>(i.odown))
                   .Bind(10, i.odown_epoch)
                   .Bind(11, i.odown_leader)
                   .Run();
    return Done(s.ok() ? SetMeta(db, "index", static_cast<int64_t>(index)) : s);
  });
}

void RegistryStore::Remove(const std::string& service, const std::string& address, uint64_t index) {
  db_->Post([service, address, index](Database db) -> Result {
    Status s = Statement(db, "DELETE FROM instances WHERE service = ? AND address = ?")
                   .Bind(1, service)
                   .Bind(2, address)
                   .Run();
    return Done(s.ok() ? SetMeta(db, "index", static_cast<int64_t>(index)) : s);
  });
}

void RegistryStore::SetEpoch(int64_t epoch) {
  db_->Post([epoch](Database db) { return Done(SetMeta(db, "epoch", epoch)); });
}

void RegistryStore::SetIndex(uint64_t index) {
  db_->Post([index](Database db) { return Done(SetMeta(db, "index", static_cast<int64_t>(index))); });
}

boost::asio::awaitable<Status> RegistryStore::RecordVote(int64_t epoch, const std::string& candidate,
                                                         int64_t forget_before) {
  storage::GroupCommitDb::Work work = [epoch, candidate, forget_before](Database db) -> Result {
    Status s = Statement(db, "INSERT OR REPLACE INTO votes (epoch, candidate) VALUES (?, ?)")
                   .Bind(1, epoch)
                   .Bind(2, candidate)
                   .Run();
    if (s.ok()) s = Statement(db, "DELETE FROM votes WHERE epoch < ?").Bind(1, forget_before).Run();
    // (The epoch row only ever grows: a vote is for an epoch above every earlier one.)
    if (s.ok()) {
      s = Statement(db,
                    "INSERT INTO meta (key, value) VALUES ('epoch', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)")
              .Bind(1, epoch)
              .Run();
    }
    return Done(s);
  };
  Result r = co_await db_->Run(std::move(work));
  co_return r.status();
}

namespace {
Result Nothing(Database) { return Done(Status::Ok()); }
}  // namespace

boost::asio::awaitable<Status> RegistryStore::Flush() {
  storage::GroupCommitDb::Work nothing = Nothing;
  Result r = co_await db_->Run(std::move(nothing));
  co_return r.status();
}

Status RegistryStore::FlushSync() { return db_->RunSync(Nothing).status(); }

}  // namespace harpc::sentinel
