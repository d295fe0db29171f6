// The server's idempotency store: run once, replay, mismatch, wait for a
// running first attempt (driven by an io_context, no sleeps), transient
// failures forgotten, TTL expiry and bounded size.
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "server/idempotency_store.h"
#include "support/test_support.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Verdict = IdempotencyStore::Verdict;
using Entry = std::shared_ptr<IdempotencyStore::Entry>;
using Clock = std::chrono::steady_clock;

Result Value(int64_t v) { return json::value{{"value", v}}; }

// Runs store.Wait(entry, deadline) on `io` and puts its answer in *out
// (then stops `io` when `stop` is set).
void SpawnWait(asio::io_context& io, IdempotencyStore& store, Entry entry, Clock::time_point deadline,
               std::optional<Result>* out, bool stop = false) {
  asio::co_spawn(
      io,
      [&io, &store, entry, deadline, out, stop]() -> asio::awaitable<void> {
        Result r = co_await store.Wait(entry, deadline);
        *out = std::move(r);
        if (stop) io.stop();
      },
      asio::detached);
}

TEST(IdempotencyStoreTest, RunThenReplayTheFirstAnswer) {
  IdempotencyStore store(1h, 100);
  Entry e;
  ASSERT_EQ(store.Begin("Counter.increment", "k1", 42, &e), Verdict::kRun);
  store.Finish(e, Value(7));
  Entry again;
  ASSERT_EQ(store.Begin("Counter.increment", "k1", 42, &again), Verdict::kReplay);
  Result r = IdempotencyStore::Answer(*again);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), json::parse(R"({"value":7})"));
  EXPECT_EQ(store.size(), 1u);
}

TEST(IdempotencyStoreTest, KeysAreScopedPerMethod) {
  IdempotencyStore store(1h, 100);
  Entry a, b;
  ASSERT_EQ(store.Begin("Counter.increment", "k1", 1, &a), Verdict::kRun);
  EXPECT_EQ(store.Begin("Bank.deposit", "k1", 1, &b), Verdict::kRun);
  EXPECT_NE(a, b);
  EXPECT_EQ(store.size(), 2u);
}

TEST(IdempotencyStoreTest, SameKeyOtherParamsIsAMismatch) {
  IdempotencyStore store(1h, 100);
  Entry e, other;
  ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
  EXPECT_EQ(store.Begin("M", "k", 2, &other), Verdict::kMismatch) << "while running";
  store.Finish(e, Value(1));
  EXPECT_EQ(store.Begin("M", "k", 2, &other), Verdict::kMismatch) << "once finished";
  EXPECT_EQ(store.Begin("M", "k", 1, &other), Verdict::kReplay);
}

TEST(IdempotencyStoreTest, RepeatWhileRunningMustWait) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  EXPECT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
  EXPECT_EQ(first, repeat);
}

TEST(IdempotencyStoreTest, WaitReturnsTheAnswerWhenTheFirstAttemptFinishes) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);

  asio::io_context io;
  std::optional<Result> waited;
  const auto started = Clock::now();
  SpawnWait(io, store, repeat, Clock::now() + 30s, &waited);
  // The waiter is parked on its timer first; then the first attempt finishes.
  asio::post(io, [&] { store.Finish(first, Value(99)); });
  io.run_for(10s);
  ASSERT_TRUE(waited.has_value()) << "Wait did not return after Finish";
  ASSERT_TRUE(waited->ok()) << waited->status();
  EXPECT_EQ(waited->value(), json::parse(R"({"value":99})"));
  EXPECT_LT(Clock::now() - started, 5s) << "woken by Finish, not by its deadline";
}

TEST(IdempotencyStoreTest, WaitersOnAnotherThreadAreWoken) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
  asio::io_context io;
  std::optional<Result> waited;
  const auto started = Clock::now();
  SpawnWait(io, store, repeat, Clock::now() + 30s, &waited, /*stop=*/true);
  std::thread loop([&] { io.run_for(20s); });
  // Finish from this thread, whether or not the waiter is parked yet: either
  // order must hand it the answer well before its deadline.
  store.Finish(first, Value(5));
  loop.join();
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->value(), json::parse(R"({"value":5})"));
  EXPECT_LT(Clock::now() - started, 10s);
}

