// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/http_exchange.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>

#include "core/wire_error.h"
#include "http/request.h"
#include "util/json_text.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {
constexpr uint32_t kMaxResponseHead = 64 * 1024;

void AppendHeadersAndBody(std::string& out, std::string_view body, const RequestHeaders& headers) {
  if (headers.deadline_in.count() > 0) http1::AppendHeader(out, "X-Deadline-Ms", headers.deadline_in.count());
  if (!headers.idempotency_key.empty()) http1::AppendHeader(out, "Idempotency-Key", headers.idempotency_key);
  if (!headers.request_id.empty()) http1::AppendHeader(out, "X-Request-Id", headers.request_id);
  if (headers.trace && headers.trace->valid()) {
    out += "traceparent: ";
    headers.trace->AppendTraceparent(out);
    out += "\r\n";
    if (!headers.trace->tracestate().empty()) http1::AppendHeader(out, "tracestate", headers.trace->tracestate());
  }
  http1::AppendBearerToken(out, headers.bearer_token);
  http1::AppendBody(out, "application/json", body);
}

// A JSON-RPC 2.0 response object: "jsonrpc":"2.0" and a result or an error.
bool IsJsonRpcResponse(const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& o = v.as_object();
  const json::value* version = o.if_contains("jsonrpc");
  return version && *version == "2.0" && (o.contains("result") || o.contains("error"));
}

// The error a JSON-RPC 2.0 server answered, when that is all it answered:
// one error response, or a batch of them (a plain array of params read as a
// batch of invalid requests). Null otherwise.
const json::value* JsonRpcRefusal(const json::value& v) {
  if (IsJsonRpcResponse(v)) return v.as_object().if_contains("error");
  if (!v.is_array() || v.as_array().empty()) return nullptr;
  for (const json::value& one : v.as_array()) {
    if (!IsJsonRpcResponse(one) || !one.as_object().contains("error")) return nullptr;
  }
  return v.as_array().front().as_object().if_contains("error");
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
  AppendHeadersAndBody(out, body, headers);
  return out;
}

Status AppendJsonRpcRequest(std::string_view method, const json::value& params, std::optional<uint64_t> id,
                            std::string* out) {
  if (!params.is_null() && !params.is_array() && !params.is_object()) {
    return InvalidArgument("JSON-RPC 2.0 params must be an array or an object, not " + json::serialize(params));
  }
  // Written around the params rather than built as an object: no copy of them per call.
  *out += R"({"jsonrpc":"2.0","method":)";
  *out += json::serialize(json::string(method));
  if (!params.is_null()) {
    *out += R"(,"params":)";
    *out += json::serialize(params);
  }
  if (id) {
    *out += R"(,"id":)";
    *out += std::to_string(*id);
  }
  *out += '}';
  return Status::Ok();
}

std::string FormatJsonRpcRequest(std::string_view host, std::string_view path, std::string_view body,
                                 const RequestHeaders& headers) {
  std::string out;
  out.reserve(160 + body.size());
  http1::AppendRequestLine(out, "POST", path, host);
  AppendHeadersAndBody(out, body, headers);
  return out;
}

Status JsonRpcErrorStatus(const json::value& error, std::string_view answer) {
  Status status;
  if (!error.is_object() || !wire::StatusFromErrorObject(error.as_object(), &status)) {
    return Status(StatusCode::kUnknown, "malformed JSON-RPC error: " + OneLineExcerpt(answer));
  }
  return status;
}

std::string OneLineExcerpt(std::string_view text, size_t max) {
  std::string out;
  bool blank = false;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  return out;
}

