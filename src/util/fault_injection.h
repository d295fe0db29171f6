// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Fault injection for tests and demos: a coin that comes up true with probability `rate`.
#pragma once

#include <random>

namespace harpc {

inline bool InjectFault(double rate) {
  if (rate <= 0) return false;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < rate;
}

}  // namespace harpc
