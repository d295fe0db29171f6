// One server a channel can call: its address and weight, its keep-alive
// connections, and what the channel has seen of it.
#pragma once

#include <atomic>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "client/connection_pool.h"
#include "naming/target.h"

namespace harpc {

class Endpoint {
 public:
  Endpoint(EndpointSpec spec, boost::asio::ip::tcp::endpoint resolved, boost::asio::any_io_executor executor,
           size_t max_idle_connections)
      : spec_(std::move(spec)), pool_(std::move(executor), resolved, max_idle_connections) {}

  const std::string& address() const { return spec_.address; }
  int weight() const { return spec_.weight; }
  ConnectionPool& pool() { return pool_; }

  // Read from any thread (benchmarks, dashboards); written on the channel's loop.
  std::atomic<uint64_t> picks{0};
  std::atomic<uint64_t> successes{0};
  std::atomic<uint64_t> failures{0};

 private:
  EndpointSpec spec_;
  ConnectionPool pool_;
};

}  // namespace harpc
