// What the randomised policies (random, p2c, least_time, and hash for calls
// without a key) share: a per-balancer PRNG and drawing one candidate in
// proportion to its weight.
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
  // Adds the endpoints the request does not skip, each by its EffectiveWeight.
  void AddByWeight(const std::vector<Endpoint*>& endpoints, const PickRequest& request) {
    Clear();
    for (Endpoint* e : endpoints) {
      if (!request.Skips(e)) Add(e, static_cast<double>(e->EffectiveWeight(request.now)));
    }
  }

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  Endpoint* endpoint(size_t i) const { return items_[i].endpoint; }
  double weight(size_t i) const { return items_[i].upto - (i ? items_[i - 1].upto : 0); }

  // The index of one candidate. Requires !empty().
  size_t Draw(RandomSource& rng) const { return Find(rng.Unit() * total_); }
  // The index of a candidate other than `other`, drawn in proportion among
  // the rest: the point falls on the line without other's span, then skips
  // over that span. Requires size() >= 2.
  size_t DrawOther(RandomSource& rng, size_t other) const {
    const double w = weight(other);
    double point = rng.Unit() * (total_ - w);
    if (point >= items_[other].upto - w) point += w;
    return Find(point);
  }

 private:
  struct Item {
    Endpoint* endpoint;
    double upto;  // the weights of the candidates up to and including this one
  };

  // The candidate whose span [upto - weight, upto) holds `point`; the clamp
  // catches rounding onto the very end.
  size_t Find(double point) const {
    auto it = std::upper_bound(items_.begin(), items_.end(), point,
                               [](double p, const Item& item) { return p < item.upto; });
    return std::min(static_cast<size_t>(it - items_.begin()), items_.size() - 1);
  }

  std::vector<Item> items_;
  double total_ = 0;
};

}  // namespace harpc