TEST(IdempotencyStoreTest, WaitGivesAbortedAtTheDeadline) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
  asio::io_context io;
  std::optional<Result> waited;
  const auto deadline = Clock::now() + 50ms;
  SpawnWait(io, store, repeat, deadline, &waited);
  io.run_for(10s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status().code(), StatusCode::kAborted) << waited->status();
  EXPECT_GE(Clock::now(), deadline);
  // The first attempt still finishes later, and a new repeat gets its answer.
  store.Finish(first, Value(3));
  Entry later;
  EXPECT_EQ(store.Begin("M", "k", 1, &later), Verdict::kReplay);
}

TEST(IdempotencyStoreTest, WaitAfterAPassedDeadlineIsAbortedAtOnce) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
  asio::io_context io;
  std::optional<Result> waited;
  SpawnWait(io, store, repeat, Clock::now() - 1ms, &waited);
  io.run_for(10s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status().code(), StatusCode::kAborted);
}

TEST(IdempotencyStoreTest, WaitOnAFinishedEntryReturnsAtOnce) {
  IdempotencyStore store(1h, 100);
  Entry first;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  store.Finish(first, Value(8));
  asio::io_context io;
  std::optional<Result> waited;
  SpawnWait(io, store, first, Clock::now() + 30s, &waited);
  io.run_for(10s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->value(), json::parse(R"({"value":8})"));
}

TEST(IdempotencyStoreTest, TransientFailuresAreForgotten) {
  for (StatusCode code : {StatusCode::kUnavailable, StatusCode::kResourceExhausted, StatusCode::kDeadlineExceeded,
                          StatusCode::kCancelled}) {
    IdempotencyStore store(1h, 100);
    Entry e;
    ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
    store.Finish(e, Status(code, "transient"));
    EXPECT_EQ(store.size(), 0u) << StatusCodeName(code);
    Entry again;
    EXPECT_EQ(store.Begin("M", "k", 1, &again), Verdict::kRun) << StatusCodeName(code) << ": a retry runs again";
  }
}

TEST(IdempotencyStoreTest, DefiniteFailuresAreReplayed) {
  for (StatusCode code : {StatusCode::kInvalidArgument, StatusCode::kInternal, StatusCode::kFailedPrecondition}) {
    IdempotencyStore store(1h, 100);
    Entry e;
    ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
    store.Finish(e, Status(code, "definite"));
    Entry again;
    ASSERT_EQ(store.Begin("M", "k", 1, &again), Verdict::kReplay) << StatusCodeName(code);
    EXPECT_EQ(IdempotencyStore::Answer(*again).status().code(), code);
  }
}

TEST(IdempotencyStoreTest, WaiterOfATransientFailureSeesIt) {
  IdempotencyStore store(1h, 100);
  Entry first, repeat;
  ASSERT_EQ(store.Begin("M", "k", 1, &first), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
  asio::io_context io;
  std::optional<Result> waited;
  SpawnWait(io, store, repeat, Clock::now() + 30s, &waited);
  asio::post(io, [&] { store.Finish(first, Unavailable("lost")); });
  io.run_for(10s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status().code(), StatusCode::kUnavailable);
}

TEST(IdempotencyStoreTest, ExpiredEntriesAreForgotten) {
  IdempotencyStore store(0ms, 100);  // expired as soon as finished
  Entry e;
  ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
  store.Finish(e, Value(1));
  Entry again;
  EXPECT_EQ(store.Begin("M", "k", 1, &again), Verdict::kRun);
}

TEST(IdempotencyStoreTest, EntriesExpireAfterTheTtl) {
  IdempotencyStore store(100ms, 100);
  Entry e;
  ASSERT_EQ(store.Begin("M", "old", 1, &e), Verdict::kRun);
  store.Finish(e, Value(1));
  const auto finished = Clock::now();
  Entry probe;
  ASSERT_EQ(store.Begin("M", "old", 1, &probe), Verdict::kReplay) << "well within the TTL";
  // Another key's Begin sweeps expired entries; poll until "old" is gone.
  int n = 0;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        Entry x;
        store.Begin("M", "other" + std::to_string(n++), 1, &x);
        store.Finish(x, Value(0));
        return store.size() <= static_cast<size_t>(n);  // n others + "old" unless swept
      },
      10s));
  EXPECT_GE(Clock::now() - finished, 100ms);
  Entry again;
  EXPECT_EQ(store.Begin("M", "old", 1, &again), Verdict::kRun);
}

