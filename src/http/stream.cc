#include "http/stream.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace harpc::http1 {

boost::asio::awaitable<boost::system::error_code> Stream::Connect(const boost::asio::ip::tcp::endpoint& endpoint,
                                                                 Clock::time_point deadline) {
  tcp_.expires_at(deadline);
  auto [ec] = co_await tcp_.async_connect(endpoint, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (!ec) tcp_.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
  co_return ec;
}

bool Stream::QuietAndOpen() {
  char byte;
  ssize_t n = ::recv(tcp_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace harpc::http1
