// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// p2c: power of two choices (Mitzenmacher). Draw two distinct endpoints at
// random, in proportion to EffectiveWeight, and take the less loaded one,
// load being calls in flight relative to weight. Comparing just two keeps
// the pick cheap (WeightedSampler: O(1), not O(n)) and avoids the herd
// that "always the least loaded" causes when many clients see the same idle
// server; yet the most loaded endpoint is rarely chosen, so load stays even
// when calls differ in cost.
//
// Ties go to the first draw: with nothing in flight p2c then shares traffic
// exactly by weight.
#pragma once

#include "balance/load_balancer.h"
#include "balance/random_source.h"

namespace harpc {

class PowerOfTwo final : public LoadBalancer {
 public:
  PowerOfTwo() = default;
  explicit PowerOfTwo(uint64_t seed) : rng_(seed) {}

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  RandomSource rng_;
  WeightedSampler sampler_;
};

}  // namespace harpc
