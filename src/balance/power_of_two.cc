// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/power_of_two.h"

namespace harpc {

void PowerOfTwo::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) { sampler_.Update(endpoints); }

Endpoint* PowerOfTwo::Pick(const PickRequest& request) {
  Endpoint* first = sampler_.Draw(rng_, request);
  if (!first) return nullptr;
  Endpoint* second = sampler_.Draw(rng_, request, first);
  if (!second) return first;
  // in_flight / weight compared by cross-multiplying: no division, and a
  // weight-3 endpoint with 3 calls is as busy as a weight-1 one with 1.
  const int64_t first_load = first->in_flight() * second->EffectiveWeight(request.now);
  const int64_t second_load = second->in_flight() * first->EffectiveWeight(request.now);
  return second_load < first_load ? second : first;
}

}  // namespace harpc
