// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// SmoothSchedule (src/balance/smooth_schedule.h): the planned picks are
// those of nginx's smooth weighted round robin, done literally below.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "balance/smooth_schedule.h"

namespace harpc {
namespace {

// nginx's algorithm as written: `picks` picks from `scores` (updated) among
// the slots of positive weight, as slot letters a, b, c...
std::string Literally(const std::vector<int64_t>& weights, std::vector<int64_t>& scores, size_t picks) {
  std::string out;
  for (size_t p = 0; p < picks; ++p) {
    int64_t total = 0;
    size_t best = weights.size();
    for (size_t i = 0; i < weights.size(); ++i) {
      if (weights[i] <= 0) continue;
      scores[i] += weights[i];
      total += weights[i];
      if (best == weights.size() || scores[i] > scores[best]) best = i;
    }
    scores[best] -= total;
    out += static_cast<char>('a' + best);
  }
  return out;
}

std::string Planned(const SmoothSchedule& plan) {
  std::string out;
  for (size_t i = 0; i < plan.size(); ++i) out += static_cast<char>('a' + plan[i]);
  return out;
}

TEST(SmoothScheduleTest, Weights511PlanWhatNginxPicks) {
  SmoothSchedule plan;
  ASSERT_TRUE(plan.Plan(std::vector<int64_t>{5000, 1000, 1000}, std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(Planned(plan), "aabacaa");
  EXPECT_TRUE(plan.cyclic());
}

TEST(SmoothScheduleTest, OnePeriodIsTheTotalOverTheGreatestCommonDivisor) {
  SmoothSchedule plan;
  ASSERT_TRUE(plan.Plan(std::vector<int64_t>{2000, 4000, 6000}, std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(plan.size(), 6u);
  EXPECT_TRUE(plan.cyclic());
}

TEST(SmoothScheduleTest, MatchesTheLiteralAlgorithmForManyWeightSets) {
  const std::vector<std::vector<int64_t>> sets = {
      {1000},
      {3000, 2000, 7000, 1000},
      {1000, 1000, 1000, 1000},
      {100000, 1000, 1000},
      {5000, 0, 1000, 3000, 0},  // zeros take no part
      {7000, 7000, 3000, 3000, 3000, 1000, 11000, 2000, 2000, 5000},
  };
  for (const auto& weights : sets) {
    std::vector<int64_t> scores(weights.size(), 0);
    SmoothSchedule plan;
    ASSERT_TRUE(plan.Plan(weights, scores));
    EXPECT_EQ(Planned(plan), Literally(weights, scores, plan.size())) << ::testing::PrintToString(weights);
    EXPECT_TRUE(plan.cyclic());
    EXPECT_EQ(scores, std::vector<int64_t>(weights.size(), 0));  // back to the start
  }
}

// Scores carried over a membership change need not sum to zero; the plan
// still follows the literal algorithm, and says when it is not yet a cycle.
TEST(SmoothScheduleTest, FromCarriedScoresPlansTheLiteralPicksPassByPass) {
  const std::vector<int64_t> weights = {5000, 1000, 0, 2000};
  std::vector<int64_t> scores = {9000, -4000, 123, 30000};
  std::vector<int64_t> literal = scores;
  bool saw_transient = false;
  for (int pass = 0; pass < 8; ++pass) {
    SmoothSchedule plan;
    ASSERT_TRUE(plan.Plan(weights, scores));
    EXPECT_EQ(Planned(plan), Literally(weights, literal, plan.size())) << "pass " << pass;
    const std::vector<int64_t> start = scores;
    plan.Advance(plan.size(), scores);
    EXPECT_EQ(scores, literal) << "pass " << pass;
    EXPECT_EQ(plan.cyclic(), scores == start) << "pass " << pass;
    saw_transient = saw_transient || !plan.cyclic();
  }
  EXPECT_TRUE(saw_transient);  // the start was off the cycle
  EXPECT_EQ(scores[2], 123);   // left out: untouched
}

TEST(SmoothScheduleTest, AdvanceGivesTheScoresPartWay) {
  const std::vector<int64_t> weights = {3000, 2000, 7000, 1000};
  std::vector<int64_t> literal(weights.size(), 0);
  SmoothSchedule plan;
  ASSERT_TRUE(plan.Plan(weights, literal));
  for (size_t picks : {size_t{0}, size_t{1}, size_t{5}, size_t{12}}) {
    std::vector<int64_t> scores(weights.size(), 0);
    std::vector<int64_t> expected(weights.size(), 0);
    Literally(weights, expected, picks);
    plan.Advance(picks, scores);
    EXPECT_EQ(scores, expected) << picks << " picks";
  }
}

TEST(SmoothScheduleTest, NoWeightPlansNothingToPick) {
  SmoothSchedule plan;
  ASSERT_TRUE(plan.Plan(std::vector<int64_t>{0, 0}, std::vector<int64_t>{5, -5}));
  EXPECT_TRUE(plan.planned());
  EXPECT_EQ(plan.size(), 0u);
  EXPECT_TRUE(plan.cyclic());
  ASSERT_TRUE(plan.Plan(std::vector<int64_t>{}, std::vector<int64_t>{}));
  EXPECT_EQ(plan.size(), 0u);
}

TEST(SmoothScheduleTest, RefusesAPeriodOverTheLimits) {
  SmoothSchedule plan;
  // Coprime weights: the period is their sum.
  const auto length = static_cast<int64_t>(SmoothSchedule::kMaxLength);
  EXPECT_FALSE(plan.Plan(std::vector<int64_t>{length, 1}, std::vector<int64_t>{0, 0}));
  EXPECT_FALSE(plan.planned());
  EXPECT_EQ(plan.size(), 0u);
  EXPECT_TRUE(plan.Plan(std::vector<int64_t>{length - 1, 1}, std::vector<int64_t>{0, 0}));
  EXPECT_EQ(plan.size(), SmoothSchedule::kMaxLength);

  // 100 distinct weights 200..299: a period of 24,950 picks, within
  // kMaxLength, but 100 weights to compare at every step.
  std::vector<int64_t> many;
  for (int64_t w = 200; w < 300; ++w) many.push_back(w);
  ASSERT_LE(size_t{24950}, SmoothSchedule::kMaxLength);
  ASSERT_GT(size_t{24950} * many.size(), SmoothSchedule::kMaxWork);
  EXPECT_FALSE(plan.Plan(many, std::vector<int64_t>(many.size(), 0)));
}

}  // namespace
}  // namespace harpc
