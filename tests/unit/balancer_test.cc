// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Load balancers (src/balance/): smooth weighted round robin (its plan too) and round robin.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balance/load_balancer.h"
#include "balance/rescan.h"
#include "balance/round_robin.h"
#include "balance/weighted_round_robin.h"
#include "health/endpoint.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

using Clock = Endpoint::Clock;
// Not Clock::time_point{}, which means "no slow start".
constexpr Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

// `n` picks at `now` as a string of endpoint names ('-' for nullptr), one letter each.
std::string PicksAt(LoadBalancer& lb, int n, Clock::time_point now,
                    const std::vector<const Endpoint*>* excluded = nullptr) {
  PickRequest request;
  request.now = now;
  request.excluded = excluded;
  std::string out;
  for (int i = 0; i < n; ++i) {
    Endpoint* e = lb.Pick(request);
    out += e ? e->address() : "-";
  }
  return out;
}

class BalancerTest : public ::testing::Test {
 protected:
  // Endpoint "name" on 127.0.0.1:port with a weight, healthy; no connection is made.
  std::shared_ptr<Endpoint> Make(const std::string& name, int weight) {
    const auto port = static_cast<unsigned short>(9000 + endpoints_made_++);
    asio::ip::tcp::endpoint resolved(asio::ip::make_address("127.0.0.1"), port);
    // No joined_at: a channel's initial endpoint, without slow start.
    return std::make_shared<Endpoint>(EndpointSpec{name, weight}, resolved, io_.get_executor(), policy_);
  }

  // `n` picks now.
  static std::string Picks(LoadBalancer& lb, int n, const std::vector<const Endpoint*>* excluded = nullptr) {
    return PicksAt(lb, n, Clock::now(), excluded);
  }

  asio::io_context io_;
  EndpointPolicy policy_;  // endpoints keep a reference: declared before them
  int endpoints_made_ = 0;
};

// ---- wrr ----

TEST_F(BalancerTest, WrrSpreadsWeights511AsNginxDoes) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  EXPECT_EQ(Picks(lb, 7), "aabacaa");
  EXPECT_EQ(Picks(lb, 7), "aabacaa");
  EXPECT_EQ(Picks(lb, 14), "aabacaaaabacaa");
}

TEST_F(BalancerTest, WrrSharesAreExactOverWholeCycles) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  std::map<char, int> counts;
  for (char ch : Picks(lb, 7000)) counts[ch]++;
  EXPECT_EQ(counts['a'], 5000);
  EXPECT_EQ(counts['b'], 1000);
  EXPECT_EQ(counts['c'], 1000);
  EXPECT_EQ(counts.size(), 3u);
}

TEST_F(BalancerTest, WrrSharesFollowUnevenWeights) {
  auto a = Make("a", 3), b = Make("b", 2), c = Make("c", 7), d = Make("d", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c, d});
  std::map<char, int> counts;
  for (char ch : Picks(lb, 13 * 500)) counts[ch]++;
  EXPECT_EQ(counts['a'], 1500);
  EXPECT_EQ(counts['b'], 1000);
  EXPECT_EQ(counts['c'], 3500);
  EXPECT_EQ(counts['d'], 500);
  // Smooth: the heavy endpoint is never picked more than twice in a row here.
  EXPECT_EQ(Picks(lb, 13).find("ccc"), std::string::npos);
}

TEST_F(BalancerTest, WrrEqualWeightsAlternate) {
  auto a = Make("a", 2), b = Make("b", 2);
  WeightedRoundRobin lb;
  lb.Update({a, b});
  EXPECT_EQ(Picks(lb, 6), "ababab");
}

TEST_F(BalancerTest, WrrNeverPicksExcludedWhileOthersAreAvailable) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  std::vector<const Endpoint*> excluded = {a.get()};
  std::string picks = Picks(lb, 100, &excluded);
  EXPECT_EQ(picks.find('a'), std::string::npos) << picks;
  EXPECT_EQ(picks.find('-'), std::string::npos) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'b'), 50) << picks;

  excluded = {a.get(), c.get()};
  EXPECT_EQ(Picks(lb, 10, &excluded), std::string(10, 'b'));
}

