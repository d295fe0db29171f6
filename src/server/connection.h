// One client connection: reads HTTP/1.1 requests (keep-alive, pipelined),
// enforces the size limits and timeouts, and writes the answers in order.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/dispatcher.h"
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include "server/server_state.h"

namespace harpc {

struct EventLoop;
using ConnectionHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Connection : public ConnectionHook {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(EventLoop& loop, boost::asio::ip::tcp::socket socket, ServerState& state,
             CallDispatcher& dispatcher);
  ~Connection();

  boost::asio::awaitable<void> Run();

  // Called by the loop's sweeper: cancels the pending I/O once the deadline passed.
  void ExpireIfDue(Clock::time_point now);
  // Cancels pending I/O at once (hard stop).
  void Abort();

 private:
  enum class Phase { kIdle, kHead, kBody, kBusy, kWriting, kClosing };

  boost::asio::awaitable<bool> Flush();
  boost::asio::awaitable<void> CloseAfterError(int http_status, int jsonrpc_code, std::string message);
  boost::asio::awaitable<void> LingeringClose();
  void SetDeadline(Clock::duration d) { deadline_ = Clock::now() + d; }

  boost::asio::ip::tcp::socket socket_;
  ServerState& state_;
  CallDispatcher& dispatcher_;
  std::string peer_;
  std::string out_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool expired_ = false;
};

// One event-loop thread of a server and the connections it owns. A sweeper
// timer enforces every connection's read/write deadline, so that timeouts cost
// a timestamp per read instead of a timer per connection.
struct EventLoop {
  // Declared first so that it is destroyed last: connections unlink themselves
  // from it when the io_context below destroys their coroutines.
  boost::intrusive::list<Connection, boost::intrusive::constant_time_size<false>> connections;
  boost::asio::io_context context{1};
  boost::asio::steady_timer sweeper{context};
  std::thread thread;
};

// Runs a connection to its end; the coroutine owns the Connection.
boost::asio::awaitable<void> ServeConnection(EventLoop& loop, boost::asio::ip::tcp::socket socket,
                                             ServerState& state, CallDispatcher& dispatcher);

}  // namespace harpc
