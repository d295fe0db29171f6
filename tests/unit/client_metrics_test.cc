// A process that serves and also calls through a channel shows both sides on /metrics.
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "apps/echo_service.h"
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
    EXPECT_NE(metrics.find("harpc_client_endpoint_state{" + labels + ",state=\"healthy\"} 1"), std::string::npos);
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

}  // namespace
}  // namespace harpc
