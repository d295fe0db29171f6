// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Channels on sentinel://S1,S2/echo: they call the registered servers, learn
// changes as soon as a sentinel knows them (long-polled Registry.watch), fail
// over between sentinels, and keep the last membership when every sentinel
// is gone.
#include <algorithm>
#include <csignal>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "naming_support.h"

namespace harpc::namingtest {
namespace {

using ::testing::UnorderedElementsAre;

std::string Target(const Sentinel& a, const Sentinel& b) {
  return "sentinel://" + a.address() + "," + b.address() + "/echo";
}

// Microseconds between `from` and the first poll at which `condition` holds
// (PollUntil polls every 5 ms); -1 if it did not within 5 s.
int64_t DelayUs(Clock::time_point from, const std::function<bool()>& condition) {
  if (!PollUntil(condition, 5s)) return -1;
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - from).count();
}

TEST(NamingSentinelResolver, CallsRegisteredServersAndLearnsChangesQuickly) {
  Sentinel s1, s2;
  ASSERT_FALSE(s1.address().empty());
  ASSERT_FALSE(s2.address().empty());
  ServeProcess a = StartRegisteredServe({s1.address(), s2.address()}, 3000);
  ServeProcess b = StartRegisteredServe({s1.address(), s2.address()}, 3000);
  ASSERT_FALSE(a.address.empty());
  ASSERT_FALSE(b.address.empty());

  Channel channel(Target(s1, s2), EchoOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  // The first call waits for the first membership instead of failing.
  EXPECT_TRUE(EchoOk(channel));
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, a.address) && Knows(channel, b.address); }, 5s));
  std::set<std::string> answered;
  for (int i = 0; i < 20; ++i) {
    std::string endpoint;
    ASSERT_TRUE(EchoOk(channel, &endpoint));
    answered.insert(endpoint);
  }
  EXPECT_EQ(answered, (std::set<std::string>{a.address, b.address}));

  // A server registered by hand: the channel knows it right after the sentinels do.
  ServeProcess c = StartServe({"--threads", "1"});
  ASSERT_FALSE(c.address.empty());
  RegistryClient c1(s1.address()), c2(s2.address());
  std::vector<int64_t> join_us, leave_us;
  for (int round = 0; round < 5; ++round) {
    std::string lease1 = c1.Register("echo", c.address, 60000);
    const auto known = Clock::now();  // s1 knows it now; s2 a moment later
    std::string lease2 = c2.Register("echo", c.address, 60000);
    ASSERT_FALSE(lease1.empty());
    ASSERT_FALSE(lease2.empty());
    join_us.push_back(DelayUs(known, [&] { return Knows(channel, c.address); }));
    ASSERT_GE(join_us.back(), 0) << "the channel never learned the new server";

    ASSERT_TRUE(c1.Deregister(lease1));
    const auto forgotten = Clock::now();
    ASSERT_TRUE(c2.Deregister(lease2));
    leave_us.push_back(DelayUs(forgotten, [&] { return !Knows(channel, c.address); }));
    ASSERT_GE(leave_us.back(), 0) << "the channel never dropped the deregistered server";
  }
  std::sort(join_us.begin(), join_us.end());
  std::sort(leave_us.begin(), leave_us.end());
  std::printf("[ measure  ] sentinel knows -> channel knows: median %.1f ms, max %.1f ms (5 joins)\n",
              join_us[2] / 1000.0, join_us.back() / 1000.0);
  std::printf("[ measure  ] sentinel forgets -> channel forgets: median %.1f ms, max %.1f ms (5 leaves)\n",
              leave_us[2] / 1000.0, leave_us.back() / 1000.0);
  // ~ms on an idle machine; 1 s leaves room for a loaded one.
  EXPECT_LT(join_us.back(), 1'000'000);
  EXPECT_LT(leave_us.back(), 1'000'000);
  EXPECT_TRUE(EchoOk(channel));
}

