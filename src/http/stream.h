// The byte stream every HTTP connection reads and writes through, server side
// and client side: TCP, or TLS over TCP. It satisfies Asio's AsyncStream, so
// Beast's http::async_read/async_write work on it, and adds what the server's
// reader needs (wait until readable, then read what is there without blocking)
// and the client's deadlines (expires_at: pending operations then fail with
// beast::error::timeout). Whether it is TLS is chosen at construction (an
// accepted socket with a server context) or at Connect (a client context);
// callers do not change.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "harpc/security.h"

namespace harpc::http1 {

class TlsContext;

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
  // With `tls`, the connection speaks TLS with that server context, from the
  // handshake (AcceptHandshake) on.
  explicit Stream(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~Stream();
  // The TLS layer refers to the TCP stream beside it.
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool tls() const { return tls_ != nullptr; }
  // TLS: whether the handshake resumed an earlier session (no certificate
  // exchange, one round trip less).
  bool resumed() const;

  executor_type get_executor() noexcept { return tcp_.get_executor(); }

  // AsyncReadStream / AsyncWriteStream: both honour expires_at and the
  // awaiting coroutine's cancellation slot.
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else if (timed_) {
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
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else if (timed_) {
            tcp_.async_write_some(b, std::move(handler));
          } else {
            tcp_.socket().async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // Server side, TLS: the handshake of an accepted connection (at once for TCP).
  boost::asio::awaitable<boost::system::error_code> AcceptHandshake();

  // Completes when bytes (or EOF, or an error) can be read; over TCP it holds
  // no buffer meanwhile. Over TLS it reads (and holds) what arrives, because
  // only the TLS layer knows whether a whole record is there to decrypt.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          if (!tls_) {
            tcp_.socket().async_wait(boost::asio::socket_base::wait_read, std::move(handler));
          } else if (tls_input_.begin < tls_input_.end) {
            boost::asio::post(tcp_.get_executor(),
                              boost::asio::append(std::move(handler), boost::system::error_code()));
          } else {
            tls_->async_read_some(tls_input_.Space(),
                                  [this, handler = std::move(handler)](boost::system::error_code ec, size_t n) mutable {
                                    tls_input_.Filled(n);
                                    std::move(handler)(ec);
                                  });
          }
        },
        token);
  }
  // Reads what is there without blocking: would_block when nothing is (server streams only).
  size_t ReadSomeNow(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
  // An idle client connection worth reusing: the peer has not closed it and
  // sent nothing unasked (one peek, no blocking).
  bool QuietAndOpen();

  // Connects (no delay), giving up at `deadline` (beast::error::timeout).
  // With tls.ca_file set, the connection then speaks TLS: the handshake
  // (within the same deadline) verifies the server's certificate, and a
  // refused certificate fails with an error of CertificateErrorCategory()
  // that says why.
  boost::asio::awaitable<boost::system::error_code> Connect(const boost::asio::ip::tcp::endpoint& endpoint,
                                                            Clock::time_point deadline, const TlsOptions& tls);
  // Plaintext. (Not a default argument: GCC 12 destroys a temporary in a
  // co_await expression twice, and callers co_await this.)
  boost::asio::awaitable<boost::system::error_code> Connect(const boost::asio::ip::tcp::endpoint& endpoint,
                                                            Clock::time_point deadline) {
    static const TlsOptions plaintext;
    return Connect(endpoint, deadline, plaintext);
  }

  // Deadline for the operations started from now on (client side; the server's
  // connections use their event loop's sweeper and Cancel instead).
  void expires_at(Clock::time_point t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }

  // Cancels pending operations (they complete with operation_aborted).
  void cancel() { tcp_.cancel(); }
  // No more bytes from us; the peer reads EOF after what was sent (over TLS,
  // after a close_notify).
  void ShutdownSend();
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
  // Decrypted bytes that async_wait_readable read and ReadSomeNow hands out.
  struct TlsInput {
    static constexpr size_t kCapacity = 16 * 1024;  // one TLS record
    std::unique_ptr<char[]> data;
    size_t begin = 0, end = 0;
    boost::asio::mutable_buffer Space() {
      if (!data) data = std::make_unique<char[]>(kCapacity);
      begin = end = 0;
      return {data.get(), kCapacity};
    }
    void Filled(size_t n) { end = n; }
  };
  using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream&>;

  boost::beast::tcp_stream tcp_;
  bool timed_;  // client side: expires_at applies to every operation
  // TLS, when the connection speaks it: the context it began with (kept
  // alive for it, whatever a reload does), the session cache it feeds
  // (clients), and the TLS layer over tcp_.
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::shared_ptr<TlsContext> tls_sessions_;
  std::string tls_session_key_;
  std::unique_ptr<TlsStream> tls_;
  TlsInput tls_input_;
};

}  // namespace harpc::http1
