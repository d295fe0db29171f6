#include "http/stream.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

#include "http/tls_context.h"
#include "util/log.h"

namespace harpc::http1 {
namespace asio = boost::asio;
using boost::system::error_code;

Stream::Stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls)
    : tcp_(std::move(socket)), timed_(false), tls_context_(std::move(tls)) {
  error_code ec;
  tcp_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  tcp_.socket().non_blocking(true, ec);
  if (tls_context_) tls_ = std::make_unique<TlsStream>(tcp_, *tls_context_);
}

Stream::~Stream() = default;

asio::awaitable<error_code> Stream::AcceptHandshake() {
  if (!tls_) co_return error_code();
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

size_t Stream::ReadSomeNow(asio::mutable_buffer buffer, error_code& ec) {
  if (!tls_) return tcp_.socket().read_some(buffer, ec);
  if (tls_input_.begin < tls_input_.end) {
    size_t n = asio::buffer_copy(
        buffer, asio::buffer(tls_input_.data.get() + tls_input_.begin, tls_input_.end - tls_input_.begin));
    tls_input_.begin += n;
    ec = {};
    return n;
  }
  // The socket is non-blocking: what TLS already holds, else would_block.
  return tls_->read_some(buffer, ec);
}

asio::awaitable<error_code> Stream::Connect(const asio::ip::tcp::endpoint& endpoint, Clock::time_point deadline,
                                            const TlsOptions& tls) {
  tcp_.expires_at(deadline);
  auto [ec] = co_await tcp_.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return ec;
  tcp_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec || !tls.client_enabled()) co_return ec;

  Status loaded = TlsContext::ForClient(tls, &tls_sessions_);
  if (!loaded.ok()) {
    Log().error("{}", loaded.message());
    co_return make_error_code(boost::system::errc::invalid_argument);
  }
  tls_context_ = tls_sessions_->current();
  tls_ = std::make_unique<TlsStream>(tcp_, *tls_context_);
  tls_session_key_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  tls_sessions_->PrepareClient(tls_->native_handle(), endpoint.address(), tls_session_key_);
  auto [handshake_ec] =
      co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  if (handshake_ec) co_return ExplainHandshakeError(tls_->native_handle(), handshake_ec);
  co_return error_code();
}

bool Stream::resumed() const { return tls_ && SSL_session_reused(tls_->native_handle()) == 1; }

bool Stream::QuietAndOpen() {
  if (tls_ && SSL_pending(tls_->native_handle()) > 0) return false;
  char byte;
  ssize_t n = ::recv(tcp_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Stream::ShutdownSend() {
  error_code ec;
  // close_notify first; the socket is non-blocking, so this never waits for
  // the peer's own close_notify.
  if (tls_) tls_->shutdown(ec);
  tcp_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace harpc::http1
