// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/idempotency_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/value.hpp>

#include "server/answer_limit.h"
#include "util/json_text.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Answers that say the method did not run (or may run again): a repeat must
// run it. NOT_LEADER above all: the same key, sent once this member leads,
// must reach the method.
bool Transient(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotLeader:
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

// The bookkeeping of one entry beyond its id and answer: the Entry, the
// shared_ptr control block, the hash node and its bucket, the list node, and
// about 16 bytes of allocator header for each of the five allocations.
constexpr size_t kEntryOverhead = sizeof(IdempotencyStore::Entry) + 16 + 48 + 8 + 24 + 5 * 16;

size_t Footprint(const IdempotencyStore::Entry& e) {
  return kEntryOverhead + e.id.capacity() + e.answer.capacity() + e.error.message().capacity();
}
}  // namespace

void IdempotencyStore::DropLocked(Entry& entry) {
  bytes_ -= entry.footprint;
  order_.erase(entry.position);
  auto it = entries_.find(entry.id);
  entries_.erase(it);  // last: it may hold the last reference to `entry`
}

void IdempotencyStore::EvictLocked(Clock::time_point now, bool make_room, size_t incoming) {
  while (!order_.empty()) {
    Entry& oldest = *order_.front();
    const bool expired = oldest.finished && oldest.expires_at <= now;
    const bool full = entries_.size() >= max_entries_ || bytes_ + incoming > max_bytes_;
    if (!expired && !(make_room && full)) break;
    // A running entry is never dropped for age, only for room (its attempt still finishes).
    if (!expired) dropped_for_room_ = true;
    DropLocked(oldest);
  }
}

void IdempotencyStore::SetAnswer(Entry& entry, const Result& result) const {
  entry.answer.clear();
  entry.error = result.status();
  if (result.ok()) {
    JsonTextWriter writer(entry.answer, max_answer_bytes_, result.value());
    if (writer.Write(SIZE_MAX) == JsonTextWriter::kTooLarge) entry.error = AnswerTooLarge(max_answer_bytes_);
    entry.answer.shrink_to_fit();
  }
  entry.footprint = Footprint(entry);
}

IdempotencyStore::Verdict IdempotencyStore::Begin(const std::string& method, const std::string& key,
                                                  uint64_t fingerprint, std::shared_ptr<Entry>* entry) {
  const auto now = Clock::now();
  auto e = std::make_shared<Entry>();
  e->id = method + "\n" + key;
  std::lock_guard lock(mu_);
  EvictLocked(now, /*make_room=*/false);  // a repeat of a remembered call must still find it in a full store
  if (auto it = entries_.find(e->id); it != entries_.end()) {
    *entry = it->second;
    if (it->second->fingerprint != fingerprint) return Verdict::kMismatch;
    return it->second->finished ? Verdict::kReplay : Verdict::kWait;
  }
  e->fingerprint = fingerprint;
  int64_t expires_ms = 0;
  const int64_t now_ms = WallMs();
  Result remembered = Status::Ok();
  if (log_ && (dropped_for_room_ || now - log_opened_ < ttl_) &&
      log_->Get(e->id, now_ms, &e->fingerprint, &remembered, &expires_ms)) {
    // Answered before this process started (or before it forgot): replay it.
    e->finished = true;
    SetAnswer(*e, remembered);
    e->expires_at = now + std::chrono::milliseconds(expires_ms - now_ms);
  } else {
    e->footprint = Footprint(*e);
  }
  EvictLocked(now, /*make_room=*/true, e->footprint);
  order_.push_back(e.get());
  e->position = std::prev(order_.end());
  bytes_ += e->footprint;
  entries_.emplace(e->id, e);
  if (bytes_ > max_bytes_) {  // larger than the whole store: answered, not kept
    dropped_for_room_ = true;
    DropLocked(*e);
  }
  const bool replay = e->finished;
  const bool mismatch = e->fingerprint != fingerprint;
  *entry = std::move(e);
  if (replay) return mismatch ? Verdict::kMismatch : Verdict::kReplay;
  return Verdict::kRun;
}

asio::awaitable<Status> IdempotencyStore::Persist(std::shared_ptr<Entry> entry, Result result) {
  // Written whether or not the entry is still in memory: one dropped for
  // room while it ran must still be found after a restart.
  if (!log_ || Transient(result.status())) co_return Status::Ok();
  const int64_t expires_ms = WallMs() + ttl_.count();
  co_return co_await log_->Put(entry->id, entry->fingerprint, std::move(result), expires_ms);
}

void IdempotencyStore::Finish(const std::shared_ptr<Entry>& entry, const Result& result) {
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  const bool transient = Transient(result.status());
  // Written before taking the lock: other loops go on meanwhile.
  Entry answered;
  SetAnswer(answered, result);
  {
    std::lock_guard lock(mu_);
    entry->finished = true;
    entry->error = std::move(answered.error);
    entry->answer = std::move(answered.answer);
    entry->expires_at = Clock::now() + ttl_;
    waiters.swap(entry->waiters);
    auto it = entries_.find(entry->id);
    if (it != entries_.end() && it->second == entry) {
      if (transient) {
        DropLocked(*entry);
      } else {
        order_.splice(order_.end(), order_, entry->position);  // expiry order = finish order
        bytes_ -= entry->footprint;
        entry->footprint = Footprint(*entry);
        bytes_ += entry->footprint;
        if (entry->footprint > max_bytes_) {
          DropLocked(*entry);  // larger than the whole store: answered, not kept
          dropped_for_room_ = true;
        }
        // Room for the answer, the oldest first.
        while (bytes_ > max_bytes_ && !order_.empty()) {
          dropped_for_room_ = true;
          DropLocked(*order_.front());
        }
      }
    }
  }
  for (auto& timer : waiters) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
}

Result IdempotencyStore::Answer(const Entry& entry) {
  if (!entry.error.ok()) return entry.error;
  json::value value;
  if (Status s = ParseJsonText(entry.answer, &value); !s.ok())
    return Internal("stored answer is not JSON: " + s.message());
  return value;
}

asio::awaitable<Result> IdempotencyStore::Wait(std::shared_ptr<Entry> entry, Clock::time_point deadline) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
  {
    std::lock_guard lock(mu_);
    if (!entry->finished) entry->waiters.push_back(timer);
  }
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (entry->finished) {
        lock.unlock();  // a finished entry's answer no longer changes
        co_return Answer(*entry);
      }
    }
    if (Clock::now() >= deadline) break;
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  {
    // Giving up, the waiter takes its timer back: the entry may outlive this
    // loop (a server's store outlives its loops), and a timer must not.
    std::lock_guard lock(mu_);
    std::erase(entry->waiters, timer);
  }
  co_return Status(StatusCode::kAborted, "idempotency conflict: the first attempt with this key is still running");
}

size_t IdempotencyStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

size_t IdempotencyStore::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace harpc
