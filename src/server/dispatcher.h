// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Turns one parsed HTTP request into one HTTP response: routing, the three
// call forms (JSON-RPC 2.0, the default method, /rpc/<Method>), deadlines,
// the concurrency limit, and the built-in endpoints.
#pragma once

#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include "http/response.h"
#include "server/server_state.h"

namespace harpc {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The longest Idempotency-Key accepted (longer: 400, -32600).
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

class CallDispatcher {
 public:
  explicit CallDispatcher(ServerState& state) : state_(state) {}

  boost::asio::awaitable<http1::Response> Handle(const HttpRequest& request, const std::string& peer,
                                                 boost::asio::any_io_executor executor);

  // Runs a method with every server-side check (draining, deadline, limit) and
  // records its metrics: the call is counted once under the code it is
  // answered with, whether the method ran or a check refused it. Exceptions from the handler become INTERNAL.
  // `*ran` (when given) tells whether the handler ran, rather than a check
  // refusing the call or the idempotency store answering it.
  boost::asio::awaitable<Result> Invoke(Method& method, boost::json::value params, CallContext& ctx,
                                        bool* ran = nullptr);

 private:
  boost::asio::awaitable<http1::Response> HandleJsonRpcEndpoint(const HttpRequest& request, CallContext& base);
  boost::asio::awaitable<http1::Response> HandleNamedMethod(std::string_view name, const HttpRequest& request,
                                                            CallContext& base);
  // The JSON-RPC error for a request that names no method of this server
  // (parse error, invalid request, unknown method), counted.
  boost::json::value Rejected(int code, std::string_view message, const boost::json::value& id) const;
  // The -32600 for a batch of more than max_batch_requests requests.
  http1::Response BatchTooLarge(size_t requests) const;
  // A JSON-RPC batch (an array of request objects).
  boost::asio::awaitable<http1::Response> HandleBatch(const boost::json::array& batch, CallContext& base);
  // One JSON-RPC request object; returns null for a notification.
  // `ctx` is this request's own: its method and outcome are written into it.
  boost::asio::awaitable<boost::json::value> HandleJsonRpcObject(const boost::json::value& request, CallContext& ctx);

  // The answer of /rpc/<Method> and the default method: INTERNAL when its
  // text would pass max_answer_bytes. When the handler ran, fault injection
  // may reset the connection instead (ServerFaults). Nullopt when the answer
  // is too large to write in one go: LargePlainAnswer writes it in slices.
  std::optional<http1::Response> PlainAnswer(const Result& result, bool ran) const;
  boost::asio::awaitable<http1::Response> LargePlainAnswer(const Result& result, bool ran,
                                                           const boost::asio::any_io_executor& executor) const;
  // The role of the request's bearer token (kPeer when the server asks for
  // none); UNAUTHENTICATED when a token is needed and none or an unknown one came.
  Status Authenticate(const HttpRequest& request, Role* role) const;
  http1::Response Upgrade(const ServerState::Upgrade& upgrade, const HttpRequest& request, Role role) const;
  // Fills the deadline, idempotency key and request id from the headers.
  static Status ContextFromHeaders(const HttpRequest& request, CallContext& ctx);
  // The call's span: a child of the caller's traceparent, or a new trace
  // when it sent none (or an invalid one). Never refuses a request.
  static TraceContext TraceFromHeaders(const HttpRequest& request);
  // A warning about one call that names its trace: a handler that threw or
  // answered what JSON cannot say, an answer the idempotency log could not keep.
  void LogCallProblem(const CallContext& ctx, const Status& problem) const;
  // Requests to paths other than /rpc and /rpc/<Method>: GET /health,
  // /metrics, /status, pages, upgrades; 404 for any other.
  boost::asio::awaitable<http1::Response> HandleOther(const HttpRequest& request, std::string_view path);
  // What the access log keeps of a batch's request until the batch's HTTP status is known.
  struct BatchCall {
    std::string method;
    StatusCode code;
    std::chrono::steady_clock::duration latency;
    TraceContext trace;
  };

  ServerState& state_;
};

}  // namespace harpc
