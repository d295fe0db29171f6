// least_time: least response time. Each endpoint costs
//
//     cost = latency_us × (in_flight + 1) / EffectiveWeight
//
// (its time-decayed average latency, times the queue a new call would join,
// per unit of weight) and each pick draws an endpoint with probability in
// proportion to 1 / cost. A 250× slower endpoint thus gets about 1/250 of a
// fast one's traffic as soon as its average moves, but never none: the
// trickle keeps its average fresh, so it wins its share back as it speeds
// up. How fast is the average's business: it forgets the past with time
// constant EndpointPolicy::latency_decay (τ, 300 ms by default), so the share
// of a 250× outlier that became fast again is back near its fair one after
// about 8 τ. Drawing rather than always taking the cheapest also keeps many
// clients from stampeding onto the same endpoint.
//
// An endpoint with no latency sample yet counts as fast as the fastest one
// known, so that new endpoints get traffic and are measured.
//
// The channel records latencies (Endpoint::RecordLatency) and in-flight
// counts itself, so Feedback has nothing to add.
#pragma once

#include "balance/load_balancer.h"
#include "balance/random_source.h"

namespace harpc {

class LeastTime final : public LoadBalancer {
 public:
  LeastTime() = default;
  explicit LeastTime(uint64_t seed) : rng_(seed) {}

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  std::vector<Endpoint*> endpoints_;
  RandomSource rng_;
  WeightedDraw draw_;  // scratch, kept to reuse its buffer
};

}  // namespace harpc
