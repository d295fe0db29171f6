// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// One client connection: the HTTP side (http::ServerConnection) reads the
// requests and writes the answers; this side hands each request to the
// dispatcher and keeps the server's books (requests in progress, HTTP errors).
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include "http/server_connection.h"
#include "server/dispatcher.h"
#include "server/server_state.h"

namespace harpc {

struct EventLoop;
using ConnectionHook = boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Connection : public ConnectionHook, private http1::RequestHandler {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(EventLoop& loop, boost::asio::ip::tcp::socket socket, ServerState& state, CallDispatcher& dispatcher,
             const http1::ServerLimits& limits, std::shared_ptr<boost::asio::ssl::context> tls);
  ~Connection() override;

  boost::asio::awaitable<void> Run();

  // Called by the loop's sweeper: cancels the pending I/O once the deadline
  // passed; an idle connection gives its answer buffer back.
  void Sweep(Clock::time_point now) { http_.Sweep(now); }
  // Cancels pending I/O at once (hard stop).
  void Abort() { http_.Abort(); }

 private:
  boost::asio::awaitable<http1::Response> Handle(const http1::Request& request) override;
  void Answered() override;
  http1::Response Refuse(int http_status, std::string message) override;
  bool Closing() override;

  boost::asio::any_io_executor executor_;  // the socket's: the connection's coroutine runs on it
  http1::ServerConnection http_;
  ServerState& state_;
  CallDispatcher& dispatcher_;
};

// The answer for an HTTP error the server raises itself (bad input, too many
// connections): {"error":{"code":jsonrpc_code,"message":...}}, then close.
http1::Response ConnectionError(int http_status, int jsonrpc_code, std::string_view message);

// One event-loop thread of a server and the connections it owns. A sweeper
// timer enforces every connection's read/write deadline, so that timeouts cost
// a timestamp per read instead of a timer per connection.
struct EventLoop {
  // Declared first so that it is destroyed last: connections unlink themselves
  // from it when the io_context below destroys their coroutines.
  boost::intrusive::list<Connection, boost::intrusive::constant_time_size<false>> connections;
  boost::asio::io_context context{1};
  boost::asio::steady_timer sweeper{context};
  std::thread thread;
};

// Runs a connection to its end; the coroutine owns the Connection.
boost::asio::awaitable<void> ServeConnection(EventLoop& loop, boost::asio::ip::tcp::socket socket, ServerState& state,
                                             CallDispatcher& dispatcher, const http1::ServerLimits& limits,
                                             std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace harpc
