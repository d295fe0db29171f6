// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Deterministic tests of the per-endpoint health pieces: heartbeat verdicts,
// outlier ejection and the circuit breaker. Time is passed in (a fake clock):
// no sockets, no sleeps.
#include <chrono>

#include <gtest/gtest.h>

#include "health/circuit_breaker.h"
#include "health/heartbeat_state.h"
#include "health/outlier_detector.h"

namespace harpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using HState = HeartbeatState::State;

// An arbitrary, non-zero start for the fake clock.
const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(100));

HealthCheckOptions Health(int fall, int rise, std::chrono::milliseconds interval = 100ms,
                          std::chrono::milliseconds max_backoff = 1000ms) {
  HealthCheckOptions o;
  o.fall = fall;
  o.rise = rise;
  o.interval = interval;
  o.max_backoff = max_backoff;
  return o;
}

// ---------------------------------------------------------------- heartbeats

TEST(HeartbeatStateTest, StartsHealthy) {
  HeartbeatState h(Health(3, 2));
  EXPECT_EQ(h.state(), HState::kHealthy);
  EXPECT_TRUE(h.healthy());
  EXPECT_EQ(h.changed_at(), Clock::time_point{});
}

TEST(HeartbeatStateTest, UnhealthyAfterFallFailedProbes) {
  HeartbeatState h(Health(3, 2));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kFailed, kT0));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kFailed, kT0 + 100ms));
  EXPECT_TRUE(h.healthy()) << "two failed probes of fall=3 must not condemn it";
  EXPECT_TRUE(h.OnProbe(ProbeResult::kFailed, kT0 + 200ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy);
  EXPECT_EQ(h.changed_at(), kT0 + 200ms);
  // More failures change nothing.
  EXPECT_FALSE(h.OnProbe(ProbeResult::kFailed, kT0 + 300ms));
  EXPECT_EQ(h.changed_at(), kT0 + 200ms);
}

TEST(HeartbeatStateTest, AGoodProbeResetsTheFailureCount) {
  HeartbeatState h(Health(3, 2));
  h.OnProbe(ProbeResult::kFailed, kT0);
  h.OnProbe(ProbeResult::kFailed, kT0 + 100ms);
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 200ms));
  h.OnProbe(ProbeResult::kFailed, kT0 + 300ms);
  h.OnProbe(ProbeResult::kFailed, kT0 + 400ms);
  EXPECT_TRUE(h.healthy()) << "failures must be consecutive";
  EXPECT_TRUE(h.OnProbe(ProbeResult::kFailed, kT0 + 500ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy);
}

TEST(HeartbeatStateTest, HealthyAgainAfterRiseGoodProbes) {
  HeartbeatState h(Health(1, 3));
  ASSERT_TRUE(h.OnProbe(ProbeResult::kFailed, kT0));
  ASSERT_EQ(h.state(), HState::kUnhealthy);
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 100ms));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 200ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy);
  EXPECT_TRUE(h.OnProbe(ProbeResult::kServing, kT0 + 300ms));
  EXPECT_EQ(h.state(), HState::kHealthy);
  EXPECT_EQ(h.changed_at(), kT0 + 300ms);
}

TEST(HeartbeatStateTest, RiseNeedsConsecutiveGoodProbes) {
  HeartbeatState h(Health(1, 2));
  ASSERT_TRUE(h.OnProbe(ProbeResult::kFailed, kT0));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 100ms));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kFailed, kT0 + 200ms));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 300ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy) << "a failure in between restarts the rise count";
  EXPECT_TRUE(h.OnProbe(ProbeResult::kServing, kT0 + 400ms));
  EXPECT_TRUE(h.healthy());
}

TEST(HeartbeatStateTest, RefusedProbeMakesItSuspectAtOnce) {
  HeartbeatState h(Health(3, 2));
  EXPECT_TRUE(h.OnProbe(ProbeResult::kRefused, kT0));
  EXPECT_EQ(h.state(), HState::kSuspect);
  EXPECT_FALSE(h.healthy());
  EXPECT_EQ(h.changed_at(), kT0);
  // Still refused: unhealthy once `fall` probes in a row failed.
  EXPECT_FALSE(h.OnProbe(ProbeResult::kRefused, kT0 + 100ms));
  EXPECT_TRUE(h.OnProbe(ProbeResult::kRefused, kT0 + 200ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy);
}

TEST(HeartbeatStateTest, SuspectBackToHealthyAfterRise) {
  HeartbeatState h(Health(3, 2));
  ASSERT_TRUE(h.OnProbe(ProbeResult::kRefused, kT0));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 100ms));
  EXPECT_EQ(h.state(), HState::kSuspect);
  EXPECT_TRUE(h.OnProbe(ProbeResult::kServing, kT0 + 200ms));
  EXPECT_EQ(h.state(), HState::kHealthy);
}

