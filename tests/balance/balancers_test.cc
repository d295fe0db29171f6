// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Load-balancing policies (src/balance/): wrr, rr, least_time, p2c, random and
// hash. Deterministic: the randomised policies get fixed seeds, and time is
// injected through PickRequest::now and Endpoint::RecordLatency.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balance/consistent_hash.h"
#include "balance/least_time.h"
#include "balance/load_balancer.h"
#include "balance/power_of_two.h"
#include "balance/round_robin.h"
#include "balance/weighted_random.h"
#include "balance/weighted_round_robin.h"
#include "health/endpoint.h"
#include "util/hash.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = Endpoint::Clock;
using Endpoints = std::vector<std::shared_ptr<Endpoint>>;

// Any fixed instant will do, but not Clock::time_point{}, which means "no slow start".
constexpr Clock::time_point kT0 = Clock::time_point{} + 1h;
constexpr uint64_t kSeed = 42;

// The policies under a name, with a fixed seed where they draw at random.
std::unique_ptr<LoadBalancer> MakePolicy(std::string_view name) {
  if (name == "wrr") return std::make_unique<WeightedRoundRobin>();
  if (name == "rr") return std::make_unique<RoundRobin>();
  if (name == "least_time") return std::make_unique<LeastTime>(kSeed);
  if (name == "p2c") return std::make_unique<PowerOfTwo>(kSeed);
  if (name == "random") return std::make_unique<WeightedRandom>(kSeed);
  if (name == "hash") return std::make_unique<ConsistentHash>(kSeed);
  ADD_FAILURE() << "no policy " << name;
  return nullptr;
}

// The key of the i-th call of a run: distinct and non-zero (0 means "no key").
uint64_t Key(int i) { return Mix64(static_cast<uint64_t>(i) + 1); }

PickRequest Request(Clock::time_point now = kT0) {
  PickRequest request;
  request.now = now;
  return request;
}

class BalancersTest : public ::testing::Test {
 protected:
  // An endpoint named `address` (balancers and hash read only the name); no
  // connection is ever made.
  std::shared_ptr<Endpoint> Make(const std::string& address, int weight, Clock::time_point joined_at = {}) {
    const auto port = static_cast<unsigned short>(9000 + made_++);
    asio::ip::tcp::endpoint resolved(asio::ip::make_address("127.0.0.1"), port);
    return std::make_shared<Endpoint>(EndpointSpec{address, weight}, resolved, io_.get_executor(), policy_, joined_at);
  }

  static void MakeUnhealthy(Endpoint& e, Clock::time_point at) {
    e.heartbeat().OnProbe(ProbeResult::kFailed, at);
    e.heartbeat().OnProbe(ProbeResult::kFailed, at);  // fall = 2
    ASSERT_FALSE(e.heartbeat().healthy());
  }
  static void MakeHealthy(Endpoint& e, Clock::time_point at) {
    e.heartbeat().OnProbe(ProbeResult::kServing, at);
    e.heartbeat().OnProbe(ProbeResult::kServing, at);  // rise = 2
    ASSERT_TRUE(e.heartbeat().healthy());
  }

  // `n` picks at `request` (its hash varied per pick), as a string of
  // endpoint addresses ('-' for none); for one-letter addresses.
  static std::string Sequence(LoadBalancer& lb, int n, PickRequest request = Request()) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      request.hash = Key(i);
      Endpoint* e = lb.Pick(request);
      out += e ? e->address() : "-";
    }
    return out;
  }

  // Each endpoint's share of `n` picks, by address ("-" for none).
  static std::map<std::string, double> Shares(LoadBalancer& lb, int n, PickRequest request = Request()) {
    std::map<std::string, double> shares;
    for (int i = 0; i < n; ++i) {
      request.hash = Key(i);
      Endpoint* e = lb.Pick(request);
      shares[e ? e->address() : "-"] += 1.0 / n;
    }
    return shares;
  }

  // Must outlive the endpoints, which keep a reference to it: declared first.
  EndpointPolicy policy_;
  asio::io_context io_;
  int made_ = 0;
};

