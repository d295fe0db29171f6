#include "server/idempotency_log.h"

#include <sqlite3.h>

#include <boost/json.hpp>

namespace harpc {

namespace json = boost::json;

IdempotencyLog::~IdempotencyLog() {
  if (db_) sqlite3_close(db_);
}

Status IdempotencyLog::Open(const std::string& path, std::unique_ptr<IdempotencyLog>* out) {
  std::unique_ptr<IdempotencyLog> log(new IdempotencyLog());
  if (sqlite3_open(path.c_str(), &log->db_) != SQLITE_OK) {
    return Internal("cannot open idempotency db " + path + ": " + sqlite3_errmsg(log->db_));
  }
  sqlite3_busy_timeout(log->db_, 2000);
  char* error = nullptr;
  if (sqlite3_exec(log->db_,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS answers (id TEXT PRIMARY KEY, fingerprint INTEGER NOT NULL,"
                   " code INTEGER NOT NULL, message TEXT NOT NULL, value TEXT NOT NULL, expires_ms INTEGER NOT NULL);",
                   nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return Internal("idempotency db " + path + ": " + message);
  }
  *out = std::move(log);
  return Status::Ok();
}

bool IdempotencyLog::Get(const std::string& id, int64_t now_ms, uint64_t* fingerprint, Result* result,
                         int64_t* expires_ms) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "SELECT fingerprint, code, message, value, expires_ms FROM answers WHERE id = ?", -1, &s,
                     nullptr);
  sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  bool found = false;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 4) > now_ms) {
    found = true;
    *fingerprint = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    const auto code = static_cast<StatusCode>(sqlite3_column_int(s, 1));
    const char* message = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
    const char* value = reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
    *expires_ms = sqlite3_column_int64(s, 4);
    if (code == StatusCode::kOk) {
      boost::system::error_code ec;
      json::value v = json::parse(value ? value : "null", ec);
      *result = ec ? Result(Internal("stored answer is not valid JSON")) : Result(std::move(v));
    } else {
      *result = Status(code, message ? message : "");
    }
  }
  sqlite3_finalize(s);
  return found;
}

Status IdempotencyLog::Put(const std::string& id, uint64_t fingerprint, const Result& result, int64_t expires_ms) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_,
                     "INSERT OR REPLACE INTO answers (id, fingerprint, code, message, value, expires_ms)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     -1, &s, nullptr);
  const std::string value = result.ok() ? json::serialize(result.value()) : "null";
  const std::string& message = result.status().message();
  sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(fingerprint));
  sqlite3_bind_int(s, 3, static_cast<int>(result.status().code()));
  sqlite3_bind_text(s, 4, message.data(), static_cast<int>(message.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 6, expires_ms);
  const int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return Internal(std::string("idempotency db: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

void IdempotencyLog::Purge(int64_t now_ms) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "DELETE FROM answers WHERE expires_ms <= ?", -1, &s, nullptr);
  sqlite3_bind_int64(s, 1, now_ms);
  sqlite3_step(s);
  sqlite3_finalize(s);
}

}  // namespace harpc
