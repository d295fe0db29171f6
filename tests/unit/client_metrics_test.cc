// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A process that serves and also calls through a channel shows both sides on /metrics.
#include <gtest/gtest.h>

#include "apps/echo_service.h"
#include "harpc/channel.h"
#include "harpc/server.h"
#include "support/test_support.h"

namespace harpc {
namespace {

TEST(ClientMetrics, ChannelsOfTheProcessAppearOnTheServersMetricsPage) {
  Server server(ServerOptions{.threads = 1, .handle_signals = false});
  ASSERT_TRUE(RegisterEchoService(server).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());

  std::string metrics;
  {
    Channel channel(server.address(), {});
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(channel.Call("Echo.echo", boost::json::value{{"i", i}}).ok());
    const int port = std::stoi(server.address().substr(server.address().rfind(':') + 1));
    testing::RawSocket socket(port);
    ASSERT_TRUE(socket.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    metrics = testing::BodyOf(socket.ReadResponse(std::chrono::seconds(5)));
    const std::string labels = "target=\"" + server.address() + "\",endpoint=\"" + server.address() + "\"";
    EXPECT_NE(metrics.find("harpc_client_calls_total{target=\"" + server.address() + "\"} 5"), std::string::npos)
        << metrics;
    // A state set: every state has its series, 1 for the current one, 0 for the others.
    for (std::string_view state : {"healthy", "suspect", "draining", "unhealthy", "ejected", "open", "half_open"}) {
      const std::string series = "harpc_client_endpoint_state{" + labels + ",state=\"" + std::string(state) + "\"} ";
      EXPECT_NE(metrics.find(series + (state == "healthy" ? "1\n" : "0\n")), std::string::npos) << series << metrics;
    }
    EXPECT_NE(metrics.find("harpc_client_endpoint_picks_total{" + labels + "} 5"), std::string::npos);
  }
  // Once the channel is gone, so are its metrics.
  const int port = std::stoi(server.address().substr(server.address().rfind(':') + 1));
  testing::RawSocket socket(port);
  ASSERT_TRUE(socket.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(testing::BodyOf(socket.ReadResponse(std::chrono::seconds(5))).find("harpc_client_calls_total"),
            std::string::npos);
  server.Shutdown();
  server.Wait();
}

// An endpoint nobody listens on turns unhealthy: its state series say so,
// and those of the live endpoint still say healthy.
TEST(ClientMetrics, EndpointStateSeriesFollowTheState) {
  Server server(ServerOptions{.threads = 1, .handle_signals = false});
  ASSERT_TRUE(RegisterEchoService(server).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const std::string closed = "127.0.0.1:" + std::to_string(testing::FreePort());
  ChannelOptions options;
  options.health.interval = std::chrono::milliseconds(50);
  Channel channel("list://" + server.address() + "," + closed, options);
  auto scrape = [&] {
    testing::RawSocket socket(testing::PortOf(server.address()));
    if (!socket.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")) return std::string();
    return testing::BodyOf(socket.ReadResponse(std::chrono::seconds(5)));
  };
  auto series = [](const std::string& target, const std::string& endpoint, const std::string& state) {
    return "harpc_client_endpoint_state{target=\"" + target + "\",endpoint=\"" + endpoint + "\",state=\"" + state +
           "\"} ";
  };
  const std::string target = "list://" + server.address() + "," + closed;
  std::string metrics;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        metrics = scrape();
        return metrics.find(series(target, closed, "unhealthy") + "1\n") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << metrics;
  EXPECT_NE(metrics.find(series(target, closed, "healthy") + "0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(series(target, server.address(), "healthy") + "1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(series(target, server.address(), "unhealthy") + "0\n"), std::string::npos) << metrics;
  server.Shutdown();
  server.Wait();
}

}  // namespace
}  // namespace harpc