// ---- properties every policy has ----------------------------------------------

class EveryPolicyTest : public BalancersTest, public ::testing::WithParamInterface<const char*> {};

INSTANTIATE_TEST_SUITE_P(Balancers, EveryPolicyTest,
                         ::testing::Values("wrr", "rr", "least_time", "p2c", "random", "hash"),
                         [](const auto& test) { return std::string(test.param); });

TEST_P(EveryPolicyTest, FactoryKnowsIt) {
  std::unique_ptr<LoadBalancer> lb;
  EXPECT_TRUE(MakeLoadBalancer(GetParam(), &lb).ok());
  EXPECT_NE(lb, nullptr);
}

TEST_P(EveryPolicyTest, NoEndpointsGivesNullptr) {
  auto lb = MakePolicy(GetParam());
  EXPECT_EQ(Sequence(*lb, 3), "---");
  lb->Update({});
  EXPECT_EQ(Sequence(*lb, 3), "---");
}

TEST_P(EveryPolicyTest, ExcludedNeverPickedWhileAnotherIsAvailable) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  auto lb = MakePolicy(GetParam());
  lb->Update({a, b, c});
  const std::vector<const Endpoint*> tried = {a.get()};
  PickRequest request = Request();
  request.excluded = &tried;
  auto shares = Shares(*lb, 2000, request);
  EXPECT_EQ(shares.count("a"), 0u);
  EXPECT_EQ(shares.count("-"), 0u);
  EXPECT_GT(shares["b"], 0.2);
  EXPECT_GT(shares["c"], 0.2);
}

TEST_P(EveryPolicyTest, NullptrWhenEverythingIsSkipped) {
  auto a = Make("a", 1), b = Make("b", 2), c = Make("c", 3);
  auto lb = MakePolicy(GetParam());
  lb->Update({a, b, c});
  const std::vector<const Endpoint*> all = {a.get(), b.get(), c.get()};
  PickRequest request = Request();
  request.excluded = &all;
  EXPECT_EQ(Sequence(*lb, 20, request), std::string(20, '-'));

  // Excluded or unhealthy: skipped either way.
  const std::vector<const Endpoint*> just_a = {a.get()};
  request.excluded = &just_a;
  MakeUnhealthy(*b, kT0);
  MakeUnhealthy(*c, kT0);
  EXPECT_EQ(Sequence(*lb, 20, request), std::string(20, '-'));
}

TEST_P(EveryPolicyTest, PanicModePicksUnhealthyEndpoints) {
  auto a = Make("a", 1), b = Make("b", 1);
  auto lb = MakePolicy(GetParam());
  lb->Update({a, b});
  MakeUnhealthy(*b, kT0 - 1min);  // long enough ago that its slow start is over

  auto shares = Shares(*lb, 2000);
  EXPECT_EQ(shares.count("b"), 0u);
  EXPECT_NEAR(shares["a"], 1.0, 1e-9);

  PickRequest panic = Request();
  panic.honour_health = false;
  shares = Shares(*lb, 2000, panic);
  EXPECT_GT(shares["a"], 0.3);
  EXPECT_GT(shares["b"], 0.3);

  MakeUnhealthy(*a, kT0 - 1min);
  EXPECT_EQ(Sequence(*lb, 10), "----------");
  EXPECT_EQ(Sequence(*lb, 10, panic).find('-'), std::string::npos);
}

TEST_P(EveryPolicyTest, UpdateKeepsWorkingAcrossMembershipChanges) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  auto lb = MakePolicy(GetParam());
  lb->Update({a, b});
  EXPECT_EQ(Shares(*lb, 1000).count("c"), 0u);
  lb->Update({b, c});
  auto shares = Shares(*lb, 1000);
  EXPECT_EQ(shares.count("a"), 0u);
  EXPECT_GT(shares["b"], 0.3);
  EXPECT_GT(shares["c"], 0.3);
}