TEST(IdempotencyStoreTest, RunningEntriesDoNotExpire) {
  IdempotencyStore store(0ms, 100);
  Entry e;
  ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
  Entry repeat;
  EXPECT_EQ(store.Begin("M", "k", 1, &repeat), Verdict::kWait);
}

TEST(IdempotencyStoreTest, OldestFinishedEntriesAreEvictedWhenFull) {
  IdempotencyStore store(1h, 3);
  Entry k1, k2, k3, k4, x;
  ASSERT_EQ(store.Begin("M", "k1", 1, &k1), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k2", 1, &k2), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "k3", 1, &k3), Verdict::kRun);
  // Finish order decides age: k2 is the oldest answer, then k1, then k3.
  store.Finish(k2, Value(2));
  store.Finish(k1, Value(1));
  store.Finish(k3, Value(3));
  EXPECT_EQ(store.size(), 3u);
  ASSERT_EQ(store.Begin("M", "k4", 1, &k4), Verdict::kRun);
  store.Finish(k4, Value(4));
  EXPECT_EQ(store.size(), 3u) << "bounded";
  EXPECT_EQ(store.Begin("M", "k3", 1, &x), Verdict::kReplay);
  EXPECT_EQ(store.Begin("M", "k4", 1, &x), Verdict::kReplay);
  EXPECT_EQ(store.Begin("M", "k1", 1, &x), Verdict::kReplay);
  EXPECT_EQ(store.Begin("M", "k2", 1, &x), Verdict::kRun) << "the oldest answer was evicted";
}

TEST(IdempotencyStoreTest, ALookupInAFullStoreEvictsNothing) {
  // A repeat of a remembered call must find its answer even when the store
  // is full: only a new entry needs room.
  IdempotencyStore store(1h, 2);
  Entry a, b, x;
  ASSERT_EQ(store.Begin("M", "a", 1, &a), Verdict::kRun);
  store.Finish(a, Value(1));
  ASSERT_EQ(store.Begin("M", "b", 1, &b), Verdict::kRun);
  store.Finish(b, Value(2));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(store.Begin("M", "a", 1, &x), Verdict::kReplay) << i;
    EXPECT_EQ(store.Begin("M", "b", 1, &x), Verdict::kReplay) << i;
  }
  EXPECT_EQ(store.size(), 2u);
}

TEST(IdempotencyStoreTest, ARunningEntryEvictedForRoomStillFinishes) {
  IdempotencyStore store(1h, 1);
  Entry a, b;
  ASSERT_EQ(store.Begin("M", "a", 1, &a), Verdict::kRun);
  ASSERT_EQ(store.Begin("M", "b", 1, &b), Verdict::kRun);  // evicts running "a"
  store.Finish(a, Value(1));                                // must not touch "b"
  EXPECT_EQ(store.size(), 1u);
  Entry x;
  EXPECT_EQ(store.Begin("M", "b", 1, &x), Verdict::kWait);
  store.Finish(b, Value(2));
  EXPECT_EQ(store.Begin("M", "b", 1, &x), Verdict::kReplay);
}

}  // namespace
}  // namespace harpc