TEST(HeartbeatStateTest, ConnectionFailureOfACallMakesItSuspect) {
  HeartbeatState h(Health(3, 2));
  EXPECT_TRUE(h.OnConnectionFailure(kT0));
  EXPECT_EQ(h.state(), HState::kSuspect);
  EXPECT_FALSE(h.OnConnectionFailure(kT0 + 1ms)) << "already suspect: no change";
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 100ms));
  EXPECT_TRUE(h.OnProbe(ProbeResult::kServing, kT0 + 200ms));
  EXPECT_TRUE(h.healthy());
}

TEST(HeartbeatStateTest, ConnectionFailureDoesNotUpgradeUnhealthy) {
  HeartbeatState h(Health(1, 2));
  ASSERT_TRUE(h.OnProbe(ProbeResult::kFailed, kT0));
  EXPECT_FALSE(h.OnConnectionFailure(kT0 + 1ms));
  EXPECT_EQ(h.state(), HState::kUnhealthy);
}

TEST(HeartbeatStateTest, DrainingAtOnceThenHealthyAfterRise) {
  HeartbeatState h(Health(3, 2));
  EXPECT_TRUE(h.OnProbe(ProbeResult::kDraining, kT0));
  EXPECT_EQ(h.state(), HState::kDraining);
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.OnProbe(ProbeResult::kDraining, kT0 + 100ms));
  EXPECT_FALSE(h.OnProbe(ProbeResult::kServing, kT0 + 200ms));
  EXPECT_EQ(h.state(), HState::kDraining);
  EXPECT_TRUE(h.OnProbe(ProbeResult::kServing, kT0 + 300ms));
  EXPECT_TRUE(h.healthy());
}

TEST(HeartbeatStateTest, DrainingEvenFromUnhealthyOrSuspect) {
  HeartbeatState a(Health(1, 2));
  ASSERT_TRUE(a.OnProbe(ProbeResult::kFailed, kT0));
  EXPECT_TRUE(a.OnProbe(ProbeResult::kDraining, kT0 + 100ms));
  EXPECT_EQ(a.state(), HState::kDraining);

  HeartbeatState b(Health(3, 2));
  ASSERT_TRUE(b.OnConnectionFailure(kT0));
  EXPECT_TRUE(b.OnProbe(ProbeResult::kDraining, kT0 + 100ms));
  EXPECT_EQ(b.state(), HState::kDraining);
}

TEST(HeartbeatStateTest, NextProbeDelayBacksOffAndIsCapped) {
  HeartbeatState h(Health(2, 2, 100ms, 1000ms));
  EXPECT_EQ(h.NextProbeDelay(), 100ms);
  auto t = kT0;
  h.OnProbe(ProbeResult::kFailed, t += 100ms);
  EXPECT_EQ(h.NextProbeDelay(), 100ms);
  h.OnProbe(ProbeResult::kFailed, t += 100ms);
  ASSERT_EQ(h.state(), HState::kUnhealthy);
  EXPECT_EQ(h.NextProbeDelay(), 100ms) << "the probe right after the verdict keeps the interval";
  h.OnProbe(ProbeResult::kFailed, t += 100ms);
  EXPECT_EQ(h.NextProbeDelay(), 200ms);
  h.OnProbe(ProbeResult::kFailed, t += 200ms);
  EXPECT_EQ(h.NextProbeDelay(), 400ms);
  h.OnProbe(ProbeResult::kFailed, t += 400ms);
  EXPECT_EQ(h.NextProbeDelay(), 800ms);
  h.OnProbe(ProbeResult::kFailed, t += 800ms);
  EXPECT_EQ(h.NextProbeDelay(), 1000ms) << "capped at max_backoff";
  for (int i = 0; i < 50; ++i) h.OnProbe(ProbeResult::kFailed, t += 1000ms);
  EXPECT_EQ(h.NextProbeDelay(), 1000ms) << "still capped after many failures (no overflow)";

  // Back to healthy: the normal interval again.
  h.OnProbe(ProbeResult::kServing, t += 1000ms);
  EXPECT_EQ(h.NextProbeDelay(), 100ms) << "a good probe resets the backoff";
  h.OnProbe(ProbeResult::kServing, t += 100ms);
  ASSERT_TRUE(h.healthy());
  EXPECT_EQ(h.NextProbeDelay(), 100ms);
}

