// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The HTTP client: one connection, one request at a time. Used by the RPC
// client (pooled keep-alive connections), health probes, etcd (unary calls and
// the watch stream) and the sentinel's webhook.
//
// Every operation here is cancellable the standard way: cancelling the awaiting
// coroutine's cancellation slot (terminal) ends it with operation_aborted;
// deadlines end it with beast::error::timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/stream.h"

namespace harpc::http1 {

using Clock = std::chrono::steady_clock;

// A connection to one server (connect it with stream.Connect).
struct ClientConnection {
  // Room for a typical answer in one read: Beast reads no more than the
  // buffer's free space (512 bytes at first), so a small buffer costs syscalls.
  explicit ClientConnection(const boost::asio::any_io_executor& ex) : stream(ex) { buffer.reserve(16 * 1024); }
  Stream stream;
  boost::beast::flat_buffer buffer;  // bytes read past the last answer's end
  bool reused = false;               // taken from a pool rather than freshly connected
  Clock::time_point idle_since{};
};

struct ResponseLimits {
  std::uint32_t head_bytes = 64 * 1024;         // larger: http::error::header_limit
  std::uint64_t body_bytes = 64 * 1024 * 1024;  // larger: http::error::body_limit
};

// A response read completely, or why not.
struct ClientResponse {
  boost::system::error_code error;  // none: status and body are the answer's
  bool sent = false;                // the whole request was written (the server may have read it)
  bool connect_failed = false;      // `error` is why no connection could be made (nothing was sent)
  int status = 0;
  std::string body;
  bool reusable = false;  // a keep-alive answer with nothing unread after it
};

// Writes `request` (see http/request.h) and reads its response, giving up at `deadline`.
boost::asio::awaitable<ClientResponse> Exchange(ClientConnection& connection, std::string_view request,
                                                Clock::time_point deadline, const ResponseLimits& limits = {});

// A response whose body is read as it arrives (a stream of messages that may
// never end): Start writes the request and reads the head, then each ReadSome
// appends what came to body(); the caller removes what it has consumed.
class StreamingResponse {
 public:
  // `max_unconsumed`: more body than this not yet consumed is http::error::body_limit.
  StreamingResponse(ClientConnection& connection, std::uint64_t max_unconsumed, std::uint32_t max_head = 64 * 1024);

  // Writes `request` and reads the response head, both before `deadline`.
  boost::asio::awaitable<boost::system::error_code> Start(std::string_view request, Clock::time_point deadline);
  int status() const { return parser_.get().result_int(); }

  // Reads more of the body, with no deadline. done() once the body is complete.
  boost::asio::awaitable<boost::system::error_code> ReadSome();
  std::string& body() { return parser_.get().body(); }
  bool done() const { return parser_.is_done(); }

 private:
  ClientConnection& connection_;
  std::uint64_t max_unconsumed_;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser_;
};

}  // namespace harpc::http1
