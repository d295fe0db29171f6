// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// One member of a target's membership as a resolver names it: an address and
// its weight. Resolvers (naming) produce them; channels (client) and their
// endpoints (health) consume them.
#pragma once

#include <string>

namespace harpc {

struct EndpointSpec {
  std::string address;  // "host:port", as written
  int weight = 1;       // 1..1,000,000
  bool operator==(const EndpointSpec&) const = default;
};

}  // namespace harpc
