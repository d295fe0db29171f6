// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/random_source.h"

namespace harpc {

void AliasTable::Build(const std::vector<double>& weights) {
  const size_t n = weights.size();
  columns_.assign(n, {1.0, 0});
  double total = 0;
  for (double w : weights) total += w;
  if (n == 0 || total <= 0) return;
  // Scaled so that a column holds 1: those under it borrow from those over it.
  std::vector<double> share(n);
  std::vector<uint32_t> under, over;
  for (size_t i = 0; i < n; ++i) {
    share[i] = weights[i] * static_cast<double>(n) / total;
    (share[i] < 1 ? under : over).push_back(static_cast<uint32_t>(i));
  }
  while (!under.empty() && !over.empty()) {
    const uint32_t small = under.back(), large = over.back();
    under.pop_back();
    columns_[small] = {share[small], large};
    share[large] -= 1 - share[small];
    if (share[large] < 1) {
      over.pop_back();
      under.push_back(large);
    }
  }
  // Whatever remains is 1 up to rounding: its columns keep their own index.
}

void WeightedSampler::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  std::vector<double> weights;
  for (const auto& e : endpoints) {
    endpoints_.push_back(e.get());
    weights.push_back(e->weight());
  }
  configured_.Build(weights);
}

}  // namespace harpc
