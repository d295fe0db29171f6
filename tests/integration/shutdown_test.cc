// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Graceful shutdown of `harpc serve` on SIGTERM: stop accepting, finish the
// calls in flight within the grace period, exit 0.
#include <csignal>

#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

bool Refused(int port) { return !RawSocket(port).connected(); }

TEST(ItShutdown, SigtermFinishesInFlightCallRefusesNewOnesAndExitsZero) {
  ServeProcess serve = StartServe({"--delay-ms", "500", "--threads", "2"});
  ASSERT_GT(serve.port, 0);
  RawSocket idle(serve.port);  // an idle keep-alive connection open before the signal
  ASSERT_TRUE(idle.Send(Get("/health")));
  ASSERT_EQ(StatusOf(idle.ReadResponse(3s)), 200);

  RawSocket slow(serve.port);
  const std::string body = R"({"in":"flight"})";
  ASSERT_TRUE(slow.Send(Post("/rpc/Echo.echo", body)));
  ASSERT_TRUE(PollUntil([&] { return StatusField(serve.port, "in_flight") == 1; }, 2s));

  const auto signalled = Clock::now();
  serve.process.Signal(SIGTERM);
  EXPECT_TRUE(PollUntil([&] { return Refused(serve.port); }, 2s)) << "new connections still accepted";

  // The idle connection now sees the server draining (while the slow call
  // still runs), and is closed after the answer.
  ASSERT_TRUE(idle.Send(Get("/health")));
  std::string h = idle.ReadResponse(3s);
  if (!h.empty()) {  // the drain may already be over on a slow box: then the connection is just closed
    EXPECT_EQ(StatusOf(h), 503) << h;
    EXPECT_EQ(BodyOf(h), "NOT_SERVING\n");
  }

  std::string r = slow.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), body);
  EXPECT_EQ(HeaderOf(r, "Connection").value_or(""), "close") << "a draining server closes connections";

  std::optional<int> code = serve.process.Wait(10s);
  ASSERT_TRUE(code.has_value()) << "harpc serve did not exit";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Since(signalled), 3s);
  EXPECT_TRUE(slow.WaitClosed(2s));
}

TEST(ItShutdown, SigtermWithNothingInFlightExitsAtOnce) {
  ServeProcess serve = StartServe({"--threads", "2"});
  ASSERT_GT(serve.port, 0);
  RawSocket idle(serve.port);
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(HealthyCallServed(serve.port));
  const auto signalled = Clock::now();
  serve.process.Signal(SIGTERM);
  std::optional<int> code = serve.process.Wait(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Since(signalled), 1s);
  EXPECT_TRUE(idle.WaitClosed(2s));
}

TEST(ItShutdown, GracePeriodBoundsTheWaitForSlowCalls) {
  ServeProcess serve = StartServe({"--delay-ms", "5000", "--grace-ms", "200", "--threads", "2"});
  ASSERT_GT(serve.port, 0);
  RawSocket slow(serve.port);
  ASSERT_TRUE(slow.Send(Post("/rpc/Echo.echo", "{}")));
  ASSERT_TRUE(PollUntil([&] { return StatusField(serve.port, "in_flight") == 1; }, 2s));
  const auto signalled = Clock::now();
  serve.process.Signal(SIGTERM);
  std::optional<int> code = serve.process.Wait(5s);
  const auto took = Since(signalled);
  ASSERT_TRUE(code.has_value()) << "harpc serve did not exit within 5 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(took, 150ms) << "the grace period was not honoured";
  EXPECT_LT(took, 1500ms) << "the grace period (200 ms) did not bound the wait";
  // The abandoned call gets no answer; its connection is closed.
  EXPECT_TRUE(slow.WaitClosed(2s));
}

TEST(ItShutdown, SigintIsGracefulToo) {
  ServeProcess serve = StartServe({"--delay-ms", "300", "--threads", "1"});
  ASSERT_GT(serve.port, 0);
  RawSocket slow(serve.port);
  ASSERT_TRUE(slow.Send(Post("/rpc/Echo.echo", "[7]")));
  ASSERT_TRUE(PollUntil([&] { return StatusField(serve.port, "in_flight") == 1; }, 2s));
  serve.process.Signal(SIGINT);
  std::string r = slow.ReadResponse(5s);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "[7]");
  std::optional<int> code = serve.process.Wait(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace harpc::testing::it
