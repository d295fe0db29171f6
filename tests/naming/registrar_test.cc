// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// `harpc serve --register sentinel://S1,S2`: registers with every sentinel,
// renews, registers again with a sentinel that forgot it, deregisters on
// SIGTERM; a lease expires while the server is stopped and comes back.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "naming_support.h"

namespace harpc::namingtest {
namespace {

constexpr int kTtlMs = 1000;

TEST(NamingSentinelRegistrar, RegistersRenewsReregistersAndDeregisters) {
  Sentinel s1, s2;
  ASSERT_FALSE(s1.address().empty());
  ASSERT_FALSE(s2.address().empty());
  ServeProcess server = StartRegisteredServe({s1.address(), s2.address()}, kTtlMs);
  ASSERT_FALSE(server.address.empty());
  RegistryClient c1(s1.address()), c2(s2.address());

  auto start = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return c1.Has("echo", server.address) && c2.Has("echo", server.address); }, 5s))
      << "not registered with both sentinels";
  std::printf("[ measure  ] registered with both sentinels %lld ms after 'listening on'\n",
              static_cast<long long>(Since(start).count()));

  // Renewed: still there after 3 × TTL.
  EXPECT_TRUE(HoldsFor([&] { return c1.Has("echo", server.address) && c2.Has("echo", server.address); },
                       std::chrono::milliseconds(3 * kTtlMs)))
      << "the lease was not renewed";

  // s2 dies and comes back with an empty registry: the server registers again.
  ASSERT_TRUE(s2.RestartForgetting());
  start = Clock::now();
  RegistryClient c2_again(s2.address());
  ASSERT_TRUE(PollUntil([&] { return c2_again.Has("echo", server.address); }, 5s))
      << "not registered again with the restarted sentinel";
  std::printf("[ measure  ] registered again %lld ms after the sentinel restarted (TTL %d ms)\n",
              static_cast<long long>(Since(start).count()), kTtlMs);
  EXPECT_TRUE(c1.Has("echo", server.address));

  // SIGTERM: graceful shutdown, then deregistration before the process exits
  // (the lease would take up to a TTL to expire).
  server.process.Signal(SIGTERM);
  start = Clock::now();
  ASSERT_TRUE(server.process.Wait(5s).has_value()) << "the server did not exit after SIGTERM";
  const auto exited_after = Since(start);
  EXPECT_LT(exited_after, 3000ms);
  EXPECT_TRUE(c1.Lacks("echo", server.address)) << "still registered with s1 after the server exited";
  EXPECT_TRUE(c2_again.Lacks("echo", server.address)) << "still registered with s2 after the server exited";
  std::printf("[ measure  ] SIGTERM to exit (deregistered from both): %lld ms\n",
              static_cast<long long>(exited_after.count()));
}

TEST(NamingSentinelRegistrar, LeaseExpiresWhileStoppedAndComesBack) {
  Sentinel s;
  ASSERT_FALSE(s.address().empty());
  ServeProcess server = StartRegisteredServe({s.address()}, kTtlMs);
  ASSERT_FALSE(server.address.empty());
  RegistryClient c(s.address());
  ASSERT_TRUE(PollUntil([&] { return c.Has("echo", server.address); }, 5s));

  server.process.Signal(SIGSTOP);
  auto start = Clock::now();
  const bool expired = PollUntil([&] { return c.Lacks("echo", server.address); }, 5s);
  const auto expired_after = Since(start);
  server.process.Signal(SIGCONT);
  ASSERT_TRUE(expired) << "the lease did not expire while the server was stopped";
  // Not before the TTL minus one heartbeat period.
  EXPECT_GE(expired_after, std::chrono::milliseconds(kTtlMs - kTtlMs / 3 - 50));
  std::printf("[ measure  ] lease gone %lld ms after SIGSTOP (TTL %d ms)\n",
              static_cast<long long>(expired_after.count()), kTtlMs);

  start = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return c.Has("echo", server.address); }, 5s)) << "not registered again after SIGCONT";
  std::printf("[ measure  ] registered again %lld ms after SIGCONT\n", static_cast<long long>(Since(start).count()));
}

