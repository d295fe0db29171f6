#include "balance/least_time.h"

namespace harpc {

void LeastTime::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  for (const auto& e : endpoints) endpoints_.push_back(e.get());
}

Endpoint* LeastTime::Pick(const PickRequest& request) {
  double fastest = 0;  // the lowest latency known, 0 when none is
  for (const Endpoint* e : endpoints_) {
    const double latency = e->latency_us();
    if (latency > 0 && (fastest == 0 || latency < fastest)) fastest = latency;
  }
  // With no sample anywhere, weights and in-flight counts alone decide.
  if (fastest == 0) fastest = 1;

  draw_.Clear();
  for (Endpoint* e : endpoints_) {
    if (request.Skips(e)) continue;
    const double latency = e->latency_us() > 0 ? e->latency_us() : fastest;
    const double cost = latency * (e->in_flight() + 1);
    draw_.Add(e, static_cast<double>(e->EffectiveWeight(request.now)) / cost);
  }
  return draw_.Draw(rng_);
}

}  // namespace harpc
