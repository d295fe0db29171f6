// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc::Channel against real servers: weighted balancing, failover from a
// refused endpoint, deadlines, error status mapping, coroutine calls.
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "it_support.h"

namespace harpc::testing::it {
namespace {

namespace asio = boost::asio;

TEST(ItChannel, WeightedRoundRobinSplitsCallsExactlyByWeight) {
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ServeProcess c = StartServe({"--threads", "1"});
  ASSERT_TRUE(a.port > 0 && b.port > 0 && c.port > 0);
  Channel channel("list://" + a.address + "=5," + b.address + "=1," + c.address + "=1");
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  std::map<std::string, int> per_endpoint;
  for (int i = 0; i < 700; ++i) {
    CallResult r = channel.Call("Echo.echo", json::value{{"i", i}});
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status;
    ASSERT_EQ(r.value, (json::value{{"i", i}}));
    ++per_endpoint[r.endpoint];
  }
  EXPECT_EQ(per_endpoint[a.address], 500);
  EXPECT_EQ(per_endpoint[b.address], 100);
  EXPECT_EQ(per_endpoint[c.address], 100);
  EXPECT_EQ(per_endpoint.size(), 3u);
  // The servers agree.
  EXPECT_EQ(MethodRequests(a.port, "Echo.echo"), 500);
  EXPECT_EQ(MethodRequests(b.port, "Echo.echo"), 100);
  EXPECT_EQ(MethodRequests(c.port, "Echo.echo"), 100);
}

TEST(ItChannel, SmoothWeightedRoundRobinInterleaves) {
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ASSERT_TRUE(a.port > 0 && b.port > 0);
  Channel channel("list://" + a.address + "=2," + b.address + "=1");
  std::string sequence;
  for (int i = 0; i < 9; ++i) {
    CallResult r = channel.Call("/", json::value{{"key", "value"}});
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_EQ(r.value, (json::value{{"key", "value"}}));
    sequence += r.endpoint == a.address ? 'a' : 'b';
  }
  // Smooth WRR never sends more than two in a row to a (weight 2 of 3).
  EXPECT_EQ(std::count(sequence.begin(), sequence.end(), 'a'), 6) << sequence;
  EXPECT_EQ(sequence.find("aaa"), std::string::npos) << sequence;
}

TEST(ItChannel, RefusedEndpointIsRetriedElsewhereWithoutFailedCalls) {
  ServeProcess a = StartServe({"--threads", "1"});
  ServeProcess b = StartServe({"--threads", "1"});
  ASSERT_TRUE(a.port > 0 && b.port > 0);
  RefusingPort dead;
  Channel channel("list://" + a.address + "," + dead.address() + "," + b.address);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  int failed = 0;
  std::map<std::string, int> per_endpoint;
  for (int i = 0; i < 300; ++i) {
    CallResult r = channel.Call("Echo.echo", json::value{{"i", i}});
    if (!r.ok()) {
      ++failed;
      ADD_FAILURE() << "call " << i << ": " << r.status;
      continue;
    }
    EXPECT_EQ(r.value, (json::value{{"i", i}}));
    ++per_endpoint[r.endpoint];
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(per_endpoint.count(dead.address()), 0u);
  EXPECT_EQ(per_endpoint[a.address] + per_endpoint[b.address], 300);
  EXPECT_GT(per_endpoint[a.address], 100);
  EXPECT_GT(per_endpoint[b.address], 100);
  // A non-idempotent call too: it certainly did not reach the refusing server.
  Channel fresh("list://" + dead.address() + "," + a.address);
  for (int i = 0; i < 10; ++i) {
    CallResult r = fresh.Call("Echo.echo", json::value{{"n", i}});
    EXPECT_TRUE(r.ok()) << r.status;
    EXPECT_EQ(r.endpoint, a.address);
  }
}

TEST(ItChannel, DeadlineExceededReturnsWithinTheTimeout) {
  ServeProcess slow = StartServe({"--delay-ms", "500", "--threads", "1"});
  ASSERT_GT(slow.port, 0);
  ChannelOptions options;
  options.timeout = 100ms;
  Channel channel("list://" + slow.address, options);
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    CallResult r = channel.Call("Echo.echo", json::value{{"x", 1}});
    const auto took = Since(start);
    EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status;
    EXPECT_TRUE(r.value.is_null());
    EXPECT_GE(took, 90ms);
    EXPECT_LT(took, 350ms) << "the call outlived its 100 ms deadline";
  }
  // A per-call timeout overrides the channel's.
  CallOptions generous;
  generous.timeout = 2000ms;
  CallResult r = channel.Call("Echo.echo", json::value{{"x", 2}}, generous);
  EXPECT_TRUE(r.ok()) << r.status;
}

TEST(ItChannel, ServerErrorsMapBackToStatusCodes) {
  TestServer server;
  Channel channel("list://" + server.address());
  ASSERT_TRUE(channel.status().ok());
  CallResult r = channel.Call("Nope.nope", json::value{{"a", 1}});
  EXPECT_EQ(r.status.code(), StatusCode::kUnimplemented) << r.status;
  r = channel.Call("Test.add", json::value{{"a", "x"}, {"b", 1}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << r.status;
  EXPECT_NE(r.status.message().find("integers"), std::string::npos) << r.status;
  r = channel.Call("Test.add", json::value{{"a", 40}, {"b", 2}});
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.value, 42);
  r = channel.Call("Test.throw", json::value{});
  EXPECT_EQ(r.status.code(), StatusCode::kInternal) << r.status;
  EXPECT_EQ(r.attempts, 1) << "an INTERNAL answer is the answer, not retried";
}

TEST(ItChannel, FailRateOneGivesUnavailable) {
  ServeProcess failing = StartServe({"--fail-rate", "1.0", "--threads", "1"});
  ASSERT_GT(failing.port, 0);
  Channel channel("list://" + failing.address);
  CallResult r = channel.Call("Echo.echo", json::value{{"a", 1}});
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_TRUE(r.value.is_null());
  EXPECT_EQ(r.endpoint, failing.address);
}

TEST(ItChannel, UnavailableEndpointIsFailedOverWhenIdempotent) {
  ServeProcess failing = StartServe({"--fail-rate", "1.0", "--threads", "1"});
  ServeProcess good = StartServe({"--threads", "1"});
  ASSERT_TRUE(failing.port > 0 && good.port > 0);
  ChannelOptions options;
  options.idempotent_methods = {"Echo.echo"};
  Channel channel("list://" + failing.address + "," + good.address, options);
  for (int i = 0; i < 20; ++i) {
    CallResult r = channel.Call("Echo.echo", json::value{{"i", i}});
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status;
    EXPECT_EQ(r.endpoint, good.address);
  }
}

TEST(ItChannel, BadTargetReportsInvalidArgument) {
  for (std::string_view target : {"list://", "list://127.0.0.1", "list://127.0.0.1:99999", "bogus://x:1",
                                  "list://127.0.0.1:1=0", "list://127.0.0.1:1,127.0.0.1:1", ""}) {
    Channel channel(target);
    EXPECT_EQ(channel.status().code(), StatusCode::kInvalidArgument) << "'" << target << "': " << channel.status();
    CallResult r = channel.Call("Echo.echo", json::value{});
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << target;
  }
}

TEST(ItChannel, AsyncCallFromCoroutineOnSeparateIoContext) {
  TestServer server;
  Channel channel("list://" + server.address());
  asio::io_context io;
  std::vector<CallResult> results;
  std::thread::id resumed_on;
  int finished = 0;
  auto calls = [&]() -> asio::awaitable<void> {
    CallOptions options;  // named: never a temporary inside co_await (GCC 12)
    options.timeout = 2000ms;
    json::value params = {{"async", true}};
    CallResult r = co_await channel.AsyncCall("Echo.echo", params, options);
    resumed_on = std::this_thread::get_id();
    results.push_back(std::move(r));
    json::value sleep = {{"ms", 50}};
    r = co_await channel.AsyncCall("Test.sleep", sleep);
    results.push_back(std::move(r));
    json::value bad = {{"a", "x"}};
    r = co_await channel.AsyncCall("Test.add", bad, options);
    results.push_back(std::move(r));
    ++finished;
  };
  // Several coroutines at once on the same io_context.
  for (int i = 0; i < 3; ++i) asio::co_spawn(io, calls(), asio::detached);
  io.run_for(10s);
  ASSERT_EQ(finished, 3);
  ASSERT_EQ(results.size(), 9u);
  EXPECT_EQ(resumed_on, std::this_thread::get_id()) << "AsyncCall must resume on the caller's executor";
  int echoes = 0, sleeps = 0, invalid = 0;
  for (const CallResult& r : results) {
    if (r.ok() && r.value == json::value{{"async", true}}) ++echoes;
    if (r.ok() && r.value == json::value{{"slept", 50}}) ++sleeps;
    if (r.status.code() == StatusCode::kInvalidArgument) ++invalid;
  }
  EXPECT_EQ(echoes, 3);
  EXPECT_EQ(sleeps, 3);
  EXPECT_EQ(invalid, 3);
}

TEST(ItChannel, ConcurrentCallsFromManyThreads) {
  ServeProcess a = StartServe({"--threads", "2"});
  ServeProcess b = StartServe({"--threads", "2"});
  ASSERT_TRUE(a.port > 0 && b.port > 0);
  Channel channel("list://" + a.address + "," + b.address);
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        json::value p = {{"t", t}, {"i", i}};
        CallResult r = channel.Call("Echo.echo", p);
        (r.ok() && r.value == p ? ok : wrong)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(MethodRequests(a.port, "Echo.echo") + MethodRequests(b.port, "Echo.echo"), 800);
}

}  // namespace
}  // namespace harpc::testing::it
