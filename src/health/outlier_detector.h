// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Passive outlier detection for one endpoint: real calls' outcomes eject an
// endpoint that fails too often, for longer each time it happens again.
// Whether an ejection may happen at all (max_ejection_percent) is the
// channel's call: it asks through `may_eject`.
#pragma once

#include <chrono>
#include <deque>

#include "harpc/options.h"

namespace harpc {

class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OutlierDetector(const OutlierOptions& options) : options_(options) {}

  // Records a call's outcome. Returns true when this outcome ejected the endpoint.
  bool OnResult(bool success, Clock::time_point now, bool may_eject);

  bool Ejected(Clock::time_point now) const { return now < ejected_until_; }
  Clock::time_point ejected_until() const { return ejected_until_; }
  int ejections() const { return ejections_; }

 private:
  void Eject(Clock::time_point now);

  OutlierOptions options_;
  int consecutive_failures_ = 0;
  struct Sample {
    Clock::time_point at;
    bool success;
  };
  std::deque<Sample> window_;  // outcomes within options_.window
  int window_failures_ = 0;
  int ejections_ = 0;
  Clock::time_point ejected_until_{};
};

}  // namespace harpc
