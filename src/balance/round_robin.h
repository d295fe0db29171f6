// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#pragma once

#include "balance/load_balancer.h"

namespace harpc {

class RoundRobin final : public LoadBalancer {
 public:
  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  std::vector<Endpoint*> endpoints_;
  size_t next_ = 0;
};

}  // namespace harpc
