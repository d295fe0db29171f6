// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/smooth_schedule.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <numeric>

namespace harpc {
namespace {

// A participant as the simulation sees it: after `step` picks' worth of
// additions its score is base + step × weight, so only a pick moves base.
struct Runner {
  int64_t base;
  uint32_t slot;
};

// The participants of one weight in the order they would be picked: the
// higher score first, the lower slot on a tie, as the literal scan keeps the
// first of equal scores. Their scores grow alike, so only a pick reorders
// them, and the one picked, down by the total, goes behind every other (on
// the cycle they are all within one total of each other): found from the
// back, the insertion costs O(1) there, more only while carried scores are
// still far apart.
struct Lane {
  int64_t weight;
  std::deque<Runner> queue;

  static bool Ahead(const Runner& a, const Runner& b) {
    return a.base > b.base || (a.base == b.base && a.slot < b.slot);
  }

  void Requeue(Runner r) {
    auto at = queue.end();
    while (at != queue.begin() && Ahead(r, *std::prev(at))) --at;
    queue.insert(at, r);
  }
};

}  // namespace

bool SmoothSchedule::Plan(std::span<const int64_t> weights, std::span<const int64_t> scores) {
  Clear();
  std::map<int64_t, std::vector<Runner>> by_weight;
  int64_t total = 0, divisor = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    total += weights[i];
    divisor = std::gcd(divisor, weights[i]);
    by_weight[weights[i]].push_back({scores[i], static_cast<uint32_t>(i)});
  }
  const size_t length = divisor == 0 ? 0 : static_cast<size_t>(total / divisor);
  if (length > kMaxLength || length * by_weight.size() > kMaxWork) return false;

  std::vector<Lane> lanes;
  lanes.reserve(by_weight.size());
  for (auto& [weight, runners] : by_weight) {
    std::sort(runners.begin(), runners.end(), Lane::Ahead);
    lanes.push_back({weight, std::deque<Runner>(runners.begin(), runners.end())});
  }
  order_.reserve(length);
  for (int64_t step = 1; step <= static_cast<int64_t>(length); ++step) {
    Lane* best = &lanes.front();
    int64_t best_score = best->queue.front().base + step * best->weight;
    for (Lane& lane : lanes) {
      const Runner& head = lane.queue.front();
      const int64_t score = head.base + step * lane.weight;
      if (score > best_score || (score == best_score && head.slot < best->queue.front().slot)) {
        best = &lane;
        best_score = score;
      }
    }
    Runner picked = best->queue.front();
    best->queue.pop_front();
    order_.push_back(picked.slot);
    picked.base -= total;
    best->Requeue(picked);
  }

  cyclic_ = true;
  for (const Lane& lane : lanes) {
    for (const Runner& r : lane.queue) {
      if (r.base + static_cast<int64_t>(length) * lane.weight != scores[r.slot]) cyclic_ = false;
    }
  }
  weights_.resize(weights.size());
  std::transform(weights.begin(), weights.end(), weights_.begin(), [](int64_t w) { return std::max<int64_t>(w, 0); });
  total_ = total;
  planned_ = true;
  return true;
}

void SmoothSchedule::Clear() {
  order_.clear();
  planned_ = false;
}

void SmoothSchedule::Advance(size_t picks, std::span<int64_t> scores) const {
  std::vector<int64_t> picked(weights_.size(), 0);
  for (size_t i = 0; i < picks; ++i) ++picked[order_[i]];
  for (size_t s = 0; s < weights_.size(); ++s) {
    if (weights_[s] > 0) scores[s] += static_cast<int64_t>(picks) * weights_[s] - total_ * picked[s];
  }
}

}  // namespace harpc
