// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
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
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "harpc/security.h"

namespace harpc::http1 {

class TlsContext;

class Stream {
 public:
  using Clock = std::chrono::steady_clock;
  using executor_type = boost::beast::tcp_stream::executor_type;

  // Not connected yet (a client's stream: see Connect in http/client.h).
  explicit Stream(const executor_type& executor) : transport_(std::in_place_type<boost::beast::tcp_stream>, executor) {}
  // An accepted connection (the server's): no delay, non-blocking reads.
  // Its deadlines are kept by the server's sweeper, so it is the bare socket:
  // its I/O has none of the per-operation timer bookkeeping of
  // beast::tcp_stream (measurably cheaper per request), and an idle
  // connection does not hold that stream's timers (about 0.5 KiB).
  // With `tls`, the connection speaks TLS with that server context, from the
  // handshake (AcceptHandshake) on. OpenSSL then reads and writes the
  // non-blocking socket itself, as nginx does, rather than through Asio's
  // ssl::stream and its memory BIOs: the server's reader already waits for
  // readability and then reads without blocking, and this halves TLS's cost
  // per request.
  explicit Stream(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~Stream();
  // The TLS layer refers to the TCP stream beside it.
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool tls() const { return tls_ != nullptr || server_tls_ != nullptr; }
  // TLS: whether the handshake resumed an earlier session (no certificate
  // exchange, one round trip less).
  bool resumed() const;

  executor_type get_executor() noexcept { return socket().get_executor(); }

  // AsyncReadStream / AsyncWriteStream: both honour expires_at and the
  // awaiting coroutine's cancellation slot.
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (server_tls_) {
            StartServerTls(/*read=*/true, *boost::asio::buffer_sequence_begin(b), std::move(handler));
          } else if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else if (boost::beast::tcp_stream* stream = timed()) {
            stream->async_read_some(b, std::move(handler));
          } else {
            socket().async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (server_tls_) {
            const boost::asio::const_buffer first = *boost::asio::buffer_sequence_begin(b);
            StartServerTls(/*read=*/false, {const_cast<void*>(first.data()), first.size()}, std::move(handler));
          } else if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else if (boost::beast::tcp_stream* stream = timed()) {
            stream->async_write_some(b, std::move(handler));
          } else {
            socket().async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // Server side, TLS: the handshake of an accepted connection (at once for TCP).
  boost::asio::awaitable<boost::system::error_code> AcceptHandshake();

  // Completes when bytes (or EOF, or an error) can be read; holds no buffer
  // meanwhile (server streams only). Over TLS, at once when OpenSSL already
  // holds bytes of a record it read.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          if (server_tls_ && ServerTlsHasPending()) {
            boost::asio::post(get_executor(), boost::asio::append(std::move(handler), boost::system::error_code()));
          } else {
            socket().async_wait(boost::asio::socket_base::wait_read, std::move(handler));
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
  void expires_at(Clock::time_point t) { std::get<boost::beast::tcp_stream>(transport_).expires_at(t); }
  void expires_never() { std::get<boost::beast::tcp_stream>(transport_).expires_never(); }

  // Cancels pending operations (they complete with operation_aborted).
  void cancel();
  // No more bytes from us; the peer reads EOF after what was sent (over TLS,
  // after a close_notify).
  void ShutdownSend();
  // Closes with a reset instead of an orderly close (fault injection).
  void Reset() {
    boost::system::error_code ec;
    socket().set_option(boost::asio::socket_base::linger(true, 0), ec);
    Close();
  }
  void Close();

  boost::asio::ip::tcp::endpoint remote_endpoint(boost::system::error_code& ec) const {
    return socket().remote_endpoint(ec);
  }

 private:
  // One SSL_read or SSL_write on the server's socket: done (`*n` bytes, or
  // an error), or `*again` with what to wait for before trying again.
  boost::system::error_code ServerTlsTry(bool read, boost::asio::mutable_buffer buffer, size_t* n, bool* again,
                                         boost::asio::socket_base::wait_type* want);
  // Why an SSL call on server_tls_ returned `result` (<= 0): an error, or
  // `*again` with what to wait for.
  boost::system::error_code ServerTlsFailure(int result, bool* again, boost::asio::socket_base::wait_type* want);
  bool ServerTlsHasPending() const;

  // An async read or write on server_tls_: tries at once (the usual case
  // completes without waiting, posted like Asio's own speculative I/O), and
  // otherwise waits for the socket and tries again.
  template <class Handler>
  struct ServerTlsOp {
    Stream* self;
    bool read;
    boost::asio::mutable_buffer buffer;
    Handler handler;
    void operator()(boost::system::error_code ec) {
      size_t n = 0;
      bool again = false;
      boost::asio::socket_base::wait_type want = boost::asio::socket_base::wait_read;
      if (!ec) ec = self->ServerTlsTry(read, buffer, &n, &again, &want);
      if (!ec && again) {
        self->socket().async_wait(want, std::move(*this));
        return;
      }
      std::move(handler)(ec, n);
    }
  };
  template <class Handler>
  void StartServerTls(bool read, boost::asio::mutable_buffer buffer, Handler&& handler) {
    size_t n = 0;
    bool again = false;
    boost::asio::socket_base::wait_type want = boost::asio::socket_base::wait_read;
    boost::system::error_code ec = ServerTlsTry(read, buffer, &n, &again, &want);
    if (!ec && again) {
      socket().async_wait(want, ServerTlsOp<std::decay_t<Handler>>{this, read, buffer, std::forward<Handler>(handler)});
      return;
    }
    boost::asio::post(get_executor(), boost::asio::append(std::forward<Handler>(handler), ec, n));
  }

  using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream&>;

  const boost::asio::ip::tcp::socket& socket() const {
    const auto* stream = std::get_if<boost::beast::tcp_stream>(&transport_);
    return stream ? stream->socket() : std::get<boost::asio::ip::tcp::socket>(transport_);
  }
  boost::asio::ip::tcp::socket& socket() {
    return const_cast<boost::asio::ip::tcp::socket&>(std::as_const(*this).socket());
  }
  // A client's stream, whose expires_at bounds every operation; null for a server's.
  boost::beast::tcp_stream* timed() { return std::get_if<boost::beast::tcp_stream>(&transport_); }

  // The accepted socket (server), or the stream with deadlines (client).
  std::variant<boost::asio::ip::tcp::socket, boost::beast::tcp_stream> transport_;
  // TLS, when the connection speaks it: the context it began with (kept
  // alive for it, whatever a reload does), the session cache it feeds
  // (clients), and the TLS layer: Asio's over the tcp_stream for clients (their
  // deadlines), OpenSSL straight on the socket for accepted connections.
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::shared_ptr<TlsContext> tls_sessions_;
  std::string tls_session_key_;
  std::unique_ptr<TlsStream> tls_;
  SSL* server_tls_ = nullptr;
};

}  // namespace harpc::http1