AttemptOutcome InterpretResponse(int http_status, std::string_view body, AnswerForm form) {
  AttemptOutcome out;
  out.stage = AttemptStage::kAnswered;
  json::value parsed;
  // The same check as the server's: a number JSON cannot write back (1e400)
  // is refused, not handed to the application as infinity.
  const Status read = body.empty() ? Status::Ok() : ParseJsonText(body, &parsed);

  if (http_status >= 200 && http_status < 300) {
    if (!read.ok()) {
      out.status = Internal("server answered with invalid JSON: " + read.message());
      return out;
    }
    // Each answer of a batch is its caller's, errors included; anything else
    // all error is a refusal of the whole request (also of a plain harpc
    // request, by a JSON-RPC server that read it as a batch of invalid requests).
    const json::value* error =
        form == AnswerForm::kJsonRpcBatch && parsed.is_array() ? nullptr : JsonRpcRefusal(parsed);
    if (error) {
      out.status = JsonRpcErrorStatus(*error, body);
      return out;
    }
    switch (form) {
      case AnswerForm::kPlain:
        out.value = std::move(parsed);
        break;
      case AnswerForm::kJsonRpc:
        if (IsJsonRpcResponse(parsed)) {
          out.value = std::move(parsed.as_object().at("result"));
        } else {
          out.status =
              Internal("not a JSON-RPC 2.0 answer: " + (body.empty() ? "an empty body" : OneLineExcerpt(body)));
        }
        break;
      case AnswerForm::kJsonRpcBatch:
        // Nothing at all when the batch held only notifications.
        if (parsed.is_array() || body.empty()) {
          out.value = std::move(parsed);
        } else {
          out.status = Internal("not a JSON-RPC 2.0 batch answer: " + OneLineExcerpt(body));
        }
        break;
      case AnswerForm::kNotification:
        break;  // a server that answers one anyway is not wrong enough to fail it
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
  const std::string excerpt = OneLineExcerpt(body);
  out.status = Status(wire::CodeFromHttpStatus(http_status),
                      "HTTP " + std::to_string(http_status) + (excerpt.empty() ? "" : ": " + excerpt));
  return out;
}

http1::ResponseLimits AnswerLimits(size_t max_response_bytes) {
  return {.head_bytes = kMaxResponseHead, .body_bytes = max_response_bytes};
}

AttemptOutcome OutcomeOf(const http1::ClientResponse& r, std::string_view peer, AnswerForm form,
                         std::chrono::milliseconds connect_timeout) {
  const std::string at(peer);
  AttemptOutcome out;
  const beast::error_code& ec = r.error;
  if (r.connect_failed) {
    out.stage = AttemptStage::kNotSent;
    out.peer_gone = ec == asio::error::connection_refused;
    out.status =
        ec == beast::error::timeout
            ? Unavailable("connect to " + at + " timed out after " + std::to_string(connect_timeout.count()) + " ms")
            : Unavailable("connect to " + at + " failed: " + ec.message());
    return out;
  }
  if (ec && !r.sent) {
    // A write fails only once the peer has reset the connection: it read nothing of this request.
    out.stage = AttemptStage::kNotSent;
    out.peer_gone = ec != beast::error::timeout && ec != asio::error::operation_aborted;
    out.status = ec == beast::error::timeout ? DeadlineExceeded("deadline passed while sending to " + at)
                                             : Unavailable("sending to " + at + " failed: " + ec.message());
    return out;
  }
  if (ec) {
    out.stage = AttemptStage::kMaybeSent;
    if (ec == beast::error::timeout) {
      out.status = DeadlineExceeded("no answer from " + at + " before the deadline");
    } else if (ec == http::error::body_limit) {
      out.status = Internal("answer from " + at + " exceeds max_response_bytes");
    } else if (ec == asio::error::operation_aborted) {
      out.status = Status(StatusCode::kCancelled, "attempt cancelled");
    } else {
      out.peer_gone = true;
      out.status = Unavailable("connection to " + at + " lost before the answer: " + ec.message());
    }
    return out;
  }
  out = InterpretResponse(r.status, r.body, form);
  out.reusable = r.reusable;
  return out;
}

}  // namespace harpc
