// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "health/outlier_detector.h"

#include <algorithm>

namespace harpc {

void OutlierDetector::Eject(Clock::time_point now) {
  ++ejections_;
  auto duration = std::min(options_.base_ejection * ejections_, options_.max_ejection);
  ejected_until_ = now + duration;
  consecutive_failures_ = 0;
  window_.clear();
  window_failures_ = 0;
}

bool OutlierDetector::OnResult(bool success, Clock::time_point now, bool may_eject) {
  if (Ejected(now)) return false;  // late answers of calls sent before the ejection
  consecutive_failures_ = success ? 0 : consecutive_failures_ + 1;

  if (options_.failure_ratio > 0) {
    window_.push_back({now, success});
    if (!success) ++window_failures_;
    while (!window_.empty() && window_.front().at < now - options_.window) {
      if (!window_.front().success) --window_failures_;
      window_.pop_front();
    }
  }
  if (!may_eject || success) return false;

  const bool too_many_in_a_row =
      options_.consecutive_failures > 0 && consecutive_failures_ >= options_.consecutive_failures;
  const bool too_high_ratio = options_.failure_ratio > 0 && static_cast<int>(window_.size()) >= options_.min_requests &&
                              window_failures_ >= options_.failure_ratio * static_cast<double>(window_.size());
  if (!too_many_in_a_row && !too_high_ratio) return false;
  Eject(now);
  return true;
}

}  // namespace harpc
