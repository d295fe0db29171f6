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

#include "harpc/server.h"
#include "http/server_connection.h"
#include "metrics/histogram.h"
#include "server/access_log.h"
#include "server/credentials.h"
#include "server/idempotency_store.h"

namespace harpc {

inline constexpr int kStatusCodeCount = static_cast<int>(StatusCode::kNotLeader) + 1;

struct MethodStats {
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, kStatusCodeCount> by_code{};  // index: StatusCode
  metrics::Histogram latency;
};

struct Method {
  std::string name;
  Server::Handler handler;             // exactly one of handler, async_handler is set
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
  // Requests refused before reaching a method, by HTTP status (400, 404, 408, ...).
  std::array<std::atomic<uint64_t>, 600> http_errors{};

  Method* Find(std::string_view name) const {
    auto it = methods.find(name);
    return it == methods.end() ? nullptr : it->second.get();
  }
  void CountHttpError(int status) {
    if (status >= 0 && status < static_cast<int>(http_errors.size())) {
      http_errors[status].fetch_add(1, std::memory_order_relaxed);
    }
  }
};

}  // namespace harpc