TEST_F(BalancerTest, WrrGivesNullWhenAllAreExcluded) {
  auto a = Make("a", 5), b = Make("b", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b});
  std::vector<const Endpoint*> excluded = {b.get(), a.get()};
  EXPECT_EQ(Picks(lb, 3, &excluded), "---");
  // Picking with everything excluded changed nothing: the cycle goes on.
  WeightedRoundRobin fresh;
  fresh.Update({a, b});
  EXPECT_EQ(Picks(lb, 12), Picks(fresh, 12));
}

TEST_F(BalancerTest, WrrWithNoEndpointsGivesNull) {
  WeightedRoundRobin lb;
  EXPECT_EQ(Picks(lb, 2), "--");
  lb.Update({});
  EXPECT_EQ(Picks(lb, 2), "--");
}

TEST_F(BalancerTest, WrrUpdateKeepsTheStateOfEndpointsThatStay) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  EXPECT_EQ(Picks(lb, 3), "aab");  // scores now a=1 b=-4 c=3

  // The same membership again: nothing changes, the cycle continues.
  lb.Update({a, b, c});
  EXPECT_EQ(Picks(lb, 4), "acaa");
  EXPECT_EQ(Picks(lb, 7), "aabacaa");

  EXPECT_EQ(Picks(lb, 3), "aab");  // a=1 b=-4 c=3 again
  // b leaves: a and c keep their scores (1 and 3), which gives a a c; a reset
  // to zero would give a a a c.
  lb.Update({a, c});
  EXPECT_EQ(Picks(lb, 3), "aac");
}

TEST_F(BalancerTest, WrrNewcomerStartsFromZero) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b});
  EXPECT_EQ(Picks(lb, 1), "a");  // a=-1 b=1
  lb.Update({a, b, c});          // c joins with 0
  // Scores +1 each: a=0 b=2 c=1 -> b; then a=1 b=-1 c=2 -> c; then a=2 b=0 c=0 -> a.
  EXPECT_EQ(Picks(lb, 3), "bca");
  std::map<char, int> counts;
  for (char ch : Picks(lb, 300)) counts[ch]++;
  EXPECT_EQ(counts['a'], 100);
  EXPECT_EQ(counts['b'], 100);
  EXPECT_EQ(counts['c'], 100);
}

TEST_F(BalancerTest, WrrRemovedEndpointIsNeverPickedAgain) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  Picks(lb, 5);
  lb.Update({b, c});
  std::string picks = Picks(lb, 20);
  EXPECT_EQ(picks.find('a'), std::string::npos) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'b'), 10) << picks;
}

// ---- wrr's plan: the same picks at O(1), redone when the endpoints move ----

// nginx's algorithm as written, over endpoints and their scores: what wrr
// must pick while nothing moves.
class LiteralWrr final : public LoadBalancer {
 public:
  void Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) override {
    std::vector<std::pair<Endpoint*, int64_t>> next;
    for (const auto& e : endpoints) {
      int64_t score = 0;
      for (const auto& [old, kept] : slots_) score = old == e.get() ? kept : score;
      next.emplace_back(e.get(), score);
    }
    slots_ = std::move(next);
  }
  Endpoint* Pick(const PickRequest& request) override {
    std::pair<Endpoint*, int64_t>* best = nullptr;
    int64_t total = 0;
    for (auto& slot : slots_) {
      if (request.Skips(slot.first)) continue;
      const int64_t w = slot.first->EffectiveWeight(request.now);
      slot.second += w;
      total += w;
      if (!best || slot.second > best->second) best = &slot;
    }
    if (!best) return nullptr;
    best->second -= total;
    return best->first;
  }

 private:
  std::vector<std::pair<Endpoint*, int64_t>> slots_;
};

void MakeUnhealthy(Endpoint& e, Clock::time_point at) {
  e.heartbeat().OnProbe(ProbeResult::kFailed, at);
  e.heartbeat().OnProbe(ProbeResult::kFailed, at);  // fall = 2
  ASSERT_FALSE(e.Selectable(at));
}
void MakeHealthy(Endpoint& e, Clock::time_point at) {
  e.heartbeat().OnProbe(ProbeResult::kServing, at);
  e.heartbeat().OnProbe(ProbeResult::kServing, at);  // rise = 2
  ASSERT_TRUE(e.Selectable(at));
}

