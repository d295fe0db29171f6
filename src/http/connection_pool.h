// Keep-alive connections to one endpoint. Lives on the channel's event loop
// thread only, so it needs no lock.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "harpc/security.h"
#include "harpc/status.h"
#include "http/client.h"

namespace harpc {

using http1::ClientConnection;

class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;

  // `security` (TLS of new connections) must outlive the pool: the channel's
  // EndpointPolicy holds it.
  ConnectionPool(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint,
                 size_t max_idle, const ClientSecurity& security)
      : executor_(std::move(executor)), endpoint_(endpoint), max_idle_(max_idle), security_(security) {}

  // An idle connection that the peer has not closed, or a new one. Connecting
  // gives up at min(deadline, now + connect_timeout): UNAVAILABLE when the
  // connect timeout cut it, DEADLINE_EXCEEDED when the call's deadline did.
  // `*refused` tells whether the connection was refused (nobody listens).
  boost::asio::awaitable<Status> Acquire(std::unique_ptr<ClientConnection>* out, Clock::time_point deadline,
                                         std::chrono::milliseconds connect_timeout, bool* refused);
  // Returns a connection after a complete exchange; kept while there is room.
  void Release(std::unique_ptr<ClientConnection> connection);
  // Closes every idle connection (the endpoint went away).
  void Clear() { idle_.clear(); }
  size_t idle() const { return idle_.size(); }

 private:
  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  size_t max_idle_;
  const ClientSecurity& security_;
  std::vector<std::unique_ptr<ClientConnection>> idle_;  // most recently used last
};

}  // namespace harpc
