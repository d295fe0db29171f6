#include "balance/weighted_round_robin.h"

namespace harpc {

void WeightedRoundRobin::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  std::vector<Slot> next;
  next.reserve(endpoints.size());
  for (const auto& e : endpoints) {
    int64_t current = 0;
    for (const Slot& old : slots_) {
      if (old.endpoint == e.get()) current = old.current;
    }
    next.push_back({e.get(), current});
  }
  slots_ = std::move(next);
}

Endpoint* WeightedRoundRobin::Pick(const PickRequest& request) {
  Slot* best = nullptr;
  int64_t total = 0;
  for (Slot& s : slots_) {
    if (request.Skips(s.endpoint)) continue;
    const int64_t w = s.endpoint->EffectiveWeight(request.now);
    s.current += w;
    total += w;
    if (!best || s.current > best->current) best = &s;
  }
  if (!best) return nullptr;
  best->current -= total;
  return best->endpoint;
}

}  // namespace harpc
