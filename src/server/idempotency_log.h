// The durable side of the idempotency store (`harpc serve --idempotency-db
// FILE`): finished answers in SQLite, so that a server restarted between a
// call and its retry still answers the retry with the stored answer instead of
// running the method again. Each answer is committed (fsync) before it is sent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "harpc/result.h"

struct sqlite3;

namespace harpc {

class IdempotencyLog {
 public:
  ~IdempotencyLog();
  static Status Open(const std::string& path, std::unique_ptr<IdempotencyLog>* out);

  // The answer stored for `id` that is still valid at `now_ms` (wall clock).
  bool Get(const std::string& id, int64_t now_ms, uint64_t* fingerprint, Result* result, int64_t* expires_ms);
  Status Put(const std::string& id, uint64_t fingerprint, const Result& result, int64_t expires_ms);
  // Drops answers expired at `now_ms`.
  void Purge(int64_t now_ms);

 private:
  IdempotencyLog() = default;
  sqlite3* db_ = nullptr;
};

}  // namespace harpc
