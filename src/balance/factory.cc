#include "balance/load_balancer.h"
#include "balance/round_robin.h"
#include "balance/weighted_round_robin.h"

namespace harpc {

Status MakeLoadBalancer(std::string_view name, std::unique_ptr<LoadBalancer>* out) {
  if (name == "wrr") {
    *out = std::make_unique<WeightedRoundRobin>();
  } else if (name == "rr") {
    *out = std::make_unique<RoundRobin>();
  } else {
    return InvalidArgument("unknown load balancer '" + std::string(name) + "' (available: wrr, rr)");
  }
  return Status::Ok();
}

}  // namespace harpc
