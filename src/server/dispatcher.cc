// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/dispatcher.h"

#include <charconv>
#include <optional>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "core/wire_error.h"
#include "server/answer_limit.h"
#include "server/builtin_endpoints.h"
#include "server/credentials.h"
#include "util/fault_injection.h"
#include "util/hash.h"
#include "util/json_text.h"
#include "util/log.h"

namespace harpc {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds CallContext::remaining() const {
  if (!has_deadline()) return std::chrono::milliseconds::max();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

namespace {

std::string PlainErrorBody(const Status& status) {
  return json::serialize(json::object{{"error", wire::ErrorObject(status)}});
}

http1::Response PlainError(const Status& status) {
  return {.status = wire::HttpStatus(status.code()), .body = PlainErrorBody(status)};
}

// A request refused before it reached any method (bad framing, bad headers, unknown path).
http1::Response HttpError(ServerState& state, int http_status, int jsonrpc_code, std::string message) {
  state.CountHttpError(http_status);
  json::object error{{"code", jsonrpc_code}, {"message", std::move(message)}};
  return {.status = http_status, .body = json::serialize(json::object{{"error", std::move(error)}})};
}

json::value JsonRpcError(int code, std::string_view message, const json::value& id) {
  return json::object{{"jsonrpc", "2.0"}, {"error", json::object{{"code", code}, {"message", message}}}, {"id", id}};
}

// A method's failure, with everything its status says (NOT_LEADER's leader).
json::value JsonRpcError(const Status& status, const json::value& id) {
  return json::object{{"jsonrpc", "2.0"}, {"error", wire::ErrorObject(status)}, {"id", id}};
}

http1::Response JsonBody(const json::value& v) { return {.status = 200, .body = json::serialize(v)}; }

// Large bodies are parsed, and answers written, in slices of about this size,
// the loop serving its other connections between them (a slice takes about
// a millisecond or less).
constexpr size_t kTextSlice = 256 * 1024;
// A batch lets its loop serve the other connections whenever it held the
// loop this long.
constexpr auto kBatchTurn = std::chrono::milliseconds(1);

// Lets the other connections of this loop be served before going on.
asio::awaitable<void> Yield(const asio::any_io_executor& executor) {
  co_await asio::post(executor, asio::use_awaitable);
}

// The number of requests of a batch body larger than a slice, counted
// before it is parsed; 0 for any other body.
size_t LargeBatchLength(std::string_view body) {
  if (body.size() <= kTextSlice) return 0;
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '[') return 0;
  return JsonArrayLength(body);
}

// ParseJsonText for a body too large to parse in one go.
asio::awaitable<Status> ParseInSlices(std::string_view text, json::value* out, const asio::any_io_executor& executor) {
  JsonTextReader reader(text);
  while (!reader.Read(kTextSlice)) co_await Yield(executor);
  co_return reader.Finish(out);
}

// Writes `value` at the end of `out` within `limit`, when it fits one slice
// (kDone or kTooLarge). kMore: it is larger, and `out` is as it was; the
// caller writes it with WriteInSlices (a coroutine only for large answers).
JsonTextWriter::Progress WriteInOneSlice(const json::value& value, std::string& out, size_t limit) {
  const size_t start = out.size();
  JsonTextWriter writer(out, limit, value);
  JsonTextWriter::Progress p = writer.Write(kTextSlice);
  if (p == JsonTextWriter::kMore) out.resize(start);
  return p;
}

asio::awaitable<JsonTextWriter::Progress> WriteInSlices(const json::value& value, std::string& out, size_t limit,
                                                        const asio::any_io_executor& executor) {
  JsonTextWriter writer(out, limit, value);
  JsonTextWriter::Progress p = writer.Write(kTextSlice);
  while (p == JsonTextWriter::kMore) {
    co_await Yield(executor);
    p = writer.Write(kTextSlice);
  }
  co_return p;
}

// A call refused for its credentials: 401 (no or unknown token) or 403 (the
// role is too low), as a JSON-RPC 2.0 error on POST /rpc, else as the plain
// error body. 401 tells how to authenticate (RFC 6750).
http1::Response CredentialsAnswer(const Status& status, bool jsonrpc) {
  http1::Response r{.status = wire::HttpStatus(status.code()),
                    .body = jsonrpc ? json::serialize(JsonRpcError(status, nullptr)) : PlainErrorBody(status)};
  if (status.code() == StatusCode::kUnauthenticated) r.extra_headers = "WWW-Authenticate: Bearer\r\n";
  return r;
}

// The same for a request that named no method yet (a token refused, an upgrade).
http1::Response CredentialsError(ServerState& state, const Status& status, bool jsonrpc) {
  state.CountHttpError(wire::HttpStatus(status.code()));
  return CredentialsAnswer(status, jsonrpc);
}

// `answer`, counted under `method` with its code: every call to a method is
// counted once, with the answer it gets, whether the method ran or not.
Result Counted(Method& method, Result answer) {
  method.stats.Count(answer.status().code());
  return answer;
}

// A call whose token's role may not call `method`: counted under the method.
Status Denied(Method& method, Role caller) {
  return Counted(method, PermissionDenied("method '" + method.name + "' needs a token of role " +
                                          std::string(RoleName(method.options.role)) + "; this one has role " +
                                          std::string(RoleName(caller))))
      .status();
}

// Why a call may not run now, before anything is spent on it (OK: it may).
Status Admission(const ServerState& state, const CallContext& ctx) {
  if (state.draining.load(std::memory_order_relaxed)) {
    return Unavailable("server is draining (shutting down); call another instance");
  }
  if (ctx.has_deadline() && Clock::now() >= ctx.deadline()) {
    return DeadlineExceeded("deadline already passed when the call arrived");
  }
  const auto limit = state.options.max_concurrency;
  if (limit > 0 && state.in_flight.load(std::memory_order_relaxed) >= static_cast<int64_t>(limit)) {
    return ResourceExhausted("server overloaded: " + std::to_string(limit) + " calls in flight");
  }
  return Status::Ok();
}

std::string_view PathOf(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace

Status CallDispatcher::ContextFromHeaders(const HttpRequest& request, CallContext& ctx) {
  if (auto it = request.find("X-Deadline-Ms"); it != request.end()) {
    std::string_view v = it->value();
    long long ms = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
      return InvalidArgument("X-Deadline-Ms must be an integer number of milliseconds, got '" + std::string(v) + "'");
    }
    ms = std::min<long long>(ms, 365LL * 24 * 3600 * 1000);  // keep time_point arithmetic in range
    ctx.deadline_ = Clock::now() + std::chrono::milliseconds(ms);
  }
  if (auto it = request.find("Idempotency-Key"); it != request.end()) {
    // Every key is kept with its answer: long ones would buy the caller memory.
    if (it->value().size() > kMaxIdempotencyKeyBytes) {
      return InvalidArgument("Idempotency-Key must be at most " + std::to_string(kMaxIdempotencyKeyBytes) +
                             " bytes, got " + std::to_string(it->value().size()));
    }
    ctx.idempotency_key_ = std::string(it->value());
  }
  if (auto it = request.find("X-Request-Id"); it != request.end()) {
    ctx.request_id_ = std::string(it->value());
  }
  return Status::Ok();
}

void CallDispatcher::LogCallProblem(const CallContext& ctx, const Status& problem) const {
  const TraceContext& t = ctx.trace();
  Log().warn("server {}: call {} from {}: {} (trace_id={} span_id={})", state_.address, ctx.method(), ctx.peer(),
             problem.ToString(), t.trace_id_hex(), t.span_id_hex());
}

TraceContext CallDispatcher::TraceFromHeaders(const HttpRequest& request) {
  // Two traceparent headers are as invalid as a bad one: a new trace, and
  // the tracestate, which belongs to the caller's, goes with it.
  const auto [first, end] = request.equal_range("traceparent");
  std::optional<TraceContext> caller;
  if (first != end && std::next(first) == end) caller = TraceContext::Parse(first->value());
  if (!caller) return TraceContext::NewTrace();
  std::string state;
  for (auto [it, last] = request.equal_range("tracestate"); it != last; ++it) {
    // Several tracestate headers are one list (RFC 9110 §5.3).
    if (!state.empty()) state += ',';
    state += it->value();
    if (state.size() > TraceContext::kMaxTracestateBytes) break;
  }
  caller->set_tracestate(state);  // dropped when not acceptable
  return caller->NewChild();
}

std::optional<http1::Response> CallDispatcher::PlainAnswer(const Result& result, bool ran) const {
  http1::Response r;
  if (result.ok()) {
    const size_t limit = state_.options.max_answer_bytes;
    JsonTextWriter::Progress p = WriteInOneSlice(result.value(), r.body, limit);
    if (p == JsonTextWriter::kMore) return std::nullopt;
    if (p == JsonTextWriter::kTooLarge) r = PlainError(AnswerTooLarge(limit));
  } else {
    r = PlainError(result.status());
  }
  r.reset = ran && InjectFault(state_.fault_reset_rate.load(std::memory_order_relaxed));
  return r;
}

asio::awaitable<http1::Response> CallDispatcher::LargePlainAnswer(const Result& result, bool ran,
                                                                  const asio::any_io_executor& executor) const {
  http1::Response r;
  const size_t limit = state_.options.max_answer_bytes;
  JsonTextWriter::Progress p = co_await WriteInSlices(result.value(), r.body, limit, executor);
  if (p == JsonTextWriter::kTooLarge) r = PlainError(AnswerTooLarge(limit));
  r.reset = ran && InjectFault(state_.fault_reset_rate.load(std::memory_order_relaxed));
  co_return r;
}

Status CallDispatcher::Authenticate(const HttpRequest& request, Role* role) const {
  *role = Role::kPeer;
  const std::shared_ptr<const TokenTable> tokens = state_.tokens.load(std::memory_order_acquire);
  if (!tokens) return Status::Ok();
  auto it = request.find(http::field::authorization);
  if (it == request.end()) {
    return Unauthenticated("this server needs a token: send 'Authorization: Bearer TOKEN' (harpc: --token-file)");
  }
  std::optional<Role> found = tokens->Find(BearerToken(it->value()));
  if (!found) return Unauthenticated("the token is not accepted by this server");
  *role = *found;
  return Status::Ok();
}

// A GET asking for the path's protocol (RFC 9110 §7.8) switches to it with a
// 101; the request stays alive for the new protocol's whole life (the
// connection holds it), so the serving function may read its headers.
http1::Response CallDispatcher::Upgrade(const ServerState::Upgrade& upgrade, const HttpRequest& request,
                                        Role role) const {
  if (request.method() != http::verb::get) {
    return HttpError(state_, 405, wire::kInvalidRequest, "an upgrade takes GET");
  }
  const auto asked = request.find(http::field::upgrade);
  if (asked == request.end() || !boost::beast::iequals(asked->value(), upgrade.protocol)) {
    return HttpError(state_, 426, wire::kInvalidRequest, "this path speaks " + upgrade.protocol + " only");
  }
  if (role < upgrade.role) {
    return CredentialsError(state_,
                            PermissionDenied("this protocol needs role " + std::string(RoleName(upgrade.role)) +
                                             "; this token has role " + std::string(RoleName(role))),
                            false);
  }
  http1::Response r{.status = 101};
  r.extra_headers = upgrade.answer_headers;
  r.upgrade = [&upgrade, &request](http1::Stream& stream, std::string early) {
    return upgrade.serve(stream, std::move(early), request);
  };
  return r;
}

asio::awaitable<http1::Response> CallDispatcher::Handle(const HttpRequest& request, const std::string& peer,
                                                        asio::any_io_executor executor) {
  const std::string_view path = PathOf(request.target());
  const bool rpc_root = path == "/rpc" || path == "/rpc/";
  if (!rpc_root && !path.starts_with("/rpc/")) co_return co_await HandleOther(request, path);

  // A call: every answer below, refusals included, is one access log line.
  const auto arrived = Clock::now();
  CallContext base;
  base.peer_ = peer;
  base.executor_ = executor;
  base.trace_ = TraceFromHeaders(request);
  http1::Response answer;
  if (Status s = Authenticate(request, &base.role_); !s.ok()) {
    answer = CredentialsError(state_, s, rpc_root);
  } else if (request.method() != http::verb::post) {
    answer = HttpError(state_, 405, wire::kInvalidRequest, "calls take POST");
    answer.extra_headers = "Allow: POST\r\n";
  } else if (Status bad = ContextFromHeaders(request, base); !bad.ok()) {
    answer = HttpError(state_, 400, wire::kInvalidRequest, bad.message());
  } else if (rpc_root) {
    answer = co_await HandleJsonRpcEndpoint(request, base);
  } else {
    answer = co_await HandleNamedMethod(path.substr(5), request, base);
  }
  if (state_.access_log && !base.logged_) {
    // A batch wrote a line per request already.
    const bool jsonrpc_answer = rpc_root && (answer.status == 200 || answer.status == 204);
    // A plain answer's HTTP status has the last word (an answer too large
    // to send became INTERNAL); a JSON-RPC one is 200 whatever the outcome.
    const StatusCode code = base.outcome_ && (jsonrpc_answer || wire::HttpStatus(*base.outcome_) == answer.status)
                                ? *base.outcome_
                                : wire::CodeFromHttpStatus(answer.status);
    state_.access_log->Write({.method = base.method_,
                              .code = code,
                              .http_status = answer.status,
                              .latency = Clock::now() - arrived,
                              .peer = peer,
                              .trace = &base.trace_});
  }
  co_return answer;
}

asio::awaitable<http1::Response> CallDispatcher::HandleOther(const HttpRequest& request, std::string_view path) {
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (path == "/health") {
    if (!get) co_return HttpError(state_, 405, wire::kInvalidRequest, std::string(path) + " takes GET");
    co_return HealthResponse(state_);
  }
  // Everything but /health needs a token when the server asks for them; any
  // accepted token grants at least the client role, which /metrics, /status
  // and pages need.
  Role role = Role::kPeer;
  if (Status s = Authenticate(request, &role); !s.ok()) co_return CredentialsError(state_, s, false);

  if (path == "/metrics" || path == "/status") {
    if (!get) co_return HttpError(state_, 405, wire::kInvalidRequest, std::string(path) + " takes GET");
    if (path == "/metrics") co_return co_await MetricsResponse(state_);
    co_return StatusResponse(state_);
  }

  if (auto upgrade = state_.upgrades.find(path); upgrade != state_.upgrades.end()) {
    co_return Upgrade(upgrade->second, request, role);
  }

  if (auto page = state_.pages.find(path); page != state_.pages.end()) {
    if (!get) co_return HttpError(state_, 405, wire::kInvalidRequest, std::string(path) + " takes GET");
    Server::Page p = page->second();
    co_return http1::Response{.status = 200, .content_type = p.content_type, .body = std::move(p.body)};
  }

  co_return HttpError(state_, 404, wire::kMethodNotFound,
                      "no such path '" + std::string(path) + "'; calls go to POST /rpc or POST /rpc/<Method>");
}

asio::awaitable<Result> CallDispatcher::Invoke(Method& method, json::value params, CallContext& ctx, bool* ran) {
  ctx.method_ = method.name;
  if (Status refusal = Admission(state_, ctx); !refusal.ok()) co_return Counted(method, std::move(refusal));

  std::shared_ptr<IdempotencyStore::Entry> remembered;
  if (!ctx.idempotency_key().empty() && !method.options.idempotent) {
    const uint64_t fingerprint = StableHash(json::serialize(params));
    switch (state_.idempotency->Begin(method.name, ctx.idempotency_key(), fingerprint, &remembered)) {
      case IdempotencyStore::Verdict::kRun:
        break;
      case IdempotencyStore::Verdict::kReplay:
        state_.idempotent_replays.fetch_add(1, std::memory_order_relaxed);
        co_return Counted(method, IdempotencyStore::Answer(*remembered));
      case IdempotencyStore::Verdict::kWait: {
        state_.idempotent_replays.fetch_add(1, std::memory_order_relaxed);
        Result awaited = co_await state_.idempotency->Wait(remembered, ctx.deadline());
        co_return Counted(method, std::move(awaited));
      }
      case IdempotencyStore::Verdict::kMismatch:
        co_return Counted(method, Status(StatusCode::kFailedPrecondition,
                                         "idempotency key '" + ctx.idempotency_key() + "' was used with other params"));
    }
  }

  state_.in_flight.fetch_add(1, std::memory_order_relaxed);
  auto start = Clock::now();
  Result result = Internal("unreachable");
  if (ran) *ran = true;
  bool faulty = true;  // the handler threw, or answered what cannot be sent: a server bug
  try {
    if (method.handler) {
      result = method.handler(params, ctx);
    } else {
      result = co_await method.async_handler(std::move(params), ctx);
    }
    faulty = false;
  } catch (const boost::system::system_error& e) {
    // Boost.JSON's as_object()/as_int64()... on params of the wrong shape.
    if (e.code().category() == json::make_error_code(json::error::not_object).category()) {
      result = InvalidArgument(std::string("params have the wrong shape: ") + e.code().message());
      faulty = false;  // the caller's params
    } else {
      result = Internal(std::string("handler failed: ") + e.what());
    }
  } catch (const std::invalid_argument& e) {
    // Boost.JSON 1.81 throws std::invalid_argument ("not an object") from as_object()...
    result = InvalidArgument(std::string("params have the wrong shape: ") + e.what());
    faulty = false;  // the caller's params
  } catch (const std::exception& e) {
    result = Internal(std::string("handler failed: ") + e.what());
  } catch (...) {
    result = Internal("handler failed with an unknown exception");
  }
  state_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (result.ok() && !AllNumbersFinite(result.value())) {
    // JSON has no NaN nor infinity: written, they would make the whole answer unreadable.
    result = Internal("method '" + method.name + "' answered a number JSON cannot express (NaN or infinity)");
    faulty = true;
  }
  if (faulty) LogCallProblem(ctx, result.status());
  if (remembered) {
    if (Status s = co_await state_.idempotency->Persist(remembered, result); !s.ok()) LogCallProblem(ctx, s);
    state_.idempotency->Finish(remembered, result);
  }
  method.stats.latency.Record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start));
  co_return Counted(method, std::move(result));
}

