// random: each pick draws an endpoint at random in proportion to its
// EffectiveWeight. Stateless between picks, so it needs no coordination and
// cannot fall into step with other clients; the price is more variance over
// short runs than wrr.
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
  std::vector<Endpoint*> endpoints_;
  RandomSource rng_;
  WeightedDraw draw_;  // scratch, kept to reuse its buffer
};

}  // namespace harpc
