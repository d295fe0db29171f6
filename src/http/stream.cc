// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/stream.h"

#include <sys/socket.h>

#include <cerrno>
#include <climits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http/tls_context.h"
#include "util/log.h"

namespace harpc::http1 {
namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

Stream::Stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls)
    : transport_(std::in_place_type<asio::ip::tcp::socket>, std::move(socket)), tls_context_(std::move(tls)) {
  error_code ec;
  this->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  this->socket().non_blocking(true, ec);
  if (tls_context_) {
    server_tls_ = SSL_new(tls_context_->native_handle());
    if (server_tls_ != nullptr) {
      SSL_set_fd(server_tls_, this->socket().native_handle());  // the socket stays ours to close
      SSL_set_accept_state(server_tls_);
      // Partial writes and a write buffer that may move between retries, as
      // asio's async_write hands them; buffers released while idle, as nginx does.
      SSL_set_mode(server_tls_,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    }
  }
}

Stream::~Stream() {
  if (server_tls_ != nullptr) SSL_free(server_tls_);
}

asio::awaitable<error_code> Stream::AcceptHandshake() {
  if (!tls_context_) co_return error_code();
  if (server_tls_ == nullptr) co_return make_error_code(boost::system::errc::not_enough_memory);
  // A handshake is a few round trips; the bound only keeps the loop finite.
  for (int round = 0; round < 64; ++round) {
    bool again = false;
    asio::socket_base::wait_type want = asio::socket_base::wait_read;
    ERR_clear_error();
    const int r = SSL_do_handshake(server_tls_);
    if (r == 1) co_return error_code();
    error_code ec = ServerTlsFailure(r, &again, &want);
    if (ec || !again) co_return ec ? ec : make_error_code(asio::error::connection_aborted);
    auto [wait_ec] = co_await socket().async_wait(want, asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return wait_ec;
  }
  co_return make_error_code(asio::error::timed_out);
}

error_code Stream::ServerTlsTry(bool read, asio::mutable_buffer buffer, size_t* n, bool* again,
                                asio::socket_base::wait_type* want) {
  *n = 0;
  *again = false;
  if (buffer.size() == 0) return {};
  ERR_clear_error();
  const int length = static_cast<int>(std::min<size_t>(buffer.size(), INT_MAX));
  const int r = read ? SSL_read(server_tls_, buffer.data(), length) : SSL_write(server_tls_, buffer.data(), length);
  if (r > 0) {
    *n = static_cast<size_t>(r);
    return {};
  }
  return ServerTlsFailure(r, again, want);
}

error_code Stream::ServerTlsFailure(int result, bool* again, asio::socket_base::wait_type* want) {
  *again = false;
  switch (SSL_get_error(server_tls_, result)) {
    case SSL_ERROR_NONE:
      return {};
    case SSL_ERROR_WANT_READ:
      *again = true;
      *want = asio::socket_base::wait_read;
      return {};
    case SSL_ERROR_WANT_WRITE:
      *again = true;
      *want = asio::socket_base::wait_write;
      return {};
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;  // the peer's close_notify
    case SSL_ERROR_SYSCALL: {
      const int e = errno;
      ERR_clear_error();
      return e != 0 ? error_code(e, boost::system::system_category()) : error_code(asio::error::eof);
    }
    default: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      return error_code(static_cast<int>(e), asio::error::get_ssl_category());
    }
  }
}

bool Stream::ServerTlsHasPending() const { return SSL_has_pending(server_tls_) == 1; }

size_t Stream::ReadSomeNow(asio::mutable_buffer buffer, error_code& ec) {
  if (server_tls_ == nullptr) return socket().read_some(buffer, ec);
  size_t n = 0;
  bool again = false;
  asio::socket_base::wait_type want = asio::socket_base::wait_read;
  ec = ServerTlsTry(/*read=*/true, buffer, &n, &again, &want);
  if (!ec && again) ec = asio::error::would_block;
  return n;
}

asio::awaitable<error_code> Stream::Connect(const asio::ip::tcp::endpoint& endpoint, Clock::time_point deadline,
                                            const TlsOptions& tls) {
  auto& tcp = std::get<beast::tcp_stream>(transport_);
  tcp.expires_at(deadline);
  auto [ec] = co_await tcp.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return ec;
  tcp.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec || !tls.client_enabled()) co_return ec;

  Status loaded = TlsContext::ForClient(tls, &tls_sessions_);
  if (!loaded.ok()) {
    Log().error("{}", loaded.message());
    co_return make_error_code(boost::system::errc::invalid_argument);
  }
  tls_context_ = tls_sessions_->current();
  tls_ = std::make_unique<TlsStream>(tcp, *tls_context_);
  tls_session_key_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  tls_sessions_->PrepareClient(tls_->native_handle(), endpoint.address(), tls_session_key_);
  auto [handshake_ec] =
      co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  if (handshake_ec) co_return ExplainHandshakeError(tls_->native_handle(), handshake_ec);
  co_return error_code();
}

bool Stream::resumed() const {
  SSL* ssl = server_tls_ != nullptr ? server_tls_ : tls_ ? tls_->native_handle() : nullptr;
  return ssl != nullptr && SSL_session_reused(ssl) == 1;
}

bool Stream::QuietAndOpen() {
  if (tls_ && SSL_pending(tls_->native_handle()) > 0) return false;
  char byte;
  ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Stream::ShutdownSend() {
  error_code ec;
  // close_notify first; the socket is non-blocking, so this never waits for
  // the peer's own close_notify.
  if (server_tls_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(server_tls_);
    ERR_clear_error();
  }
  socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

void Stream::cancel() {
  error_code ignored;
  if (beast::tcp_stream* stream = timed()) return stream->cancel();
  socket().cancel(ignored);
}

void Stream::Close() {
  error_code ignored;
  if (beast::tcp_stream* stream = timed()) return stream->close();
  socket().close(ignored);
}

}  // namespace harpc::http1
