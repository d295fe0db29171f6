// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// hash: consistent hashing by Maglev (Eisenbud et al., "Maglev: A Fast and
// Reliable Software Network Load Balancer", NSDI 2016), keyed on
// PickRequest::hash, so that calls with the same key go to the same endpoint.
//
// A lookup table of prime size M maps slots to endpoints; a pick is one
// table read (hash mod M). Each endpoint has its own permutation of the
// slots, (offset + j × skip) mod M, with offset and skip from two hashes of
// its address; M prime makes every such sequence a permutation. The table
// fills in rounds: in each, every endpoint claims the next free slot of its
// permutation, so endpoints end up with near-equal shares, and when one
// leaves, the others' preferences barely change: about 1/N of the keys move,
// almost all of them the leaver's. Weights: an endpoint claims a slot in a
// round only while its count stays within its weight's share, so heavier
// endpoints claim in more rounds.
//
// The table depends only on the addresses and configured weights (sorted by
// address), so every client builds the same one and agrees where a key goes.
// That is also why it reads weight(), not EffectiveWeight: slow start is
// per client and moves with time, and ramping it would shuffle keys and make
// clients disagree (Envoy likewise does slow start only for round robin and
// least request).
//
// A skipped endpoint's keys go to the next slots of the table, in order,
// until one holds an endpoint the pick does not skip: deterministic, spread
// over the others by their shares, and every other key stays where it was.
// When the endpoint is back, so are its keys.
//
// Hash 0 means "no key" (CallOptions::hash_key empty): such calls go to a
// random slot rather than all to one endpoint, as Envoy and gRPC do.
#pragma once

#include <string>
#include <utility>

#include "balance/load_balancer.h"
#include "balance/random_source.h"

namespace harpc {

class ConsistentHash final : public LoadBalancer {
 public:
  // Prime, and large enough against the endpoint count that shares stay
  // within about 1 % of their weight (the paper's guidance: M ≥ 100 × N).
  static constexpr uint32_t kTableSize = 65537;

  ConsistentHash() = default;
  explicit ConsistentHash(uint64_t seed) : rng_(seed) {}

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  void BuildTable();

  std::vector<Endpoint*> endpoints_;                // sorted by address
  std::vector<std::pair<std::string, int>> built_;  // (address, weight) the table is for
  std::vector<uint32_t> table_;                     // slot -> index in endpoints_
  std::vector<bool> usable_;                        // scratch for the fallback walk
  RandomSource rng_;
};

}  // namespace harpc
