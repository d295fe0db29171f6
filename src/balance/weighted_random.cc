// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/weighted_random.h"

namespace harpc {

void WeightedRandom::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) { sampler_.Update(endpoints); }

Endpoint* WeightedRandom::Pick(const PickRequest& request) { return sampler_.Draw(rng_, request); }

}  // namespace harpc
