// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// wrr: smooth weighted round robin, as nginx does it. Each pick adds every
// endpoint's weight to its running score, takes the highest score and takes
// the total weight off it. Weights 5,1,1 give a a b a c a a, spread out
// rather than bunched.
//
// Done literally that costs O(n) a pick. Instead the picks are planned a
// period ahead (SmoothSchedule) for the endpoints selectable at the time, at
// their weights, and replayed at O(1): while nothing moves, the same
// sequence and the same scores. The plan is redone when what it was made
// from moves:
// - membership or configured weights (Update);
// - an endpoint in the plan that is no longer selectable, or whose effective
//   weight changed, is noticed when its turn comes, before it is picked;
// - an endpoint outside the plan that became selectable again (probes
//   passed, ejection or open circuit ran out) at the next rescan of all
//   endpoints (balance/rescan.h: every 10 ms of pick time).
// The exact O(n) algorithm picks instead while any selectable endpoint is in
// slow start (its weight moves with every pick's time, so no plan would
// hold), when a period is too long or too costly to plan (SmoothSchedule's
// limits: 1,000 endpoints with more than ~45 distinct weights), in panic
// mode, and for a retry whose exclusions fill the next kMaxScan turns.
//
// A retry passes over its excluded endpoints' turns, which are used up as if
// they had been picked; shares over whole cycles stay exact among the rest.
#pragma once

#include <optional>

#include "balance/load_balancer.h"
#include "balance/rescan.h"
#include "balance/smooth_schedule.h"

namespace harpc {

class WeightedRoundRobin final : public LoadBalancer {
 public:
  // Turns a pick looks through past excluded endpoints before weighing every
  // endpoint instead; more only when exclusions hold ~95 % of the weight.
  static constexpr size_t kMaxScan = 16;

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  using Clock = PickRequest::Clock;

  // The plan's answer, or nullopt when the exact algorithm must answer.
  std::optional<Endpoint*> PickPlanned(const PickRequest& request);
  Endpoint* PickExactly(const PickRequest& request);
  // Each endpoint's effective weight now, 0 when it is not selectable.
  void Observe(Clock::time_point now, std::vector<int64_t>& weights) const;
  // Replans unless the endpoints look as they did for the current plan.
  void CheckPlan(Clock::time_point now);
  void Replan(Clock::time_point now);
  // Brings scores_ up to the last pick and drops the plan.
  void Fold();

  std::vector<Endpoint*> endpoints_;
  std::vector<int64_t> scores_;   // running scores, as of the plan's start while there is one
  std::vector<int64_t> planned_;  // the effective weights the plan was made for
  std::vector<int64_t> seen_;     // scratch for CheckPlan
  SmoothSchedule plan_;
  size_t next_ = 0;  // the plan's next turn
  Rescan rescan_;
};

}  // namespace harpc
