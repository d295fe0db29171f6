// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/weighted_round_robin.h"

#include <algorithm>
#include <unordered_map>

namespace harpc {

void WeightedRoundRobin::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  Fold();
  std::unordered_map<const Endpoint*, int64_t> kept;
  for (size_t i = 0; i < endpoints_.size(); ++i) kept[endpoints_[i]] = scores_[i];
  endpoints_.clear();
  scores_.clear();
  for (const auto& e : endpoints) {
    endpoints_.push_back(e.get());
    const auto it = kept.find(e.get());
    scores_.push_back(it == kept.end() ? 0 : it->second);  // newcomers start from zero
  }
  rescan_.Expire();
}

Endpoint* WeightedRoundRobin::Pick(const PickRequest& request) {
  // The plan holds selectable endpoints only: panic mode weighs them all.
  if (request.honour_health) {
    if (rescan_.Due(request.now)) CheckPlan(request.now);
    if (plan_.planned()) {
      if (std::optional<Endpoint*> e = PickPlanned(request)) return *e;
    }
  }
  return PickExactly(request);
}

std::optional<Endpoint*> WeightedRoundRobin::PickPlanned(const PickRequest& request) {
  const size_t size = plan_.size();
  const size_t window = std::min(kMaxScan, plan_.cyclic() ? size : size - next_);
  for (size_t i = 0; i < window; ++i) {
    const size_t turn = next_ + i < size ? next_ + i : next_ + i - size;
    const uint32_t slot = plan_[turn];
    Endpoint* e = endpoints_[slot];
    if (!e->Selectable(request.now) || e->EffectiveWeight(request.now) != planned_[slot]) {
      // It moved since the plan was made. A plan made now matches every
      // endpoint now, so the second look ends without coming back here.
      Replan(request.now);
      return plan_.planned() ? PickPlanned(request) : std::nullopt;
    }
    if (request.Excludes(e)) continue;
    next_ = turn + 1 == size && plan_.cyclic() ? 0 : turn + 1;
    return e;
  }
  // A whole cycle looked at: every endpoint in it is excluded.
  if (window == size && plan_.cyclic()) return nullptr;
  return std::nullopt;
}

Endpoint* WeightedRoundRobin::PickExactly(const PickRequest& request) {
  // Nothing to pick changes nothing, the plan included: the cycle goes on.
  if (std::all_of(endpoints_.begin(), endpoints_.end(), [&](const Endpoint* e) { return request.Skips(e); })) {
    return nullptr;
  }
  Fold();
  size_t best = endpoints_.size();
  int64_t total = 0;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (request.Skips(endpoints_[i])) continue;
    const int64_t w = endpoints_[i]->EffectiveWeight(request.now);
    scores_[i] += w;
    total += w;
    if (best == endpoints_.size() || scores_[i] > scores_[best]) best = i;
  }
  scores_[best] -= total;
  return endpoints_[best];
}

void WeightedRoundRobin::Observe(Clock::time_point now, std::vector<int64_t>& weights) const {
  weights.resize(endpoints_.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    weights[i] = endpoints_[i]->Selectable(now) ? endpoints_[i]->EffectiveWeight(now) : 0;
  }
}

void WeightedRoundRobin::CheckPlan(Clock::time_point now) {
  if (plan_.planned()) {
    Observe(now, seen_);
    if (seen_ == planned_) {
      rescan_.Done(now);
      return;
    }
  }
  Replan(now);
}

void WeightedRoundRobin::Replan(Clock::time_point now) {
  Fold();
  rescan_.Done(now);
  Observe(now, planned_);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (planned_[i] > 0 && endpoints_[i]->InSlowStart(now)) return;  // its weight moves with time: no plan holds
  }
  plan_.Plan(planned_, scores_);
}

void WeightedRoundRobin::Fold() {
  if (!plan_.planned()) return;
  plan_.Advance(next_, scores_);
  plan_.Clear();
  next_ = 0;
  rescan_.Expire();  // the next pick that honours health plans again
}

}  // namespace harpc
