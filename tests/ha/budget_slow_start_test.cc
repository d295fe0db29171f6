// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Deterministic tests of the retry budget and of slow start
// (Endpoint::EffectiveWeight). Time is passed in: no sockets, no sleeps.
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "client/retry_budget.h"
#include "health/endpoint.h"

namespace harpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// On a whole second, so that bucket boundaries are where the test expects.
const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(100000));

// How many retries `b` grants at `now` before it refuses one.
int Drain(RetryBudget& b, Clock::time_point now) {
  int granted = 0;
  while (b.TryRetry(now)) {
    if (++granted > 1000000) break;  // runaway guard
  }
  return granted;
}

TEST(RetryBudgetTest, FloorAloneGrantsMinPerSecondOverTheWindow) {
  RetryBudget b(0.2, 10);
  EXPECT_EQ(Drain(b, kT0), 10 * RetryBudget::kWindowSeconds);
  EXPECT_EQ(b.refused(), 1u);
  EXPECT_FALSE(b.TryRetry(kT0 + 500ms));
  EXPECT_EQ(b.refused(), 2u);
}

TEST(RetryBudgetTest, RatioOfCallsWithoutFloor) {
  RetryBudget b(0.2, 0);
  EXPECT_FALSE(b.TryRetry(kT0)) << "no calls, no floor: no retry";
  for (int i = 0; i < 500; ++i) b.OnCall(kT0);
  EXPECT_EQ(Drain(b, kT0), 100) << "20 % of 500 calls";
}

TEST(RetryBudgetTest, RatioPlusFloor) {
  RetryBudget b(0.2, 10);
  for (int i = 0; i < 1000; ++i) b.OnCall(kT0);
  EXPECT_EQ(Drain(b, kT0), 200 + 100);
  // More calls earn more retries.
  for (int i = 0; i < 50; ++i) b.OnCall(kT0 + 100ms);
  EXPECT_EQ(Drain(b, kT0 + 100ms), 10);
}

TEST(RetryBudgetTest, CallsAndRetriesAcrossTheWindowCount) {
  RetryBudget b(0.2, 0);
  for (int s = 0; s < 10; ++s) {
    for (int i = 0; i < 100; ++i) b.OnCall(kT0 + std::chrono::seconds(s));
  }
  // 1000 calls in the last 10 s: 200 retries, spread or not.
  EXPECT_EQ(Drain(b, kT0 + 9s), 200);
}

TEST(RetryBudgetTest, RecoversAsTheWindowSlides) {
  RetryBudget b(0.2, 10);
  for (int i = 0; i < 1000; ++i) b.OnCall(kT0);
  ASSERT_EQ(Drain(b, kT0), 300);
  EXPECT_FALSE(b.TryRetry(kT0 + 9s + 999ms)) << "still within the 10 s window";
  // The second of kT0 (its calls and its retries) leaves the window.
  EXPECT_EQ(Drain(b, kT0 + 10s), 100) << "only the floor is left";
  // Retries spent at kT0+10s are remembered for 10 s, then forgotten.
  EXPECT_FALSE(b.TryRetry(kT0 + 19s));
  EXPECT_EQ(Drain(b, kT0 + 20s), 100);
}

TEST(RetryBudgetTest, PartialSlide) {
  RetryBudget b(0.5, 0);
  for (int i = 0; i < 100; ++i) b.OnCall(kT0);       // earns 50
  for (int i = 0; i < 100; ++i) b.OnCall(kT0 + 5s);  // earns 50
  ASSERT_EQ(Drain(b, kT0 + 5s), 100);
  // At kT0+10s the first 100 calls left; 100 calls (50 retries) and the 100
  // retries spent at kT0+5s remain: nothing left to spend.
  EXPECT_FALSE(b.TryRetry(kT0 + 10s));
  for (int i = 0; i < 300; ++i) b.OnCall(kT0 + 10s);  // 400 calls → 200 allowed, 100 spent
  EXPECT_EQ(Drain(b, kT0 + 10s), 100);
}

TEST(RetryBudgetTest, ZeroRatioAndZeroFloorRefusesEverything) {
  RetryBudget b(0, 0);
  for (int i = 0; i < 1000; ++i) b.OnCall(kT0);
  EXPECT_FALSE(b.TryRetry(kT0));
  EXPECT_EQ(b.refused(), 1u);
}

// ---------------------------------------------------------------- slow start