TEST(BalancersFactoryTest, UnknownNameListsTheAvailableOnes) {
  std::unique_ptr<LoadBalancer> lb;
  Status s = MakeLoadBalancer("fastest", &lb);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("wrr, least_time, p2c, random, hash, rr"));
}

// ---- weighted shares ------------------------------------------------------------

// Weights 5,1,1 over 100,000 picks: each share within 1 % of weight / total.
void ExpectWeightedShares(const std::map<std::string, double>& shares) {
  EXPECT_NEAR(shares.at("a"), 5.0 / 7, 0.01);
  EXPECT_NEAR(shares.at("b"), 1.0 / 7, 0.01);
  EXPECT_NEAR(shares.at("c"), 1.0 / 7, 0.01);
}

TEST_F(BalancersTest, WrrSpreads511AsNginxDoes) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  EXPECT_EQ(Sequence(lb, 7), "aabacaa");
  EXPECT_EQ(Sequence(lb, 14), "aabacaaaabacaa");
  ExpectWeightedShares(Shares(lb, 100000));
}

TEST_F(BalancersTest, RandomSharesFollowWeights) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  WeightedRandom lb(kSeed);
  lb.Update({a, b, c});
  ExpectWeightedShares(Shares(lb, 100000));
}

TEST_F(BalancersTest, P2cWithNothingInFlightSharesByWeight) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  PowerOfTwo lb(kSeed);
  lb.Update({a, b, c});
  ExpectWeightedShares(Shares(lb, 100000));
}

TEST_F(BalancersTest, LeastTimeWithEqualLatenciesSharesByWeight) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  for (auto* e : {a.get(), b.get(), c.get()}) e->RecordLatency(1ms, kT0);
  LeastTime lb(kSeed);
  lb.Update({a, b, c});
  ExpectWeightedShares(Shares(lb, 100000));
}

TEST_F(BalancersTest, RandomAndP2cFollowUnevenWeights) {
  auto a = Make("a", 1), b = Make("b", 2), c = Make("c", 3), d = Make("d", 4);
  for (const char* name : {"random", "p2c"}) {
    auto lb = MakePolicy(name);
    lb->Update({a, b, c, d});
    auto shares = Shares(*lb, 100000);
    EXPECT_NEAR(shares["a"], 0.1, 0.01) << name;
    EXPECT_NEAR(shares["b"], 0.2, 0.01) << name;
    EXPECT_NEAR(shares["c"], 0.3, 0.01) << name;
    EXPECT_NEAR(shares["d"], 0.4, 0.01) << name;
  }
}

// random and p2c draw by configured weight and reject what the pick skips;
// when that is most of the weight they weigh every endpoint instead. Either
// way the shares among the rest must stay exact.
TEST_F(BalancersTest, RandomAndP2cStayExactWhenMostWeightIsSkipped) {
  auto big = Make("g", 100), b = Make("b", 1), c = Make("c", 3);
  const std::vector<const Endpoint*> tried = {big.get()};
  PickRequest request = Request();
  request.excluded = &tried;
  for (const char* name : {"random", "p2c"}) {
    auto lb = MakePolicy(name);
    lb->Update({big, b, c});
    auto shares = Shares(*lb, 100000, request);
    EXPECT_EQ(shares.count("g"), 0u) << name;
    EXPECT_NEAR(shares["b"], 0.25, 0.01) << name;
    EXPECT_NEAR(shares["c"], 0.75, 0.01) << name;
  }
}

TEST_F(BalancersTest, SameSeedSameChoices) {
  auto a = Make("a", 5), b = Make("b", 1), c = Make("c", 1);
  for (const char* name : {"least_time", "p2c", "random"}) {
    auto one = MakePolicy(name), two = MakePolicy(name);
    one->Update({a, b, c});
    two->Update({a, b, c});
    EXPECT_EQ(Sequence(*one, 200), Sequence(*two, 200)) << name;
  }
}

