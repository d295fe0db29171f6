// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
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
// A pick costs O(1), not the O(n) of weighing every endpoint: the
// WeightedSampler draws by weight and accepts the draw with probability
// fastest / (latency × (in_flight + 1)) — rejection sampling, so the shares
// are exactly those above. Only the fastest latency summarises all
// endpoints; it is reread once per Rescan::kInterval (10 ms) of picks, so an
// endpoint that became faster than it counts as the fastest until then.
// The draws accept about as often as endpoints are near the fastest and
// idle (~40 % at latencies spread 1×..6×); after kTries rejected draws the
// pick weighs every endpoint, from the same distribution.
//
// Not power of two choices: taking the cheaper of two draws would give the
// fastest endpoint more than its 1/cost share and starve the rest far more
// than the cost says (the balancer tests pin the shares).
//
// The channel records latencies (Endpoint::RecordLatency) and in-flight
// counts itself, so Feedback has nothing to add.
#pragma once

#include "balance/load_balancer.h"
#include "balance/random_source.h"
#include "balance/rescan.h"

namespace harpc {

class LeastTime final : public LoadBalancer {
 public:
  // Draws before weighing every endpoint: at 40 % acceptance all 32 fail in
  // one pick of 12 million; at 9 % (10 calls in flight everywhere), one of 30.
  static constexpr int kTries = 32;

  LeastTime() = default;
  explicit LeastTime(uint64_t seed) : rng_(seed) {}

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  RandomSource rng_;
  WeightedSampler sampler_;
  double fastest_us_ = 1;  // the lowest average latency among the endpoints, 1 when none has a sample
  Rescan rescan_;
};

}  // namespace harpc
