#include "server/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include "core/wire_error.h"
#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// Responses to pipelined requests are batched into one write up to this size.
constexpr size_t kMaxPendingOutput = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
// After the last answer on a closing connection, unread input is drained for at
// most this long so that the peer sees the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;

// True when `input` starts with a request line of the form "METHOD SP TARGET
// SP HTTP/d.d": Beast reports both a malformed start line and a well-formed but
// unsupported version (HTTP/2.0) as bad_version, and only the latter is a 505.
bool WellFormedRequestLine(std::string_view input) {
  while (input.starts_with("\r\n")) input.remove_prefix(2);
  auto eol = input.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view line = input.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp2 <= sp1 + 1) return false;
  if (line.substr(sp1 + 1, sp2 - sp1 - 1).find(' ') != std::string_view::npos) return false;
  std::string_view v = line.substr(sp2 + 1);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return v.size() == 8 && v.starts_with("HTTP/") && digit(v[5]) && v[6] == '.' && digit(v[7]);
}

// Which HTTP status a parse failure earns, and why. `input` is what the parser was given.
std::pair<int, std::string> DescribeParseError(const error_code& ec, std::string_view input) {
  if (ec == http::error::header_limit) return {431, "request head exceeds the header size limit"};
  if (ec == http::error::body_limit) return {413, "request body exceeds the body size limit"};
  if (ec == http::error::bad_version && WellFormedRequestLine(input)) {
    return {505, "unsupported HTTP version"};
  }
  return {400, "malformed HTTP request: " + ec.message()};
}
}  // namespace

Connection::Connection(EventLoop& loop, asio::ip::tcp::socket socket, ServerState& state,
                       CallDispatcher& dispatcher)
    : socket_(std::move(socket)), state_(state), dispatcher_(dispatcher) {
  error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) peer_ = ToString(remote);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  loop.connections.push_back(*this);
}

Connection::~Connection() { state_.connections_open.fetch_sub(1, std::memory_order_relaxed); }

void Connection::ExpireIfDue(Clock::time_point now) {
  if (now < deadline_ || expired_) return;
  expired_ = true;
  error_code ec;
  socket_.cancel(ec);
}

void Connection::Abort() {
  expired_ = true;
  deadline_ = Clock::time_point::min();
  error_code ec;
  socket_.cancel(ec);
}

asio::awaitable<bool> Connection::Flush() {
  if (out_.empty()) co_return true;
  Phase before = phase_;
  phase_ = Phase::kWriting;
  SetDeadline(state_.options.idle_timeout);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kNoThrow);
  phase_ = before;
  deadline_ = Clock::time_point::max();
  if (ec) co_return false;
  out_.clear();
  co_return true;
}

asio::awaitable<void> Connection::LingeringClose() {
  phase_ = Phase::kClosing;
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  expired_ = false;
  SetDeadline(kLingerTime);
  char sink[4096];
  size_t drained = 0;
  while (!ec && !expired_ && drained < kLingerBytes) {
    auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kNoThrow);
    if (wait_ec) break;
    size_t n = socket_.read_some(asio::buffer(sink), ec);
    if (ec == asio::error::would_block) ec = {};
    drained += n;
  }
  socket_.close(ec);
}

asio::awaitable<void> Connection::CloseAfterError(int http_status, int jsonrpc_code, std::string message) {
  state_.CountHttpError(http_status);
  std::string body = "{\"error\":{\"code\":" + std::to_string(jsonrpc_code) + ",\"message\":\"" +
                     message + "\"}}";  // message is ours and needs no escaping
  http1::AppendResponse(out_, {.status = http_status, .body = std::move(body), .close = true});
  expired_ = false;
  if (co_await Flush()) co_await LingeringClose();
}

