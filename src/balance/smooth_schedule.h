// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The picks of smooth weighted round robin (nginx's: every pick adds each
// participant's weight to its running score, takes the highest score, lowest
// index on a tie, and takes the total weight off it), worked out ahead so
// that wrr can replay them at O(1) a pick instead of weighing every endpoint
// on every pick.
//
// From scores that sum to zero, as they do from the start, the sequence
// repeats every total / gcd(weights) picks, each slot's share exactly its
// weight's: weights 5,1,1 plan a a b a c a a. Scores carried over a change of
// participants (wrr keeps them, as nginx does) may start off that cycle; the
// first period then differs from the next, and the plan says so (cyclic()).
//
// Planning simulates the period with one queue per distinct weight: within a
// weight the order by score changes only for the slot just picked, so a step
// compares the queues' heads and costs O(distinct weights), not O(slots).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace harpc {

class SmoothSchedule {
 public:
  // Memory: a plan holds at most this many picks (4 bytes each, 256 KiB).
  // Weights 1..5 over 1,000 endpoints plan 3,000 picks, 1..20 10,500.
  static constexpr size_t kMaxLength = size_t{1} << 16;
  // Time: a plan's picks × its distinct weights, ~1.5 ns each, stays under
  // this, so that planning takes at most ~2 ms. Weights 1..5 over 1,000
  // endpoints take 15,000 (~0.1 ms); 1..45 over 1,000 are about the most.
  static constexpr size_t kMaxWork = size_t{1} << 20;

  // Plans one period of picks among the slots of positive weight (the others
  // take no part and keep their scores) starting from `scores`, one per slot.
  // False, with nothing planned, when the period exceeds kMaxLength or
  // kMaxWork: the caller then picks the O(n) way.
  bool Plan(std::span<const int64_t> weights, std::span<const int64_t> scores);
  void Clear();

  bool planned() const { return planned_; }
  // The planned picks, as slot indices; none when no slot has weight.
  size_t size() const { return order_.size(); }
  uint32_t operator[](size_t i) const { return order_[i]; }
  // Whether the scores are back where they started after size() picks, so the
  // plan repeats for ever; otherwise it holds for one pass and must be redone
  // from the scores it leads to.
  bool cyclic() const { return cyclic_; }
  // Adds to `scores` (those the plan started from) what the first `picks`
  // planned picks did to them.
  void Advance(size_t picks, std::span<int64_t> scores) const;

 private:
  std::vector<int64_t> weights_;  // as planned, one per slot, 0 for those left out
  int64_t total_ = 0;
  std::vector<uint32_t> order_;
  bool cyclic_ = false;
  bool planned_ = false;
};

}  // namespace harpc
