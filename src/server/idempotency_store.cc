#include "server/idempotency_store.h"

#include "util/log.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace harpc {

namespace asio = boost::asio;

namespace {
int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Transient(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled: return true;
    default: return false;
  }
}
}  // namespace

void IdempotencyStore::EvictLocked(Clock::time_point now, bool make_room) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    const bool expired = it->second->finished && it->second->expires_at <= now;
    if (!expired && !(make_room && entries_.size() >= max_entries_)) break;
    // A running entry is never dropped for age, only for room (its attempt still finishes).
    if (!expired) dropped_for_room_ = true;
    entries_.erase(it);
    order_.pop_front();
  }
}

IdempotencyStore::Verdict IdempotencyStore::Begin(const std::string& method, const std::string& key,
                                                  uint64_t fingerprint, std::shared_ptr<Entry>* entry) {
  const auto now = Clock::now();
  std::string id = method + "\n" + key;
  std::lock_guard lock(mu_);
  EvictLocked(now, /*make_room=*/false);  // a repeat of a remembered call must still find it in a full store
  if (auto it = entries_.find(id); it != entries_.end()) {
    *entry = it->second;
    if (it->second->fingerprint != fingerprint) return Verdict::kMismatch;
    return it->second->finished ? Verdict::kReplay : Verdict::kWait;
  }
  EvictLocked(now, /*make_room=*/true);
  auto e = std::make_shared<Entry>();
  e->id = id;
  e->fingerprint = fingerprint;
  int64_t expires_ms = 0;
  const int64_t now_ms = WallMs();
  if (log_ && (dropped_for_room_ || now - log_opened_ < ttl_) &&
      log_->Get(id, now_ms, &e->fingerprint, &e->result, &expires_ms)) {
    // Answered before this process started (or before it forgot): replay it.
    e->finished = true;
    e->expires_at = now + std::chrono::milliseconds(expires_ms - now_ms);
  }
  order_.push_back(id);
  e->position = std::prev(order_.end());
  entries_.emplace(std::move(id), e);
  const bool replay = e->finished;
  const bool mismatch = e->fingerprint != fingerprint;
  *entry = std::move(e);
  if (replay) return mismatch ? Verdict::kMismatch : Verdict::kReplay;
  return Verdict::kRun;
}

asio::awaitable<void> IdempotencyStore::Persist(std::shared_ptr<Entry> entry, Result result) {
  // Written whether or not the entry is still in memory: one dropped for
  // room while it ran must still be found after a restart.
  if (!log_ || Transient(result.status())) co_return;
  const int64_t expires_ms = WallMs() + ttl_.count();
  Status s = co_await log_->Put(entry->id, entry->fingerprint, std::move(result), expires_ms);
  if (!s.ok()) Log().error("{}", s.ToString());
}

void IdempotencyStore::Finish(const std::shared_ptr<Entry>& entry, const Result& result) {
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  const bool transient = Transient(result.status());
  {
    std::lock_guard lock(mu_);
    entry->finished = true;
    entry->result = result;
    entry->expires_at = Clock::now() + ttl_;
    waiters.swap(entry->waiters);
    auto it = entries_.find(entry->id);
    if (it != entries_.end() && it->second == entry) {
      if (transient) {
        order_.erase(entry->position);
        entries_.erase(it);
      } else {
        order_.splice(order_.end(), order_, entry->position);  // expiry order = finish order
      }
    }
  }
  for (auto& timer : waiters) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
}

Result IdempotencyStore::Answer(const Entry& entry) { return entry.result; }

asio::awaitable<Result> IdempotencyStore::Wait(std::shared_ptr<Entry> entry, Clock::time_point deadline) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
  {
    std::lock_guard lock(mu_);
    if (!entry->finished) entry->waiters.push_back(timer);
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (entry->finished) co_return entry->result;
    }
    if (Clock::now() >= deadline) break;
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return Status(StatusCode::kAborted,
                   "idempotency conflict: the first attempt with this key is still running");
}

size_t IdempotencyStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace harpc