asio::awaitable<void> Connection::Run() {
  const ServerOptions& opt = state_.options;
  beast::flat_buffer buffer(opt.max_header_bytes + kReadChunk);
  auto executor = co_await asio::this_coro::executor;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(opt.max_header_bytes, UINT32_MAX)));
    parser.body_limit(opt.max_body_bytes);
    parser.eager(true);
    Clock::time_point head_started{}, body_started{};

    while (!parser.is_done()) {
      if (buffer.size() > 0) {
        error_code ec;
        size_t used = parser.put(buffer.data(), ec);
        if (ec && ec != http::error::need_more) {
          auto [status, why] = DescribeParseError(
              ec, {static_cast<const char*>(buffer.data().data()), buffer.size()});
          co_await CloseAfterError(status, wire::kInvalidRequest, why);
          co_return;
        }
        if (parser.is_header_done() && !parser.chunked() &&
            parser.get().find(http::field::transfer_encoding) != parser.get().end()) {
          // RFC 9112 §6.3: unless chunked is the final coding, the body's length is
          // unknown; reading on would take body bytes for the next request.
          co_await CloseAfterError(400, wire::kInvalidRequest,
                                   "unsupported Transfer-Encoding (only chunked is accepted)");
          co_return;
        }
        buffer.consume(used);
        if (parser.is_done()) break;
        if (used > 0 && buffer.size() > 0) continue;
      }

      // The request is not complete: answer what is pending, then wait for bytes.
      if (!co_await Flush()) co_return;
      const Clock::time_point now = Clock::now();
      if (!parser.got_some() && buffer.size() == 0) {
        phase_ = Phase::kIdle;
        deadline_ = now + opt.idle_timeout;
        if (state_.draining.load(std::memory_order_relaxed)) co_return;  // nothing in progress
        if (buffer.capacity() > 0) buffer.shrink_to_fit();  // idle connections hold no buffer
      } else if (!parser.is_header_done()) {
        if (phase_ != Phase::kHead) head_started = now;
        phase_ = Phase::kHead;
        deadline_ = head_started + opt.header_timeout;
      } else {
        if (phase_ != Phase::kBody) {
          body_started = now;
          // A client that sent "Expect: 100-continue" waits for this before
          // sending the body (curl does, for about a second, on large bodies).
          const auto& head = parser.get();
          if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue")) {
            out_ += "HTTP/1.1 100 Continue\r\n\r\n";
            if (!co_await Flush()) co_return;
          }
        }
        phase_ = Phase::kBody;
        deadline_ = body_started + opt.body_timeout;
      }

      auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kNoThrow);
      if (wait_ec) {
        if (expired_ && phase_ == Phase::kHead) {
          co_await CloseAfterError(408, wire::kInvalidRequest, "request head not received in time");
        } else if (expired_ && phase_ == Phase::kBody) {
          co_await CloseAfterError(408, wire::kInvalidRequest, "request body not received in time");
        }
        co_return;  // idle timeout, shutdown or a socket error: close quietly
      }
      error_code ec;
      size_t n = socket_.read_some(buffer.prepare(beast::read_size(buffer, kReadChunk)), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
      if (ec) co_return;  // closed by the peer (possibly mid-request) or reset
      buffer.commit(n);
    }

    phase_ = Phase::kBusy;
    deadline_ = Clock::time_point::max();
    state_.requests_in_progress.fetch_add(1, std::memory_order_relaxed);
    http1::Response response = co_await dispatcher_.Handle(parser.get(), peer_, executor);
    if (response.reset) {  // fault injection: the work is done, the answer is lost
      state_.requests_in_progress.fetch_sub(1, std::memory_order_relaxed);
      error_code ignored;
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
      socket_.close(ignored);
      co_return;
    }
    response.close = response.close || !parser.get().keep_alive() ||
                     state_.draining.load(std::memory_order_relaxed);
    http1::AppendResponse(out_, response);
    if (parser.get().method() == http::verb::head && response.status != 204) {
      out_.resize(out_.size() - response.body.size());  // HEAD: the head only, Content-Length kept
    }
    bool flushed = true;
    if (response.close || out_.size() >= kMaxPendingOutput || buffer.size() == 0) {
      flushed = co_await Flush();
    }
    state_.requests_in_progress.fetch_sub(1, std::memory_order_relaxed);
    if (!flushed) co_return;
    if (response.close) {
      co_await LingeringClose();
      co_return;
    }
  }
}

asio::awaitable<void> ServeConnection(EventLoop& loop, asio::ip::tcp::socket socket, ServerState& state,
                                      CallDispatcher& dispatcher) {
  Connection connection(loop, std::move(socket), state, dispatcher);
  co_await connection.Run();
}

}  // namespace harpc
