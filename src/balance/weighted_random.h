// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// random: each pick draws an endpoint at random in proportion to its
// EffectiveWeight (WeightedSampler: O(1) while most are selectable).
// Stateless between picks, so it cannot fall into step with other clients;
// the price is more variance over short runs than wrr.
#pragma once

#include "balance/load_balancer.h"
#include "balance/random_source.h"

namespace harpc {

class WeightedRandom final : public LoadBalancer {
 public:
  WeightedRandom() = default;
  explicit WeightedRandom(uint64_t seed) : rng_(seed) {}

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  RandomSource rng_;
  WeightedSampler sampler_;
};

}  // namespace harpc
