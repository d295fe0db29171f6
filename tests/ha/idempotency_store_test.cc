// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The server's idempotency store: run once, replay, mismatch, wait for a
// running first attempt (driven by an io_context, no sleeps), transient
// failures forgotten, TTL expiry and bounded size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
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
      [&io, &store, entry = std::move(entry), deadline, out, stop]() -> asio::awaitable<void> {
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

// A follower's NOT_LEADER: the method did not run; once this member leads,
// the same key must run it.
TEST(IdempotencyStoreTest, NotLeaderIsForgotten) {
  IdempotencyStore store(1h, 100);
  Entry e;
  ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
  store.Finish(e, NotLeader("127.0.0.1:7002"));
  EXPECT_EQ(store.size(), 0u);
  Entry again;
  EXPECT_EQ(store.Begin("M", "k", 1, &again), Verdict::kRun);
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
  store.Finish(a, Value(1));                               // must not touch "b"
  EXPECT_EQ(store.size(), 1u);
  Entry x;
  EXPECT_EQ(store.Begin("M", "b", 1, &x), Verdict::kWait);
  store.Finish(b, Value(2));
  EXPECT_EQ(store.Begin("M", "b", 1, &x), Verdict::kReplay);
}

// VmRSS of this process, in KiB.
long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Bounded in bytes as well as entries: answers of 4 KB under many keys keep
// the store under its byte limit, the oldest answers going first.
TEST(IdempotencyStoreTest, BoundedInBytesOldestFirst) {
  constexpr size_t kMaxBytes = 64 * 1024;
  IdempotencyStore store(1h, 100000, kMaxBytes);
  const Result big = json::value{{"blob", std::string(4000, 'x')}};
  for (int i = 0; i < 100; ++i) {
    Entry e;
    ASSERT_EQ(store.Begin("M", "k" + std::to_string(i), 1, &e), Verdict::kRun);
    store.Finish(e, big);
    ASSERT_LE(store.bytes(), kMaxBytes) << i;
  }
  EXPECT_GE(store.size(), 10u);
  EXPECT_LE(store.size(), 16u) << "64 KiB holds at most 16 answers of 4 KB";
  Entry x;
  EXPECT_EQ(store.Begin("M", "k99", 1, &x), Verdict::kReplay) << "the newest answer is kept";
  EXPECT_EQ(IdempotencyStore::Answer(*x).value(), big.value());
  EXPECT_EQ(store.Begin("M", "k0", 1, &x), Verdict::kRun) << "the oldest answer went first";
}

// An answer larger than the whole store is answered but not kept.
TEST(IdempotencyStoreTest, AnAnswerLargerThanTheStoreIsNotKept) {
  IdempotencyStore store(1h, 100, 16 * 1024);
  Entry small, huge, x;
  ASSERT_EQ(store.Begin("M", "small", 1, &small), Verdict::kRun);
  store.Finish(small, Value(1));
  ASSERT_EQ(store.Begin("M", "huge", 1, &huge), Verdict::kRun);
  const Result answer = json::value(std::string(20000, 'y'));
  store.Finish(huge, answer);
  EXPECT_EQ(IdempotencyStore::Answer(*huge).value(), answer.value()) << "its holder still has it";
  EXPECT_LE(store.bytes(), 16u * 1024);
  EXPECT_EQ(store.Begin("M", "small", 1, &x), Verdict::kReplay) << "evicted only if needed: it alone is too big";
  EXPECT_EQ(store.Begin("M", "huge", 1, &x), Verdict::kRun);
}

// An answer over the server's answer limit is replayed as the error its
// first attempt got, and costs the store no more than that error.
TEST(IdempotencyStoreTest, AnAnswerOverTheAnswerLimitIsReplayedAsTheError) {
  IdempotencyStore store(1h, 100, 1 << 20, /*max_answer_bytes=*/100);
  Entry e, x;
  ASSERT_EQ(store.Begin("M", "k", 1, &e), Verdict::kRun);
  store.Finish(e, json::value(std::string(500, 'z')));
  ASSERT_EQ(store.Begin("M", "k", 1, &x), Verdict::kReplay);
  Result r = IdempotencyStore::Answer(*x);
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("answer too large"), std::string::npos) << r.status().message();
  EXPECT_LT(store.bytes(), 1000u);
}

// The count is honest: what the process really spends on 20,000 entries
// with 255-byte keys (the longest accepted) stays within the bytes the store
// counts for them, with room for the allocator's slack.

TEST(IdempotencyStoreTest, CountedBytesCoverTheMemoryReallyUsed) {
  if (!testing::kRssIsMeaningful) GTEST_SKIP() << "RSS under a sanitizer includes its own allocator's overhead";
  constexpr int kEntries = 20000;
  const std::string key_tail(250, 'k');
  const long before = RssKib();
  IdempotencyStore store(1h, 1000000, SIZE_MAX);
  for (int i = 0; i < kEntries; ++i) {
    Entry e;
    ASSERT_EQ(store.Begin("Counter.increment", std::to_string(100000 + i) + key_tail, 1, &e), Verdict::kRun);
    store.Finish(e, Value(i));
  }
  const long grown_kib = RssKib() - before;
  const size_t counted = store.bytes();
  std::printf(
      "20,000 entries with 255-byte keys: counted %zu bytes (%zu per entry), RSS grew %ld KiB (%ld per entry)\n",
      counted, counted / kEntries, grown_kib, grown_kib * 1024 / kEntries);
  EXPECT_LE(static_cast<size_t>(grown_kib) * 1024, counted * 5 / 4 + (1 << 20));
}

// The attack: large answers stored under many keys (2,000 answers of 100 KB,
// 200 MB if all were kept) cost at most the store's byte limit.
TEST(IdempotencyStoreTest, LargeAnswersUnderManyKeysStayWithinTheByteLimit) {
  if (!testing::kRssIsMeaningful) GTEST_SKIP() << "RSS under a sanitizer includes its own allocator's overhead";
  constexpr size_t kMaxBytes = 16 * 1024 * 1024;
  IdempotencyStore store(1h, 100000, kMaxBytes);
  const long before = RssKib();
  long peak = before;
  for (int i = 0; i < 2000; ++i) {
    Entry e;
    ASSERT_EQ(store.Begin("Blob.put", std::to_string(i) + std::string(200, 'k'), 1, &e), Verdict::kRun);
    store.Finish(e, json::value{{"blob", std::string(100 * 1000, 'a' + i % 26)}});
    ASSERT_LE(store.bytes(), kMaxBytes) << i;
    if (i % 100 == 0) peak = std::max(peak, RssKib());
  }
  peak = std::max(peak, RssKib());
  std::printf("2,000 answers of 100 KB: %zu kept, %zu bytes counted; RSS grew %ld KiB at most\n", store.size(),
              store.bytes(), peak - before);
  EXPECT_GE(store.size(), 150u);
  EXPECT_LE(store.size(), 168u);
  // Generous: the 16 MiB kept, plus what the allocator holds on to.
  EXPECT_LT(peak - before, 40 * 1024);
}

}  // namespace
}  // namespace harpc
