// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// InstanceHistory on its own: down spells, departures and their retention,
// and the bounds on timelines and on departed instances.
#include "sentinel/instance_history.h"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace harpc::sentinel {
namespace {

namespace json = boost::json;

const json::object* Find(const json::array& history, const std::string& address) {
  for (const json::value& h : history) {
    if (h.at("address") == json::value(address)) return &h.as_object();
  }
  return nullptr;
}

std::vector<std::string> States(const json::object& h) {
  std::vector<std::string> out;
  for (const json::value& c : h.at("timeline").as_array()) out.emplace_back(c.at("state").as_string());
  return out;
}

TEST(InstanceHistory, DownSpellsDeparturesAndComingBack) {
  InstanceHistory history(std::chrono::minutes(10));
  history.Record("echo", "a", "alpha", "up", 1000);
  history.Record("echo", "a", "alpha", "up", 1500);  // a repeat changes nothing
  history.Record("echo", "a", "alpha", "sdown", 2000);
  history.Record("echo", "a", "alpha", "odown", 2500);
  json::array all = history.ToJson();
  const json::object* a = Find(all, "a");
  ASSERT_TRUE(a);
  EXPECT_EQ(States(*a), (std::vector<std::string>{"up", "sdown", "odown"}));
  EXPECT_EQ(a->at("down_since_ms").as_int64(), 2000) << "down since its SDOWN, not its ODOWN";
  EXPECT_EQ(a->at("departed_ms").as_int64(), 0);

  history.Record("echo", "a", "alpha", "expired", 9000);
  all = history.ToJson();
  a = Find(all, "a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at("state"), json::value("expired"));
  EXPECT_EQ(a->at("name"), json::value("alpha"));
  EXPECT_EQ(a->at("departed_ms").as_int64(), 9000);
  EXPECT_EQ(a->at("down_since_ms").as_int64(), 2000);

  // An instance whose lease ran out while up went down then; a deregistered one never did.
  history.Record("echo", "b", "beta", "up", 1000);
  history.Record("echo", "b", "beta", "expired", 4000);
  history.Record("echo", "c", "gamma", "up", 1000);
  history.Record("echo", "c", "gamma", "deregistered", 4000);
  all = history.ToJson();
  EXPECT_EQ(Find(all, "b")->at("down_since_ms").as_int64(), 4000);
  EXPECT_EQ(Find(all, "c")->at("down_since_ms").as_int64(), 0);

  // Registered again: the same history goes on, no longer departed nor down.
  history.MarkExpiryTold("echo", "b");
  EXPECT_TRUE(history.ExpiryTold("echo", "b"));
  history.Record("echo", "b", "beta", "up", 5000);
  EXPECT_FALSE(history.ExpiryTold("echo", "b"));
  all = history.ToJson();
  EXPECT_EQ(States(*Find(all, "b")), (std::vector<std::string>{"up", "expired", "up"}));
  EXPECT_EQ(Find(all, "b")->at("departed_ms").as_int64(), 0);
  EXPECT_EQ(Find(all, "b")->at("down_since_ms").as_int64(), 0);
}

TEST(InstanceHistory, DepartedAreKeptForTheRetentionAndRegisteredOnesForGood) {
  InstanceHistory history(std::chrono::milliseconds(1000));
  history.Record("echo", "gone", "", "up", 0);
  history.Record("echo", "gone", "", "deregistered", 10000);
  history.Record("echo", "here", "", "up", 0);
  history.Prune(10999);
  EXPECT_EQ(history.size(), 2u);
  history.Prune(11000);
  EXPECT_EQ(history.size(), 1u);
  EXPECT_TRUE(Find(history.ToJson(), "here"));
  history.Prune(100000000);
  EXPECT_EQ(history.size(), 1u) << "a registered instance is never pruned";
}

TEST(InstanceHistory, TimelinesAndDepartedInstancesAreBounded) {
  InstanceHistory history(std::chrono::hours(1));
  for (int n = 0; n < 40; ++n) history.Record("echo", "flappy", "", n % 2 ? "sdown" : "up", n);
  const json::array timelines = history.ToJson();
  const json::object* flappy = Find(timelines, "flappy");
  ASSERT_TRUE(flappy);
  ASSERT_EQ(flappy->at("timeline").as_array().size(), InstanceHistory::kTimelineEntries);
  EXPECT_EQ(flappy->at("timeline").as_array().back().at("time").as_int64(), 39) << "the newest are kept";

  const size_t extra = 10;
  for (size_t n = 0; n < InstanceHistory::kMaxDeparted + extra; ++n) {
    const std::string address = "127.0.0.1:" + std::to_string(10000 + n);
    history.Record("echo", address, "", "up", 1000);
    history.Record("echo", address, "", "expired", 2000 + static_cast<int64_t>(n));
  }
  EXPECT_EQ(history.size(), InstanceHistory::kMaxDeparted + 1);  // and "flappy", still registered
  const json::array all = history.ToJson();
  EXPECT_FALSE(Find(all, "127.0.0.1:10000")) << "the longest gone go first";
  EXPECT_TRUE(Find(all, "127.0.0.1:" + std::to_string(10000 + InstanceHistory::kMaxDeparted + extra - 1)));
}

}  // namespace
}  // namespace harpc::sentinel
