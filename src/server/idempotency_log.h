// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The durable side of the idempotency store (`harpc serve --idempotency-db
// FILE`): finished answers in SQLite, so that a server restarted between a
// call and its retry still answers the retry with the stored answer instead of
// running the method again. Answers are written through a group-committed
// writer (concurrent answers share an fsync) and are durable before Put
// resumes its caller; lookups use a connection of their own, never waiting
// for a write.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "harpc/result.h"

struct sqlite3;

namespace harpc {

namespace storage {
class GroupCommitDb;
}

class IdempotencyLog {
 public:
  ~IdempotencyLog();
  static Status Open(const std::string& path, std::unique_ptr<IdempotencyLog>* out);

  // The answer stored for `id` that is still valid at `now_ms` (wall clock). Thread-safe.
  bool Get(const std::string& id, int64_t now_ms, uint64_t* fingerprint, Result* result, int64_t* expires_ms);
  // Stores an answer durably; every 1000th write also drops the answers
  // expired by then.
  boost::asio::awaitable<Status> Put(std::string id, uint64_t fingerprint, Result result, int64_t expires_ms);

 private:
  IdempotencyLog() = default;
  std::unique_ptr<storage::GroupCommitDb> writer_;
  std::mutex reader_mu_;
  sqlite3* reader_ = nullptr;
  std::atomic<uint64_t> puts_{0};
};

}  // namespace harpc
