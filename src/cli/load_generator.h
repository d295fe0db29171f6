// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A closed-loop load: `concurrency` callers, each sending its next call as soon
// as the previous one answered, for a duration or a number of calls. Used by
// `harpc bench` and `harpc demo`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "metrics/histogram.h"

namespace harpc::cli {

struct LoadSpec {
  std::string method = "/";
  boost::json::value params;
  bool idempotent = false;  // CallOptions::idempotent for every call
  int concurrency = 1;
  std::chrono::milliseconds duration{0};  // used when requests == 0
  uint64_t requests = 0;
};

struct LoadReport {
  uint64_t requests = 0;
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t retries = 0;
  uint64_t hedges = 0;
  double seconds = 0;
  std::unique_ptr<metrics::Histogram> latency = std::make_unique<metrics::Histogram>();
  std::map<std::string, uint64_t> per_endpoint;  // successful answers, every endpoint listed
  std::map<std::string, uint64_t> error_kinds;   // by status code name

  // Counts one finished call that took `took`.
  void Record(const CallResult& r, std::chrono::microseconds took);
  // Adds a report of the same load run beside this one (another thread's):
  // counts and latencies add up; the time is the longer of the two.
  void Add(const LoadReport& other);

  double qps() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  double LatencyMs(double q) const { return latency->QuantileMicros(q) / 1000.0; }
  // The JSON object of `harpc bench --json` (docs/cli.md).
  boost::json::object ToJson() const;
  // A short human-readable summary.
  std::string ToText() const;
};

// Runs the load to its end. `on_tick`, when set, is called every `tick` with
// the report so far, on the channel's loop (keep it short).
LoadReport RunLoad(Channel& channel, const LoadSpec& spec,
                   const std::function<void(const LoadReport&)>& on_tick = nullptr,
                   std::chrono::milliseconds tick = std::chrono::seconds(1));

// Prints `totals` with "unix_ms" (the wall clock now, in ms since the epoch)
// as one JSON line on stdout, flushed: the lines of `--progress` (bench,
// transfer), which let a watcher place each second's failures in time.
void PrintProgressLine(boost::json::object totals);

}  // namespace harpc::cli
