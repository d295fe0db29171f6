#include "health/health_checker.h"

#include "util/stop_signal.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

bool ProcessIsGone(const boost::system::error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::eof || ec == asio::error::broken_pipe || ec == http::error::end_of_stream;
}
}  // namespace

asio::awaitable<ProbeResult> ProbeHealth(std::unique_ptr<ClientConnection>& connection,
                                         const asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const bool fresh = !connection;
  if (fresh) {
    connection = std::make_unique<ClientConnection>(co_await asio::this_coro::executor);
    connection->stream.expires_at(deadline);
    auto [ec] = co_await connection->stream.async_connect(endpoint, kNoThrow);
    if (ec) {
      connection.reset();
      co_return ec == asio::error::connection_refused ? ProbeResult::kRefused : ProbeResult::kFailed;
    }
  }
  static constexpr std::string_view kRequest = "GET /health HTTP/1.1\r\nHost: harpc\r\n\r\n";
  connection->stream.expires_at(deadline);
  auto [wec, written] = co_await asio::async_write(connection->stream, asio::buffer(kRequest), kNoThrow);
  http::response_parser<http::string_body> parser;
  parser.body_limit(4096);
  boost::system::error_code rec = wec;
  if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(connection->stream, connection->buffer, parser, kNoThrow);
  if (rec) {
    connection.reset();
    // A pooled probe connection may have been closed by the server's idle
    // timeout: try once more on a fresh one before blaming the endpoint.
    if (!fresh && ProcessIsGone(rec) && Clock::now() < deadline) {
      co_return co_await ProbeHealth(connection, endpoint,
                                     std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    co_return ProcessIsGone(rec) ? ProbeResult::kRefused : ProbeResult::kFailed;
  }
  const auto& response = parser.get();
  if (!response.keep_alive()) connection.reset();
  if (response.result_int() == 200) co_return ProbeResult::kServing;
  if (response.result_int() == 503) co_return ProbeResult::kDraining;
  co_return ProbeResult::kFailed;
}

asio::awaitable<void> RunHealthChecks(std::shared_ptr<Endpoint> endpoint, HealthCheckOptions options,
                                      HeartbeatListener listener) {
  if (options.interval.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::unique_ptr<ClientConnection> connection;
  // Probes start at a fixed rate (start to start), and each times out after
  // the interval: a server that stops answering is unhealthy within
  // fall × interval of its first unanswered probe.
  auto next = Clock::now() + endpoint->heartbeat().NextProbeDelay();
  for (;;) {
    timer.expires_at(next);
    co_await timer.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    const auto started = Clock::now();
    ProbeResult result = co_await ProbeHealth(connection, endpoint->resolved(), options.interval);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    const auto before = endpoint->heartbeat().state();
    if (endpoint->heartbeat().OnProbe(result, Clock::now()) && listener) {
      listener(*endpoint, before, endpoint->heartbeat().state());
    }
    next = std::max(started + endpoint->heartbeat().NextProbeDelay(), Clock::now());
  }
}

}  // namespace harpc
