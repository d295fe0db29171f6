#include "client/http_exchange.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>

#include "util/json_text.h"
#include "core/wire_error.h"
#include "http/request.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {
constexpr uint32_t kMaxResponseHead = 64 * 1024;

std::string Peer(ClientConnection& c) {
  boost::system::error_code ec;
  auto ep = c.stream.remote_endpoint(ec);
  return ec ? std::string("the server") : ep.address().to_string() + ":" + std::to_string(ep.port());
}
}  // namespace

std::string FormatRequest(std::string_view host, std::string_view method, std::string_view body,
                          const RequestHeaders& headers) {
  std::string out;
  out.reserve(160 + body.size());
  if (method == "/") {
    http1::AppendRequestLine(out, "POST", "/rpc", host);
  } else {
    http1::AppendRequestLine(out, "POST", "/rpc/", host, method);
  }
  if (headers.deadline_in.count() > 0) http1::AppendHeader(out, "X-Deadline-Ms", headers.deadline_in.count());
  if (!headers.idempotency_key.empty()) http1::AppendHeader(out, "Idempotency-Key", headers.idempotency_key);
  if (!headers.request_id.empty()) http1::AppendHeader(out, "X-Request-Id", headers.request_id);
  http1::AppendBearerToken(out, headers.bearer_token);
  http1::AppendBody(out, "application/json", body);
  return out;
}

AttemptOutcome InterpretResponse(int http_status, std::string_view body) {
  AttemptOutcome out;
  out.stage = AttemptStage::kAnswered;
  json::value parsed;
  // The same check as the server's: a number JSON cannot write back (1e400)
  // is refused, not handed to the application as infinity.
  const Status read = body.empty() ? Status::Ok() : ParseJsonText(body, &parsed);

  if (http_status >= 200 && http_status < 300) {
    if (!read.ok()) {
      out.status = Internal("server answered with invalid JSON: " + read.message());
    } else {
      out.value = std::move(parsed);
    }
    return out;
  }
  // An error: harpc's {"error":{"code":N,"message":"..."}}, or whatever a proxy sent.
  if (read.ok() && parsed.is_object()) {
    if (const json::value* err = parsed.as_object().if_contains("error");
        err && err->is_object() && wire::StatusFromErrorObject(err->as_object(), &out.status)) {
      return out;
    }
  }
  if (wire::CodeFromHttpStatus(http_status) == StatusCode::kNotLeader) {
    out.status = NotLeader("");  // a 421 without harpc's body names no leader
    return out;
  }
  std::string snippet(body.substr(0, 200));
  out.status = Status(wire::CodeFromHttpStatus(http_status),
                      "HTTP " + std::to_string(http_status) + (snippet.empty() ? "" : ": " + snippet));
  return out;
}

http1::ResponseLimits AnswerLimits(size_t max_response_bytes) {
  return {.head_bytes = kMaxResponseHead, .body_bytes = max_response_bytes};
}

AttemptOutcome OutcomeOf(const http1::ClientResponse& r, ClientConnection& c) {
  AttemptOutcome out;
  const beast::error_code& ec = r.error;
  if (ec && !r.sent) {
    // A write fails only once the peer has reset the connection: it read nothing of this request.
    out.stage = AttemptStage::kNotSent;
    out.peer_gone = ec != beast::error::timeout && ec != asio::error::operation_aborted;
    out.status = ec == beast::error::timeout ? DeadlineExceeded("deadline passed while sending to " + Peer(c))
                                             : Unavailable("sending to " + Peer(c) + " failed: " + ec.message());
    return out;
  }
  if (ec) {
    out.stage = AttemptStage::kMaybeSent;
    if (ec == beast::error::timeout) {
      out.status = DeadlineExceeded("no answer from " + Peer(c) + " before the deadline");
    } else if (ec == http::error::body_limit) {
      out.status = Internal("answer from " + Peer(c) + " exceeds max_response_bytes");
    } else if (ec == asio::error::operation_aborted) {
      out.status = Status(StatusCode::kCancelled, "attempt cancelled");
    } else {
      out.peer_gone = true;
      out.status = Unavailable("connection to " + Peer(c) + " lost before the answer: " + ec.message());
    }
    return out;
  }
  out = InterpretResponse(r.status, r.body);
  out.reusable = r.reusable;
  return out;
}

}  // namespace harpc
