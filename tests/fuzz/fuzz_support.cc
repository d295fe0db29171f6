// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "fuzz_support.h"

#include <boost/beast/http/parser.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

namespace harpc::fuzz {

namespace asio = boost::asio;
namespace http = boost::beast::http;

void Setup() {
  static const bool done = [] {
    // The library's logger (util/log.h) takes the one registered under its name.
    if (!spdlog::get("harpc")) {
      spdlog::register_logger(
          std::make_shared<spdlog::logger>("harpc", std::make_shared<spdlog::sinks::null_sink_mt>()));
    }
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)done;
}

bool ParseRequest(std::string_view bytes, http1::Request* out) {
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(1 << 20);
  boost::system::error_code ec;
  parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_done()) return false;
  *out = parser.release();
  return true;
}

asio::ip::tcp::acceptor& LoopbackAcceptor(asio::io_context& context) {
  static asio::ip::tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor;
}

std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket> LoopbackPair(asio::io_context& context) {
  asio::ip::tcp::acceptor& acceptor = LoopbackAcceptor(context);
  asio::ip::tcp::socket client(context), server(context);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  return {std::move(client), std::move(server)};
}

}  // namespace harpc::fuzz
