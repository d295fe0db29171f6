// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// file:// targets: the channel calls the endpoints of a JSON file and follows
// its rewrites (the resolver checks it every 500 ms).
#include <filesystem>
#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "naming_support.h"

namespace harpc::namingtest {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  // Write aside and rename: the resolver never reads half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

TEST(NamingFileResolver, ChannelFollowsTheFile) {
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ASSERT_FALSE(a.address.empty());
  ASSERT_FALSE(b.address.empty());
  TempDir dir;
  const std::string path = dir.path() + "/endpoints.json";
  WriteFile(path, R"([{"address":")" + a.address + R"(","weight":2},{"address":")" + b.address + R"("}])");

  Channel channel("file://" + path, EchoOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  std::set<std::string> answered;
  for (int i = 0; i < 12; ++i) {
    std::string endpoint;
    ASSERT_TRUE(EchoOk(channel, &endpoint));
    answered.insert(endpoint);
  }
  EXPECT_EQ(answered, (std::set<std::string>{a.address, b.address}));
  auto eps = channel.Endpoints();
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].weight, 2);

  // Only b now (the {"endpoints": [...]} form).
  WriteFile(path, R"({"endpoints":[{"address":")" + b.address + R"(","weight":3}]})");
  ASSERT_TRUE(PollUntil([&] { return Addresses(channel) == std::vector<std::string>{b.address}; }, 5s))
      << "the channel did not follow the rewritten file";
  EXPECT_EQ(channel.Endpoints()[0].weight, 3);
  for (int i = 0; i < 6; ++i) {
    std::string endpoint;
    ASSERT_TRUE(EchoOk(channel, &endpoint));
    EXPECT_EQ(endpoint, b.address);
  }

  // A broken file keeps the last good membership.
  WriteFile(path, "[{\"address\": ");
  EXPECT_TRUE(HoldsFor([&] { return Addresses(channel) == std::vector<std::string>{b.address}; }, 1200ms));
  EXPECT_TRUE(EchoOk(channel));

  // And a good one is followed again.
  WriteFile(path, R"([{"address":")" + a.address + R"("}])");
  ASSERT_TRUE(PollUntil([&] { return Addresses(channel) == std::vector<std::string>{a.address}; }, 5s));
  std::string endpoint;
  ASSERT_TRUE(EchoOk(channel, &endpoint));
  EXPECT_EQ(endpoint, a.address);
}

}  // namespace
}  // namespace harpc::namingtest
