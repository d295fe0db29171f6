// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// list:// targets: one membership, given at once.
#pragma once

#include "naming/resolver.h"

namespace harpc {

class StaticResolver final : public Resolver {
 public:
  explicit StaticResolver(std::vector<EndpointSpec> endpoints) : endpoints_(std::move(endpoints)) {}
  void Start(boost::asio::any_io_executor executor, Listener listener) override;
  void Stop() override {}

 private:
  std::vector<EndpointSpec> endpoints_;
};

}  // namespace harpc
