// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/server_connection.h"

#include <algorithm>
#include <climits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "util/log.h"
#include <boost/beast/http/parser.hpp>

#include "util/address.h"

namespace harpc::http1 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {
// Deferred operations are awaited in the caller's frame: use_awaitable would
// add a coroutine frame per operation, and an idle connection's wait would
// keep one (asio recycles frames, so often one as large as a request's).
constexpr auto kNoThrow = asio::as_tuple(asio::deferred);
constexpr size_t kReadChunk = 64 * 1024;
// The first read after an idle wait, when the connection holds no buffer:
// room for several pipelined requests, not Beast's 512 bytes.
constexpr size_t kFirstRead = 16 * 1024;
// After the last answer on a closing connection, unread input is drained for at
// most this long so that the peer sees the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// How much the next read asks for: what the buffer has room for (Beast's
// rule, up to kReadChunk), and at least kFirstRead while its limit allows.
size_t ReadSize(const beast::flat_buffer& input) {
  return std::max(beast::read_size(input, kReadChunk), std::min(kFirstRead, input.max_size() - input.size()));
}

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

// A request refused by the protocol: the HTTP status its answer has, and why.
struct Refusal {
  int status = 0;  // 0: not refused
  std::string why;
};

// Which HTTP status a parse failure earns, and why. `input` is what the parser was given.
Refusal DescribeParseError(const error_code& ec, std::string_view input) {
  if (ec == http::error::header_limit) return {431, "request head exceeds the header size limit"};
  if (ec == http::error::body_limit) return {413, "request body exceeds the body size limit"};
  if (ec == http::error::bad_version && WellFormedRequestLine(input)) {
    return {505, "unsupported HTTP version"};
  }
  return {400, "malformed HTTP request: " + ec.message()};
}
}  // namespace

ServerConnection::ServerConnection(asio::ip::tcp::socket socket, const ServerLimits& limits,
                                   std::shared_ptr<asio::ssl::context> tls)
    : stream_(std::move(socket), std::move(tls)), limits_(limits), input_(limits.max_header_bytes + kReadChunk) {
  error_code ec;
  auto remote = stream_.remote_endpoint(ec);
  if (!ec) peer_ = ToString(remote);
}

void ServerConnection::Sweep(Clock::time_point now) {
  // An idle connection's answer buffer: empty, so no write uses it. (Given
  // back here, not at each idle wait: a busy connection keeps it.)
  if (phase_ == Phase::kIdle && output_.empty()) std::string().swap(output_);
  if (now < deadline_ || expired_) return;
  expired_ = true;
  stream_.cancel();
}

void ServerConnection::Abort() {
  expired_ = true;
  deadline_ = Clock::time_point::min();
  stream_.cancel();
}

asio::awaitable<bool> ServerConnection::Flush() {
  if (output_.empty()) co_return true;
  deadline_ = Clock::now() + limits_.idle_timeout;
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(output_), kNoThrow);
  deadline_ = Clock::time_point::max();
  if (ec) co_return false;
  if (output_.capacity() > 2 * limits_.max_unsent_bytes) {
    std::string().swap(output_);  // a large answer's buffer is not kept for small ones
  } else {
    output_.clear();
  }
  co_return true;
}

asio::awaitable<void> ServerConnection::LingeringClose() {
  stream_.ShutdownSend();
  expired_ = false;
  deadline_ = Clock::now() + kLingerTime;
  char sink[4096];
  size_t drained = 0;
  error_code ec;
  while (!ec && !expired_ && drained < kLingerBytes) {
    auto [wait_ec] = co_await stream_.async_wait_readable(kNoThrow);
    if (wait_ec) break;
    size_t n = stream_.ReadSomeNow(asio::buffer(sink), ec);
    if (ec == asio::error::would_block) ec = {};
    drained += n;
  }
  stream_.Close();
}

asio::awaitable<void> ServerConnection::TakeOver(RequestHandler& handler, const Response& response) {
  AppendResponse(output_, response);
  const bool flushed = co_await Flush();
  handler.Answered();  // the new protocol is not a request in progress: shutdown does not wait for it
  if (flushed) {
    std::string early(static_cast<const char*>(input_.data().data()), input_.size());
    input_.consume(input_.size());
    co_await response.upgrade(stream_, std::move(early));
  }
  stream_.Close();
}

asio::awaitable<void> ServerConnection::Serve(RequestHandler& handler) {
  if (stream_.tls()) {
    // Bounded like a request head: a client that never finishes its
    // handshake (or sends plain HTTP to this TLS port) is closed.
    phase_ = Phase::kHead;
    deadline_ = Clock::now() + limits_.header_timeout;
    if (error_code ec = co_await stream_.AcceptHandshake()) {
      Log().debug("tls handshake with {} failed: {}", peer_, ec.message());
      stream_.Close();
      co_return;
    }
  }
  for (;;) {
    if (input_.size() == 0) {
      // Idle: answer what is pending, then wait for the next request.
      if (!co_await Flush()) co_return;
      phase_ = Phase::kIdle;
      deadline_ = Clock::now() + limits_.idle_timeout;
      if (handler.Closing()) co_return;  // nothing in progress
      // No input buffer while idle. (It is kFirstRead or more: left to the
      // sweeper, as the answer buffer is, the buffers of a burst of new
      // connections would add up to megabytes meanwhile.)
      if (input_.capacity() > 0) input_.shrink_to_fit();
      auto [wait_ec] = co_await stream_.async_wait_readable(kNoThrow);
      if (wait_ec) co_return;  // idle timeout, shutdown or a socket error: close quietly
    }
    if (!co_await ServeRequest(handler)) co_return;
  }
}

