// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A resolver turns a target into a membership that changes over time. The
// channel only knows this interface; the naming layer implements it for every
// target scheme (list://, file://, sentinel://, etcd://).
// A resolver runs on its channel's event loop and hands every new membership
// to the channel, which keeps the state of endpoints that stay.
#pragma once

#include <functional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/endpoint_spec.h"
#include "harpc/status.h"

namespace harpc {

class Resolver {
 public:
  // Called on the channel's loop with the complete membership each time it changes.
  using Listener = std::function<void(std::vector<EndpointSpec>)>;

  virtual ~Resolver() = default;
  // Begins resolving on `executor`; the first membership may come later.
  virtual void Start(boost::asio::any_io_executor executor, Listener listener) = 0;
  // Stops watching; no call to the listener after it returns (on the loop).
  virtual void Stop() = 0;
  // On the loop: why no membership came yet, for a call that waited for one
  // in vain (e.g. "etcd unreachable at 127.0.0.1:2379: connection refused");
  // OK when there is nothing better to say than that none came yet.
  virtual Status WhyNoMembership() const { return Status::Ok(); }
};

}  // namespace harpc
