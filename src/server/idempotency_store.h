// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Remembers the answers of non-idempotent calls by Idempotency-Key, so that a
// retried or hedged attempt gets the first answer instead of running the
// method again. Keys are scoped per method; entries expire after a TTL and the
// oldest go first when the store is full, in entries or in bytes (bounded
// memory: answers are kept as JSON text, whose size is known exactly).
//
//   first attempt: Begin → kRun → (handler) → Finish
//   repeat:        Begin → kReplay (stored answer)
//                        → kWait (first still running: Wait until it finishes
//                          or the repeat's deadline, then 409 ABORTED)
//                        → kMismatch (same key, other params: 422)
//
// Thread-safe: attempts arrive on any event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "harpc/result.h"
#include "server/idempotency_log.h"

namespace harpc {

class IdempotencyStore {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_bytes` bounds what the entries cost together (see Footprint);
  // `max_answer_bytes` is the server's answer limit: a larger answer is
  // replayed as the error its first attempt got.
  IdempotencyStore(std::chrono::milliseconds ttl, size_t max_entries, size_t max_bytes = SIZE_MAX,
                   size_t max_answer_bytes = SIZE_MAX)
      : ttl_(ttl), max_entries_(max_entries), max_bytes_(max_bytes), max_answer_bytes_(max_answer_bytes) {}

  enum class Verdict { kRun, kReplay, kWait, kMismatch };
  struct Entry;

  // `fingerprint` identifies the params (a hash of their JSON).
  Verdict Begin(const std::string& method, const std::string& key, uint64_t fingerprint, std::shared_ptr<Entry>* entry);
  // With a log: writes the first attempt's answer durably (group commit).
  // Called before Finish, so that no repeat is answered with an answer that
  // a crash could still lose. Without a log, or for a transient failure:
  // nothing. The log's error when it could not keep it.
  boost::asio::awaitable<Status> Persist(std::shared_ptr<Entry> entry, Result result);
  // Records the first attempt's answer. Transient failures (NOT_LEADER,
  // UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, CANCELLED) are
  // forgotten instead, so that a retry runs the method again.
  void Finish(const std::shared_ptr<Entry>& entry, const Result& result);
  // Waits for a running first attempt; its answer, or ABORTED at `deadline`.
  boost::asio::awaitable<Result> Wait(std::shared_ptr<Entry> entry, Clock::time_point deadline);
  // The stored answer of a finished entry.
  static Result Answer(const Entry& entry);

  size_t size() const;
  // What the entries in the store cost together, in bytes (at most max_bytes).
  size_t bytes() const;

  // Also keeps finished answers in `log` (durable across restarts), and looks
  // there for keys this process does not remember. Set before any call.
  void SetLog(std::unique_ptr<IdempotencyLog> log) {
    log_ = std::move(log);
    log_opened_ = Clock::now();
  }

 private:
  using Lru = std::list<Entry*>;
  // Drops expired answers, and with `make_room` the oldest entries until one
  // more entry of `incoming` bytes fits.
  void EvictLocked(Clock::time_point now, bool make_room, size_t incoming = 0);
  // Removes an entry from the store (its holders keep it).
  void DropLocked(Entry& entry);
  // Sets a finished entry's answer (JSON text, or the error) and what the entry costs.
  void SetAnswer(Entry& entry, const Result& result) const;

  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  size_t max_bytes_;
  size_t max_answer_bytes_;
  mutable std::mutex mu_;
  // "method\nkey" (a view of the entry's id) → entry
  std::unordered_map<std::string_view, std::shared_ptr<Entry>> entries_;
  Lru order_;         // oldest first
  size_t bytes_ = 0;  // the footprints of the entries in entries_
  std::unique_ptr<IdempotencyLog> log_;
  // The log can only know a key this store does not if it was answered
  // before this process started (within a TTL of that), or if its entry was
  // dropped for room: otherwise a first call skips the lookup.
  Clock::time_point log_opened_;
  bool dropped_for_room_ = false;  // guarded by mu_
};

struct IdempotencyStore::Entry {
  std::string id;  // "method\nkey"
  uint64_t fingerprint = 0;
  bool finished = false;
  Status error;        // a finished attempt's answer when it failed,
  std::string answer;  // else its JSON text (text: smaller than a json::value, and its size is known)
  // What the entry costs: its id, its answer and its bookkeeping (the entry,
  // its control block, hash node and bucket, list node and the allocator's
  // headers), counted against max_bytes.
  size_t footprint = 0;
  Clock::time_point expires_at{};
  Lru::iterator position;
  // Repeats waiting for the first attempt; woken on their own executors.
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
};

}  // namespace harpc
