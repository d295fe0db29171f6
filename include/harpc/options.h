// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The high-availability knobs of a Channel, one struct per mechanism. Every
// field states its meaning and default; docs/high-availability.md explains how
// the mechanisms work together.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace harpc {

// Heartbeats: each endpoint is probed with GET /health.
struct HealthCheckOptions {
  // Probe period; a probe also times out after it. 0 disables probing. Default 1 s.
  std::chrono::milliseconds interval{1000};
  // The path probed with GET: 200 is serving, 503 draining. A server without
  // one (404 or 405) is logged once and probed on for liveness only: a
  // refused, reset or silent probe still counts against it. Default "/health".
  std::string path = "/health";
  // Consecutive failed probes that turn a healthy endpoint unhealthy. Default 2.
  int fall = 2;
  // Consecutive good probes that turn an unhealthy endpoint healthy. Default 2.
  int rise = 2;
  // Unhealthy endpoints are probed less often, backing off up to this period. Default 2 s.
  std::chrono::milliseconds max_backoff{2000};
};

// Passive outlier detection: endpoints that fail real calls are ejected for a while.
struct OutlierOptions {
  // Consecutive failed calls that eject an endpoint; 0 disables. Default 5.
  int consecutive_failures = 5;
  // Failure ratio over `window` (with at least `min_requests` calls) that
  // ejects an endpoint; 0 disables. Default 0.5.
  double failure_ratio = 0.5;
  std::chrono::milliseconds window{10000};  // Default 10 s.
  int min_requests = 20;                    // Default 20.
  // An ejection lasts base_ejection × (number of ejections so far), at most
  // max_ejection. Defaults 1 s and 30 s.
  std::chrono::milliseconds base_ejection{1000};
  std::chrono::milliseconds max_ejection{30000};
  // Never eject more than this share of the endpoints. Default 50 (%).
  int max_ejection_percent = 50;
};

// A circuit breaker per endpoint: closed (calls flow), open (no calls), half-open (a few trial calls).
struct CircuitBreakerOptions {
  // Opens when the failure ratio over the last `window_calls` calls reaches
  // this. 0 disables the breaker. Default 0.5.
  double failure_ratio = 0.5;
  int window_calls = 20;  // Default 20; the ratio is judged only once the window is full.
  // How long it stays open before letting trial calls through. Default 2 s.
  std::chrono::milliseconds open_duration{2000};
  // Trial calls in half-open; all must succeed to close it. Default 3.
  int half_open_calls = 3;
};

// Retries and the budget that keeps them from becoming a storm.
struct RetryOptions {
  // Extra attempts after the first, each on another endpoint while one is left. Default 2.
  int max_retries = 2;
  // Retries may add at most this share of the calls of the last 10 s... Default 0.2.
  double budget_ratio = 0.2;
  // ...plus this many retries per second, so that a quiet channel can still retry. Default 10.
  int budget_min_per_second = 10;
};

// Hedged (backup) requests: a second attempt on another endpoint when the first is slow.
struct HedgeOptions {
  // Send the backup after this long; 0 disables hedging unless use_p95. Default 0.
  std::chrono::milliseconds after{0};
  // Send the backup after the channel's recent 95th-percentile latency instead. Default false.
  bool use_p95 = false;
};

// How calls in flight to one endpoint share its keep-alive connections.
// By default each call in flight has a connection of its own. With `depth`
// above 1, the first `connections` calls get a connection each; beyond that,
// a request goes on the least loaded connection behind up to `depth - 1`
// others (HTTP/1.1 pipelining), and another connection opens only when all
// are that full. Sharing saves both sides a system call or two and a wake-up
// per call, many answers arriving in one read: with methods that answer in
// microseconds it cuts the CPU a call costs each side by 2 to 2.5 times at
// 64 callers (docs/BENCHMARKS.md).
//
// Its price is order. A server answers the requests of one connection in the
// order they came, and harpc's server handles them one after another, so a
// call waits for the calls queued before it on its connection. Leave it off
// for methods that take milliseconds (a database, another service): there,
// the system calls it saves are noise and the waiting is not. A connection
// whose caller gave up waiting (deadline, hedge) takes no new request until
// that answer is in, and a server is sent one request at a time until it
// proves it speaks HTTP/1.1 with keep-alive.
struct PipelineOptions {
  // Requests on one connection at once, at most; 1: no pipelining, a
  // connection per call in flight. Default 1.
  size_t depth = 1;
  // With depth > 1: connections used one call at a time before calls share them. Default 4.
  size_t connections = 4;
};

// What a channel does when a call fails after its retries.
enum class FaultMode {
  kFailover,  // retry on other endpoints (default)
  kFailfast,  // no retries: report the first failure at once
  kFailsafe,  // like failover, but a final failure is logged and answered with an empty (null) result
};

}  // namespace harpc
