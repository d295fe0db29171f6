// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "method_session.h"

#include <cctype>
#include <future>
#include <map>

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "fuzz_support.h"
#include "server/server_requests.h"

namespace harpc::fuzz {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {
// The client every request comes from (a coroutine keeps a reference to it).
const std::string kPeer = "127.0.0.1:1";
}  // namespace

http1::Response Dispatch(Server& server, asio::io_context& context, const http1::Request& request) {
  return RunToEnd(context, ServerRequests::Handle(server, request, kPeer, context.get_executor()));
}

http1::Response DispatchOnLoop(Server& server, const http1::Request& request) {
  std::future<http1::Response> answer = asio::co_spawn(
      server.executor(), ServerRequests::Handle(server, request, kPeer, server.executor()), asio::use_future);
  return answer.get();
}

namespace {

// "$name" replaced by what `known` holds for it.
std::string Substitute(std::string_view text, const std::map<std::string, std::string, std::less<>>& known) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '$') {
      size_t end = i + 1;
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
      if (auto it = known.find(text.substr(i + 1, end - i - 1)); end > i + 1 && it != known.end()) {
        out += it->second;
        i = end;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

}  // namespace

void RunSession(const Dispatcher& dispatch, std::string_view input, int deadline_ms, int max_calls) {
  std::map<std::string, std::string, std::less<>> known;
  for (int calls = 0; !input.empty() && calls < max_calls; ++calls) {
    const size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
    const size_t space = line.find(' ');
    std::string_view method = line.substr(0, space);
    std::string_view params = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);

    http1::Request request{http::verb::post, "/rpc/" + std::string(method), 11};
    request.set(http::field::host, "127.0.0.1");
    request.set("X-Deadline-Ms", std::to_string(deadline_ms));
    request.set(http::field::content_type, "application/json");
    request.body() = Substitute(params, known);
    request.prepare_payload();
    http1::Response answer = dispatch(request);

    boost::system::error_code ec;
    json::value result = json::parse(answer.body, ec);
    if (ec || !result.is_object()) continue;
    for (const auto& [name, value] : result.as_object()) {
      // Strings quoted, as they would appear in params.
      if (value.is_string() || value.is_number()) known[std::string(name)] = json::serialize(value);
    }
  }
}

void RunSessionOnLoop(Server& server, std::string_view input) {
  RunSession([&server](const http1::Request& request) { return DispatchOnLoop(server, request); }, input);
}

}  // namespace harpc::fuzz