TEST(NamingSentinelResolver, FailsOverBetweenSentinelsAndKeepsTheLastMembership) {
  Sentinel s1, s2;
  ASSERT_FALSE(s1.address().empty());
  ASSERT_FALSE(s2.address().empty());
  ServeProcess a = StartRegisteredServe({s1.address(), s2.address()}, 1000);
  ServeProcess b = StartRegisteredServe({s1.address(), s2.address()}, 1000);
  ServeProcess d = StartServe({"--threads", "1"});  // registered by hand on s2 only
  ServeProcess e = StartServe({"--threads", "1"});  // registered by hand on s1 only
  for (const ServeProcess* p : {&a, &b, &d, &e}) ASSERT_FALSE(p->address.empty());

  Channel channel(Target(s1, s2), EchoOptions());
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, a.address) && Knows(channel, b.address); }, 5s));

  // s1 dies: calls go on, and the channel hears from s2.
  s1.Kill();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(EchoOk(channel));
  RegistryClient c2(s2.address());
  ASSERT_FALSE(c2.Register("echo", d.address, 60000).empty());
  auto start = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, d.address); }, 5s)) << "no news from s2 after s1 died";
  std::printf("[ measure  ] s1 killed: learned a server registered on s2 in %lld ms\n",
              static_cast<long long>(Since(start).count()));

  // s1 comes back empty (a and b register there again), then s2 dies: the
  // channel follows s1, whose membership has e and not d.
  ASSERT_TRUE(s1.RestartForgetting());
  RegistryClient c1(s1.address());
  ASSERT_TRUE(PollUntil([&] { return c1.Has("echo", a.address) && c1.Has("echo", b.address); }, 5s));
  ASSERT_FALSE(c1.Register("echo", e.address, 60000).empty());
  s2.Kill();
  start = Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(EchoOk(channel));
  ASSERT_TRUE(PollUntil(
      [&] {
        auto now = Addresses(channel);
        std::sort(now.begin(), now.end());
        std::vector<std::string> want = {a.address, b.address, e.address};
        std::sort(want.begin(), want.end());
        return now == want;
      },
      5s))
      << "the channel did not switch to s1's membership";
  std::printf("[ measure  ] s2 killed: on s1's membership after %lld ms\n",
              static_cast<long long>(Since(start).count()));

  // Every sentinel gone: the channel keeps what it knew and calls go on.
  s1.Kill();
  EXPECT_TRUE(HoldsFor([&] { return Addresses(channel).size() == 3; }, 1500ms))
      << "the membership changed with no sentinel left";
  EXPECT_THAT(Addresses(channel), UnorderedElementsAre(a.address, b.address, e.address));
  std::set<std::string> answered;
  for (int i = 0; i < 30; ++i) {
    std::string endpoint;
    EXPECT_TRUE(EchoOk(channel, &endpoint));
    answered.insert(endpoint);
  }
  EXPECT_EQ(answered, (std::set<std::string>{a.address, b.address, e.address}));
}

// A sentinel that lists no instance (it restarted without its data, or every
// server left): the channel keeps calling the servers it knew.
TEST(NamingSentinelResolver, NoInstanceListedKeepsTheLastMembership) {
  Sentinel s;
  ASSERT_FALSE(s.address().empty());
  ServeProcess a = StartServe({"--threads", "1"});
  ASSERT_FALSE(a.address.empty());
  RegistryClient c(s.address());
  std::string lease = c.Register("echo", a.address, 60000);
  ASSERT_FALSE(lease.empty());
  Channel channel("sentinel://" + s.address() + "/echo", EchoOptions());
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, a.address); }, 5s));
  ASSERT_TRUE(c.Deregister(lease));
  EXPECT_TRUE(HoldsFor([&] { return Knows(channel, a.address); }, 1000ms));
  EXPECT_TRUE(EchoOk(channel));
}

// The sentinels' verdict counts: an odown instance leaves the membership, and
// when every listed instance is odown the membership is empty.
TEST(NamingSentinelResolver, OdownInstancesAreNeverCalled) {
  Sentinel s;  // alone: its own SDOWN is the group's ODOWN (quorum 1)
  ASSERT_FALSE(s.address().empty());
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ASSERT_FALSE(a.address.empty());
  ASSERT_FALSE(b.address.empty());
  RegistryClient c(s.address());
  ASSERT_FALSE(c.Register("echo", a.address, 60000).empty());  // outlives the stop below
  ASSERT_FALSE(c.Register("echo", b.address, 60000).empty());
  Channel channel("sentinel://" + s.address() + "/echo", EchoOptions());
  ASSERT_TRUE(PollUntil([&] { return Addresses(channel).size() == 2; }, 5s));

  a.process.Signal(SIGSTOP);
  EXPECT_TRUE(PollUntil([&] { return Addresses(channel) == std::vector<std::string>{b.address}; }, 10s))
      << "a stopped server judged odown stayed in the membership";
  b.process.Signal(SIGSTOP);
  EXPECT_TRUE(PollUntil([&] { return Addresses(channel).empty(); }, 10s))
      << "every instance odown: the membership must be empty";
  a.process.Signal(SIGCONT);
  b.process.Signal(SIGCONT);
  EXPECT_TRUE(PollUntil([&] { return Addresses(channel).size() == 2; }, 10s)) << "not back after SIGCONT";
  EXPECT_TRUE(EchoOk(channel));
}

}  // namespace
}  // namespace harpc::namingtest
