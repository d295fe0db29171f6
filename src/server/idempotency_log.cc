// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/idempotency_log.h"

#include <sqlite3.h>

#include <chrono>

#include <boost/json.hpp>

#include "storage/group_commit.h"
#include "storage/sqlite.h"

namespace harpc {

namespace json = boost::json;

namespace {
constexpr std::string_view kWhat = "idempotency db";
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS answers (id TEXT PRIMARY KEY, fingerprint INTEGER NOT NULL,"
    " code INTEGER NOT NULL, message TEXT NOT NULL, value TEXT NOT NULL, expires_ms INTEGER NOT NULL);";
}  // namespace

IdempotencyLog::~IdempotencyLog() {
  if (reader_) sqlite3_close(reader_);
}

Status IdempotencyLog::Open(const std::string& path, std::unique_ptr<IdempotencyLog>* out) {
  std::unique_ptr<IdempotencyLog> log(new IdempotencyLog());
  if (Status s = storage::GroupCommitDb::Open(path, kSchema, &log->writer_); !s.ok()) return s;
  if (Status s = sql::OpenDurable(path, kWhat, &log->reader_); !s.ok()) return s;
  *out = std::move(log);
  return Status::Ok();
}

bool IdempotencyLog::Get(const std::string& id, int64_t now_ms, uint64_t* fingerprint, Result* result,
                         int64_t* expires_ms) {
  std::lock_guard lock(reader_mu_);
  Statement s(sql::Access::Wrap(reader_),
              "SELECT fingerprint, code, message, value, expires_ms FROM answers WHERE id = ?");
  s.Bind(1, id);
  if (s.Step() != Statement::kRow || s.Int(4) <= now_ms) return false;
  *fingerprint = static_cast<uint64_t>(s.Int(0));
  *expires_ms = s.Int(4);
  const auto code = static_cast<StatusCode>(s.Int(1));
  if (code == StatusCode::kOk) {
    boost::system::error_code ec;
    json::value v = json::parse(s.Text(3), ec);
    *result = ec ? Result(Internal("stored answer is not valid JSON")) : Result(std::move(v));
  } else {
    *result = Status(code, s.Text(2));
  }
  return true;
}

boost::asio::awaitable<Status> IdempotencyLog::Put(std::string id, uint64_t fingerprint, Result result,
                                                   int64_t expires_ms) {
  const bool purge = ++puts_ % 1000 == 0;
  storage::GroupCommitDb::Work work = [id = std::move(id), fingerprint, result = std::move(result), expires_ms,
                                       purge](Database db) -> Result {
    Status s = Statement(db,
                         "INSERT OR REPLACE INTO answers (id, fingerprint, code, message, value, expires_ms)"
                         " VALUES (?, ?, ?, ?, ?, ?)")
                   .Bind(1, id)
                   .Bind(2, static_cast<int64_t>(fingerprint))
                   .Bind(3, static_cast<int64_t>(result.status().code()))
                   .Bind(4, result.status().message())
                   .Bind(5, result.ok() ? json::serialize(result.value()) : "null")
                   .Bind(6, expires_ms)
                   .Run();
    if (s.ok() && purge) {
      const int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      s = Statement(db, "DELETE FROM answers WHERE expires_ms <= ?").Bind(1, now_ms).Run();
    }
    return s.ok() ? Result(json::value()) : Result(s);
  };
  Result r = co_await writer_->Run(std::move(work));
  co_return r.status();
}

}  // namespace harpc