// ---- slow start -------------------------------------------------------------------

// c joins at kT0: 10 % of its weight at first (100 against 1000 + 1000), all
// of it once the 5 s window has passed, and in between a linear ramp.
void ExpectSlowStart(LoadBalancer& lb, const std::function<std::map<std::string, double>(Clock::time_point)>& shares) {
  EXPECT_NEAR(shares(kT0)["c"], 100.0 / 2100, 0.01);
  EXPECT_NEAR(shares(kT0 + 2500ms)["c"], 550.0 / 2550, 0.01);
  EXPECT_NEAR(shares(kT0 + 5s)["c"], 1.0 / 3, 0.01);
  EXPECT_NEAR(shares(kT0 + 1h)["c"], 1.0 / 3, 0.01);
}

TEST_F(BalancersTest, WrrRampsUpANewEndpoint) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1, kT0);
  WeightedRoundRobin lb;
  lb.Update({a, b, c});
  ExpectSlowStart(lb, [&](Clock::time_point now) { return Shares(lb, 21000, Request(now)); });
}

TEST_F(BalancersTest, RandomRampsUpANewEndpoint) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1, kT0);
  WeightedRandom lb(kSeed);
  lb.Update({a, b, c});
  ExpectSlowStart(lb, [&](Clock::time_point now) { return Shares(lb, 100000, Request(now)); });
}

TEST_F(BalancersTest, P2cAndLeastTimeRampUpANewEndpointToo) {
  for (const char* name : {"p2c", "least_time"}) {
    auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1, kT0);
    auto lb = MakePolicy(name);
    lb->Update({a, b, c});
    EXPECT_LT(Shares(*lb, 20000, Request(kT0))["c"], 0.1) << name;
    EXPECT_NEAR(Shares(*lb, 20000, Request(kT0 + 5s))["c"], 1.0 / 3, 0.02) << name;
  }
}

// ---- least_time -------------------------------------------------------------------

TEST_F(BalancersTest, LeastTimeStarvesASlowEndpointAndLetsItRecover) {
  auto slow = Make("s", 1), a = Make("a", 1), b = Make("b", 1);
  LeastTime lb(kSeed);
  lb.Update({slow, a, b});
  // Each endpoint answers every 10 ms of simulated time; s takes 50 ms, the others 0.2 ms.
  Clock::time_point now = kT0;
  auto run = [&](Clock::duration d, std::chrono::microseconds slow_latency) {
    for (const auto end = now + d; now < end; now += 10ms) {
      slow->RecordLatency(slow_latency, now);
      a->RecordLatency(200us, now);
      b->RecordLatency(200us, now);
    }
  };
  run(1s, 200us);
  EXPECT_NEAR(Shares(lb, 10000, Request(now))["s"], 1.0 / 3, 0.02);

  // Within a second of slowing down it gets far less, but never nothing.
  run(1s, 50ms);
  const double starved = Shares(lb, 10000, Request(now))["s"];
  EXPECT_LT(starved, 0.05);
  run(5s, 50ms);
  const double trickle = Shares(lb, 100000, Request(now))["s"];
  EXPECT_LT(trickle, 0.01);
  EXPECT_GT(trickle, 0);

  // Once fast again, its share grows with the average's recovery: the 50 ms
  // past weighs e^-t/τ (τ = latency_decay, 1 s), so after 2 s the average is
  // still ~35× the others' and the share a few times the trickle, and after
  // ~10 τ it is back near 1/3.
  run(2s, 200us);
  EXPECT_GT(Shares(lb, 10000, Request(now))["s"], 5 * trickle);
  run(8s, 200us);
  EXPECT_NEAR(Shares(lb, 10000, Request(now))["s"], 1.0 / 3, 0.02);
}

