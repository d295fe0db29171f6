// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/connection.h"

#include "core/wire_error.h"

namespace harpc {

namespace asio = boost::asio;

http1::Response ConnectionError(int http_status, int jsonrpc_code, std::string_view message) {
  std::string body = "{\"error\":{\"code\":" + std::to_string(jsonrpc_code) + ",\"message\":\"";
  body += message;  // ours, and needs no escaping
  body += "\"}}";
  return {.status = http_status, .body = std::move(body), .close = true};
}

Connection::Connection(EventLoop& loop, asio::ip::tcp::socket socket, ServerState& state, CallDispatcher& dispatcher,
                       const http1::ServerLimits& limits, std::shared_ptr<asio::ssl::context> tls)
    : executor_(socket.get_executor()),
      http_(std::move(socket), limits, std::move(tls)),
      state_(state),
      dispatcher_(dispatcher) {
  loop.connections.push_back(*this);
}

Connection::~Connection() { state_.connections_open.fetch_sub(1, std::memory_order_relaxed); }

// Not a coroutine itself: no frame of its own for the connection's lifetime.
asio::awaitable<void> Connection::Run() { return http_.Serve(*this); }

// Not a coroutine itself: no frame of its own per request.
asio::awaitable<http1::Response> Connection::Handle(const http1::Request& request) {
  state_.requests_in_progress.fetch_add(1, std::memory_order_relaxed);
  return dispatcher_.Handle(request, http_.peer(), executor_);
}

void Connection::Answered() { state_.requests_in_progress.fetch_sub(1, std::memory_order_relaxed); }

http1::Response Connection::Refuse(int http_status, std::string message) {
  state_.CountHttpError(http_status);
  if (state_.access_log) {
    // Refused before its head could be trusted: no method, no trace.
    state_.access_log->Write(
        {.code = wire::CodeFromHttpStatus(http_status), .http_status = http_status, .peer = http_.peer()});
  }
  return ConnectionError(http_status, wire::kInvalidRequest, message);
}

bool Connection::Closing() { return state_.draining.load(std::memory_order_relaxed); }

asio::awaitable<void> ServeConnection(EventLoop& loop, asio::ip::tcp::socket socket, ServerState& state,
                                      CallDispatcher& dispatcher, const http1::ServerLimits& limits,
                                      std::shared_ptr<asio::ssl::context> tls) {
  Connection connection(loop, std::move(socket), state, dispatcher, limits, std::move(tls));
  co_await connection.Run();
}

}  // namespace harpc
