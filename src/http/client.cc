// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

namespace harpc::http1 {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<ClientResponse> Exchange(ClientConnection& c, std::string_view request, Clock::time_point deadline,
                                         const ResponseLimits& limits) {
  ClientResponse out;
  c.stream.expires_at(deadline);
  auto [wec, written] = co_await asio::async_write(c.stream, asio::buffer(request), kNoThrow);
  if (wec) {
    out.error = wec;
    co_return out;
  }
  out.sent = true;
  http::response_parser<http::string_body> parser;
  parser.header_limit(limits.head_bytes);
  parser.body_limit(limits.body_bytes);
  auto [rec, read] = co_await http::async_read(c.stream, c.buffer, parser, kNoThrow);
  if (rec) {
    out.error = rec;
    co_return out;
  }
  auto& response = parser.get();
  out.status = response.result_int();
  out.reusable = response.keep_alive() && c.buffer.size() == 0;
  out.body = std::move(response.body());
  co_return out;
}

StreamingResponse::StreamingResponse(ClientConnection& connection, std::uint64_t max_unconsumed, std::uint32_t max_head)
    : connection_(connection), max_unconsumed_(max_unconsumed) {
  parser_.header_limit(max_head);
  parser_.body_limit(boost::none);  // endless; what is unconsumed is limited in ReadSome
}

asio::awaitable<error_code> StreamingResponse::Start(std::string_view request, Clock::time_point deadline) {
  connection_.stream.expires_at(deadline);
  auto [wec, written] = co_await asio::async_write(connection_.stream, asio::buffer(request), kNoThrow);
  if (wec) co_return wec;
  auto [hec, head] = co_await http::async_read_header(connection_.stream, connection_.buffer, parser_, kNoThrow);
  connection_.stream.expires_never();  // a quiet stream may send nothing for hours
  co_return hec;
}

asio::awaitable<error_code> StreamingResponse::ReadSome() {
  if (body().size() > max_unconsumed_) co_return http::error::body_limit;
  auto [ec, read] = co_await http::async_read_some(connection_.stream, connection_.buffer, parser_, kNoThrow);
  co_return ec;
}

}  // namespace harpc::http1