TEST_F(BalancersTest, LeastTimeRecoversWithinTwoSecondsUnderAShortDecay) {
  policy_.latency_decay = 250ms;  // 2 s = 8 τ
  auto slow = Make("s", 1), a = Make("a", 1), b = Make("b", 1);
  LeastTime lb(kSeed);
  lb.Update({slow, a, b});
  for (auto* e : {slow.get(), a.get(), b.get()}) e->RecordLatency(200us, kT0);
  slow->RecordLatency(50ms, kT0 + 10s);
  EXPECT_LT(Shares(lb, 10000, Request(kT0 + 10s))["s"], 0.05);
  for (auto t = 10ms; t <= 2s; t += 10ms) slow->RecordLatency(200us, kT0 + 10s + t);
  EXPECT_NEAR(Shares(lb, 10000, Request(kT0 + 12s))["s"], 1.0 / 3, 0.03);
}

// A hedged channel cancels the attempts a slow endpoint is too slow to
// answer; each tells only that it took at least the hedge delay. Taken as
// samples, these bounds dragged a 400 ms endpoint's average down to ~5 ms and
// won it ~3 % of the calls, each paying the hedge delay (chaos.slow_lossy_endpoint).
TEST_F(BalancersTest, LeastTimeKeepsStarvingASlowEndpointThatLosesHedgeRaces) {
  auto slow = Make("s", 1), a = Make("a", 1), b = Make("b", 1);
  LeastTime lb(kSeed);
  lb.Update({slow, a, b});
  slow->RecordLatency(400ms, kT0);
  Clock::time_point now = kT0;
  for (const auto end = kT0 + 5s; now < end; now += 10ms) {
    slow->RecordLatencyAtLeast(5ms, now);
    a->RecordLatency(300us, now);
    b->RecordLatency(300us, now);
  }
  EXPECT_DOUBLE_EQ(slow->latency_us(), 400000);
  EXPECT_LT(Shares(lb, 100000, Request(now))["s"], 0.002);
}

TEST_F(BalancersTest, ALowerBoundAboveTheAverageRaisesItLikeASample) {
  auto bound = Make("bound", 1), sample = Make("sample", 1);
  for (auto* e : {bound.get(), sample.get()}) e->RecordLatency(1ms, kT0);
  bound->RecordLatencyAtLeast(20ms, kT0 + 300ms);
  sample->RecordLatency(20ms, kT0 + 300ms);
  EXPECT_DOUBLE_EQ(bound->latency_us(), sample->latency_us());
  EXPECT_GT(bound->latency_us(), 10000);
  // With no sample yet, a bound is the first estimate.
  auto fresh = Make("fresh", 1);
  fresh->RecordLatencyAtLeast(7ms, kT0);
  EXPECT_DOUBLE_EQ(fresh->latency_us(), 7000);
}

TEST_F(BalancersTest, LeastTimeSteersAwayFromCallsInFlight) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  for (auto* e : {a.get(), b.get(), c.get()}) e->RecordLatency(1ms, kT0);
  LeastTime lb(kSeed);
  lb.Update({a, b, c});
  a->AddInFlight(4);  // a call to a would wait behind 4: costs 5 times as much
  auto shares = Shares(lb, 100000);
  EXPECT_NEAR(shares["a"], 0.2 / 2.2, 0.01);
  EXPECT_NEAR(shares["b"], 1 / 2.2, 0.01);
  a->AddInFlight(-4);
  EXPECT_NEAR(Shares(lb, 100000)["a"], 1.0 / 3, 0.01);
}

TEST_F(BalancersTest, LeastTimeProbesEndpointsItHasNotMeasured) {
  auto a = Make("a", 1), b = Make("b", 1), fresh = Make("f", 1);
  a->RecordLatency(1ms, kT0);
  b->RecordLatency(2ms, kT0);
  LeastTime lb(kSeed);
  lb.Update({a, b, fresh});
  // The newcomer counts as fast as the fastest known: weights 1, 1/2, 1.
  auto shares = Shares(lb, 100000);
  EXPECT_NEAR(shares["f"], 0.4, 0.01);
  EXPECT_NEAR(shares["a"], 0.4, 0.01);
  EXPECT_NEAR(shares["b"], 0.2, 0.01);
}

