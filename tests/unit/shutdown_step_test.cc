// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Server::AddShutdownStep: steps run on the first loop when a graceful
// shutdown begins, in order, after the server stops accepting and before it
// waits for calls in flight; each is cancelled after shutdown_grace; a hard
// stop runs none.
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "support/test_support.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ServerOptions TwoLoops(std::chrono::milliseconds grace = 5s) {
  return ServerOptions{.threads = 2, .shutdown_grace = grace, .handle_signals = false};
}

std::thread::id ThreadOf(const asio::any_io_executor& loop) {
  auto id = std::make_shared<std::promise<std::thread::id>>();
  asio::post(loop, [id] { id->set_value(std::this_thread::get_id()); });
  return id->get_future().get();
}

TEST(ServerShutdownStep, StepsRunInOrderOnTheFirstLoopBeforeCallsInFlightAreWaitedFor) {
  Server server(TwoLoops());
  std::atomic<bool> slow_call_started{false}, slow_call_done{false};
  ASSERT_TRUE(server
                  .AddAsyncMethod("Slow.wait",
                                  [&](json::value, CallContext& ctx) -> asio::awaitable<Result> {
                                    slow_call_started = true;
                                    asio::steady_timer timer(ctx.executor(), 300ms);
                                    co_await timer.async_wait(asio::use_awaitable);
                                    slow_call_done = true;
                                    co_return Result(json::value("done"));
                                  })
                  .ok());
  std::vector<int> order;
  std::thread::id step_thread;
  bool draining_in_step = false, call_done_in_step = true;
  ASSERT_TRUE(server
                  .AddShutdownStep([&]() -> asio::awaitable<void> {
                    order.push_back(1);
                    step_thread = std::this_thread::get_id();
                    draining_in_step = server.draining();
                    call_done_in_step = slow_call_done;
                    co_return;
                  })
                  .ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_TRUE(server
                  .AddShutdownStep([&]() -> asio::awaitable<void> {  // after Start too
                    order.push_back(2);
                    co_return;
                  })
                  .ok());
  const std::thread::id first_loop = ThreadOf(server.executor());

  Channel channel(server.address());
  std::future<CallResult> slow =
      std::async(std::launch::async, [&] { return channel.Call("Slow.wait", json::object{}); });
  ASSERT_TRUE(testing::PollUntil([&] { return slow_call_started.load(); }, 5s)) << "the slow call never began";
  server.Shutdown();
  server.Wait();

  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(step_thread, first_loop);
  EXPECT_TRUE(draining_in_step);
  EXPECT_FALSE(call_done_in_step) << "the step ran after the calls in flight were waited for";
  CallResult r = slow.get();
  EXPECT_TRUE(r.ok()) << r.status;  // and the call in flight still finished
  EXPECT_TRUE(slow_call_done);
  EXPECT_EQ(server.AddShutdownStep([]() -> asio::awaitable<void> { co_return; }).code(),
            StatusCode::kFailedPrecondition);
}

TEST(ServerShutdownStep, AStepStillRunningAfterTheGracePeriodIsCancelled) {
  Server server(TwoLoops(200ms));
  std::atomic<bool> cancelled{false};
  ASSERT_TRUE(server
                  .AddShutdownStep([&]() -> asio::awaitable<void> {
                    asio::steady_timer forever(co_await asio::this_coro::executor, 1h);
                    try {
                      co_await forever.async_wait(asio::use_awaitable);
                    } catch (const boost::system::system_error&) {
                      cancelled = true;
                      throw;
                    }
                  })
                  .ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const auto start = Clock::now();
  server.Shutdown();
  server.Wait();
  const auto took = testing::Since(start);
  EXPECT_TRUE(cancelled);
  EXPECT_GE(took.count(), 150);
  EXPECT_LT(took.count(), 2000);
}

TEST(ServerShutdownStep, AHardStopRunsNoStep) {
  std::atomic<bool> ran{false};
  {
    Server server(TwoLoops());
    ASSERT_TRUE(server
                    .AddShutdownStep([&]() -> asio::awaitable<void> {
                      ran = true;
                      co_return;
                    })
                    .ok());
    ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  }  // destroyed without Shutdown()
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace harpc