// The registrar runs on the server's loop: a server (--threads 1) registered
// with 3 sentinels has no more threads than one registered with 1, and on
// SIGTERM it still leaves every sentinel.
TEST(NamingSentinelRegistrar, NoThreadPerSentinelAndDeregistersOnSigterm) {
  Sentinel s1, s2, s3;
  ASSERT_FALSE(s1.address().empty());
  ASSERT_FALSE(s2.address().empty());
  ASSERT_FALSE(s3.address().empty());
  ServeProcess one = StartRegisteredServe({s1.address()}, kTtlMs);
  ServeProcess three = StartRegisteredServe({s1.address(), s2.address(), s3.address()}, kTtlMs);
  ASSERT_FALSE(one.address.empty());
  ASSERT_FALSE(three.address.empty());
  RegistryClient c1(s1.address()), c2(s2.address()), c3(s3.address());
  ASSERT_TRUE(PollUntil(
      [&] {
        return c1.Has("echo", one.address) && c1.Has("echo", three.address) && c2.Has("echo", three.address) &&
               c3.Has("echo", three.address);
      },
      5s))
      << "not registered everywhere";

  const int threads_one = testing::ThreadCount(one.process.pid());
  const int threads_three = testing::ThreadCount(three.process.pid());
  std::printf("[ measure  ] threads of a --threads 1 server: %d with 1 sentinel, %d with 3 sentinels\n", threads_one,
              threads_three);
  ASSERT_GT(threads_one, 0);
  EXPECT_EQ(threads_three, threads_one) << "the registrar starts a thread per sentinel";

  three.process.Signal(SIGTERM);
  EXPECT_TRUE(PollUntil(
      [&] {
        return c1.Lacks("echo", three.address) && c2.Lacks("echo", three.address) && c3.Lacks("echo", three.address);
      },
      5s))
      << "still registered after SIGTERM";
  EXPECT_EQ(three.process.Wait(5s), 0) << "the server did not exit cleanly after SIGTERM";
  EXPECT_TRUE(c1.Has("echo", one.address)) << "the other server's registration went too";
}

// A sentinel that is down when the server starts is retried until it is up.
TEST(NamingSentinelRegistrar, KeepsTryingAnUnreachableSentinel) {
  Sentinel up, later;
  ASSERT_FALSE(up.address().empty());
  ASSERT_FALSE(later.address().empty());
  later.Kill();
  ServeProcess server = StartRegisteredServe({up.address(), later.address()}, kTtlMs);
  ASSERT_FALSE(server.address.empty());
  RegistryClient c_up(up.address());
  ASSERT_TRUE(PollUntil([&] { return c_up.Has("echo", server.address); }, 5s))
      << "one sentinel down must not keep the server from registering with the other";
  ASSERT_TRUE(later.RestartForgetting());
  RegistryClient c_later(later.address());
  ASSERT_TRUE(PollUntil([&] { return c_later.Has("echo", server.address); }, 5s))
      << "the sentinel that came up late never got the registration";
}

// A bad --register spec is a usage error: exit 2, one clear line on stderr.
TEST(NamingSentinelRegistrar, ServeRejectsABadRegisterSpec) {
  TempDir dir;
  const std::string err = dir.path() + "/stderr";
  Subprocess p;
  ASSERT_TRUE(Subprocess::Spawn({HARPC_BINARY, "serve", "--listen", "127.0.0.1:0", "--register", "zk://127.0.0.1:2181"},
                                &p, err)
                  .ok());
  EXPECT_EQ(p.Wait(10s), 2);
  std::ifstream in(err);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("--register: unsupported register target 'zk://127.0.0.1:2181'"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << "one line on stderr, got: " << text;
}

}  // namespace
}  // namespace harpc::namingtest
