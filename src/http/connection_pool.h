// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The connections of a channel to one endpoint, and which one a request
// takes. Calls in flight get a connection each, up to
// PoolOptions::connections; beyond that they share them, up to
// PoolOptions::depth requests on one (HTTP/1.1 pipelining, see
// http/pipelined_connection.h), the least loaded first, before another
// connection opens. Lives on the channel's event loop thread only, so it
// needs no lock.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "harpc/security.h"
#include "http/client.h"
#include "http/pipelined_connection.h"

namespace harpc {

using http1::ClientConnection;

// ChannelOptions::pipeline, max_idle_connections and connect_timeout.
struct PoolOptions {
  size_t connections = 4;  // connections used one request at a time before any is shared
  size_t depth = 1;        // requests on one connection at once, at most; 1: no pipelining
  size_t max_idle = 256;   // idle connections kept; more are closed
  std::chrono::milliseconds connect_timeout{200};
};

class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;

  // `security` (TLS of new connections) must outlive the pool: the channel's
  // EndpointPolicy holds it.
  ConnectionPool(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint,
                 const PoolOptions& options, const ClientSecurity& security);
  // Closes every connection: requests still on them fail with operation_aborted.
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Sends `request` (http/request.h) on one of the connections and waits for
  // its answer until `deadline` (then error beast::error::timeout). A failed
  // connect is `connect_failed`, after PoolOptions::connect_timeout at most.
  // `*pending` is the request while it is out, for Abandon (a hedge won
  // elsewhere): the exchange then ends with operation_aborted.
  boost::asio::awaitable<http1::ClientResponse> Exchange(std::string request, Clock::time_point deadline,
                                                         const http1::ResponseLimits& limits,
                                                         std::shared_ptr<http1::PendingRequest>* pending);
  // Closes the idle connections (the endpoint went away).
  void Clear();
  // Connections open or opening, busy or idle.
  size_t connections() const { return connections_.size(); }

 private:
  // The connection for the next request, opened if need be.
  http1::PipelinedConnection& Choose();
  // Requests a connection handed back: they go out on another one.
  void Resubmit(std::deque<std::shared_ptr<http1::PendingRequest>> requests);

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  PoolOptions options_;
  const ClientSecurity& security_;
  std::vector<std::shared_ptr<http1::PipelinedConnection>> connections_;
  // Leftovers arrive from connections, which may outlive the pool.
  std::shared_ptr<ConnectionPool*> self_ = std::make_shared<ConnectionPool*>(this);
};

}  // namespace harpc
