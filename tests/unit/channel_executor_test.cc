// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Channels on a loop they are given (ChannelOptions::executor): no thread of
// their own, calls from that loop without a hop, safe destruction with calls
// in flight; and /metrics, which never waits on a busy channel's loop.
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "apps/echo_service.h"
#include "harpc/channel.h"
#include "harpc/server.h"
#include "support/test_support.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

int ThreadsOfThisProcess() { return testing::ThreadCount(::getpid()); }

// An in-process echo server on one loop, answering after `delay`.
struct EchoServer {
  explicit EchoServer(std::chrono::milliseconds delay = 0ms)
      : server(ServerOptions{.threads = 1, .handle_signals = false}) {
    EXPECT_TRUE(RegisterEchoService(server, {.delay = delay}).ok());
    EXPECT_TRUE(server.Start("127.0.0.1:0").ok());
  }
  ~EchoServer() {
    server.Shutdown();
    server.Wait();
  }
  Server server;
};

ChannelOptions On(asio::any_io_executor executor) {
  ChannelOptions o;
  o.executor = std::move(executor);
  return o;
}

TEST(ChannelExecutor, FiftyChannelsOnAGivenLoopStartNoThreadAndWork) {
  EchoServer echo;
  const int before = ThreadsOfThisProcess();
  std::vector<std::unique_ptr<Channel>> channels;
  channels.reserve(50);
  for (int i = 0; i < 50; ++i)
    channels.push_back(std::make_unique<Channel>(echo.server.address(), On(echo.server.executor())));
  EXPECT_EQ(ThreadsOfThisProcess(), before);
  for (auto& channel : channels) {
    CallResult r = channel->Call("Echo.echo", json::value{{"x", 1}});
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_EQ(r.value, (json::value{{"x", 1}}));
  }
  EXPECT_EQ(ThreadsOfThisProcess(), before);
  channels.clear();
  EXPECT_EQ(ThreadsOfThisProcess(), before);
}

TEST(ChannelExecutor, BlockingCallFromItsOwnLoopFailsInsteadOfDeadlocking) {
  EchoServer echo;
  Channel channel(echo.server.address(), On(echo.server.executor()));
  std::promise<CallResult> result;
  asio::post(echo.server.executor(), [&] { result.set_value(channel.Call("Echo.echo", json::value{{"x", 1}})); });
  auto answer = result.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get().status.code(), StatusCode::kFailedPrecondition);
}

TEST(ChannelExecutor, AsyncCallFromACoroutineOnTheLoopStaysOnItsThread) {
  EchoServer echo;
  Channel channel(echo.server.address(), On(echo.server.executor()));
  std::promise<std::pair<CallResult, bool>> result;
  asio::co_spawn(
      echo.server.executor(),
      [&]() -> asio::awaitable<void> {
        const auto thread = std::this_thread::get_id();
        json::value params = json::parse(R"({"x":2})");  // (GCC 12: no braced lists in co_await expressions)
        CallResult r = co_await channel.AsyncCall("Echo.echo", std::move(params));
        result.set_value({std::move(r), std::this_thread::get_id() == thread});
      },
      [](const std::exception_ptr&) {});
  auto answer = result.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  auto [r, same_thread] = answer.get();
  EXPECT_TRUE(r.ok()) << r.status;
  EXPECT_TRUE(same_thread);
}

