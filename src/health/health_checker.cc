// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "health/health_checker.h"

#include "util/stop_signal.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include "http/client.h"
#include "http/request.h"
#include "util/log.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

bool ProcessIsGone(const boost::system::error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::broken_pipe || ec == http::error::end_of_stream;
}
}  // namespace

asio::awaitable<ProbeResult> ProbeHealth(std::unique_ptr<ClientConnection>& connection,
                                         const asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout,
                                         const ClientSecurity& security, std::string_view path) {
  const auto deadline = Clock::now() + timeout;
  const bool fresh = !connection;
  if (fresh) {
    connection = std::make_unique<ClientConnection>(co_await asio::this_coro::executor);
    if (auto ec = co_await connection->stream.Connect(endpoint, deadline, security.tls)) {
      connection.reset();
      co_return ec == asio::error::connection_refused ? ProbeResult::kRefused : ProbeResult::kFailed;
    }
  }
  std::string request;
  http1::AppendRequestLine(request, "GET", path, "harpc");
  http1::AppendBearerToken(request, security.bearer_token);
  http1::AppendBody(request, {}, {});
  http1::ClientResponse response = co_await http1::Exchange(*connection, request, deadline, {.body_bytes = 4096});
  if (response.error) {
    connection.reset();
    // A pooled probe connection may have been closed by the server's idle
    // timeout: try once more on a fresh one before blaming the endpoint.
    if (!fresh && ProcessIsGone(response.error) && Clock::now() < deadline) {
      co_return co_await ProbeHealth(
          connection, endpoint, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()), security, path);
    }
    co_return ProcessIsGone(response.error) ? ProbeResult::kRefused : ProbeResult::kFailed;
  }
  if (!response.reusable) connection.reset();
  if (response.status == 200) co_return ProbeResult::kServing;
  if (response.status == 503) co_return ProbeResult::kDraining;
  if (response.status == 404 || response.status == 405) co_return ProbeResult::kNoHealthEndpoint;
  co_return ProbeResult::kFailed;
}

asio::awaitable<void> RunHealthChecks(std::shared_ptr<Endpoint> endpoint, HealthCheckOptions options,
                                      HeartbeatListener listener) {
  if (options.interval.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::unique_ptr<ClientConnection> connection;
  bool told_no_health_endpoint = false;
  // Probes start at a fixed rate (start to start), and each times out after
  // the interval: a server that stops answering is unhealthy within
  // fall × interval of its first unanswered probe.
  auto next = Clock::now() + endpoint->heartbeat().NextProbeDelay();
  for (;;) {
    timer.expires_at(next);
    co_await timer.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    const auto started = Clock::now();
    ProbeResult result = co_await ProbeHealth(connection, endpoint->resolved(), options.interval,
                                              endpoint->policy().security, options.path);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    if (result == ProbeResult::kNoHealthEndpoint && !told_no_health_endpoint) {
      told_no_health_endpoint = true;
      Log().info("endpoint {}: no health endpoint (GET {} is 404 or 405); probing it for liveness only",
                 endpoint->address(), options.path);
    }
    const auto before = endpoint->heartbeat().state();
    if (endpoint->heartbeat().OnProbe(result, Clock::now()) && listener) {
      listener(*endpoint, before, endpoint->heartbeat().state());
    }
    next = std::max(started + endpoint->heartbeat().NextProbeDelay(), Clock::now());
  }
}

}  // namespace harpc
