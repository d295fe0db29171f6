// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The HTTP side of one accepted connection: reads requests (keep-alive,
// pipelined, limits, timeouts) and writes their answers in request order.
// What a request means is the RequestHandler's business.
//
// Cheap when idle and under load:
// - it waits until the socket is readable and then reads what is there
//   without blocking, so an idle connection holds no input buffer (its
//   answer buffer the owner's sweeper takes back: a busy connection keeps it
//   between requests), and a request's parser lives in a coroutine frame
//   that ends with the request;
// - answers to pipelined requests are batched into one write (the batch goes
//   out when no further request is buffered, or it reached max_unsent_bytes);
//   while a write is in progress no request is read, so a client that does not
//   read its answers stops being served (and the write's deadline closes it);
// - timeouts cost a timestamp per phase, not a timer: the owner's sweeper
//   calls Sweep now and then.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/response.h"
#include "http/stream.h"

namespace harpc::http1 {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct ServerLimits {
  std::size_t max_header_bytes = 8 * 1024;  // request head; also a chunk extension or the trailer
  std::uint64_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds header_timeout{5000};  // from the head's first byte to its end
  std::chrono::milliseconds body_timeout{30000};   // from the head's end to the body's end
  std::chrono::milliseconds idle_timeout{60000};   // between requests; also for each write
  // Answers wait unsent up to this much; then no request is read until they are written.
  std::size_t max_unsent_bytes = 64 * 1024;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // The answer to a complete request. Set `close` to end the connection after it.
  virtual boost::asio::awaitable<Response> Handle(const Request& request) = 0;
  // After Handle's answer was written or queued (or the write failed).
  virtual void Answered() {}
  // The answer to a request refused by the protocol (400, 408, 413, 431, 505);
  // the connection closes after it.
  virtual Response Refuse(int http_status, std::string message) = 0;
  // True while the server drains: answers then close their connection, and
  // idle connections end at once.
  virtual bool Closing() = 0;
};

class ServerConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // With `tls`, the connection speaks TLS with that context: the handshake
  // must end within limits.header_timeout, or the connection is closed.
  ServerConnection(boost::asio::ip::tcp::socket socket, const ServerLimits& limits,
                   std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

  // Serves requests until the connection ends.
  boost::asio::awaitable<void> Serve(RequestHandler& handler);

  // "address:port" of the client ("" if unknown).
  const std::string& peer() const { return peer_; }

  // Called by the owner's sweeper now and then: cancels the pending I/O once
  // the deadline passed; an idle connection gives its answer buffer back.
  void Sweep(Clock::time_point now);
  // Cancels pending I/O at once (hard stop).
  void Abort();

 private:
  enum class Phase { kIdle, kHead, kBody, kBusy };

  // Reads, answers and forgets one request; false when the connection ended.
  // Returns true without answering when no byte of a request came.
  boost::asio::awaitable<bool> ServeRequest(RequestHandler& handler);
  boost::asio::awaitable<bool> Flush();
  // Writes a 101 answer and hands the connection to its new protocol.
  boost::asio::awaitable<void> TakeOver(RequestHandler& handler, const Response& response);
  boost::asio::awaitable<void> LingeringClose();

  Stream stream_;
  const ServerLimits& limits_;
  std::string peer_;
  boost::beast::flat_buffer input_;
  std::string output_;  // answers not written yet
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool expired_ = false;
};

}  // namespace harpc::http1
