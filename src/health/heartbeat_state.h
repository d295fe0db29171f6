// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The heartbeat verdict on one endpoint, from its GET /health probes and from
// what calls notice about its connections. Times are passed in, so tests
// drive it with a fake clock.
//
//   healthy ──fall failed probes──> unhealthy ──rise good probes──> healthy
//      │ connection refused/reset: at once               ^
//      └──> suspect ───────────rise good probes──────────┘
//      │ 503 NOT_SERVING: at once
//      └──> draining ──────────rise good probes──────────┘
#pragma once

#include <chrono>
#include <string_view>

#include "harpc/options.h"

namespace harpc {

enum class ProbeResult {
  kServing,           // 200 SERVING
  kNoHealthEndpoint,  // 404 or 405: up and answering, without a health endpoint; counts as serving
  kDraining,          // 503 NOT_SERVING: shutting down
  kFailed,            // no valid answer in time, or another status
  kRefused,           // connection refused or reset: the process is gone
};

class HeartbeatState {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kHealthy, kSuspect, kDraining, kUnhealthy };

  explicit HeartbeatState(const HealthCheckOptions& options) : options_(options) {}

  // Returns true when the verdict changed.
  bool OnProbe(ProbeResult result, Clock::time_point now);
  // A call could not connect or lost its connection: suspect at once.
  bool OnConnectionFailure(Clock::time_point now);

  State state() const { return state_; }
  bool healthy() const { return state_ == State::kHealthy; }
  Clock::time_point changed_at() const { return changed_at_; }
  // When to probe next: `interval` while healthy, backing off (×2 per failed
  // probe, at most max_backoff) while not.
  std::chrono::milliseconds NextProbeDelay() const;

 private:
  bool Become(State s, Clock::time_point now);

  HealthCheckOptions options_;
  State state_ = State::kHealthy;
  int failures_ = 0;   // consecutive failed probes
  int successes_ = 0;  // consecutive good probes while not healthy
  Clock::time_point changed_at_{};
};

std::string_view HeartbeatStateName(HeartbeatState::State s);

}  // namespace harpc