asio::awaitable<http1::Response> CallDispatcher::HandleNamedMethod(std::string_view name, const HttpRequest& request,
                                                                   CallContext& base) {
  Method* method = state_.Find(name);
  if (!method) {
    base.method_ = name;  // for the access log: what was asked for
    co_return HttpError(state_, 404, wire::kMethodNotFound, "method '" + std::string(name) + "' not found");
  }
  base.method_ = method->name;
  if (base.role() < method->options.role) co_return CredentialsAnswer(Denied(*method, base.role()), false);
  json::value params;  // an empty body means no params (null)
  if (!request.body().empty()) {
    Status s;
    if (request.body().size() <= kTextSlice) {
      s = ParseJsonText(request.body(), &params);
    } else {
      s = co_await ParseInSlices(request.body(), &params, base.executor());
    }
    if (!s.ok()) co_return HttpError(state_, 400, wire::kParseError, "body is not valid JSON: " + s.message());
  }
  bool ran = false;
  Result result = co_await Invoke(*method, std::move(params), base, &ran);
  base.outcome_ = result.status().code();
  if (std::optional<http1::Response> answer = PlainAnswer(result, ran)) co_return std::move(*answer);
  co_return co_await LargePlainAnswer(result, ran, base.executor());
}

asio::awaitable<http1::Response> CallDispatcher::HandleJsonRpcEndpoint(const HttpRequest& request, CallContext& base) {
  // A large batch over the limit is refused before it is parsed: 4 MiB of 1s
  // would cost 25 times its size as values.
  if (size_t n = LargeBatchLength(request.body()); n > state_.options.max_batch_requests) {
    base.outcome_ = StatusCode::kInvalidArgument;
    co_return BatchTooLarge(n);
  }
  json::value body;
  Status parsed;
  if (request.body().size() <= kTextSlice) {
    parsed = ParseJsonText(request.body(), &body);
  } else {
    parsed = co_await ParseInSlices(request.body(), &body, base.executor());
  }
  if (!parsed.ok()) {
    base.outcome_ = StatusCode::kInvalidArgument;
    co_return JsonBody(Rejected(wire::kParseError, "parse error: " + parsed.message(), nullptr));
  }

  if (body.is_object() && !body.as_object().contains("jsonrpc")) {
    // A plain requests.post(url, json={...}) goes to the default method.
    Method* method = state_.default_method;
    if (!method) {
      co_return HttpError(state_, 404, wire::kMethodNotFound,
                          "this server has no default method; send JSON-RPC 2.0 or POST /rpc/<Method>");
    }
    base.method_ = method->name;
    if (base.role() < method->options.role) co_return CredentialsAnswer(Denied(*method, base.role()), false);
    bool ran = false;
    Result result = co_await Invoke(*method, std::move(body), base, &ran);
    base.outcome_ = result.status().code();
    if (std::optional<http1::Response> answer = PlainAnswer(result, ran)) co_return std::move(*answer);
    co_return co_await LargePlainAnswer(result, ran, base.executor());
  }

  const size_t limit = state_.options.max_answer_bytes;
  if (body.is_object()) {
    json::value reply = co_await HandleJsonRpcObject(body, base);
    if (reply.is_null()) co_return http1::Response{.status = 204};
    http1::Response answer;
    JsonTextWriter::Progress p = WriteInOneSlice(reply, answer.body, limit);
    if (p == JsonTextWriter::kMore) p = co_await WriteInSlices(reply, answer.body, limit, base.executor());
    if (p == JsonTextWriter::kTooLarge) {
      base.outcome_ = StatusCode::kInternal;
      co_return JsonBody(JsonRpcError(wire::kInternalError, AnswerTooLarge(limit).message(), reply.at("id")));
    }
    // A single request refused for its role says so in the HTTP status too
    // (docs/security.md); in a batch, each refusal is one entry of the 200 answer.
    if (const json::value* error = reply.as_object().if_contains("error");
        error && error->as_object().at("code") == wire::kPermissionDenied) {
      answer.status = 403;
    }
    co_return answer;
  }

  if (body.is_array()) co_return co_await HandleBatch(body.as_array(), base);

  base.outcome_ = StatusCode::kInvalidArgument;
  co_return JsonBody(Rejected(wire::kInvalidRequest, "invalid request: body must be a JSON object or array", nullptr));
}

