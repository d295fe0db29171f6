// Load balancers (src/balance/): smooth weighted round robin and round robin.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balance/load_balancer.h"
#include "balance/round_robin.h"
#include "balance/weighted_round_robin.h"
#include "health/endpoint.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

class BalancerTest : public ::testing::Test {
 protected:
  // Endpoint "name" on 127.0.0.1:port with a weight, healthy; no connection is made.
  std::shared_ptr<Endpoint> Make(const std::string& name, int weight) {
    const auto port = static_cast<unsigned short>(9000 + endpoints_made_++);
    asio::ip::tcp::endpoint resolved(asio::ip::make_address("127.0.0.1"), port);
    // No joined_at: a channel's initial endpoint, without slow start.
    return std::make_shared<Endpoint>(EndpointSpec{name, weight}, resolved, io_.get_executor(), policy_);
  }

  // `n` picks as a string of endpoint names ('-' for nullptr), one letter each.
  static std::string Picks(LoadBalancer& lb, int n, const std::vector<const Endpoint*>* excluded = nullptr) {
    PickRequest request;
    request.excluded = excluded;
    std::string out;
    for (int i = 0; i < n; ++i) {
      Endpoint* e = lb.Pick(request);
      out += e ? e->address() : "-";
    }
    return out;
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