TEST_F(BalancerTest, WrrPicksWhatTheLiteralAlgorithmPicksAcrossMembershipChanges) {
  const std::string names = "abcdefghijkl";
  const int weights[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};  // 52 a cycle
  std::vector<std::shared_ptr<Endpoint>> all;
  for (size_t i = 0; i < names.size(); ++i) all.push_back(Make(names.substr(i, 1), weights[i]));
  WeightedRoundRobin lb;
  LiteralWrr literal;
  lb.Update(all);
  literal.Update(all);
  EXPECT_EQ(PicksAt(lb, 3 * 52 + 7, kT0), PicksAt(literal, 3 * 52 + 7, kT0));

  // Scores carried over a change, as the literal algorithm carries them.
  std::vector<std::shared_ptr<Endpoint>> fewer = {all[0], all[2], all[5], all[7], all[11]};
  fewer.push_back(Make("m", 2));
  lb.Update(fewer);
  literal.Update(fewer);
  EXPECT_EQ(PicksAt(lb, 500, kT0), PicksAt(literal, 500, kT0));
  lb.Update(all);
  literal.Update(all);
  EXPECT_EQ(PicksAt(lb, 500, kT0), PicksAt(literal, 500, kT0));
}

TEST_F(BalancerTest, WrrLeavesAnUnselectableEndpointOutAtOnceAndTakesItBackWithinARescan) {
  policy_.slow_start = std::chrono::milliseconds(0);  // back at full weight at once
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  EXPECT_EQ(PicksAt(lb, 7, kT0), "aabacaa");

  // Down between two picks, at the same instant: never picked, and the others
  // share its turns by their weights.
  MakeUnhealthy(*b, kT0);
  std::string picks = PicksAt(lb, 600, kT0);
  EXPECT_EQ(picks.find('b'), std::string::npos);
  EXPECT_NEAR(std::count(picks.begin(), picks.end(), 'a'), 500, 2);

  MakeHealthy(*b, kT0);
  const auto later = kT0 + Rescan::kInterval;
  picks = PicksAt(lb, 7, later);
  EXPECT_NE(picks.find('b'), std::string::npos) << picks;
  std::map<char, int> counts;
  for (char ch : PicksAt(lb, 7000, later)) counts[ch]++;
  EXPECT_NEAR(counts['a'], 5000, 2);
  EXPECT_NEAR(counts['b'], 1000, 2);
  EXPECT_NEAR(counts['c'], 1000, 2);
}

// An endpoint whose time-limited unselectability runs out (its ejection ends)
// comes back without any event: the rescan finds it.
TEST_F(BalancerTest, WrrTakesBackAnEndpointWhoseEjectionRanOut) {
  policy_.slow_start = std::chrono::milliseconds(0);
  policy_.outlier.consecutive_failures = 1;
  auto a = Make("a", 1), b = Make("b", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b});
  EXPECT_EQ(PicksAt(lb, 4, kT0), "abab");
  ASSERT_TRUE(b->outlier().OnResult(false, kT0, true));
  const auto until = b->outlier().ejected_until();
  ASSERT_GT(until, kT0);
  EXPECT_EQ(PicksAt(lb, 4, kT0), "aaaa");
  EXPECT_EQ(PicksAt(lb, 4, until - std::chrono::milliseconds(1)), "aaaa");
  const std::string picks = PicksAt(lb, 10, until + Rescan::kInterval);
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'b'), 5) << picks;
}

// Readmission starts a slow start, picked the exact O(n) way while it lasts;
// once over, the plan takes back.
TEST_F(BalancerTest, WrrRampsUpAReadmittedEndpoint) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  MakeUnhealthy(*c, kT0 - std::chrono::minutes(1));
  EXPECT_EQ(PicksAt(lb, 4, kT0 - std::chrono::seconds(30)), "abab");
  MakeHealthy(*c, kT0);  // slow start from kT0: 10 % of its weight, up to 100 % at kT0 + 5 s
  auto share = [&](Clock::time_point now) {
    const std::string picks = PicksAt(lb, 21000, now);
    return std::count(picks.begin(), picks.end(), 'c') / 21000.0;
  };
  EXPECT_NEAR(share(kT0), 100.0 / 2100, 0.005);
  EXPECT_NEAR(share(kT0 + std::chrono::milliseconds(2500)), 550.0 / 2550, 0.005);
  EXPECT_NEAR(share(kT0 + std::chrono::seconds(5)), 1.0 / 3, 0.001);
}

