// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The load-balancer interface: choosing (Pick) is separate from learning
// (Feedback), as in bRPC's SelectServer/Feedback. One policy per file.
//
// Balancers run on their channel's event-loop thread only.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "harpc/status.h"
#include "health/endpoint.h"

namespace harpc {

struct PickRequest {
  using Clock = std::chrono::steady_clock;

  Clock::time_point now = Clock::now();
  // Endpoints this call already tried: never picked again while another is
  // available. May be null.
  const std::vector<const Endpoint*>* excluded = nullptr;
  // False in panic mode (no endpoint is selectable): unhealthy, ejected and
  // open-circuit endpoints may then be picked too.
  bool honour_health = true;
  // The call's hash key, for policies that route by key (CallOptions::hash_key).
  uint64_t hash = 0;

  // Whether `e` is out of this pick: excluded, or not selectable while health counts.
  bool Skips(const Endpoint* e) const { return (honour_health && !e->Selectable(now)) || Excludes(e); }
  // Whether this call tried `e` already.
  bool Excludes(const Endpoint* e) const {
    return excluded && std::find(excluded->begin(), excluded->end(), e) != excluded->end();
  }
};

struct AttemptFeedback {
  std::chrono::microseconds latency{0};
  bool success = false;  // false for transport failures and server faults
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // Replaces the membership. Endpoints present before and after keep their state.
  virtual void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) = 0;
  // The endpoint for the next attempt among those the request does not skip
  // (PickRequest::Skips); nullptr when it skips them all. Weighted policies
  // read Endpoint::EffectiveWeight, which includes slow start.
  virtual Endpoint* Pick(const PickRequest& request) = 0;
  // What became of an attempt on `endpoint`.
  virtual void Feedback(Endpoint& endpoint, const AttemptFeedback& feedback) {}
};

// "wrr", "least_time", "p2c", "random", "hash" or "rr" (see each policy's
// header); INVALID_ARGUMENT for anything else.
Status MakeLoadBalancer(std::string_view name, std::unique_ptr<LoadBalancer>* out);

}  // namespace harpc
