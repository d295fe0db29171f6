// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// When a policy reads every endpoint again. wrr's plan (which endpoints are
// selectable, at which weight) and least_time's fastest latency summarise
// all endpoints, O(n) to make, and picks use them at O(1). Nothing tells a
// policy when an endpoint's health or latency moves, so it rereads them all
// once per interval of pick time: about 1 pick in 1,000 at 100,000 picks a
// second. Health moves on a scale of seconds (probes every second, ejections
// and open circuits for seconds), so the interval's lag is noise there.
#pragma once

#include <chrono>

namespace harpc {

class Rescan {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kInterval{10};

  // Due when never done, after kInterval, or when `now` is before the last
  // scan (tests move the clock both ways).
  bool Due(Clock::time_point now) const { return !done_ || now >= at_ + kInterval || now < at_; }
  void Done(Clock::time_point now) {
    at_ = now;
    done_ = true;
  }
  // Makes the next pick rescan whatever the time.
  void Expire() { done_ = false; }

 private:
  Clock::time_point at_{};
  bool done_ = false;
};

}  // namespace harpc
