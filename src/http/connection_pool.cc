// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/connection_pool.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

namespace harpc {

namespace asio = boost::asio;
using http1::PendingRequest;
using http1::PipelinedConnection;

namespace {
// A connection idle for a moment cannot have hit a server's idle timeout;
// only older ones are worth a system call to check.
constexpr auto kCheckIdleAfter = std::chrono::seconds(1);
}  // namespace

ConnectionPool::ConnectionPool(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint,
                               const PoolOptions& options, const ClientSecurity& security)
    : executor_(std::move(executor)), endpoint_(std::move(endpoint)), options_(options), security_(security) {
  options_.connections = std::max<size_t>(options_.connections, 1);
  options_.depth = std::max<size_t>(options_.depth, 1);
}

ConnectionPool::~ConnectionPool() {
  self_.reset();
  for (auto& c : connections_) c->Close();
}

void ConnectionPool::Clear() {
  for (auto& c : connections_) {
    if (c->load() == 0) c->Close();
  }
  std::erase_if(connections_, [](const auto& c) { return c->closed(); });
}

PipelinedConnection& ConnectionPool::Choose() {
  std::erase_if(connections_, [](const auto& c) { return c->closed(); });
  const auto now = Clock::now();
  // The first `connections` open ones carry the load, the least loaded
  // first; the others (opened when those were full) only overflow, and go
  // once idle, so that calls keep sharing few connections.
  PipelinedConnection* least = nullptr;     // among the first ones
  PipelinedConnection* overflow = nullptr;  // among the others
  size_t first = 0, idle = 0;
  for (auto& c : connections_) {
    if (!c->Accepting()) continue;
    if (c->load() == 0 && (++idle > options_.max_idle || (now - c->idle_since() >= kCheckIdleAfter &&
                                                          (first >= options_.connections || !c->QuietAndOpen())))) {
      c->Close();  // not needed lately, or closed by the server meanwhile
      continue;
    }
    PipelinedConnection*& best = first++ < options_.connections ? least : overflow;
    if (!best || c->load() < best->load()) best = c.get();
  }
  if (least && (least->load() == 0 || (first >= options_.connections && least->load() < options_.depth))) {
    return *least;
  }
  if (first >= options_.connections && overflow && overflow->load() < options_.depth) return *overflow;
  std::weak_ptr<ConnectionPool*> pool = self_;
  connections_.push_back(
      PipelinedConnection::Open(executor_, endpoint_, security_.tls, options_.connect_timeout, [pool](auto leftovers) {
        if (auto p = pool.lock()) {
          (*p)->Resubmit(std::move(leftovers));
          return;
        }
        for (auto& r : leftovers) {
          r->response.error = asio::error::operation_aborted;
          r->Complete();
        }
      }));
  return *connections_.back();
}

void ConnectionPool::Resubmit(std::deque<std::shared_ptr<PendingRequest>> requests) {
  for (auto& r : requests) Choose().Submit(std::move(r));
}

asio::awaitable<http1::ClientResponse> ConnectionPool::Exchange(std::string request, Clock::time_point deadline,
                                                                const http1::ResponseLimits& limits,
                                                                std::shared_ptr<PendingRequest>* pending) {
  auto r = std::make_shared<PendingRequest>(executor_, std::move(request), limits);
  r->wake.expires_at(deadline);
  Choose().Submit(r);
  *pending = r;
  // Also when the caller's cancellation ends this coroutine at the co_await.
  struct Leave {
    PendingRequest& r;
    ~Leave() {
      if (r.done) return;
      r.abandoned = true;
      if (auto c = r.carrier.lock()) c->Prune();
    }
  } leave{*r};
  co_await r->wake.async_wait(asio::as_tuple(asio::use_awaitable));  // woken, cancelled or timed out: all the same
  if (r->done) co_return std::move(r->response);
  http1::ClientResponse out;
  out.error = r->abandoned ? boost::system::error_code(asio::error::operation_aborted)
                           : boost::system::error_code(boost::beast::error::timeout);
  out.sent = r->started;
  co_return out;
}

}  // namespace harpc