// ---- p2c -------------------------------------------------------------------------

TEST_F(BalancersTest, P2cPrefersFewerCallsInFlight) {
  auto a = Make("a", 1), b = Make("b", 1), c = Make("c", 1);
  PowerOfTwo lb(kSeed);
  lb.Update({a, b, c});
  a->AddInFlight(10);
  b->AddInFlight(1);
  // Of the pairs ab, ac, bc, a wins none and c both of its own.
  auto shares = Shares(lb, 30000);
  EXPECT_EQ(shares.count("a"), 0u);
  EXPECT_NEAR(shares["b"], 1.0 / 3, 0.01);
  EXPECT_NEAR(shares["c"], 2.0 / 3, 0.01);
}

TEST_F(BalancersTest, P2cMeasuresLoadRelativeToWeight) {
  auto heavy = Make("h", 3), light = Make("l", 1);
  PowerOfTwo lb(kSeed);
  lb.Update({heavy, light});
  heavy->AddInFlight(3);  // 1 per unit of weight
  light->AddInFlight(2);  // 2 per unit of weight
  EXPECT_EQ(Sequence(lb, 100), std::string(100, 'h'));
  light->AddInFlight(-1);  // as busy as h: a tie, so shares by weight
  EXPECT_NEAR(Shares(lb, 100000)["h"], 0.75, 0.01);
}

// ---- hash ------------------------------------------------------------------------

class BalancersHashTest : public BalancersTest {
 protected:
  Endpoints MakeN(int n, int weight = 1) {
    Endpoints out;
    for (int i = 0; i < n; ++i) out.push_back(Make("10.0.0." + std::to_string(i + 1) + ":8000", weight));
    return out;
  }
  // Where each of `keys` keys goes, by address.
  static std::vector<std::string> Placement(LoadBalancer& lb, int keys) {
    std::vector<std::string> out;
    PickRequest request = Request();
    for (int i = 0; i < keys; ++i) {
      request.hash = Key(i);
      Endpoint* e = lb.Pick(request);
      out.push_back(e ? e->address() : "-");
    }
    return out;
  }
};

TEST_F(BalancersHashTest, SameKeySameEndpointOnEveryClient) {
  Endpoints endpoints = MakeN(10);
  ConsistentHash one(1);
  one.Update(endpoints);
  EXPECT_EQ(Placement(one, 10000), Placement(one, 10000));

  // Another client: its own Endpoint objects, listed in another order, another seed.
  Endpoints others = MakeN(10);
  std::reverse(others.begin(), others.end());
  ConsistentHash two(2);
  two.Update(others);
  EXPECT_EQ(Placement(one, 10000), Placement(two, 10000));
}

TEST_F(BalancersHashTest, SharesFollowConfiguredWeights) {
  auto a = Make("a", 1), b = Make("b", 2), c = Make("c", 3), d = Make("d", 4);
  ConsistentHash lb(kSeed);
  lb.Update({a, b, c, d});
  auto shares = Shares(lb, 100000);
  EXPECT_NEAR(shares["a"], 0.1, 0.01);
  EXPECT_NEAR(shares["b"], 0.2, 0.01);
  EXPECT_NEAR(shares["c"], 0.3, 0.01);
  EXPECT_NEAR(shares["d"], 0.4, 0.01);
}

TEST_F(BalancersHashTest, EvenAVeryLightEndpointGetsKeys) {
  auto heavy = Make("h", 1000000), light = Make("l", 1);
  ConsistentHash lb(kSeed);
  lb.Update({heavy, light});
  const std::vector<const Endpoint*> tried = {heavy.get()};
  PickRequest request = Request();
  request.excluded = &tried;
  EXPECT_EQ(Sequence(lb, 10, request), "llllllllll");
}

