// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// rr: plain round robin; weights are ignored.
#include "balance/round_robin.h"

namespace harpc {

void RoundRobin::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  for (const auto& e : endpoints) endpoints_.push_back(e.get());
}

Endpoint* RoundRobin::Pick(const PickRequest& request) {
  const size_t n = endpoints_.size();
  for (size_t i = 0; i < n; ++i) {
    Endpoint* e = endpoints_[next_++ % n];
    if (!request.Skips(e)) return e;
  }
  return nullptr;
}

}  // namespace harpc
