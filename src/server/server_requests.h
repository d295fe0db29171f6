// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A parsed HTTP request handed straight to a server's dispatcher, as if it
// had come over a connection: routing, tokens, deadlines, the limits and the
// methods all run as they do for a request read from the network. The
// fuzzers drive methods this way (thousands of requests a second, no socket),
// and a server need not be started for it. Not part of the public API.
#pragma once

#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "harpc/server.h"
#include "http/server_connection.h"

namespace harpc {

class ServerRequests {
 public:
  // The answer to `request`, from a client at `peer` ("H:P" or ""), with the
  // method running on `executor`.
  static boost::asio::awaitable<http1::Response> Handle(Server& server, const http1::Request& request,
                                                        const std::string& peer, boost::asio::any_io_executor executor);
};

}  // namespace harpc