TEST_F(BalancersHashTest, RemovingOneOfTenMovesAboutATenthOfTheKeys) {
  Endpoints endpoints = MakeN(10);
  ConsistentHash lb(kSeed);
  lb.Update(endpoints);
  const auto before = Placement(lb, 100000);
  const std::string removed = endpoints[3]->address();
  endpoints.erase(endpoints.begin() + 3);
  lb.Update(endpoints);
  const auto after = Placement(lb, 100000);

  int moved = 0, others = 0, others_stayed = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    moved += before[i] != after[i];
    if (before[i] != removed) {
      ++others;
      others_stayed += before[i] == after[i];
    }
    EXPECT_NE(after[i], removed);
  }
  const double moved_share = static_cast<double>(moved) / before.size();
  const double stayed_share = static_cast<double>(others_stayed) / others;
  RecordProperty("moved_share", std::to_string(moved_share));
  RecordProperty("others_stayed_share", std::to_string(stayed_share));
  EXPECT_GT(moved_share, 0.08);
  EXPECT_LT(moved_share, 0.15);
  EXPECT_GE(stayed_share, 0.95);
}

TEST_F(BalancersHashTest, ASkippedEndpointsKeysGoElsewhereAndComeBack) {
  Endpoints endpoints = MakeN(10);
  ConsistentHash lb(kSeed);
  lb.Update(endpoints);
  const auto before = Placement(lb, 100000);
  Endpoint& down = *endpoints[6];

  MakeUnhealthy(down, kT0 - 1s);
  const auto during = Placement(lb, 100000);
  std::map<std::string, int> took_over;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == down.address()) {
      ++took_over[during[i]];
    } else {
      EXPECT_EQ(during[i], before[i]);  // nobody else's keys move
    }
  }
  EXPECT_EQ(took_over.count(down.address()), 0u);
  EXPECT_EQ(took_over.count("-"), 0u);
  EXPECT_GE(took_over.size(), 5u);           // spread over the others, not dumped on one
  EXPECT_EQ(Placement(lb, 100000), during);  // and deterministically

  MakeHealthy(down, kT0 - 500ms);
  EXPECT_EQ(Placement(lb, 100000), before);
}

TEST_F(BalancersHashTest, CallsWithoutAKeySpreadOverAll) {
  Endpoints endpoints = MakeN(4);
  ConsistentHash lb(kSeed);
  lb.Update(endpoints);
  std::map<Endpoint*, double> shares;
  for (int i = 0; i < 10000; ++i) shares[lb.Pick(Request())] += 1e-4;  // hash 0: no key
  ASSERT_EQ(shares.size(), 4u);
  for (const auto& [e, share] : shares) EXPECT_NEAR(share, 0.25, 0.03);
}

TEST_F(BalancersHashTest, UnchangedMembershipKeepsThePlacementWithTheNewObjects) {
  Endpoints first = MakeN(5);
  ConsistentHash lb(kSeed);
  lb.Update(first);
  const auto before = Placement(lb, 10000);
  Endpoints fresh = MakeN(5);  // same addresses, new objects (e.g. a resolver refresh)
  lb.Update(fresh);
  EXPECT_EQ(Placement(lb, 10000), before);
  PickRequest request = Request();
  for (int i = 0; i < 100; ++i) {
    request.hash = Key(i);
    Endpoint* e = lb.Pick(request);
    EXPECT_TRUE(std::any_of(fresh.begin(), fresh.end(), [&](const auto& f) { return f.get() == e; }));
  }
}

TEST_F(BalancersHashTest, WeightChangeRebuildsTheTable) {
  Endpoints endpoints = MakeN(2);
  ConsistentHash lb(kSeed);
  lb.Update(endpoints);
  EXPECT_NEAR(Shares(lb, 100000)[endpoints[0]->address()], 0.5, 0.01);
  endpoints[0]->set_weight(3);
  lb.Update(endpoints);
  EXPECT_NEAR(Shares(lb, 100000)[endpoints[0]->address()], 0.75, 0.01);
}

}  // namespace
}  // namespace harpc