TEST(HeartbeatStateTest, BackoffNeverBelowTheInterval) {
  HeartbeatState h(Health(1, 1, 500ms, 100ms));  // max_backoff below the interval
  auto t = kT0;
  for (int i = 0; i < 5; ++i) h.OnProbe(ProbeResult::kFailed, t += 500ms);
  EXPECT_EQ(h.NextProbeDelay(), 500ms);
}

TEST(HeartbeatStateTest, StateNames) {
  EXPECT_EQ(HeartbeatStateName(HState::kHealthy), "healthy");
  EXPECT_EQ(HeartbeatStateName(HState::kSuspect), "suspect");
  EXPECT_EQ(HeartbeatStateName(HState::kDraining), "draining");
  EXPECT_EQ(HeartbeatStateName(HState::kUnhealthy), "unhealthy");
}

// ---------------------------------------------------------- outlier detector

OutlierOptions Consecutive(int n) {
  OutlierOptions o;
  o.consecutive_failures = n;
  o.failure_ratio = 0;  // only the consecutive rule
  o.base_ejection = 1000ms;
  o.max_ejection = 3000ms;
  return o;
}

TEST(OutlierDetectorTest, FiveConsecutiveFailuresEject) {
  OutlierDetector d(Consecutive(5));
  auto t = kT0;
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, true)) << i;
  EXPECT_FALSE(d.Ejected(t));
  EXPECT_TRUE(d.OnResult(false, t += 1ms, true));
  EXPECT_TRUE(d.Ejected(t));
  EXPECT_EQ(d.ejections(), 1);
  EXPECT_EQ(d.ejected_until(), t + 1000ms);
  EXPECT_TRUE(d.Ejected(t + 999ms));
  EXPECT_FALSE(d.Ejected(t + 1000ms));
}

TEST(OutlierDetectorTest, DefaultsEjectAfterFiveConsecutiveFailures) {
  OutlierDetector d(OutlierOptions{});
  auto t = kT0;
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, true));
  EXPECT_TRUE(d.OnResult(false, t += 1ms, true));
}

TEST(OutlierDetectorTest, ASuccessBreaksTheRun) {
  OutlierDetector d(Consecutive(5));
  auto t = kT0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, true));
    EXPECT_FALSE(d.OnResult(true, t += 1ms, true));
  }
  EXPECT_EQ(d.ejections(), 0);
}

TEST(OutlierDetectorTest, EjectionTimeGrowsWithEachEjectionUpToTheMax) {
  OutlierDetector d(Consecutive(5));
  auto t = kT0;
  const std::chrono::milliseconds expected[] = {1000ms, 2000ms, 3000ms, 3000ms, 3000ms};
  for (int n = 0; n < 5; ++n) {
    for (int i = 0; i < 4; ++i) ASSERT_FALSE(d.OnResult(false, t += 1ms, true));
    ASSERT_TRUE(d.OnResult(false, t += 1ms, true)) << "ejection " << n + 1;
    EXPECT_EQ(d.ejected_until() - t, expected[n]) << "ejection " << n + 1;
    EXPECT_EQ(d.ejections(), n + 1);
    t = d.ejected_until();  // back in service
    EXPECT_FALSE(d.Ejected(t));
  }
}

TEST(OutlierDetectorTest, LateResultsWhileEjectedAreIgnored) {
  OutlierDetector d(Consecutive(5));
  auto t = kT0;
  for (int i = 0; i < 5; ++i) d.OnResult(false, t += 1ms, true);
  ASSERT_TRUE(d.Ejected(t));
  const auto until = d.ejected_until();
  // Answers of calls sent before the ejection: neither extend it nor count later.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, true));
  EXPECT_EQ(d.ejected_until(), until);
  EXPECT_EQ(d.ejections(), 1);
  t = until;
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, true)) << "run restarts after the ejection";
  EXPECT_TRUE(d.OnResult(false, t += 1ms, true));
  EXPECT_EQ(d.ejections(), 2);
}