json::value CallDispatcher::Rejected(int code, std::string_view message, const json::value& id) const {
  state_.CountJsonRpcRejection(code);
  return JsonRpcError(code, message, id);
}

http1::Response CallDispatcher::BatchTooLarge(size_t requests) const {
  return JsonBody(Rejected(wire::kInvalidRequest,
                           "invalid request: a batch holds at most " +
                               std::to_string(state_.options.max_batch_requests) + " requests, this one " +
                               std::to_string(requests),
                           nullptr));
}

// In its own coroutine: a batch's bookkeeping does not weigh on every call's frame.
asio::awaitable<http1::Response> CallDispatcher::HandleBatch(const json::array& batch, CallContext& base) {
  const size_t limit = state_.options.max_answer_bytes;
  if (batch.empty()) {
    base.outcome_ = StatusCode::kInvalidArgument;
    co_return JsonBody(Rejected(wire::kInvalidRequest, "invalid request: empty batch", nullptr));
  }
  if (batch.size() > state_.options.max_batch_requests) {
    base.outcome_ = StatusCode::kInvalidArgument;
    co_return BatchTooLarge(batch.size());
  }
  // Each request of the batch is a call of its own, with a span of its own
  // (a sibling of the others: all are children of the caller's span), and an
  // access log line once the batch's HTTP status is known.
  std::vector<BatchCall> calls;
  if (state_.access_log) calls.reserve(batch.size());
  auto finish = [&](http1::Response answer) {
    for (const BatchCall& c : calls) {
      state_.access_log->Write({.method = c.method,
                                .code = c.code,
                                .http_status = answer.status,
                                .latency = c.latency,
                                .peer = base.peer(),
                                .trace = &c.trace});
    }
    base.logged_ = state_.access_log != nullptr && !calls.empty();
    return answer;
  };
  // Each reply is written as soon as it is known, into an answer that may
  // not pass the limit: the replies are never all held as values, and a
  // batch that would answer too much stops there.
  http1::Response answer;
  std::string& text = answer.body;
  text = "[";
  size_t done = 0;
  auto held_since = Clock::now();
  for (const json::value& item : batch) {
    const auto started = Clock::now();
    CallContext ctx = base;
    ctx.trace_ = base.trace_.NewSibling();
    json::value reply = co_await HandleJsonRpcObject(item, ctx);
    if (state_.access_log) {
      calls.push_back({std::move(ctx.method_), ctx.outcome_.value_or(StatusCode::kOk), Clock::now() - started,
                       std::move(ctx.trace_)});
    }
    ++done;
    if (!reply.is_null()) {
      if (text.size() > 1) text += ',';
      const size_t room = limit > 0 ? limit - 1 : 0;  // for the closing ']'
      JsonTextWriter::Progress p = WriteInOneSlice(reply, text, room);
      if (p == JsonTextWriter::kMore) p = co_await WriteInSlices(reply, text, room, base.executor());
      if (p == JsonTextWriter::kTooLarge) {
        if (!calls.empty()) calls.back().code = StatusCode::kInternal;
        co_return finish(JsonBody(JsonRpcError(wire::kInternalError,
                                               AnswerTooLarge(limit).message() + "; the answers to the first " +
                                                   std::to_string(done) + " of the " + std::to_string(batch.size()) +
                                                   " requests of this batch passed it, the others did not run",
                                               nullptr)));
      }
    }
    if (Clock::now() - held_since >= kBatchTurn) {
      co_await Yield(base.executor());
      held_since = Clock::now();
    }
  }
  if (text.size() == 1) co_return finish(http1::Response{.status = 204});
  text += ']';
  co_return finish(std::move(answer));
}

