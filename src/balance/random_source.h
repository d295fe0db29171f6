// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the randomised policies (random, p2c, least_time, and hash for calls
// without a key) share: a per-balancer PRNG, and drawing an endpoint in
// proportion to a weight.
//
// splitmix64 rather than <random>: a draw costs a couple of nanoseconds, the
// state is one word, and a balancer lives on one thread, so it needs no lock.
// Its statistical quality is ample for spreading load.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "balance/load_balancer.h"
#include "util/hash.h"

namespace harpc {

class RandomSource {
 public:
  // Seeded from the object's address and the clock, so that the channels of
  // one process, and processes started alike, do not draw in lockstep.
  RandomSource()
      : state_(Mix64(reinterpret_cast<uintptr_t>(this)) ^
               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}
  // A fixed seed makes a balancer's choices reproducible (tests).
  explicit RandomSource(uint64_t seed) : state_(seed) {}

  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Draws among candidates with probability proportional to their weights.
// A balancer keeps one as a member so that picks reuse its buffer: Clear,
// Add each candidate, then Draw. Weights are doubles because least_time's
// are fractions; EffectiveWeight's integers are exact in a double.
class WeightedDraw {
 public:
  void Clear() {
    items_.clear();
    total_ = 0;
  }
  void Add(Endpoint* endpoint, double weight) {
    total_ += weight;
    items_.push_back({endpoint, total_});
  }

  bool empty() const { return items_.empty(); }
  // One of the candidates, nullptr when there are none.
  Endpoint* Draw(RandomSource& rng) const {
    if (items_.empty()) return nullptr;
    const double point = rng.Unit() * total_;
    // The candidate whose span [upto - weight, upto) holds the point; should
    // rounding land it on the very end, the last one.
    auto it =
        std::upper_bound(items_.begin(), items_.end(), point, [](double p, const Item& item) { return p < item.upto; });
    return it == items_.end() ? items_.back().endpoint : it->endpoint;
  }

 private:
  struct Item {
    Endpoint* endpoint;
    double upto;  // the weights of the candidates up to and including this one
  };
  std::vector<Item> items_;
  double total_ = 0;
};

// Walker's alias method: O(1) draws from a fixed distribution. Each of n
// columns holds 1/n of the probability: its own index's share, topped up
// with one other index (its alias). A draw picks a column, then a side.
class AliasTable {
 public:
  void Build(const std::vector<double>& weights);
  // An index into the weights; requires at least one.
  size_t Draw(RandomSource& rng) const {
    const uint64_t r = rng.Next();
    // The high bits choose the column, the low 32 the side: independent enough.
    const size_t i = static_cast<size_t>((static_cast<unsigned __int128>(r) * columns_.size()) >> 64);
    return static_cast<double>(r & 0xffffffffu) * 0x1.0p-32 < columns_[i].keep ? i : columns_[i].alias;
  }

 private:
  struct Column {
    double keep;  // the chance that a draw landing here takes i itself
    uint32_t alias;
  };
  std::vector<Column> columns_;
};

// Draws an endpoint in proportion to its EffectiveWeight among those a pick
// does not skip, in O(1) rather than the O(n) of weighing every endpoint on
// every pick. It draws by the configured weights, read at Update (the
// channel calls Update when they change), and accepts the draw with
// probability EffectiveWeight / (weight × 1000) if the pick does not skip
// it: rejection sampling, so the result is exactly in proportion. While
// most endpoints are selectable and past slow start, the first draw almost
// always stands; after a few rejections it weighs every endpoint instead,
// which draws from the same distribution.
//
// A policy may scale each endpoint's chances further by a merit in [0, 1]
// (least_time: how fast it is against the fastest), taken into the same
// acceptance: the draw is then in proportion to EffectiveWeight × merit.
class WeightedSampler {
 public:
  // Draws before weighing every endpoint when merit is always 1.
  static constexpr int kTries = 4;

  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints);
  const std::vector<Endpoint*>& endpoints() const { return endpoints_; }

  // An endpoint the request does not skip, other than `also_skip` (p2c's
  // first choice); nullptr when there is none.
  Endpoint* Draw(RandomSource& rng, const PickRequest& request, const Endpoint* also_skip = nullptr) {
    return Draw(
        rng, request, [](const Endpoint&) { return 1.0; }, kTries, also_skip);
  }
  // The same in proportion to EffectiveWeight × merit(endpoint), a number in
  // [0, 1], giving up on rejection sampling after `tries` draws.
  template <typename Merit>
  Endpoint* Draw(RandomSource& rng, const PickRequest& request, const Merit& merit, int tries,
                 const Endpoint* also_skip = nullptr) {
    if (endpoints_.empty()) return nullptr;
    // A try fails with at most the share of the weight that is skipped,
    // still ramping up or of low merit, so many fail together only when most
    // of it is, and the scan below then costs little more than the tries did.
    for (int attempt = 0; attempt < tries; ++attempt) {
      Endpoint* e = endpoints_[configured_.Draw(rng)];
      // Merit first: it is the likelier rejection and reads less of the
      // endpoint than the health checks do (a cache miss each, at 1,000).
      if (const double m = merit(*e); m < 1 && rng.Unit() >= m) continue;
      if (e == also_skip || request.Skips(e)) continue;
      const double full = static_cast<double>(e->weight()) * 1000;
      const double effective = static_cast<double>(e->EffectiveWeight(request.now));
      if (effective >= full || rng.Unit() * full < effective) return e;
    }
    fallback_.Clear();
    for (Endpoint* e : endpoints_) {
      if (e != also_skip && !request.Skips(e)) {
        fallback_.Add(e, static_cast<double>(e->EffectiveWeight(request.now)) * merit(*e));
      }
    }
    return fallback_.Draw(rng);
  }

 private:
  std::vector<Endpoint*> endpoints_;
  AliasTable configured_;  // by weight, so by EffectiveWeight when fully admitted
  WeightedDraw fallback_;  // scratch, kept to reuse its buffer
};

}  // namespace harpc