asio::awaitable<bool> ServerConnection::ServeRequest(RequestHandler& handler) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX)));
  parser.body_limit(limits_.max_body_bytes);
  parser.eager(true);
  Clock::time_point head_started{}, body_started{};
  // Set when the request is refused: the answer, then the connection closes.
  Refusal refusal;
  // Serve calls with buffered input, or with none once the socket is readable.
  bool readable = input_.size() == 0;

  while (!parser.is_done()) {
    if (input_.size() > 0) {
      error_code ec;
      size_t used = parser.put(input_.data(), ec);
      if (ec && ec != http::error::need_more) {
        refusal = DescribeParseError(ec, {static_cast<const char*>(input_.data().data()), input_.size()});
        break;
      }
      if (parser.is_header_done() && !parser.chunked() &&
          parser.get().find(http::field::transfer_encoding) != parser.get().end()) {
        // RFC 9112 §6.3: unless chunked is the final coding, the body's length is
        // unknown; reading on would take body bytes for the next request.
        refusal = {400, "unsupported Transfer-Encoding (only chunked is accepted)"};
        break;
      }
      input_.consume(used);
      if (parser.is_done()) break;
      if (used > 0 && input_.size() > 0) continue;
      if (used == 0 && input_.size() > limits_.max_header_bytes) {
        // The parser needs a whole line and has more than a head's worth
        // without one: a chunk extension or a trailer (Beast limits only the
        // head). Reading on would fill the buffer and then spin on it.
        refusal = {431, "chunk extension or trailer exceeds the header size limit"};
        break;
      }
    }

    if (!readable) {
      // Nothing of a request yet: Serve waits for one, idle, without this frame.
      if (!parser.got_some() && input_.size() == 0) co_return true;
      // The request is not complete: answer what is pending, then wait for bytes.
      if (!co_await Flush()) co_return false;
      const Clock::time_point now = Clock::now();
      if (!parser.is_header_done()) {
        if (phase_ != Phase::kHead) head_started = now;
        phase_ = Phase::kHead;
        deadline_ = head_started + limits_.header_timeout;
      } else {
        if (phase_ != Phase::kBody) {
          body_started = now;
          // A client that sent "Expect: 100-continue" waits for this before
          // sending the body (curl does, for about a second, on large bodies).
          const auto& head = parser.get();
          if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue")) {
            output_ += kContinue;
            if (!co_await Flush()) co_return false;
          }
        }
        phase_ = Phase::kBody;
        deadline_ = body_started + limits_.body_timeout;
      }

      auto [wait_ec] = co_await stream_.async_wait_readable(kNoThrow);
      if (wait_ec) {
        if (expired_ && phase_ == Phase::kHead) {
          refusal = {408, "request head not received in time"};
        } else if (expired_ && phase_ == Phase::kBody) {
          refusal = {408, "request body not received in time"};
        } else {
          co_return false;  // shutdown or a socket error: close quietly
        }
        break;
      }
    }
    readable = false;
    error_code ec;
    size_t n = stream_.ReadSomeNow(input_.prepare(ReadSize(input_)), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) co_return false;  // closed by the peer (possibly mid-request) or reset
    input_.commit(n);
  }
  if (refusal.status != 0) {
    AppendResponse(output_, handler.Refuse(refusal.status, std::move(refusal.why)));
    expired_ = false;
    if (co_await Flush()) co_await LingeringClose();
    co_return false;
  }

  phase_ = Phase::kBusy;
  deadline_ = Clock::time_point::max();
  const Request& request = parser.get();
  Response response = co_await handler.Handle(request);
  if (response.reset) {  // fault injection: the work is done, the answer is lost
    handler.Answered();
    stream_.Reset();
    co_return false;
  }
  if (response.upgrade) {
    co_await TakeOver(handler, response);
    co_return false;
  }
  response.close = response.close || !request.keep_alive() || handler.Closing();
  AppendResponse(output_, response, {.http10 = request.version() < 11, .head = request.method() == http::verb::head});
  bool flushed = true;
  if (response.close || output_.size() >= limits_.max_unsent_bytes || input_.size() == 0) {
    flushed = co_await Flush();
  }
  handler.Answered();
  if (!flushed) co_return false;
  if (response.close) {
    co_await LingeringClose();
    co_return false;
  }
  co_return true;
}

}  // namespace harpc::http1
