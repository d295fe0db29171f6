// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Heartbeats: probes one endpoint with GET /health on its own keep-alive
// connection, every interval while healthy and with backoff while not, and
// feeds the answers to the endpoint's HeartbeatState.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "health/endpoint.h"

namespace harpc {

// Called on the channel's loop when an endpoint's heartbeat verdict changes.
using HeartbeatListener = std::function<void(Endpoint& endpoint, HeartbeatState::State from, HeartbeatState::State to)>;

// One probe: GET `path`, answered within `timeout`, with the bearer token
// of `security` (and over TLS when it asks for it). `connection` is reused
// across probes and reset when it cannot be trusted.
boost::asio::awaitable<ProbeResult> ProbeHealth(std::unique_ptr<ClientConnection>& connection,
                                                const boost::asio::ip::tcp::endpoint& endpoint,
                                                std::chrono::milliseconds timeout, const ClientSecurity& security,
                                                std::string_view path = "/health");

// Probes with the endpoint's EndpointPolicy::security. Runs until it is cancelled (util/stop_signal.h: the endpoint
// left the channel, or the channel stopped) or its loop stops.
boost::asio::awaitable<void> RunHealthChecks(std::shared_ptr<Endpoint> endpoint, HealthCheckOptions options,
                                             HeartbeatListener listener);

}  // namespace harpc
