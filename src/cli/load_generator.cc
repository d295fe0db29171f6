// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/load_generator.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace harpc::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {
// Shared by the callers; they all run on the channel's loop thread.
struct LoadState {
  const LoadSpec& spec;
  Clock::time_point end;
  uint64_t started = 0;
  LoadReport report;

  bool More() {
    if (spec.requests > 0) return started < spec.requests;
    return Clock::now() < end;
  }
};

asio::awaitable<void> Caller(Channel& channel, LoadState& state) {
  while (state.More()) {
    ++state.started;
    auto t0 = Clock::now();
    CallOptions options;
    options.idempotent = state.spec.idempotent;
    CallResult r = co_await channel.AsyncCall(state.spec.method, state.spec.params, options);
    state.report.Record(r, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
  }
}
}  // namespace

void LoadReport::Record(const CallResult& r, std::chrono::microseconds took) {
  latency->Record(took);
  ++requests;
  const int extra = r.attempts - 1 - (r.hedged ? 1 : 0);
  if (extra > 0) retries += extra;
  if (r.hedged) ++hedges;
  if (r.ok()) {
    ++ok;
    ++per_endpoint[r.endpoint];
  } else {
    ++errors;
    ++error_kinds[std::string(StatusCodeName(r.status.code()))];
  }
}

void LoadReport::Add(const LoadReport& other) {
  requests += other.requests;
  ok += other.ok;
  errors += other.errors;
  retries += other.retries;
  hedges += other.hedges;
  seconds = std::max(seconds, other.seconds);
  latency->Merge(*other.latency);
  for (const auto& [k, v] : other.per_endpoint) per_endpoint[k] += v;
  for (const auto& [k, v] : other.error_kinds) error_kinds[k] += v;
}

// Calls `on_tick` every `tick` until the callers are done.
// Owns copies of what it needs past RunLoad's return: it may wake once after the load ended.
asio::awaitable<void> Ticker(LoadState& state, std::function<void(const LoadReport&)> on_tick,
                             std::chrono::milliseconds tick, std::shared_ptr<std::atomic<int>> remaining) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto next = Clock::now();
  while (remaining->load() > 0) {
    next += tick;
    timer.expires_at(next);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (remaining->load() > 0) on_tick(state.report);
  }
}

LoadReport RunLoad(Channel& channel, const LoadSpec& spec, const std::function<void(const LoadReport&)>& on_tick,
                   std::chrono::milliseconds tick) {
  LoadState state{.spec = spec};
  for (const EndpointInfo& e : channel.Endpoints()) state.report.per_endpoint[e.address] = 0;

  std::promise<void> done;
  auto remaining = std::make_shared<std::atomic<int>>(spec.concurrency);
  const auto start = Clock::now();
  state.end = start + spec.duration;
  for (int i = 0; i < spec.concurrency; ++i) {
    asio::co_spawn(channel.executor(), Caller(channel, state), [&done, remaining](const std::exception_ptr&) {
      if (remaining->fetch_sub(1) == 1) done.set_value();
    });
  }
  if (on_tick) asio::co_spawn(channel.executor(), Ticker(state, on_tick, tick, remaining), asio::detached);
  done.get_future().wait();
  state.report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return std::move(state.report);
}

json::object LoadReport::ToJson() const {
  json::object per, kinds;
  for (const auto& [k, v] : per_endpoint) per[k] = v;
  for (const auto& [k, v] : error_kinds) kinds[k] = v;
  return json::object{
      {"requests", requests},
      {"ok", ok},
      {"errors", errors},
      {"retries", retries},
      {"hedges", hedges},
      {"qps", qps()},
      {"latency_ms", json::object{{"p50", LatencyMs(0.50)},
                                  {"p99", LatencyMs(0.99)},
                                  {"p999", LatencyMs(0.999)},
                                  {"max", latency->max_micros() / 1000.0}}},
      {"per_endpoint", std::move(per)},
      {"error_kinds", std::move(kinds)},
  };
}

std::string LoadReport::ToText() const {
  char line[256];
  std::string out;
  std::snprintf(line, sizeof line, "requests %llu  ok %llu  errors %llu  retries %llu  qps %.0f\n",
                (unsigned long long)requests, (unsigned long long)ok, (unsigned long long)errors,
                (unsigned long long)retries, qps());
  out += line;
  std::snprintf(line, sizeof line, "latency ms  p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n", LatencyMs(0.5),
                LatencyMs(0.99), LatencyMs(0.999), latency->max_micros() / 1000.0);
  out += line;
  out += "per endpoint (successful answers):\n";
  for (const auto& [address, n] : per_endpoint) {
    std::snprintf(line, sizeof line, "  %-22s %10llu  %5.1f%%\n", address.c_str(), (unsigned long long)n,
                  ok ? 100.0 * static_cast<double>(n) / static_cast<double>(ok) : 0.0);
    out += line;
  }
  if (!error_kinds.empty()) {
    out += "errors by kind:\n";
    for (const auto& [kind, n] : error_kinds) {
      std::snprintf(line, sizeof line, "  %-22s %10llu\n", kind.c_str(), (unsigned long long)n);
      out += line;
    }
  }
  return out;
}

void PrintProgressLine(json::object totals) {
  totals["unix_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::printf("%s\n", json::serialize(totals).c_str());
  std::fflush(stdout);
}

}  // namespace harpc::cli