// Exclusions holding most of the weight fill more turns than a pick looks
// through: the exact algorithm answers, and the plan is made again after.
TEST_F(BalancerTest, WrrRetryExcludingMostOfTheWeightStillFindsTheRest) {
  auto a = Make("a", 100), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  const std::vector<const Endpoint*> excluded = {a.get()};
  const std::string picks = PicksAt(lb, 200, kT0, &excluded);
  EXPECT_EQ(picks.find('a'), std::string::npos);
  EXPECT_EQ(picks.find('-'), std::string::npos);
  EXPECT_NEAR(std::count(picks.begin(), picks.end(), 'b'), 100, 1);

  std::map<char, int> counts;
  for (char ch : PicksAt(lb, 102 * 20, kT0)) counts[ch]++;
  EXPECT_NEAR(counts['a'], 2000, 2);
  EXPECT_NEAR(counts['b'], 20, 2);
  EXPECT_NEAR(counts['c'], 20, 2);
}

TEST_F(BalancerTest, WrrFollowsAWeightChange) {
  auto a = Make("a", 1), b = Make("b", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b});
  EXPECT_EQ(PicksAt(lb, 4, kT0), "abab");
  a->set_weight(3);
  lb.Update({a, b});  // as the channel does
  std::map<char, int> counts;
  for (char ch : PicksAt(lb, 4000, kT0)) counts[ch]++;
  EXPECT_NEAR(counts['a'], 3000, 2);
  EXPECT_NEAR(counts['b'], 1000, 2);
}

// The plan refers to endpoints by position, not by pointer: after a change
// it never hands out one that left (ASan would see it: they are freed).
TEST_F(BalancerTest, WrrKeepsNoPointerToEndpointsThatLeft) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  PicksAt(lb, 3, kT0);
  auto b2 = Make("b", 1);  // the same address, a new object (a resolver refresh)
  lb.Update({b2, c});
  a.reset();
  b.reset();
  std::map<const Endpoint*, int> counts;
  PickRequest request;
  request.now = kT0;
  for (int i = 0; i < 100; ++i) counts[lb.Pick(request)]++;
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[b2.get()], 50, 2);  // c's score carried over: a pick ahead
  EXPECT_NEAR(counts[c.get()], 50, 2);
}

// ---- rr ----

TEST_F(BalancerTest, RoundRobinCyclesAndIgnoresWeights) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  RoundRobin lb;
  lb.Update({a, b, c});
  EXPECT_EQ(Picks(lb, 9), "abcabcabc");
}

TEST_F(BalancerTest, RoundRobinSkipsExcluded) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  RoundRobin lb;
  lb.Update({a, b, c});
  std::vector<const Endpoint*> excluded = {b.get()};
  std::string picks = Picks(lb, 8, &excluded);
  EXPECT_EQ(picks.find('b'), std::string::npos) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'a'), 4) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'c'), 4) << picks;

  excluded = {a.get(), b.get(), c.get()};
  EXPECT_EQ(Picks(lb, 2, &excluded), "--");
}

TEST_F(BalancerTest, RoundRobinWithNoEndpointsGivesNull) {
  RoundRobin lb;
  EXPECT_EQ(Picks(lb, 2), "--");
  auto a = Make("a", 1);
  lb.Update({a});
  EXPECT_EQ(Picks(lb, 3), "aaa");
  lb.Update({});
  EXPECT_EQ(Picks(lb, 1), "-");
}

TEST_F(BalancerTest, RoundRobinFollowsMembership) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  RoundRobin lb;
  lb.Update({a, b});
  EXPECT_EQ(Picks(lb, 4), "abab");
  lb.Update({a, b, c});
  std::string picks = Picks(lb, 6);
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'a'), 2) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'b'), 2) << picks;
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 'c'), 2) << picks;
}

// ---- factory ----

TEST_F(BalancerTest, FactoryKnowsWrrAndRr) {
  std::unique_ptr<LoadBalancer> lb;
  ASSERT_TRUE(MakeLoadBalancer("wrr", &lb).ok());
  EXPECT_NE(dynamic_cast<WeightedRoundRobin*>(lb.get()), nullptr);
  ASSERT_TRUE(MakeLoadBalancer("rr", &lb).ok());
  EXPECT_NE(dynamic_cast<RoundRobin*>(lb.get()), nullptr);

  Status s = MakeLoadBalancer("nope", &lb);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown load balancer 'nope'"));
  EXPECT_THAT(s.message(), HasSubstr("wrr"));
}

}  // namespace
}  // namespace harpc
