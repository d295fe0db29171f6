#include "sentinel/registry_store.h"

#include <sqlite3.h>

#include <filesystem>

#include "util/sqlite.h"

namespace harpc::sentinel {

namespace {
using sql::Statement;

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}
}  // namespace

RegistryStore::~RegistryStore() {
  if (db_) sqlite3_close(db_);
}

Status RegistryStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return Internal("registry database: " + message);
  }
  return Status::Ok();
}

Status RegistryStore::Open(const std::string& data_dir, std::unique_ptr<RegistryStore>* out) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Internal("cannot create data dir " + data_dir + ": " + ec.message());
  std::unique_ptr<RegistryStore> store(new RegistryStore());
  const std::string path = data_dir + "/registry.db";
  if (sqlite3_open(path.c_str(), &store->db_) != SQLITE_OK) {
    return Internal("cannot open " + path + ": " + sqlite3_errmsg(store->db_));
  }
  sqlite3_busy_timeout(store->db_, 2000);
  if (Status s = store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                             "CREATE TABLE IF NOT EXISTS instances (service TEXT NOT NULL, address TEXT NOT NULL,"
                             " name TEXT, weight INTEGER, metadata TEXT, ttl_ms INTEGER, lease TEXT,"
                             " registered_at_ms INTEGER, odown INTEGER, odown_epoch INTEGER,"
                             " PRIMARY KEY (service, address));"
                             "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);");
      !s.ok()) {
    return s;
  }
  *out = std::move(store);
  return Status::Ok();
}

Status RegistryStore::LoadAll(std::vector<StoredInstance>* instances, int64_t* epoch, uint64_t* index) {
  Statement rows(db_, "SELECT service, address, name, weight, metadata, ttl_ms, lease, registered_at_ms, odown,"
                      " odown_epoch FROM instances");
  while (sqlite3_step(rows.get()) == SQLITE_ROW) {
    StoredInstance i;
    i.service = Text(rows.get(), 0);
    i.address = Text(rows.get(), 1);
    i.name = Text(rows.get(), 2);
    i.weight = sqlite3_column_int(rows.get(), 3);
    i.metadata_json = Text(rows.get(), 4);
    i.ttl_ms = sqlite3_column_int64(rows.get(), 5);
    i.lease = Text(rows.get(), 6);
    i.registered_at_ms = sqlite3_column_int64(rows.get(), 7);
    i.odown = sqlite3_column_int(rows.get(), 8) != 0;
    i.odown_epoch = sqlite3_column_int64(rows.get(), 9);
    instances->push_back(std::move(i));
  }
  *epoch = 0;
  *index = 0;
  Statement meta(db_, "SELECT key, value FROM meta");
  while (sqlite3_step(meta.get()) == SQLITE_ROW) {
    const std::string key = Text(meta.get(), 0);
    if (key == "epoch") *epoch = sqlite3_column_int64(meta.get(), 1);
    if (key == "index") *index = static_cast<uint64_t>(sqlite3_column_int64(meta.get(), 1));
  }
  return Status::Ok();
}

Status RegistryStore::SetMeta(const char* key, int64_t value) {
  Statement s(db_, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.Bind(1, std::string(key));
  s.Bind(2, value);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Internal(std::string("registry database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status RegistryStore::Put(const StoredInstance& i, uint64_t index) {
  if (Status s = Exec("BEGIN"); !s.ok()) return s;
  Statement put(db_, "INSERT OR REPLACE INTO instances (service, address, name, weight, metadata, ttl_ms, lease,"
                     " registered_at_ms, odown, odown_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  put.Bind(1, i.service);
  put.Bind(2, i.address);
  put.Bind(3, i.name);
  put.Bind(4, static_cast<int64_t>(i.weight));
  put.Bind(5, i.metadata_json);
  put.Bind(6, i.ttl_ms);
  put.Bind(7, i.lease);
  put.Bind(8, i.registered_at_ms);
  put.Bind(9, static_cast<int64_t>(i.odown));
  put.Bind(10, i.odown_epoch);
  const bool ok = sqlite3_step(put.get()) == SQLITE_DONE && SetMeta("index", static_cast<int64_t>(index)).ok();
  return Exec(ok ? "COMMIT" : "ROLLBACK");
}

Status RegistryStore::Remove(const std::string& service, const std::string& address, uint64_t index) {
  if (Status s = Exec("BEGIN"); !s.ok()) return s;
  Statement del(db_, "DELETE FROM instances WHERE service = ? AND address = ?");
  del.Bind(1, service);
  del.Bind(2, address);
  const bool ok = sqlite3_step(del.get()) == SQLITE_DONE && SetMeta("index", static_cast<int64_t>(index)).ok();
  return Exec(ok ? "COMMIT" : "ROLLBACK");
}

Status RegistryStore::SetEpoch(int64_t epoch) { return SetMeta("epoch", epoch); }
Status RegistryStore::SetIndex(uint64_t index) { return SetMeta("index", static_cast<int64_t>(index)); }

}  // namespace harpc::sentinel
