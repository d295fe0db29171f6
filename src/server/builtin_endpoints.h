// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// GET /health, GET /metrics and GET /status: what operators and health checkers read.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/response.h"
#include "server/server_state.h"

namespace harpc {

// 200 "SERVING", or 503 "NOT_SERVING" while draining: the heartbeat target.
http1::Response HealthResponse(const ServerState& state);
// Prometheus text: requests, errors and latency per method, in-flight calls,
// connections, and the process's channels (waited for without blocking the
// loop, see client/client_metrics.h).
boost::asio::awaitable<http1::Response> MetricsResponse(const ServerState& state);
// JSON: name, address, state, uptime, connections, in-flight, and per-method counts.
http1::Response StatusResponse(const ServerState& state);

}  // namespace harpc
