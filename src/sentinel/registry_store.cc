#include "sentinel/registry_store.h"

#include <sqlite3.h>

#include <filesystem>

#include "storage/sqlite.h"

namespace harpc::sentinel {

namespace {
using sql::Statement;
constexpr std::string_view kWhat = "registry database";
}  // namespace

RegistryStore::~RegistryStore() {
  if (db_) sqlite3_close(db_);
}

Status RegistryStore::Open(const std::string& data_dir, std::unique_ptr<RegistryStore>* out) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Internal("cannot create data dir " + data_dir + ": " + ec.message());
  std::unique_ptr<RegistryStore> store(new RegistryStore());
  if (Status s = sql::OpenDurable(data_dir + "/registry.db", kWhat, &store->db_); !s.ok()) return s;
  if (Status s = sql::Exec(store->db_,
                           "CREATE TABLE IF NOT EXISTS instances (service TEXT NOT NULL, address TEXT NOT NULL,"
                           " name TEXT, weight INTEGER, metadata TEXT, ttl_ms INTEGER, lease TEXT,"
                           " registered_at_ms INTEGER, odown INTEGER, odown_epoch INTEGER,"
                           " PRIMARY KEY (service, address));"
                           "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);"
                           "CREATE TABLE IF NOT EXISTS votes (epoch INTEGER PRIMARY KEY, candidate TEXT NOT NULL);",
                           kWhat);
      !s.ok()) {
    return s;
  }
  // Data dirs from before decisions named their leader gain the column.
  if (!Statement(sql::Access::Wrap(store->db_), "SELECT odown_leader FROM instances LIMIT 0").prepared()) {
    if (Status s = sql::Exec(store->db_, "ALTER TABLE instances ADD COLUMN odown_leader TEXT", kWhat); !s.ok()) {
      return s;
    }
  }
  *out = std::move(store);
  return Status::Ok();
}

Status RegistryStore::LoadAll(std::vector<StoredInstance>* instances, int64_t* epoch, uint64_t* index,
                              std::map<int64_t, std::string>* votes) {
  Statement rows(sql::Access::Wrap(db_), "SELECT service, address, name, weight, metadata, ttl_ms, lease, registered_at_ms, odown,"
                      " odown_epoch, odown_leader FROM instances");
  while (rows.Step() == SQLITE_ROW) {
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
  Statement voted(sql::Access::Wrap(db_), "SELECT epoch, candidate FROM votes");
  while (voted.Step() == SQLITE_ROW) (*votes)[voted.Int(0)] = voted.Text(1);
  *epoch = 0;
  *index = 0;
  Statement meta(sql::Access::Wrap(db_), "SELECT key, value FROM meta");
  while (meta.Step() == SQLITE_ROW) {
    const std::string key = meta.Text(0);
    if (key == "epoch") *epoch = meta.Int(1);
    if (key == "index") *index = static_cast<uint64_t>(meta.Int(1));
  }
  return Status::Ok();
}

Status RegistryStore::SetMeta(const char* key, int64_t value) {
  return Statement(sql::Access::Wrap(db_), "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .Bind(1, key).Bind(2, value).Run();
}

Status RegistryStore::InTransaction(const std::function<Status()>& change) {
  if (Status s = sql::Exec(db_, "BEGIN", kWhat); !s.ok()) return s;
  Status s = change();
  if (!s.ok()) {
    sql::Exec(db_, "ROLLBACK", kWhat);
    return s;  // the change's error, not the rollback's success
  }
  return sql::Exec(db_, "COMMIT", kWhat);
}

Status RegistryStore::Put(const StoredInstance& i, uint64_t index) {
  return InTransaction([&] {
    Status s = Statement(sql::Access::Wrap(db_), "INSERT OR REPLACE INTO instances (service, address, name, weight, metadata, ttl_ms,"
                              " lease, registered_at_ms, odown, odown_epoch, odown_leader)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                   .Bind(1, i.service).Bind(2, i.address).Bind(3, i.name).Bind(4, static_cast<int64_t>(i.weight))
                   .Bind(5, i.metadata_json).Bind(6, i.ttl_ms).Bind(7, i.lease).Bind(8, i.registered_at_ms)
                   .Bind(9, static_cast<int64_t>(i.odown)).Bind(10, i.odown_epoch).Bind(11, i.odown_leader)
                   .Run();
    return s.ok() ? SetMeta("index", static_cast<int64_t>(index)) : s;
  });
}

Status RegistryStore::Remove(const std::string& service, const std::string& address, uint64_t index) {
  return InTransaction([&] {
    Status s = Statement(sql::Access::Wrap(db_), "DELETE FROM instances WHERE service = ? AND address = ?")
                   .Bind(1, service).Bind(2, address).Run();
    return s.ok() ? SetMeta("index", static_cast<int64_t>(index)) : s;
  });
}

Status RegistryStore::SetEpoch(int64_t epoch) { return SetMeta("epoch", epoch); }

Status RegistryStore::RecordVote(int64_t epoch, const std::string& candidate, int64_t forget_before) {
  return InTransaction([&] {
    Status s = Statement(sql::Access::Wrap(db_), "INSERT OR REPLACE INTO votes (epoch, candidate) VALUES (?, ?)")
                   .Bind(1, epoch).Bind(2, candidate).Run();
    if (s.ok()) s = Statement(sql::Access::Wrap(db_), "DELETE FROM votes WHERE epoch < ?").Bind(1, forget_before).Run();
    return s.ok() ? SetMeta("epoch", epoch) : s;
  });
}
Status RegistryStore::SetIndex(uint64_t index) { return SetMeta("index", static_cast<int64_t>(index)); }

}  // namespace harpc::sentinel