TEST(ChannelExecutor, DestroyedWithCallsInFlightEachCallFinishesOrIsCancelled) {
  EchoServer echo(100ms);  // answers after 100 ms: the calls are in flight when the channels go
  std::atomic<int> ok{0}, cancelled{0}, other{0};
  constexpr int kChannels = 20, kCallsEach = 5;
  for (int i = 0; i < kChannels; ++i) {
    // Half on the server's loop, half on private loops.
    auto channel =
        std::make_unique<Channel>(echo.server.address(), i % 2 == 0 ? On(echo.server.executor()) : ChannelOptions{});
    for (int c = 0; c < kCallsEach; ++c) {
      asio::co_spawn(
          echo.server.executor(),
          [&, call = channel->AsyncCall("Echo.echo", json::value{{"c", c}})]() mutable -> asio::awaitable<void> {
            CallResult r = co_await std::move(call);
            (r.ok() ? ok : r.status.code() == StatusCode::kCancelled ? cancelled : other)++;
          },
          [](const std::exception_ptr&) {});
    }
    if (i % 2 == 0) {
      // Gone, on its loop, while its calls wait for the server.
      std::promise<void> gone;
      asio::post(echo.server.executor(), [&] {
        channel.reset();
        gone.set_value();
      });
      ASSERT_EQ(gone.get_future().wait_for(5s), std::future_status::ready);
    } else {
      // Gone while its calls are in flight on its private loop (which it then
      // drains, within their deadline, before joining its thread).
      ASSERT_TRUE(testing::PollUntil([&] { return channel->Endpoints().at(0).in_flight == kCallsEach; }, 5s));
      channel.reset();
    }
  }
  ASSERT_TRUE(testing::PollUntil([&] { return ok + cancelled + other == kChannels * kCallsEach; }, 10s))
      << ok << " ok, " << cancelled << " cancelled, " << other << " other";
  EXPECT_EQ(other, 0) << ok << " ok, " << cancelled << " cancelled";
}

TEST(ChannelExecutor, MetricsAnswerWhileAChannelsLoopIsBlocked) {
  EchoServer echo;
  Channel channel(echo.server.address(), {});  // a private loop, blocked below
  ASSERT_TRUE(channel.Call("Echo.echo", json::value{{"x", 1}}).ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocked;
  asio::post(channel.executor(), [&blocked, released] {
    blocked.set_value();
    released.wait();
  });
  ASSERT_EQ(blocked.get_future().wait_for(5s), std::future_status::ready);

  const auto started = std::chrono::steady_clock::now();
  testing::RawSocket socket(echo.server.address().empty() ? 0 : testing::PortOf(echo.server.address()));
  ASSERT_TRUE(socket.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string response = socket.ReadResponse(5s);
  const auto took = testing::Since(started);
  release.set_value();
  EXPECT_EQ(testing::StatusOf(response), 200);
  // The counters (atomic) are there; the endpoint lines need the blocked loop.
  EXPECT_NE(testing::BodyOf(response).find("harpc_client_calls_total{target=\"" + echo.server.address() + "\"} 1"),
            std::string::npos)
      << testing::BodyOf(response);
  EXPECT_LT(took, 2s);
  std::printf("[ metrics  ] answered in %lld ms with a channel's loop blocked\n", static_cast<long long>(took.count()));
}

// A scrape that gave up on a blocked channel loop leaves its question queued
// there; the server that scraped is then destroyed with its loop. When the
// channel's loop gets to the question, its answer must not go to the dead loop
// (ASan saw a heap-use-after-free here: the answer was posted to the freed
// io_context, and the writer's timer freed with the question, off its loop).
TEST(ChannelExecutor, AnAnswerToAScrapeOutlivesTheLoopThatScraped) {
  auto scraper = std::make_unique<EchoServer>();
  Channel channel(scraper->server.address(), {});  // a private loop, blocked below
  ASSERT_TRUE(channel.Call("Echo.echo", json::value{{"x", 1}}).ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocked, ran_after;
  asio::post(channel.executor(), [&blocked, released] {
    blocked.set_value();
    released.wait();
  });
  ASSERT_EQ(blocked.get_future().wait_for(5s), std::future_status::ready);

  testing::RawSocket socket(testing::PortOf(scraper->server.address()));
  ASSERT_TRUE(socket.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(testing::StatusOf(socket.ReadResponse(5s)), 200);  // without the blocked channel's endpoints
  socket.Close();
  scraper.reset();  // the scraping server and its loop are gone; the question is still queued

  release.set_value();  // the channel's loop answers now
  // The loop went past the question, and the channel still works.
  asio::post(channel.executor(), [&ran_after] { ran_after.set_value(); });
  EXPECT_EQ(ran_after.get_future().wait_for(5s), std::future_status::ready);
}

}  // namespace
}  // namespace harpc
