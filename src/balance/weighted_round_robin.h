// wrr: smooth weighted round robin, as nginx does it. Each pick adds every
// endpoint's weight to its running score, takes the highest score and takes
// the total weight off it. Weights 5,1,1 give a a b a c a a, spread out
// rather than bunched.
#pragma once

#include <unordered_map>

#include "balance/load_balancer.h"

namespace harpc {

class WeightedRoundRobin final : public LoadBalancer {
 public:
  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override;
  Endpoint* Pick(const PickRequest& request) override;

 private:
  struct Slot {
    Endpoint* endpoint;
    int64_t current;  // running score; kept across membership changes
  };
  std::vector<Slot> slots_;
};

}  // namespace harpc