class SlowStartTest : public ::testing::Test {
 protected:
  SlowStartTest() {
    policy_.slow_start = 10s;
    policy_.health.fall = 1;
    policy_.health.rise = 1;
    policy_.outlier.consecutive_failures = 1;
    policy_.outlier.failure_ratio = 0;
    policy_.outlier.base_ejection = 1s;
  }

  // `joined_at` {}: one of the channel's initial endpoints.
  std::shared_ptr<Endpoint> Make(int weight, Clock::time_point joined_at = {}) {
    return std::make_shared<Endpoint>(EndpointSpec{.address = "127.0.0.1:1", .weight = weight},
                                      boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 1),
                                      io_.get_executor(), policy_, joined_at);
  }

  boost::asio::io_context io_;
  EndpointPolicy policy_;  // endpoints keep a reference: declared before them, outlives them
};

TEST_F(SlowStartTest, InitialEndpointsGetTheirFullWeightAtOnce) {
  auto e = Make(3);
  EXPECT_EQ(e->EffectiveWeight(kT0), 3000);
  EXPECT_EQ(e->EffectiveWeight(Clock::time_point(1ms)), 3000);
}

TEST_F(SlowStartTest, JoiningEndpointRampsFromTenPercent) {
  auto e = Make(2, kT0);
  EXPECT_EQ(e->EffectiveWeight(kT0), 200) << "10 % right after joining";
  EXPECT_NEAR(static_cast<double>(e->EffectiveWeight(kT0 + 5s)), 2000 * 0.55, 2);
  EXPECT_LT(e->EffectiveWeight(kT0 + 1s), e->EffectiveWeight(kT0 + 2s)) << "ramps up";
  EXPECT_NEAR(static_cast<double>(e->EffectiveWeight(kT0 + 9999ms)), 2000, 2);
  EXPECT_EQ(e->EffectiveWeight(kT0 + 10s), 2000) << "100 % after slow_start";
  EXPECT_EQ(e->EffectiveWeight(kT0 + 1h), 2000);
}

TEST_F(SlowStartTest, NeverZeroEvenForWeightOne) {
  auto e = Make(1, kT0);
  EXPECT_EQ(e->EffectiveWeight(kT0), 100);
  EXPECT_GE(e->EffectiveWeight(kT0 - 1s), 1) << "a clock before joining still gives a usable weight";
}

TEST_F(SlowStartTest, ReadmittedAfterHeartbeatsFailedRampsAgain) {
  auto e = Make(1);
  ASSERT_TRUE(e->heartbeat().OnProbe(ProbeResult::kFailed, kT0));
  ASSERT_FALSE(e->Selectable(kT0));
  const auto back = kT0 + 3s;
  ASSERT_TRUE(e->heartbeat().OnProbe(ProbeResult::kServing, back));
  ASSERT_TRUE(e->Selectable(back));
  EXPECT_EQ(e->EffectiveWeight(back), 100) << "~10 % right after readmission";
  EXPECT_NEAR(static_cast<double>(e->EffectiveWeight(back + 5s)), 550, 2);
  EXPECT_EQ(e->EffectiveWeight(back + 10s), 1000);
}

TEST_F(SlowStartTest, ReadmittedAfterEjectionRampsAgain) {
  auto e = Make(4);
  ASSERT_TRUE(e->outlier().OnResult(false, kT0, true));  // consecutive_failures = 1
  const auto back = e->outlier().ejected_until();
  ASSERT_EQ(back, kT0 + 1s);
  EXPECT_FALSE(e->Selectable(kT0 + 500ms));
  EXPECT_EQ(e->StateName(kT0 + 500ms), "ejected");
  EXPECT_TRUE(e->Selectable(back));
  EXPECT_EQ(e->EffectiveWeight(back), 400);
  EXPECT_EQ(e->EffectiveWeight(back + 10s), 4000);
}

TEST_F(SlowStartTest, DisabledWhenSlowStartIsZero) {
  policy_.slow_start = 0ms;
  auto e = Make(5, kT0);
  EXPECT_EQ(e->EffectiveWeight(kT0), 5000);
}

TEST_F(SlowStartTest, StateNames) {
  auto e = Make(1);
  EXPECT_EQ(e->StateName(kT0), "healthy");
  e->heartbeat().OnConnectionFailure(kT0);
  EXPECT_EQ(e->StateName(kT0), "suspect");
  e->heartbeat().OnProbe(ProbeResult::kDraining, kT0);
  EXPECT_EQ(e->StateName(kT0), "draining");
  e->heartbeat().OnProbe(ProbeResult::kFailed, kT0);
  EXPECT_EQ(e->StateName(kT0), "unhealthy");
}

}  // namespace
}  // namespace harpc
