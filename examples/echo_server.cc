// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A minimal harpc server: one synchronous and one coroutine method.
//   build/examples/echo_server 127.0.0.1:8001
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <harpc/server.h>

int main(int argc, char** argv) {
  harpc::Server server;
  server.AddMethod("Echo.echo",
                   [](const boost::json::value& params, harpc::CallContext&) { return harpc::Result(params); },
                   {.idempotent = true});
  server.AddAsyncMethod(
      "Clock.sleep", [](boost::json::value params, harpc::CallContext& ctx) -> boost::asio::awaitable<harpc::Result> {
        if (!params.is_object() || !params.as_object().contains("ms")) {
          co_return harpc::InvalidArgument("params must be {\"ms\": N}");
        }
        boost::asio::steady_timer timer(ctx.executor(),
                                        std::chrono::milliseconds(params.at("ms").to_number<int64_t>()));
        co_await timer.async_wait(boost::asio::use_awaitable);
        co_return boost::json::value{{"slept_ms", params.at("ms")}};
      });
  server.SetDefaultMethod("Echo.echo");
  harpc::Status s = server.Start(argc > 1 ? argv[1] : "127.0.0.1:8001");
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", server.address().c_str());
  std::fflush(stdout);
  server.Wait();  // SIGTERM/SIGINT: graceful shutdown
}
