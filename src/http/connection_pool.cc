#include "http/connection_pool.h"

#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;

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
    if (now - c->idle_since < std::chrono::seconds(1) || c->stream.QuietAndOpen()) {
      c->reused = true;
      *out = std::move(c);
      co_return Status::Ok();
    }
  }

  auto conn = std::make_unique<ClientConnection>(executor_);
  const auto connect_limit = Clock::now() + connect_timeout;
  const bool call_deadline_first = deadline <= connect_limit;
  boost::system::error_code ec = co_await conn->stream.Connect(endpoint_, std::min(deadline, connect_limit), security_.tls);
  if (ec == boost::beast::error::timeout) {
    if (call_deadline_first) co_return DeadlineExceeded("deadline passed while connecting to " + ToString(endpoint_));
    co_return Unavailable("connect to " + ToString(endpoint_) + " timed out after " +
                          std::to_string(connect_timeout.count()) + " ms");
  }
  if (ec) {
    *refused = ec == asio::error::connection_refused;
    co_return Unavailable("connect to " + ToString(endpoint_) + " failed: " + ec.message());
  }
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
