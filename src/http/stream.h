// The byte stream every HTTP connection reads and writes through, server side
// and client side. Today it is TCP; it satisfies Asio's AsyncStream, so
// Beast's http::async_read/async_write work on it, and adds what the server's
// reader needs (wait until readable, then read what is there without blocking)
// and the client's deadlines (expires_at: pending operations then fail with
// beast::error::timeout).
//
// TLS slots in here and nowhere else: the stream will hold either the
// beast::tcp_stream or a boost::asio::ssl::stream<beast::tcp_stream> (a
// variant chosen at construction: an accepted socket plus a server context,
// or Connect plus a client context and a handshake). async_read_some and
// async_write_some dispatch to whichever is held; WaitReadable stays a wait on
// the TCP socket, and ReadSomeNow first hands out what the TLS layer has
// already decrypted (SSL_pending) before it reads the socket without blocking;
// Close sends close_notify first. Callers do not change.
#pragma once

#include <chrono>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace harpc::http1 {

class Stream {
 public:
  using Clock = std::chrono::steady_clock;
  using executor_type = boost::beast::tcp_stream::executor_type;

  // Not connected yet (a client's stream: see Connect in http/client.h).
  explicit Stream(const executor_type& executor) : tcp_(executor), timed_(true) {}
  // An accepted connection (the server's): no delay, non-blocking reads.
  // Its deadlines are kept by the server's sweeper, so its I/O goes straight
  // to the socket, without the per-operation timer bookkeeping of
  // beast::tcp_stream (measurably cheaper per request).
  explicit Stream(boost::asio::ip::tcp::socket socket) : tcp_(std::move(socket)), timed_(false) {
    boost::system::error_code ec;
    tcp_.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
    tcp_.socket().non_blocking(true, ec);
  }

  executor_type get_executor() noexcept { return tcp_.get_executor(); }

  // AsyncReadStream / AsyncWriteStream: both honour expires_at and the
  // awaiting coroutine's cancellation slot.
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (timed_) {
            tcp_.async_read_some(b, std::move(handler));
          } else {
            tcp_.socket().async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (timed_) {
            tcp_.async_write_some(b, std::move(handler));
          } else {
            tcp_.socket().async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // Completes when bytes (or EOF, or an error) can be read; holds no buffer meanwhile.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return tcp_.socket().async_wait(boost::asio::socket_base::wait_read, std::forward<Token>(token));
  }
  // Reads what is there without blocking: would_block when nothing is (server streams only).
  size_t ReadSomeNow(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) {
    return tcp_.socket().read_some(buffer, ec);
  }
  // An idle client connection worth reusing: the peer has not closed it and
  // sent nothing unasked (one peek, no blocking).
  bool QuietAndOpen();

  // Connects (no delay), giving up at `deadline` (beast::error::timeout).
  boost::asio::awaitable<boost::system::error_code> Connect(const boost::asio::ip::tcp::endpoint& endpoint,
                                                            Clock::time_point deadline);

  // Deadline for the operations started from now on (client side; the server's
  // connections use their event loop's sweeper and Cancel instead).
  void expires_at(Clock::time_point t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }

  // Cancels pending operations (they complete with operation_aborted).
  void cancel() { tcp_.cancel(); }
  // No more bytes from us; the peer reads EOF after what was sent.
  void ShutdownSend() {
    boost::system::error_code ec;
    tcp_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  }
  // Closes with a reset instead of an orderly close (fault injection).
  void Reset() {
    boost::system::error_code ec;
    tcp_.socket().set_option(boost::asio::socket_base::linger(true, 0), ec);
    tcp_.close();
  }
  void Close() { tcp_.close(); }

  boost::asio::ip::tcp::endpoint remote_endpoint(boost::system::error_code& ec) const {
    return tcp_.socket().remote_endpoint(ec);
  }

 private:
  boost::beast::tcp_stream tcp_;
  bool timed_;  // client side: expires_at applies to every operation
};

}  // namespace harpc::http1
