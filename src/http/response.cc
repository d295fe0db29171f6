// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/response.h"

#include <algorithm>

#include "http/date.h"
#include "http/decimal.h"

namespace harpc::http1 {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 421:
      return "Misdirected Request";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void AppendResponse(std::string& out, const Response& r, AnswerTo to) {
  const bool has_body = r.status != 204 && r.status >= 200;
  // One allocation at most, not one per doubling of `out` (an idle server
  // connection gives its buffer back, so its next answer starts from none).
  constexpr size_t kMaxHeadBytes = 160;  // status line, Date, Content-Type, Content-Length, Connection
  const size_t need = out.size() + kMaxHeadBytes + r.content_type.size() + r.extra_headers.size() + r.body.size();
  if (need > out.capacity()) out.reserve(std::max(need, 2 * out.capacity()));
  out += "HTTP/1.1 ";
  AppendDecimal(out, r.status);
  out += ' ';
  out += ReasonPhrase(r.status);
  out += "\r\nDate: ";
  out += HttpDate();
  out += "\r\n";
  if (has_body) {
    out += "Content-Type: ";
    out += r.content_type;
    out += "\r\nContent-Length: ";
    AppendDecimal(out, static_cast<long long>(r.body.size()));
    out += "\r\n";
  }
  if (r.close) {
    out += "Connection: close\r\n";
  } else if (to.http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += r.extra_headers;
  out += "\r\n";
  if (has_body && !to.head) out += r.body;
}

}  // namespace harpc::http1
