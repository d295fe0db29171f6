// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// sentinel://H:P[,H:P]/SERVICE targets: the membership of SERVICE as the
// harpc sentinels know it, followed by long polls of Registry.watch.
//
// A coroutine on the channel's loop asks one sentinel at a time and passes
// the index of that sentinel's last answer, so that it answers at once when
// it knows something newer, else on its next change or after 5 s. Every
// answer hands the channel the instances clients may call: state "up" or
// "sdown" (a single sentinel's suspicion is not a verdict), never "odown"
// (the sentinels agreed it is down) nor "draining".
//
// Failover: the watcher sticks to one sentinel (a random one at first, so
// that clients spread over the group) while it answers. When a watch fails
// (refused, reset, no answer within 6 s, an error) it moves to the next
// listed sentinel at once, and forgets the index: sentinels keep independent
// indexes, and a sentinel that restarted without its data counts from zero
// again, so an index is only meaningful to the sentinel that gave it (sent
// elsewhere it could match by chance and hold the watch for nothing). Each
// sentinel has its own internal channel (no retries, no health probes, on the
// resolver's loop: no thread of its own), so
// that the resolver, not a balancer, decides where the next watch goes.
//
// What the resolver never does: hand the channel an empty membership
// because it learned nothing. When every sentinel is unreachable it keeps the
// last membership and starts a new round every 200 ms; when a sentinel lists
// no instance at all (it just restarted without its data, or every server
// deregistered) it keeps the last membership too, so that the channel keeps
// calling the servers it knew (they answer for themselves: health checks and
// outlier detection still apply). Only a verdict empties it: instances listed,
// every one odown or draining.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "harpc/security.h"
#include "naming/resolver.h"
#include "util/stop_signal.h"

namespace harpc {

class Channel;

class SentinelResolver final : public Resolver {
 public:
  // `security`: presented to the sentinels (Registry.watch needs role client).
  SentinelResolver(std::vector<std::string> sentinels, std::string service, ClientSecurity security);

  void Start(boost::asio::any_io_executor executor, Listener listener) override;
  void Stop() override;

  // "sentinel://H:P[,H:P]/SERVICE" → the sentinels and the service.
  static Status ParseTarget(std::string_view target, std::vector<std::string>* sentinels, std::string* service);
  // The callable instances of a Registry.watch answer, as endpoints.
  static std::vector<EndpointSpec> CallableEndpoints(const boost::json::object& answer);

 private:
  std::vector<std::string> sentinels_;
  std::string service_;
  ClientSecurity security_;
  StopSignal watch_;  // the watch coroutine, which owns one channel per sentinel on the loop
  bool started_ = false;
};

}  // namespace harpc
