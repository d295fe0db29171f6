// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Requests to a server's methods without a connection (server_requests.h),
// and method sessions: the input format of the fuzz targets of the
// sentinel's and the transactions' methods.
#pragma once

#include <functional>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "harpc/server.h"
#include "http/server_connection.h"

namespace harpc::fuzz {

// The answer of `server` (not started) to `request`, its methods running on `context`.
http1::Response Dispatch(Server& server, boost::asio::io_context& context, const http1::Request& request);
// The answer of a started server: the request is handled on its (first)
// loop, as its connections' requests are, and awaited.
http1::Response DispatchOnLoop(Server& server, const http1::Request& request);

using Dispatcher = std::function<http1::Response(const http1::Request& request)>;

// A method session: lines "Method.name PARAMS" (PARAMS: JSON, may be empty),
// each a POST /rpc/<Method> with a deadline of `deadline_ms`, in order. In a
// line, "$name" stands for the last string or number a previous answer had as
// its top-level member "name" (e.g. begin's "$txid", register's "$lease"), so
// that a short input can reach what a first call's answer opens. At most
// `max_calls` lines run.
void RunSession(const Dispatcher& dispatch, std::string_view input, int deadline_ms = 100, int max_calls = 16);
// The same on a started server (DispatchOnLoop).
void RunSessionOnLoop(Server& server, std::string_view input);

}  // namespace harpc::fuzz
