// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Retrying safely: idempotency keys against lost answers, fault modes, and
// the retry budget when everything fails. Real `harpc serve` processes.
#include <gtest/gtest.h>

#include "ha_support.h"

namespace harpc::hatest {
namespace {

using namespace std::chrono_literals;

// Half the answers are lost (the connection is reset after the handler ran).
// The channel retries with the call's Idempotency-Key, the server answers the
// repeat from its store: every call succeeds and every increment ran once.
TEST(HaSafety, NonIdempotentCallsThroughLostAnswersRunExactlyOnce) {
  auto s = StartServer({"--reset-rate", "0.5"});
  ASSERT_NE(s.port, 0);
  ChannelOptions o = FastOptions();
  o.retry.max_retries = 3;
  Channel channel("list://" + s.address, o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  constexpr int kCalls = 200;
  const boost::json::value by_one = {{"by", 1}};
  int retried = 0;
  for (int i = 0; i < kCalls; ++i) {
    CallResult r = channel.Call("Counter.increment", by_one);
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status << " attempts " << r.attempts << " " << Describe(channel);
    if (r.attempts > 1) ++retried;
  }
  EXPECT_GT(retried, 0) << "no answer was lost: is --reset-rate in force?";
  EXPECT_EQ(CounterOf(s), kCalls) << "retried " << retried << " calls";
}

// Without idempotency keys a lost answer is not retried: the caller gets
// UNAVAILABLE, and nothing ran twice.
TEST(HaSafety, WithoutIdempotencyKeysALostAnswerIsNotRetried) {
  auto s = StartServer({"--reset-rate", "0.5"});
  ASSERT_NE(s.port, 0);
  ChannelOptions o = FastOptions();
  o.retry.max_retries = 3;
  o.idempotency_keys = false;
  Channel channel("list://" + s.address, o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  constexpr int kCalls = 200;
  const boost::json::value by_one = {{"by", 1}};
  int ok = 0, failed = 0;
  for (int i = 0; i < kCalls; ++i) {
    CallResult r = channel.Call("Counter.increment", by_one);
    if (r.ok()) {
      ++ok;
      continue;
    }
    ++failed;
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
    EXPECT_EQ(r.attempts, 1) << "a call that may have run was sent again: " << r.status;
  }
  EXPECT_GT(failed, 0);
  const int64_t value = CounterOf(s);
  EXPECT_GE(value, ok);
  EXPECT_LE(value, kCalls) << "an increment ran twice";
  RecordProperty("failed", failed);
}

TEST(HaSafety, FailfastReportsTheFirstFailure) {
  auto bad = StartServer({"--fail-rate", "1.0"});
  auto good = StartServer();
  ASSERT_NE(bad.port, 0);
  ASSERT_NE(good.port, 0);
  ChannelOptions o = NoPassiveHealth(FastOptions());
  o.fault_mode = FaultMode::kFailfast;
  o.lb = "rr";
  o.idempotent_methods = {"Echo.echo"};
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&bad, &good}), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  int failed = 0;
  for (int i = 0; i < 40; ++i) {
    CallResult r = channel.Call("Echo.echo", params);
    EXPECT_EQ(r.attempts, 1) << r.status;
    if (!r.ok()) {
      ++failed;
      EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
      EXPECT_EQ(r.endpoint, bad.address);
      EXPECT_TRUE(r.value.is_null());
    }
  }
  EXPECT_GE(failed, 10);
  EXPECT_EQ(channel.counters().retries, 0u);
}

TEST(HaSafety, FailsafeAnswersAnEmptyResultWhenEverythingFails) {
  auto bad1 = StartServer({"--fail-rate", "1.0"});
  auto bad2 = StartServer({"--fail-rate", "1.0"});
  ASSERT_NE(bad1.port, 0);
  ASSERT_NE(bad2.port, 0);
  ChannelOptions o = FastOptions();
  o.fault_mode = FaultMode::kFailsafe;
  o.idempotent_methods = {"Echo.echo"};
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&bad1, &bad2}), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  for (int i = 0; i < 20; ++i) {
    CallResult r = channel.Call("Echo.echo", params);
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_TRUE(r.value.is_null()) << i;
    EXPECT_FALSE(r.suppressed.ok()) << i;
    EXPECT_EQ(r.suppressed.code(), StatusCode::kUnavailable) << r.suppressed;
    EXPECT_GE(r.attempts, 2) << "failsafe retries like failover first";
  }
  // A failsafe channel still answers real results when a server works.
  auto good = StartServer();
  ASSERT_NE(good.port, 0);
  Channel healthy("list://" + good.address, o);
  CallResult r = healthy.Call("Echo.echo", params);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.suppressed.ok());
  EXPECT_EQ(r.value, params);
}

// When every endpoint fails, retries are capped by the budget (20 % of the
// calls plus 10 per second over 10 s) instead of tripling the load.
TEST(HaSafety, RetryBudgetLimitsRetriesWhenEveryEndpointFails) {
  auto bad1 = StartServer({"--fail-rate", "1.0"});
  auto bad2 = StartServer({"--fail-rate", "1.0"});
  ASSERT_NE(bad1.port, 0);
  ASSERT_NE(bad2.port, 0);
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&bad1, &bad2}), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  const auto started = Clock::now();
  {
    Load load(channel, {});
    ASSERT_TRUE(PollUntil([&] { return load.done() >= 1500; }, 60s)) << Describe(channel);
    load.Stop();
    EXPECT_EQ(load.ok(), 0u);
  }
  const auto elapsed = Clock::now() - started;
  const auto c = channel.counters();
  EXPECT_GT(c.budget_exhausted, 0u) << Describe(channel);
  if (elapsed < 9s) {  // everything within one budget window
    EXPECT_LE(static_cast<double>(c.retries + c.hedges), 0.2 * static_cast<double>(c.calls) + 10 * 10 + 1)
        << Describe(channel);
  }
  EXPECT_LT(c.retries, 2 * c.calls) << "every call retried twice: no budget at all?";
}

}  // namespace
}  // namespace harpc::hatest
