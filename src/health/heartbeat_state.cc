// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "health/heartbeat_state.h"

#include <algorithm>

namespace harpc {

bool HeartbeatState::Become(State s, Clock::time_point now) {
  if (s == state_) return false;
  state_ = s;
  changed_at_ = now;
  successes_ = 0;
  return true;
}

bool HeartbeatState::OnProbe(ProbeResult result, Clock::time_point now) {
  switch (result) {
    case ProbeResult::kServing:
    case ProbeResult::kNoHealthEndpoint:
      failures_ = 0;
      if (state_ == State::kHealthy) return false;
      if (++successes_ >= options_.rise) return Become(State::kHealthy, now);
      return false;
    case ProbeResult::kDraining:
      ++failures_;
      return Become(State::kDraining, now);
    case ProbeResult::kRefused:
      ++failures_;
      if (state_ == State::kHealthy) return Become(State::kSuspect, now);
      successes_ = 0;
      if (failures_ >= options_.fall) return Become(State::kUnhealthy, now);
      return false;
    case ProbeResult::kFailed:
      ++failures_;
      successes_ = 0;
      if (failures_ >= options_.fall) return Become(State::kUnhealthy, now);
      return false;
  }
  return false;
}

bool HeartbeatState::OnConnectionFailure(Clock::time_point now) {
  if (state_ != State::kHealthy) return false;
  return Become(State::kSuspect, now);
}

std::chrono::milliseconds HeartbeatState::NextProbeDelay() const {
  if (state_ == State::kHealthy || failures_ <= options_.fall) return options_.interval;
  const int doublings = std::min(failures_ - options_.fall, 10);
  return std::min(options_.interval * (1 << doublings), std::max(options_.max_backoff, options_.interval));
}

std::string_view HeartbeatStateName(HeartbeatState::State s) {
  switch (s) {
    case HeartbeatState::State::kHealthy:
      return "healthy";
    case HeartbeatState::State::kSuspect:
      return "suspect";
    case HeartbeatState::State::kDraining:
      return "draining";
    case HeartbeatState::State::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

}  // namespace harpc