TEST(OutlierDetectorTest, MayEjectFalsePreventsEjection) {
  OutlierDetector d(Consecutive(5));
  auto t = kT0;
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(d.OnResult(false, t += 1ms, /*may_eject=*/false));
  EXPECT_FALSE(d.Ejected(t));
  EXPECT_EQ(d.ejections(), 0);
  // Once the channel allows it again, the endpoint (still failing) goes at its next failure.
  EXPECT_TRUE(d.OnResult(false, t += 1ms, true));
  EXPECT_TRUE(d.Ejected(t));
}

OutlierOptions Ratio() {
  OutlierOptions o;
  o.consecutive_failures = 0;  // only the ratio rule
  o.failure_ratio = 0.5;
  o.window = 10000ms;
  o.min_requests = 20;
  o.base_ejection = 1000ms;
  o.max_ejection = 30000ms;
  return o;
}

TEST(OutlierDetectorTest, FailureRatioOverTheWindowEjects) {
  OutlierDetector d(Ratio());
  auto t = kT0;
  // success, failure, success, ...: 50 % failures, judged from the 20th call on.
  for (int i = 1; i <= 19; ++i) EXPECT_FALSE(d.OnResult(i % 2 == 1, t += 10ms, true)) << "call " << i;
  EXPECT_FALSE(d.Ejected(t)) << "fewer than min_requests calls";
  EXPECT_TRUE(d.OnResult(false, t += 10ms, true)) << "10 failures of 20 calls";
  EXPECT_TRUE(d.Ejected(t));
}

TEST(OutlierDetectorTest, FailureRatioBelowTheThresholdDoesNotEject) {
  OutlierDetector d(Ratio());
  auto t = kT0;
  for (int i = 0; i < 300; ++i) EXPECT_FALSE(d.OnResult(i % 3 != 0, t += 10ms, true));  // 33 % failures
  EXPECT_EQ(d.ejections(), 0);
}

TEST(OutlierDetectorTest, FailuresOutsideTheWindowAreForgotten) {
  OutlierDetector d(Ratio());
  auto t = kT0;
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(d.OnResult(false, t, true));  // 19 failures, below min_requests
  t += 10001ms;
  // The old failures left the window: one more failure is 1 call of 1, below min_requests.
  EXPECT_FALSE(d.OnResult(false, t, true));
  for (int i = 0; i < 18; ++i) EXPECT_FALSE(d.OnResult(true, t += 1ms, true));
  EXPECT_EQ(d.ejections(), 0);
}

// ------------------------------------------------------------ circuit breaker

CircuitBreakerOptions Breaker() {
  CircuitBreakerOptions o;
  o.failure_ratio = 0.5;
  o.window_calls = 10;
  o.open_duration = 2000ms;
  o.half_open_calls = 3;
  return o;
}

using CState = CircuitBreaker::State;

// Opens `b` at `t` with 5 successes then 5 failures.
void OpenIt(CircuitBreaker& b, Clock::time_point t) {
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(b.OnResult(true, t));
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(b.OnResult(false, t));
  ASSERT_TRUE(b.OnResult(false, t));
  ASSERT_EQ(b.state(t), CState::kOpen);
}

TEST(CircuitBreakerTest, OpensAtTheRatioOnceTheWindowIsFull) {
  CircuitBreaker b(Breaker());
  auto t = kT0;
  for (int i = 0; i < 9; ++i) {
    EXPECT_FALSE(b.OnResult(false, t)) << "window not full yet: " << i + 1 << " calls";
    EXPECT_EQ(b.state(t), CState::kClosed);
    EXPECT_TRUE(b.TryAcquire(t));
  }
  EXPECT_TRUE(b.OnResult(false, t));
  EXPECT_EQ(b.state(t), CState::kOpen);
  EXPECT_EQ(b.opened_count(), 1);
  EXPECT_FALSE(b.TryAcquire(t));
  EXPECT_FALSE(b.WouldAllow(t));
  EXPECT_EQ(CircuitStateName(b.state(t)), "open");
}

