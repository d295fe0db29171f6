// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A minimal harpc client: a synchronous call, then coroutine calls.
//   build/examples/echo_client list://127.0.0.1:8001
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <harpc/channel.h>

// An exception (a malformed reply to parse, out of memory) ends the example with its message.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  harpc::Channel channel(argc > 1 ? argv[1] : "list://127.0.0.1:8001", {.timeout = std::chrono::milliseconds(500)});
  harpc::CallResult r = channel.Call("Echo.echo", boost::json::parse(R"({"hello":"world"})"));
  if (!r.ok()) {
    std::fprintf(stderr, "call failed: %s\n", r.status.ToString().c_str());
    return 1;
  }
  std::printf("%s answered %s\n", r.endpoint.c_str(), boost::json::serialize(r.value).c_str());

  boost::asio::io_context io;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
          boost::json::value params = {{"i", i}};
          harpc::CallResult a = co_await channel.AsyncCall("Echo.echo", params);
          std::printf("async %d: %s\n", i,
                      a.ok() ? boost::json::serialize(a.value).c_str() : a.status.ToString().c_str());
        }
      },
      boost::asio::detached);
  io.run();
}
