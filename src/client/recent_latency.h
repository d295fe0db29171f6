// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Latency of recent successful attempts, for hedging at "p95": two histograms
// that take turns, so the percentile reflects the last 10 to 20 seconds.
#pragma once

#include <chrono>

#include "metrics/histogram.h"

namespace harpc {

class RecentLatency {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kPeriod = std::chrono::seconds(10);

  void Record(std::chrono::microseconds latency, Clock::time_point now);
  // The q-quantile of recent samples; 0 before enough samples (< 20).
  std::chrono::microseconds Quantile(double q, Clock::time_point now);

 private:
  void Rotate(Clock::time_point now);

  metrics::Histogram current_, previous_;
  Clock::time_point period_start_ = Clock::now();
  // The p95 is recomputed at most every 50 ms: a quantile walks every bucket.
  Clock::time_point cached_at_{};
  double cached_q_ = -1;
  std::chrono::microseconds cached_{0};
};

}  // namespace harpc
