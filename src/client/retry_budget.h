// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A retry budget, as Finagle's: retries may add at most `ratio` of the calls
// of the last 10 seconds, plus `min_per_second` retries per second, so that a
// failing cluster is not buried under retries (a retry storm). Counts are kept
// in one-second buckets: constant memory and time per call.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace harpc {

class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kWindowSeconds = 10;

  RetryBudget(double ratio, int min_per_second) : ratio_(ratio), min_per_second_(min_per_second) {}

  void OnCall(Clock::time_point now);
  // Takes one retry from the budget; false when it is spent.
  bool TryRetry(Clock::time_point now);
  uint64_t refused() const { return refused_; }

 private:
  struct Bucket {
    int64_t second = -1;
    uint64_t calls = 0;
    uint64_t retries = 0;
  };
  Bucket& Current(Clock::time_point now);

  double ratio_;
  int min_per_second_;
  std::array<Bucket, kWindowSeconds> buckets_{};
  uint64_t refused_ = 0;
};

}  // namespace harpc
