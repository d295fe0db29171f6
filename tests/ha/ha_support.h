// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the HA integration tests share: clusters of `harpc serve` children,
// channel options with fast health checks, endpoint-state lookups, and a
// load generator that calls a Channel from several threads for as long as
// the test needs (always bounded).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "support/test_support.h"

namespace harpc::hatest {

using testing::PollUntil;
using testing::ServeProcess;
using Clock = std::chrono::steady_clock;

// `harpc serve` with one event-loop thread (the tests share 2 cores) and
// `extra` flags, on a free loopback port.
ServeProcess StartServer(const std::vector<std::string>& extra = {});
// The same on a given port (to restart a killed server where it was). Retries
// for up to `timeout` while the port is still taken.
ServeProcess StartServerOn(int port, const std::vector<std::string>& extra = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

// SIGSTOP / SIGCONT, and wait (up to `timeout`) until every thread of the
// process is stopped / running again: signals are asynchronous, and a server
// may still answer a call right after kill(SIGSTOP) returned.
bool StopServer(const ServeProcess& server, std::chrono::milliseconds timeout = std::chrono::seconds(10));
bool ResumeServer(const ServeProcess& server, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "list://a,b,c".
std::string ListTarget(const std::vector<const ServeProcess*>& servers);
std::string ListTarget(const std::vector<ServeProcess>& servers);

// Options for tests: health probes every 200 ms (fall 2, rise 2, backoff up
// to 400 ms), a generous 2 s call deadline for loaded machines.
ChannelOptions FastOptions();

// The channel's view of one endpoint; nullopt if the channel does not know it.
std::optional<EndpointInfo> InfoOf(const Channel& channel, const std::string& address);
std::string StateOf(const Channel& channel, const std::string& address);
uint64_t PicksOf(const Channel& channel, const std::string& address);
// Every endpoint's state, for failure messages: "a=healthy b=suspect".
std::string Describe(const Channel& channel);

// The Counter.get value of one server (through a channel of its own).
int64_t CounterOf(const ServeProcess& server);

// One finished call, as the load generator saw it.
struct CallRecord {
  CallResult result;
  Clock::time_point started;
  std::chrono::microseconds latency{0};
};

struct LoadOptions {
  std::string method = "Echo.echo";
  boost::json::value params = boost::json::object{{"hello", "ha"}};
  CallOptions call;
  int threads = 3;
  // Pause between two calls of one thread, so that the load leaves CPU for
  // the servers and the other tests on a 2-core machine.
  std::chrono::microseconds pause{500};
};

// Calls `channel` from `threads` threads until Stop() (or destruction).
class Load {
 public:
  Load(Channel& channel, LoadOptions options);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void Stop();

  uint64_t done() const { return done_.load(); }
  uint64_t ok() const { return ok_.load(); }
  uint64_t failed() const { return failed_.load(); }
  // Waits until `n` more calls than now have finished; false after `timeout`.
  bool WaitForMore(uint64_t n, std::chrono::milliseconds timeout) const;

  // Successful answers by endpoint.
  std::map<std::string, uint64_t> ByEndpoint() const;
  // The first failures (status, endpoint, attempts), for messages.
  std::string FailureSummary() const;
  // Every record so far (copy).
  std::vector<CallRecord> Records() const;
  std::chrono::microseconds max_latency() const;

 private:
  void Run();

  Channel& channel_;
  LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> done_{0}, ok_{0}, failed_{0};
  mutable std::mutex mu_;
  std::vector<CallRecord> records_;
  std::vector<std::thread> threads_;
};

// Heartbeats only: no outlier ejection, no circuit breaker (tests that watch one mechanism).
inline ChannelOptions NoPassiveHealth(ChannelOptions o) {
  o.outlier.consecutive_failures = 0;
  o.outlier.failure_ratio = 0;
  o.breaker.failure_ratio = 0;
  return o;
}

}  // namespace harpc::hatest
