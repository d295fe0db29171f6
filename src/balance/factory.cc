// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/consistent_hash.h"
#include "balance/least_time.h"
#include "balance/load_balancer.h"
#include "balance/power_of_two.h"
#include "balance/round_robin.h"
#include "balance/weighted_random.h"
#include "balance/weighted_round_robin.h"

namespace harpc {

Status MakeLoadBalancer(std::string_view name, std::unique_ptr<LoadBalancer>* out) {
  if (name == "wrr") {
    *out = std::make_unique<WeightedRoundRobin>();
  } else if (name == "least_time") {
    *out = std::make_unique<LeastTime>();
  } else if (name == "p2c") {
    *out = std::make_unique<PowerOfTwo>();
  } else if (name == "random") {
    *out = std::make_unique<WeightedRandom>();
  } else if (name == "hash") {
    *out = std::make_unique<ConsistentHash>();
  } else if (name == "rr") {
    *out = std::make_unique<RoundRobin>();
  } else {
    return InvalidArgument("unknown load balancer '" + std::string(name) +
                           "' (available: wrr, least_time, p2c, random, hash, rr)");
  }
  return Status::Ok();
}

}  // namespace harpc
