// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/retry_budget.h"

namespace harpc {

RetryBudget::Bucket& RetryBudget::Current(Clock::time_point now) {
  const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Bucket& b = buckets_[static_cast<size_t>(second % kWindowSeconds)];
  if (b.second != second) b = {.second = second};
  return b;
}

void RetryBudget::OnCall(Clock::time_point now) { ++Current(now).calls; }

bool RetryBudget::TryRetry(Clock::time_point now) {
  Bucket& current = Current(now);
  uint64_t calls = 0, retries = 0;
  for (const Bucket& b : buckets_) {
    if (b.second > current.second - kWindowSeconds) {
      calls += b.calls;
      retries += b.retries;
    }
  }
  const double allowed = ratio_ * static_cast<double>(calls) + static_cast<double>(min_per_second_) * kWindowSeconds;
  if (static_cast<double>(retries + 1) > allowed) {
    ++refused_;
    return false;
  }
  ++current.retries;
  return true;
}

}  // namespace harpc
