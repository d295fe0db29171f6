// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Ids are capabilities: 128 bits from the kernel's CSPRNG, never a seeded
// generator whose next output follows from earlier ones.
#include "util/random_id.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace harpc {
namespace {

TEST(RandomId, Is128BitsOfLowercaseHex) {
  const std::string id = RandomId();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
}

TEST(RandomId, TenThousandIdsAreDistinctAndEveryBitVaries) {
  std::set<std::string> seen;
  std::string ones(32, '0'), zeros(32, 'f');  // per digit: OR and AND of all ids
  for (int i = 0; i < 10000; ++i) {
    const std::string id = RandomId();
    ASSERT_TRUE(seen.insert(id).second) << "repeated id " << id;
    for (size_t d = 0; d < id.size(); ++d) {
      auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
      auto digit = [](int v) { return "0123456789abcdef"[v]; };
      ones[d] = digit(value(ones[d]) | value(id[d]));
      zeros[d] = digit(value(zeros[d]) & value(id[d]));
    }
  }
  EXPECT_EQ(ones, std::string(32, 'f')) << "some bit was never 1";
  EXPECT_EQ(zeros, std::string(32, '0')) << "some bit was never 0";
}

}  // namespace
}  // namespace harpc