asio::awaitable<json::value> CallDispatcher::HandleJsonRpcObject(const json::value& request, CallContext& ctx) {
  auto invalid = [this, &ctx](std::string_view why, const json::value& id) {
    ctx.outcome_ = StatusCode::kInvalidArgument;
    return Rejected(wire::kInvalidRequest, std::string("invalid request: ") + std::string(why), id);
  };
  if (!request.is_object()) co_return invalid("batch element is not an object", nullptr);
  const json::object& obj = request.as_object();

  // The id is checked first so that errors can echo it back.
  const json::value* id = obj.if_contains("id");
  const bool notification = id == nullptr;
  json::value reply_id = nullptr;
  if (id) {
    if (!id->is_string() && !id->is_number() && !id->is_null()) {
      co_return invalid("\"id\" must be a string, a number or null", nullptr);
    }
    reply_id = *id;
  }

  const json::value* version = obj.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->as_string() != "2.0") {
    co_return invalid("\"jsonrpc\" must be \"2.0\"", reply_id);
  }
  const json::value* name = obj.if_contains("method");
  if (!name || !name->is_string()) co_return invalid("\"method\" must be a string", reply_id);
  json::value params = nullptr;
  if (const json::value* p = obj.if_contains("params")) {
    if (!p->is_object() && !p->is_array()) {
      co_return invalid("\"params\" must be an object or an array", reply_id);
    }
    params = *p;
  }

  std::string_view method_name = name->as_string();
  ctx.method_ = method_name;  // for the access log
  Method* method = state_.Find(method_name);
  if (!method) {
    ctx.outcome_ = StatusCode::kUnimplemented;
    json::value unknown =
        Rejected(wire::kMethodNotFound, "method '" + std::string(method_name) + "' not found", reply_id);
    if (notification) co_return nullptr;
    co_return unknown;
  }

  if (ctx.role() < method->options.role) {
    ctx.outcome_ = StatusCode::kPermissionDenied;
    const Status denied = Denied(*method, ctx.role());
    if (notification) co_return nullptr;
    co_return JsonRpcError(denied, reply_id);
  }

  Result result = co_await Invoke(*method, std::move(params), ctx);
  ctx.outcome_ = result.status().code();
  if (notification) co_return nullptr;
  if (!result.ok()) co_return JsonRpcError(result.status(), reply_id);
  co_return json::object{{"jsonrpc", "2.0"}, {"result", std::move(result).value()}, {"id", reply_id}};
}

}  // namespace harpc
