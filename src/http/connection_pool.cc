#include "http/connection_pool.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;

namespace {
// True when the peer has not closed the connection and sent nothing unasked.
bool StillOpen(ClientConnection& c) {
  char byte;
  ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

asio::awaitable<Status> ConnectionPool::Acquire(std::unique_ptr<ClientConnection>* out,
                                                Clock::time_point deadline,
                                                std::chrono::milliseconds connect_timeout, bool* refused) {
  *refused = false;
  const auto now = Clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<ClientConnection> c = std::move(idle_.back());
    idle_.pop_back();
    // A connection idle for a moment cannot have hit a server's idle timeout;
    // only older ones are worth a syscall to check.
    if (now - c->idle_since < std::chrono::seconds(1) || StillOpen(*c)) {
      c->reused = true;
      *out = std::move(c);
      co_return Status::Ok();
    }
  }

  auto conn = std::make_unique<ClientConnection>(executor_);
  const auto connect_limit = Clock::now() + connect_timeout;
  const bool call_deadline_first = deadline <= connect_limit;
  conn->stream.expires_at(std::min(deadline, connect_limit));
  auto [ec] = co_await conn->stream.async_connect(endpoint_, asio::as_tuple(asio::use_awaitable));
  if (ec == boost::beast::error::timeout) {
    if (call_deadline_first) co_return DeadlineExceeded("deadline passed while connecting to " + ToString(endpoint_));
    co_return Unavailable("connect to " + ToString(endpoint_) + " timed out after " +
                          std::to_string(connect_timeout.count()) + " ms");
  }
  if (ec) {
    *refused = ec == asio::error::connection_refused;
    co_return Unavailable("connect to " + ToString(endpoint_) + " failed: " + ec.message());
  }
  conn->stream.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  *out = std::move(conn);
  co_return Status::Ok();
}

void ConnectionPool::Release(std::unique_ptr<ClientConnection> connection) {
  if (idle_.size() >= max_idle_) return;
  connection->stream.expires_never();
  connection->idle_since = Clock::now();
  idle_.push_back(std::move(connection));
}

}  // namespace harpc
