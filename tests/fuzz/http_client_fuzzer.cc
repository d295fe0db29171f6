// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The client's HTTP/1.1 response codec (http/client.h), over a real loopback
// connection: the input is what the server sends back, then it closes. Both
// readers run on it: Exchange (one whole response, as RPC calls, probes and
// etcd's unary calls read them) and StreamingResponse (a body read as it
// arrives, as etcd's watch stream is), with small limits so that they are reached.
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fuzz_support.h"
#include "http/client.h"

namespace asio = boost::asio;
using namespace harpc;

namespace {

constexpr std::string_view kRequest = "GET /v3/watch HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// The server's side: reads the request, answers `bytes`, closes.
asio::awaitable<bool> Answer(asio::ip::tcp::socket& server, std::string_view bytes) {
  boost::system::error_code ec;
  std::string request(kRequest.size(), '\0');
  co_await asio::async_read(server, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  co_await asio::async_write(server, asio::buffer(bytes.data(), bytes.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  server.shutdown(asio::socket_base::shutdown_send, ec);
  co_return true;
}

asio::awaitable<http1::ClientResponse> Exchange(http1::ClientConnection& connection) {
  const http1::ResponseLimits limits{.head_bytes = 2048, .body_bytes = 8192};
  const http1::Clock::time_point deadline = http1::Clock::now() + std::chrono::seconds(5);
  co_return co_await http1::Exchange(connection, kRequest, deadline, limits);
}

asio::awaitable<size_t> Stream(http1::ClientConnection& connection) {
  http1::StreamingResponse response(connection, /*max_unconsumed=*/4096, /*max_head=*/2048);
  size_t consumed = 0;
  const http1::Clock::time_point deadline = http1::Clock::now() + std::chrono::seconds(5);
  if (co_await response.Start(kRequest, deadline)) co_return consumed;
  for (int reads = 0; !response.done() && reads < 10000; ++reads) {
    if (co_await response.ReadSome()) break;
    consumed += response.body().size();
    response.body().clear();
  }
  co_return consumed;
}

asio::awaitable<boost::system::error_code> Connect(http1::ClientConnection& connection,
                                                   asio::ip::tcp::endpoint endpoint) {
  const http1::Clock::time_point deadline = http1::Clock::now() + std::chrono::seconds(5);
  co_return co_await connection.stream.Connect(endpoint, deadline);
}

// One connection: the client connects, `read` reads while the server answers.
template <class T>
void OneConnection(asio::io_context& context, std::string_view bytes,
                   asio::awaitable<T> (*read)(http1::ClientConnection&)) {
  asio::ip::tcp::acceptor& acceptor = fuzz::LoopbackAcceptor(context);
  http1::ClientConnection connection(context.get_executor());
  if (fuzz::RunToEnd(context, Connect(connection, acceptor.local_endpoint()))) return;
  asio::ip::tcp::socket server(context);
  acceptor.accept(server);
  bool answered = false;
  asio::co_spawn(context, Answer(server, bytes), [&](const std::exception_ptr&, bool) { answered = true; });
  fuzz::RunToEnd(context, read(connection));
  while (!answered && context.run_one() > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static asio::io_context context;
  OneConnection(context, fuzz::Bytes(data, size), &Exchange);
  OneConnection(context, fuzz::Bytes(data, size), &Stream);
  return 0;
}
