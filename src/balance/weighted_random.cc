#include "balance/weighted_random.h"

namespace harpc {

void WeightedRandom::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  for (const auto& e : endpoints) endpoints_.push_back(e.get());
}

Endpoint* WeightedRandom::Pick(const PickRequest& request) {
  // Weights change under slow start and health changes the candidates, so
  // the cumulative weights are rebuilt per pick: O(n), no stale state.
  draw_.AddByWeight(endpoints_, request);
  if (draw_.empty()) return nullptr;
  return draw_.endpoint(draw_.Draw(rng_));
}

}  // namespace harpc
