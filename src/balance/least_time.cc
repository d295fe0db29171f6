// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/least_time.h"

#include <algorithm>

namespace harpc {

void LeastTime::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  sampler_.Update(endpoints);
  rescan_.Expire();
}

Endpoint* LeastTime::Pick(const PickRequest& request) {
  if (rescan_.Due(request.now)) {
    rescan_.Done(request.now);
    double fastest = 0;  // the lowest latency known, 0 when none is
    for (const Endpoint* e : sampler_.endpoints()) {
      const double latency = e->latency_us();
      if (latency > 0 && (fastest == 0 || latency < fastest)) fastest = latency;
    }
    // With no sample anywhere, weights and in-flight counts alone decide.
    fastest_us_ = fastest > 0 ? fastest : 1;
  }
  // 1 / cost per unit of weight, against the cheapest possible: fastest and idle.
  const auto merit = [fastest = fastest_us_](const Endpoint& e) {
    const double latency = e.latency_us() > 0 ? e.latency_us() : fastest;
    return std::min(1.0, fastest / (latency * (e.in_flight() + 1)));
  };
  return sampler_.Draw(rng_, request, merit, kTries);
}

}  // namespace harpc
