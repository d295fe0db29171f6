#include "balance/power_of_two.h"

namespace harpc {

void PowerOfTwo::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  for (const auto& e : endpoints) endpoints_.push_back(e.get());
}

Endpoint* PowerOfTwo::Pick(const PickRequest& request) {
  draw_.AddByWeight(endpoints_, request);
  if (draw_.empty()) return nullptr;
  const size_t first = draw_.Draw(rng_);
  if (draw_.size() == 1) return draw_.endpoint(first);
  const size_t second = draw_.DrawOther(rng_, first);
  // in_flight / weight compared by cross-multiplying: no division, and a
  // weight-3 endpoint with 3 calls is as busy as a weight-1 one with 1.
  const double first_load = draw_.endpoint(first)->in_flight() * draw_.weight(second);
  const double second_load = draw_.endpoint(second)->in_flight() * draw_.weight(first);
  return draw_.endpoint(second_load < first_load ? second : first);
}

}  // namespace harpc
