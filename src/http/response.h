// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The server's HTTP/1.1 answers, formatted straight into the connection's
// output buffer: a fixed header set (Date always), Content-Length framing, no
// chunking, and the keep-alive rules of HTTP/1.0 and 1.1.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace harpc::http1 {

class Stream;

struct Response {
  int status = 200;
  std::string_view content_type = "application/json";
  std::string body;
  bool close = false;              // adds "Connection: close"; the server then closes
  std::string_view extra_headers;  // preformatted "Name: value\r\n" lines
  bool reset = false;              // fault injection: reset the connection instead of answering
  // A 101 answer's new protocol: once the answer is written, the connection
  // is this function's, with the bytes the client sent after its request,
  // until it returns; then the connection closes. No timeout applies.
  std::function<boost::asio::awaitable<void>(Stream& stream, std::string early_bytes)> upgrade;
};

// What an answer depends on in the request it answers.
struct AnswerTo {
  // An HTTP/1.0 request: an answer that keeps the connection open says
  // "Connection: keep-alive" (1.0 closes by default).
  bool http10 = false;
  // HEAD: the head only, Content-Length as for GET.
  bool head = false;
};

std::string_view ReasonPhrase(int status);
// Appends the status line, Date, Content-Type and Content-Length (none for
// 204), the Connection header the rules above ask for, extra_headers, then the body.
void AppendResponse(std::string& out, const Response& response, AnswerTo to = {});

}  // namespace harpc::http1
