// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// ns per LoadBalancer::Pick for every policy, at 3, 100 and 1,000 endpoints, all
// healthy and fully admitted, nothing excluded: the cost every call pays.
// The pick time is fixed (the channel reads the clock once per call anyway),
// so the numbers are the policy's own. Also what a membership change costs
// once: the hash policy's table build, and wrr's plan (which a health change
// costs too).
//
//   build/bench/micro/pick_bench [--benchmark_filter=p2c]
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include "balance/consistent_hash.h"
#include "balance/load_balancer.h"
#include "health/endpoint.h"
#include "util/hash.h"

namespace harpc {
namespace {

namespace asio = boost::asio;

// n endpoints with weights 1..5 and latencies 0.2..1.2 ms, as least_time sees
// them after some traffic.
struct Cluster {
  explicit Cluster(int n) {
    for (int i = 0; i < n; ++i) {
      asio::ip::tcp::endpoint resolved(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(9000 + i));
      auto e = std::make_shared<Endpoint>(EndpointSpec{"10.0.0." + std::to_string(i) + ":8000", 1 + i % 5}, resolved,
                                          io.get_executor(), policy);
      e->RecordLatency(std::chrono::microseconds(200 + 100 * (i % 11)), now);
      endpoints.push_back(std::move(e));
    }
  }
  EndpointPolicy policy;  // outlives the endpoints, which refer to it
  asio::io_context io;
  Endpoint::Clock::time_point now = Endpoint::Clock::now();
  std::vector<std::shared_ptr<Endpoint>> endpoints;
};

void BM_Pick(benchmark::State& state, const char* policy) {
  Cluster cluster(static_cast<int>(state.range(0)));
  std::unique_ptr<LoadBalancer> lb;
  if (!MakeLoadBalancer(policy, &lb).ok()) {
    state.SkipWithError("unknown policy");
    return;
  }
  lb->Update(cluster.endpoints);
  PickRequest request;
  request.now = cluster.now;
  uint64_t key = 0;
  for (auto _ : state) {
    request.hash = Mix64(++key);  // a new key per call; ignored but by hash
    benchmark::DoNotOptimize(lb->Pick(request));
  }
}

BENCHMARK_CAPTURE(BM_Pick, wrr, "wrr")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, rr, "rr")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, least_time, "least_time")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, p2c, "p2c")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, random, "random")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, hash, "hash")->Arg(3)->Arg(100)->Arg(1000);

// Building the Maglev table: what Update costs the hash policy when membership changes.
void BM_HashBuild(benchmark::State& state) {
  Cluster one(static_cast<int>(state.range(0)));
  Cluster other(static_cast<int>(state.range(0)) + 1);  // alternate, so that each Update rebuilds
  ConsistentHash lb;
  bool flip = false;
  for (auto _ : state) {
    lb.Update((flip = !flip) ? one.endpoints : other.endpoints);
  }
}
BENCHMARK(BM_HashBuild)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

// Update and the first pick after it, which plans a period of picks
// (weights 1..5: 3 picks an endpoint).
void BM_WrrPlan(benchmark::State& state) {
  Cluster one(static_cast<int>(state.range(0)));
  Cluster other(static_cast<int>(state.range(0)) + 1);  // alternate, so that each Update replans
  std::unique_ptr<LoadBalancer> lb;
  if (!MakeLoadBalancer("wrr", &lb).ok()) {
    state.SkipWithError("unknown policy");
    return;
  }
  PickRequest request;
  request.now = one.now;
  bool flip = false;
  for (auto _ : state) {
    lb->Update((flip = !flip) ? one.endpoints : other.endpoints);
    benchmark::DoNotOptimize(lb->Pick(request));
  }
}
BENCHMARK(BM_WrrPlan)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace harpc
