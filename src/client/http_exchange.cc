#include "client/http_exchange.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>

#include "core/wire_error.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr uint32_t kMaxResponseHead = 64 * 1024;

std::string Peer(ClientConnection& c) {
  boost::system::error_code ec;
  auto ep = c.stream.socket().remote_endpoint(ec);
  return ec ? std::string("the server") : ep.address().to_string() + ":" + std::to_string(ep.port());
}
}  // namespace

std::string FormatRequest(std::string_view host, std::string_view method, std::string_view body,
                          const RequestHeaders& headers) {
  std::string out;
  out.reserve(160 + body.size());
  out += method == "/" ? "POST /rpc" : "POST /rpc/";
  if (method != "/") out += method;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  if (headers.deadline_in.count() > 0) {
    out += "X-Deadline-Ms: ";
    out += std::to_string(headers.deadline_in.count());
    out += "\r\n";
  }
  if (!headers.idempotency_key.empty()) {
    out += "Idempotency-Key: ";
    out += headers.idempotency_key;
    out += "\r\n";
  }
  if (!headers.request_id.empty()) {
    out += "X-Request-Id: ";
    out += headers.request_id;
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

AttemptOutcome InterpretResponse(int http_status, std::string_view body) {
  AttemptOutcome out;
  out.stage = AttemptStage::kAnswered;
  boost::system::error_code ec;
  json::value parsed;
  if (!body.empty()) parsed = json::parse(body, ec);

  if (http_status >= 200 && http_status < 300) {
    if (ec) {
      out.status = Internal("server answered with invalid JSON: " + ec.message());
    } else {
      out.value = std::move(parsed);
    }
    return out;
  }
  // An error: harpc's {"error":{"code":N,"message":"..."}}, or whatever a proxy sent.
  if (!ec && parsed.is_object()) {
    if (const json::value* err = parsed.as_object().if_contains("error"); err && err->is_object()) {
      const json::object& e = err->as_object();
      const json::value* code = e.if_contains("code");
      const json::value* message = e.if_contains("message");
      if (code && code->is_int64()) {
        std::string text = message && message->is_string() ? std::string(message->as_string()) : "";
        out.status = Status(wire::CodeFromJsonRpc(static_cast<int>(code->as_int64())), std::move(text));
        return out;
      }
    }
  }
  std::string snippet(body.substr(0, 200));
  out.status = Status(wire::CodeFromHttpStatus(http_status),
                      "HTTP " + std::to_string(http_status) + (snippet.empty() ? "" : ": " + snippet));
  return out;
}

asio::awaitable<AttemptOutcome> Exchange(ClientConnection& c, const std::string& request,
                                         std::chrono::steady_clock::time_point deadline,
                                         size_t max_response_bytes) {
  AttemptOutcome out;
  c.stream.expires_at(deadline);
  auto [wec, written] = co_await asio::async_write(c.stream, asio::buffer(request), kNoThrow);
  if (wec) {
    // A write fails only once the peer has reset the connection: it read nothing of this request.
    out.stage = AttemptStage::kNotSent;
    out.peer_gone = wec != beast::error::timeout && wec != asio::error::operation_aborted;
    out.status = wec == beast::error::timeout
                     ? DeadlineExceeded("deadline passed while sending to " + Peer(c))
                     : Unavailable("sending to " + Peer(c) + " failed: " + wec.message());
    co_return out;
  }

  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxResponseHead);
  parser.body_limit(max_response_bytes);
  auto [rec, read] = co_await http::async_read(c.stream, c.buffer, parser, kNoThrow);
  if (rec) {
    out.stage = AttemptStage::kMaybeSent;
    if (rec == beast::error::timeout) {
      out.status = DeadlineExceeded("no answer from " + Peer(c) + " before the deadline");
    } else if (rec == http::error::body_limit) {
      out.status = Internal("answer from " + Peer(c) + " exceeds max_response_bytes");
    } else if (rec == asio::error::operation_aborted) {
      out.status = Status(StatusCode::kCancelled, "attempt cancelled");
    } else {
      out.peer_gone = true;
      out.status = Unavailable("connection to " + Peer(c) + " lost before the answer: " + rec.message());
    }
    co_return out;
  }
  const auto& response = parser.get();
  out = InterpretResponse(response.result_int(), response.body());
  out.reusable = response.keep_alive() && c.buffer.size() == 0;
  co_return out;
}

}  // namespace harpc
