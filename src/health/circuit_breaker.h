// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A circuit breaker for one endpoint.
//
//   closed ──failure ratio over the last N calls reached──> open
//   open ──open_duration passed──> half-open (half_open_calls trial calls)
//   half-open ──all trials succeed──> closed;  any trial fails ──> open
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "harpc/options.h"

namespace harpc {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(const CircuitBreakerOptions& options);

  // Whether a call may go now; in half-open, each true answer takes a trial slot.
  bool TryAcquire(Clock::time_point now);
  // Whether a call could go now, without taking a slot (for balancers; inline:
  // it runs for every endpoint on every pick).
  bool WouldAllow(Clock::time_point now) const {
    switch (state_) {
      case State::kClosed:
        return true;
      case State::kOpen:
        return now >= open_until_;
      case State::kHalfOpen:
        return trials_started_ < options_.half_open_calls;
    }
    return true;
  }
  // Returns true when the state changed.
  bool OnResult(bool success, Clock::time_point now);

  State state(Clock::time_point now) const {
    return state_ == State::kOpen && now >= open_until_ ? State::kHalfOpen : state_;
  }
  int opened_count() const { return opened_; }

 private:
  void Open(Clock::time_point now);

  CircuitBreakerOptions options_;
  State state_ = State::kClosed;
  std::vector<bool> ring_;  // last window_calls outcomes, true = failure
  size_t next_ = 0;
  int filled_ = 0;
  int failures_ = 0;
  Clock::time_point open_until_{};
  int trials_started_ = 0;
  int trials_succeeded_ = 0;
  int opened_ = 0;
};

std::string_view CircuitStateName(CircuitBreaker::State s);

}  // namespace harpc