TEST(CircuitBreakerTest, StaysClosedBelowTheRatioAndJudgesALastWindowOnly) {
  CircuitBreaker b(Breaker());
  auto t = kT0;
  // 4 failures in every 10 calls: never 50 %.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(b.OnResult(/*success=*/i % 10 < 6, t));
  EXPECT_EQ(b.state(t), CState::kClosed);
  // The window slides: the last 10 calls decide. 5 failures now open it.
  CircuitBreaker c(Breaker());
  for (int i = 0; i < 10; ++i) c.OnResult(false, t);  // opens
  ASSERT_EQ(c.state(t), CState::kOpen);
  CircuitBreaker d(Breaker());
  for (int i = 0; i < 30; ++i) d.OnResult(true, t);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.OnResult(false, t));
  EXPECT_TRUE(d.OnResult(false, t)) << "5 of the last 10 failed";
}

TEST(CircuitBreakerTest, HalfOpenAfterOpenDurationWithLimitedTrials) {
  CircuitBreaker b(Breaker());
  OpenIt(b, kT0);
  EXPECT_EQ(b.state(kT0 + 1999ms), CState::kOpen);
  EXPECT_FALSE(b.TryAcquire(kT0 + 1999ms));
  const auto t = kT0 + 2000ms;
  EXPECT_EQ(b.state(t), CState::kHalfOpen);
  EXPECT_TRUE(b.WouldAllow(t));
  EXPECT_EQ(CircuitStateName(b.state(t)), "half_open");
  EXPECT_TRUE(b.TryAcquire(t));
  EXPECT_TRUE(b.TryAcquire(t));
  EXPECT_TRUE(b.WouldAllow(t));
  EXPECT_TRUE(b.TryAcquire(t));
  EXPECT_FALSE(b.TryAcquire(t)) << "only half_open_calls trial slots";
  EXPECT_FALSE(b.WouldAllow(t));
  EXPECT_FALSE(b.TryAcquire(t + 10s)) << "slots stay taken until the trials answer";
}

TEST(CircuitBreakerTest, AllTrialsSucceedClosesIt) {
  CircuitBreaker b(Breaker());
  OpenIt(b, kT0);
  const auto t = kT0 + 2000ms;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.TryAcquire(t));
  EXPECT_FALSE(b.OnResult(true, t));
  EXPECT_FALSE(b.OnResult(true, t));
  EXPECT_TRUE(b.OnResult(true, t));
  EXPECT_EQ(b.state(t), CState::kClosed);
  EXPECT_TRUE(b.TryAcquire(t));
  EXPECT_TRUE(b.WouldAllow(t));
}

TEST(CircuitBreakerTest, ATrialFailureOpensItAgain) {
  CircuitBreaker b(Breaker());
  OpenIt(b, kT0);
  auto t = kT0 + 2000ms;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.TryAcquire(t));
  EXPECT_FALSE(b.OnResult(true, t));
  EXPECT_TRUE(b.OnResult(false, t + 1ms));
  EXPECT_EQ(b.state(t + 1ms), CState::kOpen);
  EXPECT_EQ(b.opened_count(), 2);
  EXPECT_FALSE(b.TryAcquire(t + 1ms));
  EXPECT_FALSE(b.OnResult(false, t + 2ms)) << "late answers while open change nothing";
  EXPECT_EQ(b.state(t + 1ms + 1999ms), CState::kOpen) << "a fresh open_duration from the trial failure";
  t = t + 1ms + 2000ms;
  EXPECT_EQ(b.state(t), CState::kHalfOpen);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.TryAcquire(t)) << "fresh trial slots";
}

TEST(CircuitBreakerTest, ResultsWhileOpenAreIgnored) {
  CircuitBreaker b(Breaker());
  OpenIt(b, kT0);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.OnResult(true, kT0 + 1ms));
  EXPECT_EQ(b.state(kT0 + 1ms), CState::kOpen);
}

TEST(CircuitBreakerTest, DisabledWhenFailureRatioIsZero) {
  CircuitBreakerOptions o = Breaker();
  o.failure_ratio = 0;
  CircuitBreaker b(o);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(b.OnResult(false, kT0));
    EXPECT_TRUE(b.TryAcquire(kT0));
  }
  EXPECT_EQ(b.state(kT0), CState::kClosed);
  EXPECT_EQ(b.opened_count(), 0);
}

}  // namespace
}  // namespace harpc
