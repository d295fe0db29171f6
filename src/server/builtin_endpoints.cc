// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/builtin_endpoints.h"

#include <boost/json.hpp>

#include "client/client_metrics.h"
#include "metrics/prometheus.h"

namespace harpc {

namespace json = boost::json;

namespace {
std::string MethodLabel(const Method& m) { return "method=\"" + metrics::EscapeLabel(m.name) + "\""; }

std::string CodeLabel(int code) {
  return ",code=\"" + std::string(StatusCodeName(static_cast<StatusCode>(code))) + "\"";
}
}  // namespace

http1::Response HealthResponse(const ServerState& state) {
  if (state.draining.load()) {
    return {.status = 503, .content_type = "text/plain", .body = "NOT_SERVING\n"};
  }
  return {.status = 200, .content_type = "text/plain", .body = "SERVING\n"};
}

boost::asio::awaitable<http1::Response> MetricsResponse(const ServerState& state) {
  metrics::PrometheusWriter w;
  // OK is always written, so that every method has a series from the start;
  // other codes once they happened.
  w.Family("harpc_server_requests_total", "counter",
           "Calls to a method, counted once when answered, by the status code they were answered with "
           "(refusals before the method ran included).");
  for (const auto& [name, m] : state.methods) {
    for (int c = 0; c < kStatusCodeCount; ++c) {
      uint64_t n = m->stats.by_code[c].load(std::memory_order_relaxed);
      if (n > 0 || c == 0) w.Sample("harpc_server_requests_total", MethodLabel(*m) + CodeLabel(c), n);
    }
  }
  w.Family("harpc_server_errors_total", "counter",
           "Calls to a method answered with an error, by status code: harpc_server_requests_total without OK.");
  for (const auto& [name, m] : state.methods) {
    for (int c = 1; c < kStatusCodeCount; ++c) {
      uint64_t n = m->stats.by_code[c].load(std::memory_order_relaxed);
      if (n > 0) w.Sample("harpc_server_errors_total", MethodLabel(*m) + CodeLabel(c), n);
    }
  }
  w.Family("harpc_server_request_duration_seconds", "histogram", "Time spent in the method, for calls it ran.");
  for (const auto& [name, m] : state.methods) {
    w.Latency("harpc_server_request_duration_seconds", MethodLabel(*m), m->stats.latency);
  }
  w.Family("harpc_server_http_errors_total", "counter", "Requests refused before reaching a method, by HTTP status.");
  for (size_t s = 0; s < state.http_errors.size(); ++s) {
    uint64_t n = state.http_errors[s].load(std::memory_order_relaxed);
    if (n) w.Sample("harpc_server_http_errors_total", "status=\"" + std::to_string(s) + "\"", n);
  }
  w.Family("harpc_server_jsonrpc_rejected_total", "counter",
           "JSON-RPC requests that named no method of this server (answered 200), by JSON-RPC error code.");
  for (size_t i = 0; i < kJsonRpcRejectionCodes.size(); ++i) {
    w.Sample("harpc_server_jsonrpc_rejected_total", "code=\"" + std::to_string(kJsonRpcRejectionCodes[i]) + "\"",
             state.jsonrpc_rejections[i].load(std::memory_order_relaxed));
  }
  w.Family("harpc_server_in_flight_requests", "gauge", "Calls being handled now.");
  w.Sample("harpc_server_in_flight_requests", "", static_cast<double>(state.in_flight.load()));
  w.Family("harpc_server_connections", "gauge", "Open client connections.");
  w.Sample("harpc_server_connections", "", static_cast<double>(state.connections_open.load()));
  w.Family("harpc_server_connections_accepted_total", "counter", "Connections accepted.");
  w.Sample("harpc_server_connections_accepted_total", "", state.connections_accepted.load());
  w.Family("harpc_server_connections_rejected_total", "counter",
           "Connections refused because max_connections was reached.");
  w.Sample("harpc_server_connections_rejected_total", "", state.connections_rejected.load());
  w.Family("harpc_server_draining", "gauge", "1 while the server shuts down gracefully.");
  w.Sample("harpc_server_draining", "", state.draining.load() ? 1.0 : 0.0);
  w.Family("harpc_server_idempotent_replays_total", "counter",
           "Repeated calls answered from the idempotency store instead of running again.");
  w.Sample("harpc_server_idempotent_replays_total", "", state.idempotent_replays.load());
  if (state.access_log) {
    w.Family("harpc_server_access_log_dropped_total", "counter",
             "Access log lines dropped: the disk fell behind by more than the log's buffer, or refused a write.");
    w.Sample("harpc_server_access_log_dropped_total", "", state.access_log->dropped());
  }
  co_await WriteClientMetrics(w);
  std::string text = w.Take();
  for (const auto& source : state.extra_metrics) text += source();
  co_return http1::Response{.status = 200, .content_type = "text/plain; version=0.0.4", .body = std::move(text)};
}

http1::Response StatusResponse(const ServerState& state) {
  json::array methods;
  for (const auto& [name, m] : state.methods) {
    methods.push_back(json::object{
        {"name", m->name},
        {"idempotent", m->options.idempotent},
        {"default", m.get() == state.default_method},
        {"requests", m->stats.Answered()},
        {"errors", m->stats.Failed()},
        {"p99_ms", m->stats.latency.QuantileMicros(0.99) / 1000.0},
    });
  }
  auto uptime =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - state.started_at);
  json::object body{
      {"name", state.options.name.empty() ? state.address : state.options.name},
      {"address", state.address},
      {"state", state.draining.load() ? "NOT_SERVING" : "SERVING"},
      {"uptime_ms", uptime.count()},
      {"threads", state.options.threads},
      {"connections", state.connections_open.load()},
      {"in_flight", state.in_flight.load()},
      {"methods", std::move(methods)},
  };
  for (const auto& [name, value] : state.status_members) body[name] = value();
  return {.status = 200, .body = json::serialize(body)};
}

}  // namespace harpc
