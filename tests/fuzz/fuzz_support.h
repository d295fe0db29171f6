// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the fuzz targets share: quiet logs, running a coroutine to its end,
// parsing a raw request, and a connected pair of loopback sockets.
// (method_session.h: requests to a server's methods.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "http/server_connection.h"

namespace harpc::fuzz {

inline std::string_view Bytes(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// At the start of every input (it acts once per process): logging off, as
// a warning per malformed input would cost more than the parsing.
void Setup();

// Runs `work` on `context` until it completes, and returns its value. Work
// it left behind (timers, detached coroutines) is dropped with the context's
// next restart only if it completed: nothing else runs between inputs.
template <class T>
T RunToEnd(boost::asio::io_context& context, boost::asio::awaitable<T> work) {
  std::optional<T> out;
  std::exception_ptr failure;
  boost::asio::co_spawn(context, std::move(work), [&](std::exception_ptr e, T value) {
    failure = std::move(e);
    out = std::move(value);
  });
  context.restart();
  while (!out && !failure && context.run_one() > 0) {
  }
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

// A request parsed from raw bytes the way the server's connection parses
// them (Beast, eager body); false when the bytes are not one complete request.
bool ParseRequest(std::string_view bytes, http1::Request* out);

// A connected pair of TCP sockets on 127.0.0.1 (first: the connecting side).
std::pair<boost::asio::ip::tcp::socket, boost::asio::ip::tcp::socket> LoopbackPair(boost::asio::io_context& context);

// The listening socket LoopbackPair accepts on, for code that connects itself.
boost::asio::ip::tcp::acceptor& LoopbackAcceptor(boost::asio::io_context& context);

}  // namespace harpc::fuzz
