// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The client side in /metrics: every live channel of this process, with the
// state and counters of each of its endpoints. A server that calls other
// services through channels shows both sides on its one /metrics page.
//
// Reading never blocks a loop: the registry holds channels weakly, and the
// writer, a coroutine, asks each channel's loop for its endpoints (inline
// when it is the writer's own loop) and waits at most kLoopAnswerWait for all
// of them. A channel whose loop is busy longer shows its counters (atomic)
// but no endpoint lines this time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "metrics/prometheus.h"

namespace harpc {

class ChannelCore;

inline constexpr std::chrono::milliseconds kLoopAnswerWait{100};

// Channels register for their lifetime; the returned id unregisters.
uint64_t RegisterChannel(std::string target, const std::shared_ptr<ChannelCore>& core);
void UnregisterChannel(uint64_t id);

// Appends the harpc_client_* families; nothing when no channel lives.
boost::asio::awaitable<void> WriteClientMetrics(metrics::PrometheusWriter& w);

}  // namespace harpc
