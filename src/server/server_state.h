// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What every part of a running server shares: its options, methods, counters
// and lifecycle flags. Methods are fixed before Start(), so lookups need no lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/json/value.hpp>

#include "core/wire_error.h"
#include "harpc/server.h"
#include "http/server_connection.h"
#include "metrics/histogram.h"
#include "server/access_log.h"
#include "server/credentials.h"
#include "server/idempotency_store.h"

namespace harpc {

inline constexpr int kStatusCodeCount = static_cast<int>(StatusCode::kNotLeader) + 1;

// Every call to a method is counted once, when it is answered, under the
// code it was answered with: those the method ran, and those refused at its
// door (draining, deadline passed, concurrency limit, role too low,
// idempotency key reused with other params). The latency histogram holds
// the calls the method ran.
struct MethodStats {
  std::array<std::atomic<uint64_t>, kStatusCodeCount> by_code{};  // index: StatusCode
  metrics::Histogram latency;

  void Count(StatusCode code) { by_code[static_cast<int>(code)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t Answered(StatusCode code) const { return by_code[static_cast<int>(code)].load(std::memory_order_relaxed); }
  uint64_t Answered() const { return Answered(StatusCode::kOk) + Failed(); }
  uint64_t Failed() const {
    uint64_t n = 0;
    for (int c = 1; c < kStatusCodeCount; ++c) n += by_code[c].load(std::memory_order_relaxed);
    return n;
  }
};

// JSON-RPC requests (or batch elements) refused before they named a method
// of this server, by JSON-RPC code. Answered with HTTP 200, so
// http_errors does not see them.
inline constexpr std::array<int, 3> kJsonRpcRejectionCodes = {wire::kParseError, wire::kInvalidRequest,
                                                              wire::kMethodNotFound};

struct Method {
  std::string name;
  Server::Handler handler;  // exactly one of handler, async_handler is set
  Server::AsyncHandler async_handler;
  MethodOptions options;
  MethodStats stats;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct ServerState {
  ServerOptions options;
  std::string address;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();

  std::unordered_map<std::string, std::unique_ptr<Method>, StringHash, std::equal_to<>> methods;
  Method* default_method = nullptr;
  std::unordered_map<std::string, std::function<Server::Page()>, StringHash, std::equal_to<>> pages;
  std::vector<std::function<std::string()>> extra_metrics;
  // Extra members of GET /status (Server::AddStatus).
  std::vector<std::pair<std::string, std::function<boost::json::value()>>> status_members;
  // Protocols a GET on a path may upgrade to (ServerUpgrades).
  struct Upgrade {
    std::string protocol;        // the Upgrade header's value
    std::string answer_headers;  // of the 101: "Connection: Upgrade\r\nUpgrade: <protocol>\r\n"
    Role role;
    std::function<boost::asio::awaitable<void>(http1::Stream&, std::string early_bytes, const http1::Request&)> serve;
  };
  std::unordered_map<std::string, Upgrade, StringHash, std::equal_to<>> upgrades;

  // The accepted tokens when options.auth is enabled (else null); replaced
  // whole by Server::ReloadCredentials() while the loops read it.
  std::atomic<std::shared_ptr<const TokenTable>> tokens;

  std::unique_ptr<IdempotencyStore> idempotency;
  // ServerOptions::access_log, opened by Start(); null when off.
  std::unique_ptr<AccessLog> access_log;
  std::atomic<uint64_t> idempotent_replays{0};

  std::atomic<bool> draining{false};
  // Fault injection (ServerFaults): this share of plain answers become a reset.
  std::atomic<double> fault_reset_rate{0};
  std::atomic<int64_t> in_flight{0};
  // Requests read whose answer is not yet written: shutdown waits for these.
  std::atomic<int64_t> requests_in_progress{0};
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_rejected{0};
  // Requests refused before they named a method of this server, by HTTP
  // status (400, 401, 404, 408, ...).
  std::array<std::atomic<uint64_t>, 600> http_errors{};
  std::array<std::atomic<uint64_t>, kJsonRpcRejectionCodes.size()> jsonrpc_rejections{};  // as kJsonRpcRejectionCodes

  Method* Find(std::string_view name) const {
    auto it = methods.find(name);
    return it == methods.end() ? nullptr : it->second.get();
  }
  void CountHttpError(int status) {
    if (status >= 0 && status < static_cast<int>(http_errors.size())) {
      http_errors[status].fetch_add(1, std::memory_order_relaxed);
    }
  }
  void CountJsonRpcRejection(int code) {
    for (size_t i = 0; i < kJsonRpcRejectionCodes.size(); ++i) {
      if (kJsonRpcRejectionCodes[i] == code) jsonrpc_rejections[i].fetch_add(1, std::memory_order_relaxed);
    }
  }
};

}  // namespace harpc
