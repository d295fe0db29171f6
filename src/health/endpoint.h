// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// One server a channel can call: its address and weight, its keep-alive
// connections, its health (heartbeats, outlier detection, circuit breaker)
// and the load signals balancers read. Health lives here, not in a balancer,
// so that every policy honours it.
//
// An Endpoint is used on its channel's event-loop thread only, except the
// atomic counters, which dashboards and benchmarks read from anywhere.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/endpoint_spec.h"
#include "harpc/options.h"
#include "harpc/security.h"
#include "health/circuit_breaker.h"
#include "health/heartbeat_state.h"
#include "health/outlier_detector.h"
#include "http/connection_pool.h"

namespace harpc {

// Every state an endpoint can be in, as channels report it (EndpointInfo::state,
// harpc_client_endpoint_state): the heartbeat's (healthy, suspect, draining,
// unhealthy), then, for a healthy one, ejected by outlier detection, or its
// circuit breaker open or half open.
inline constexpr std::array<std::string_view, 7> kEndpointStateNames = {"healthy", "suspect", "draining", "unhealthy",
                                                                        "ejected", "open",    "half_open"};

// The per-endpoint policies of a channel.
struct EndpointPolicy {
  HealthCheckOptions health;
  OutlierOptions outlier;
  CircuitBreakerOptions breaker;
  // New and readmitted endpoints ramp from 10 % to 100 % of their weight over this. Default 5 s.
  std::chrono::milliseconds slow_start{5000};
  // Time constant of the latency average that least_time reads: an endpoint
  // that speeds up regains its share within a few of these. Default 300 ms.
  std::chrono::milliseconds latency_decay{300};
  // How calls share connections (ChannelOptions::pipeline, max_idle_connections, connect_timeout).
  PoolOptions pool;
  // TLS and the bearer token of every call and health probe (ChannelOptions::security).
  ClientSecurity security;
};

class Endpoint : public std::enable_shared_from_this<Endpoint> {
 public:
  using Clock = std::chrono::steady_clock;

  // `joined_at` starts a slow start; Clock::time_point{} means none (the
  // channel's initial endpoints).
  Endpoint(EndpointSpec spec, const boost::asio::ip::tcp::endpoint& resolved, boost::asio::any_io_executor executor,
           const EndpointPolicy& policy, Clock::time_point joined_at = {})
      : spec_(std::move(spec)),
        resolved_(resolved),
        policy_(policy),
        pool_(std::move(executor), resolved, policy.pool, policy.security),
        heartbeat_(policy.health),
        outlier_(policy.outlier),
        breaker_(policy.breaker),
        joined_at_(joined_at) {}

  const std::string& address() const { return spec_.address; }
  const boost::asio::ip::tcp::endpoint& resolved() const { return resolved_; }
  int weight() const { return spec_.weight; }
  void set_weight(int weight) { spec_.weight = weight; }
  ConnectionPool& pool() { return pool_; }
  const EndpointPolicy& policy() const { return policy_; }

  // --- health -------------------------------------------------------------
  HeartbeatState& heartbeat() { return heartbeat_; }
  const HeartbeatState& heartbeat() const { return heartbeat_; }
  OutlierDetector& outlier() { return outlier_; }
  const OutlierDetector& outlier() const { return outlier_; }
  CircuitBreaker& breaker() { return breaker_; }
  const CircuitBreaker& breaker() const { return breaker_; }

  // Whether balancers may pick it now: healthy, not ejected, circuit not open.
  bool Selectable(Clock::time_point now) const {
    return heartbeat_.healthy() && !outlier_.Ejected(now) && breaker_.WouldAllow(now);
  }
  // One of kEndpointStateNames.
  std::string_view StateName(Clock::time_point now) const;

  // --- load signals -------------------------------------------------------
  // The weight scaled by slow start, in thousandths: weight × 1000 when fully
  // admitted, down to weight × 100 just after (re)admission.
  int64_t EffectiveWeight(Clock::time_point now) const {
    const int64_t full = static_cast<int64_t>(spec_.weight) * 1000;
    return InSlowStart(now) ? RampedWeight(full, AdmittedAt(), now) : full;
  }
  // Whether EffectiveWeight is still ramping up, so moves with `now`.
  bool InSlowStart(Clock::time_point now) const {
    const auto admitted = AdmittedAt();
    return admitted != Clock::time_point{} && now < admitted + policy_.slow_start;
  }
  // Calls in flight on this endpoint now.
  int in_flight() const { return in_flight_; }
  void AddInFlight(int delta) { in_flight_ += delta; }
  // Exponentially decaying average latency in microseconds (0 before any sample).
  double latency_us() const { return latency_us_; }
  void RecordLatency(std::chrono::microseconds latency, Clock::time_point now);
  // A lower bound, not a sample: an attempt cancelled after `bound` (it lost a
  // hedge race) took at least that long. It raises the average as a sample
  // would when above it, and leaves it alone otherwise, so that a slow
  // endpoint's average does not sink to the hedge delay and win it calls.
  void RecordLatencyAtLeast(std::chrono::microseconds bound, Clock::time_point now);

  // --- counters (any thread) ----------------------------------------------
  std::atomic<uint64_t> picks{0};
  std::atomic<uint64_t> successes{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> ejections{0};

 private:
  // When it last came (back) into service: slow start counts from here.
  Clock::time_point AdmittedAt() const {
    return std::max({joined_at_, heartbeat_.changed_at(), outlier_.ejected_until()});
  }
  int64_t RampedWeight(int64_t full, Clock::time_point admitted, Clock::time_point now) const;

  EndpointSpec spec_;
  boost::asio::ip::tcp::endpoint resolved_;
  const EndpointPolicy& policy_;
  ConnectionPool pool_;
  HeartbeatState heartbeat_;
  OutlierDetector outlier_;
  CircuitBreaker breaker_;
  Clock::time_point joined_at_;
  int in_flight_ = 0;
  double latency_us_ = 0;
  Clock::time_point latency_at_{};
};

}  // namespace harpc
