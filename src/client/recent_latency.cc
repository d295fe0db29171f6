// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/recent_latency.h"

namespace harpc {

void RecentLatency::Rotate(Clock::time_point now) {
  if (now - period_start_ < kPeriod) return;
  previous_.Reset();
  previous_.Merge(current_);
  current_.Reset();
  period_start_ = now;
}

void RecentLatency::Record(std::chrono::microseconds latency, Clock::time_point now) {
  Rotate(now);
  current_.Record(latency);
}

std::chrono::microseconds RecentLatency::Quantile(double q, Clock::time_point now) {
  Rotate(now);
  if (q == cached_q_ && now - cached_at_ < std::chrono::milliseconds(50)) return cached_;
  metrics::Histogram both;
  both.Merge(previous_);
  both.Merge(current_);
  cached_ = both.count() < 20 ? std::chrono::microseconds(0)
                              : std::chrono::microseconds(static_cast<int64_t>(both.QuantileMicros(q)));
  cached_q_ = q;
  cached_at_ = now;
  return cached_;
}

}  // namespace harpc
