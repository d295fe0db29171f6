// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The server's HTTP/1.1 codec (http/server_connection.h), fed from a real
// socket: the input is what a client sends on one connection (pipelined
// requests, chunked bodies, Expect, bad heads...), then it closes its side.
// The handler answers each request with what it saw, so answers and framing
// go through the real writer too. Limits are small so that they are reached.
#include <memory>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fuzz_support.h"

namespace asio = boost::asio;
using namespace harpc;

namespace {

// Answers each request with what it saw: method, target and body.
class SeenHandler final : public http1::RequestHandler {
 public:
  asio::awaitable<http1::Response> Handle(const http1::Request& request) override {
    std::string seen =
        std::string(request.method_string()) + " " + std::string(request.target()) + " " + request.body();
    co_return Answer(200, std::move(seen), request.target() == "/close");
  }
  http1::Response Refuse(int http_status, std::string message) override {
    return Answer(http_status, std::move(message), true);
  }
  bool Closing() override { return false; }

 private:
  static http1::Response Answer(int status, std::string body, bool close) {
    http1::Response answer;
    answer.status = status;
    answer.body = std::move(body);
    answer.close = close;
    return answer;
  }
};

// The client's side: sends the input, then closes its sending side.
asio::awaitable<bool> Send(asio::ip::tcp::socket& client, std::string_view bytes) {
  boost::system::error_code ec;
  co_await asio::async_write(client, asio::buffer(bytes.data(), bytes.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  client.shutdown(asio::socket_base::shutdown_send, ec);
  co_return true;
}

// Reads the answers until the server closes, so that it never waits for room to write.
asio::awaitable<bool> Drain(asio::ip::tcp::socket& client) {
  boost::system::error_code ec;
  std::string answers;
  co_await asio::async_read(client, asio::dynamic_buffer(answers, 1 << 22),
                            asio::redirect_error(asio::use_awaitable, ec));
  co_return true;
}

asio::awaitable<bool> Serve(http1::ServerConnection& connection, http1::RequestHandler& handler) {
  co_await connection.Serve(handler);
  co_return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static asio::io_context context;
  static const http1::ServerLimits limits{.max_header_bytes = 1024, .max_body_bytes = 4096, .max_unsent_bytes = 2048};
  auto [client, server] = fuzz::LoopbackPair(context);
  auto connection = std::make_unique<http1::ServerConnection>(std::move(server), limits);
  SeenHandler handler;
  bool served = false, drained = false;
  asio::co_spawn(context, Serve(*connection, handler), [&](const std::exception_ptr& e, bool) {
    if (e) std::rethrow_exception(e);
    served = true;
  });
  asio::co_spawn(context, Drain(client), [&](const std::exception_ptr&, bool) { drained = true; });
  fuzz::RunToEnd(context, Send(client, fuzz::Bytes(data, size)));
  while (!served && context.run_one() > 0) {
  }
  connection.reset();  // closes the server's side: the client reads the end
  while (!drained && context.run_one() > 0) {
  }
  return 0;
}
