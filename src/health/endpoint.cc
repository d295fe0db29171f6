// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "health/endpoint.h"

#include <cmath>

namespace harpc {

std::string_view Endpoint::StateName(Clock::time_point now) const {
  if (!heartbeat_.healthy()) return HeartbeatStateName(heartbeat_.state());
  if (outlier_.Ejected(now)) return "ejected";
  if (breaker_.state(now) == CircuitBreaker::State::kOpen) return "open";
  if (breaker_.state(now) == CircuitBreaker::State::kHalfOpen) return "half_open";
  return "healthy";
}

int64_t Endpoint::RampedWeight(int64_t full, Clock::time_point admitted, Clock::time_point now) const {
  const double progress = std::chrono::duration<double>(now - admitted) / policy_.slow_start;
  const double share = std::clamp(0.1 + 0.9 * progress, 0.1, 1.0);
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(full) * share));
}

void Endpoint::RecordLatency(std::chrono::microseconds latency, Clock::time_point now) {
  const double sample = static_cast<double>(latency.count());
  if (latency_at_ == Clock::time_point{}) {
    latency_us_ = sample;
  } else {
    // Time-based decay: a sample after a long gap counts more than one after a short one.
    const double dt = std::chrono::duration<double>(now - latency_at_).count();
    const double tau = std::chrono::duration<double>(policy_.latency_decay).count();
    const double keep = std::exp(-std::max(dt, 0.0) / std::max(tau, 1e-6));
    latency_us_ = latency_us_ * keep + sample * (1 - keep);
  }
  latency_at_ = now;
}

void Endpoint::RecordLatencyAtLeast(std::chrono::microseconds bound, Clock::time_point now) {
  if (static_cast<double>(bound.count()) > latency_us_) RecordLatency(bound, now);
}

}  // namespace harpc
