// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// How many alerts (--notify runs, --webhook posts) the sentinel may raise: a
// token bucket that holds `per_minute` alerts and refills them evenly over a
// minute. A burst of real failures is told at once up to the budget; a flood
// (hundreds of bogus registrations going down together) cannot fork hundreds
// of commands: the excess is counted and summed up instead, in one alert told
// as soon as the budget has room again (Notifier).
#pragma once

#include <algorithm>
#include <chrono>

namespace harpc::sentinel {

class AlertBudget {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_minute` at least 1.
  explicit AlertBudget(int per_minute) : per_minute_(std::max(per_minute, 1)), tokens_(per_minute_) {}

  // Takes one alert from the budget; false when it is spent.
  bool Take(Clock::time_point now) {
    tokens_ = TokensAt(now);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  // When Take will succeed next: `now` when it would now (a millisecond
  // late rather than early otherwise).
  Clock::time_point NextToken(Clock::time_point now) const {
    const double missing = 1 - TokensAt(now);
    if (missing <= 0) return now;
    const std::chrono::duration<double, std::ratio<60>> wait(missing / per_minute_);
    return now + std::chrono::ceil<Clock::duration>(wait) + std::chrono::milliseconds(1);
  }

 private:
  double TokensAt(Clock::time_point now) const {
    if (last_ == Clock::time_point{}) return tokens_;
    const double minutes = std::chrono::duration<double, std::ratio<60>>(now - last_).count();
    return std::min<double>(per_minute_, tokens_ + minutes * per_minute_);
  }

  int per_minute_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace harpc::sentinel
