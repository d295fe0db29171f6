// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "health/circuit_breaker.h"

#include <algorithm>

namespace harpc {

CircuitBreaker::CircuitBreaker(const CircuitBreakerOptions& options)
    : options_(options), ring_(static_cast<size_t>(std::max(1, options.window_calls)), false) {}

bool CircuitBreaker::TryAcquire(Clock::time_point now) {
  if (options_.failure_ratio <= 0) return true;
  if (state_ == State::kOpen && now >= open_until_) {
    state_ = State::kHalfOpen;
    trials_started_ = 0;
    trials_succeeded_ = 0;
  }
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return false;
    case State::kHalfOpen:
      if (trials_started_ >= options_.half_open_calls) return false;
      ++trials_started_;
      return true;
  }
  return true;
}

void CircuitBreaker::Open(Clock::time_point now) {
  state_ = State::kOpen;
  open_until_ = now + options_.open_duration;
  ++opened_;
  std::fill(ring_.begin(), ring_.end(), false);
  next_ = 0;
  filled_ = 0;
  failures_ = 0;
}

bool CircuitBreaker::OnResult(bool success, Clock::time_point now) {
  if (options_.failure_ratio <= 0) return false;
  switch (state_) {
    case State::kOpen:
      return false;  // answers of calls sent before it opened
    case State::kHalfOpen:
      if (!success) {
        Open(now);
        return true;
      }
      if (++trials_succeeded_ >= options_.half_open_calls) {
        state_ = State::kClosed;
        return true;
      }
      return false;
    case State::kClosed: {
      const bool failed = !success;
      if (filled_ == static_cast<int>(ring_.size())) {
        if (ring_[next_]) --failures_;
      } else {
        ++filled_;
      }
      ring_[next_] = failed;
      if (failed) ++failures_;
      next_ = (next_ + 1) % ring_.size();
      if (filled_ == static_cast<int>(ring_.size()) &&
          failures_ >= options_.failure_ratio * static_cast<double>(ring_.size())) {
        Open(now);
        return true;
      }
      return false;
    }
  }
  return false;
}

std::string_view CircuitStateName(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace harpc
