// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// JSON-RPC handling and routing without sockets: a ServerState with a few
// methods, a CallDispatcher, beast requests in, http1::Responses out.
#include "server/dispatcher.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/credentials.h"
#include "support/test_support.h"
#include "util/json_text.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using ::testing::HasSubstr;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Named, not a temporary inside co_await (GCC 12 miscompiles some of those).
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

HttpRequest MakeRequest(http::verb verb, const std::string& target, const std::string& body, const Headers& headers) {
  HttpRequest r(verb, target, 11);
  r.set(http::field::host, "127.0.0.1:8001");
  if (verb == http::verb::post) r.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) r.set(name, value);
  r.body() = body;
  r.prepare_payload();
  return r;
}

HttpRequest Post(const std::string& target, const std::string& body, const Headers& headers = {}) {
  return MakeRequest(http::verb::post, target, body, headers);
}

HttpRequest Get(const std::string& target) { return MakeRequest(http::verb::get, target, "", {}); }

// The samples of one family in a Prometheus text: labels as written
// ("{a=\"b\"}", or "" for none) -> value.
std::map<std::string, double> Samples(const std::string& text, const std::string& family) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(family + "{") && !line.starts_with(family + " ")) continue;
    const size_t space = line.rfind(' ');
    out[line.substr(family.size(), space - family.size())] = std::stod(line.substr(space + 1));
  }
  return out;
}

json::value BodyJson(const http1::Response& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << "response body is not JSON: '" << r.body << "'";
  return v;
}

// The {"error":{"code":N,"message":"..."}} of a plain (non-JSON-RPC) error answer.
int PlainErrorCode(const http1::Response& r) {
  json::value v = BodyJson(r);
  if (!v.is_object() || !v.as_object().contains("error")) {
    ADD_FAILURE() << "no error object in '" << r.body << "'";
    return 0;
  }
  return static_cast<int>(v.at("error").at("code").as_int64());
}

std::string PlainErrorMessage(const http1::Response& r) {
  json::value v = BodyJson(r);
  return std::string(v.at("error").at("message").as_string());
}

// Checks a JSON-RPC error reply object and returns its message.
std::string ExpectRpcError(const json::value& reply, int code, const json::value& id) {
  EXPECT_TRUE(reply.is_object()) << reply;
  if (!reply.is_object()) return "";
  const json::object& o = reply.as_object();
  EXPECT_EQ(o.size(), 3u) << reply;
  EXPECT_EQ(o.at("jsonrpc"), "2.0") << reply;
  EXPECT_EQ(o.at("id"), id) << reply;
  EXPECT_FALSE(o.contains("result")) << reply;
  const json::value* error = o.if_contains("error");
  if (!error || !error->is_object()) {
    ADD_FAILURE() << "no error object: " << reply;
    return "";
  }
  EXPECT_EQ(error->at("code").as_int64(), code) << reply;
  return std::string(error->at("message").as_string());
}

void ExpectRpcResult(const json::value& reply, const json::value& result, const json::value& id) {
  json::object want{{"jsonrpc", "2.0"}, {"result", result}, {"id", id}};
  EXPECT_EQ(reply, json::value(want));
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    state_.address = "127.0.0.1:8001";
    state_.options.name = "unit";
    // As Server's constructor does.
    const ServerOptions& o = state_.options;
    state_.idempotency = std::make_unique<IdempotencyStore>(o.idempotency_ttl, o.idempotency_max_entries,
                                                            o.idempotency_max_bytes, o.max_answer_bytes);
    AddSync(
        "Echo.echo", [](const json::value& params, CallContext&) -> Result { return params; }, true);
    AddAsync("Async.add", [](json::value params, CallContext& ctx) -> asio::awaitable<Result> {
      // Really suspend once, as a handler doing I/O would.
      asio::steady_timer timer(ctx.executor(), std::chrono::steady_clock::duration::zero());
      co_await timer.async_wait(kNoThrow);
      if (!params.is_array() || params.as_array().size() != 2 || !params.as_array()[0].is_int64() ||
          !params.as_array()[1].is_int64()) {
        co_return InvalidArgument("Async.add takes [a, b] (integers)");
      }
      co_return json::value(params.as_array()[0].as_int64() + params.as_array()[1].as_int64());
    });
    AddAsync("Async.throw", [](json::value, CallContext& ctx) -> asio::awaitable<Result> {
      asio::steady_timer timer(ctx.executor(), std::chrono::steady_clock::duration::zero());
      co_await timer.async_wait(kNoThrow);
      throw std::runtime_error("async boom");
    });
    AddSync("Fail.throw", [](const json::value&, CallContext&) -> Result { throw std::runtime_error("boom"); });
    AddSync("Fail.invalid",
            [](const json::value&, CallContext&) -> Result { return InvalidArgument("need a number"); });
    AddSync("Shape.object", [](const json::value& params, CallContext&) -> Result {
      // Throws when the params are not an object: the caller's mistake.
      return json::value(params.as_object().contains("x"));
    });
    AddSync(
        "Ctx.info",
        [](const json::value&, CallContext& ctx) -> Result {
          json::object info{{"method", ctx.method()},
                            {"idempotency_key", ctx.idempotency_key()},
                            {"request_id", ctx.request_id()},
                            {"peer", ctx.peer()},
                            {"has_deadline", ctx.has_deadline()}};
          if (ctx.has_deadline()) info["remaining_ms"] = ctx.remaining().count();
          return json::value(std::move(info));
        },
        /*idempotent=*/true);  // idempotent: its Idempotency-Key is only passed through
    AddSync(
        "Ctx.trace",
        [](const json::value&, CallContext& ctx) -> Result {
          const TraceContext& t = ctx.trace();
          return json::value(json::object{{"valid", t.valid()},
                                          {"traceparent", t.traceparent()},
                                          {"trace_id", t.trace_id_hex()},
                                          {"span_id", t.span_id_hex()},
                                          {"parent_id", t.has_parent() ? json::value(t.parent_id_hex()) : nullptr},
                                          {"tracestate", t.tracestate()}});
        },
        /*idempotent=*/true);
    AddAsync("Slow.wait", [this](json::value, CallContext&) -> asio::awaitable<Result> {
      // Waits until the test opens the gate (cancels the timer).
      co_await gate_->async_wait(kNoThrow);
      co_return json::value("done");
    });
    state_.default_method = state_.Find("Echo.echo");
  }

  void AddSync(const std::string& name, Server::Handler handler, bool idempotent = false) {
    auto m = std::make_unique<Method>();
    m->name = name;
    m->handler = std::move(handler);
    m->options.idempotent = idempotent;
    state_.methods.emplace(name, std::move(m));
  }

  void AddAsync(const std::string& name, Server::AsyncHandler handler) {
    auto m = std::make_unique<Method>();
    m->name = name;
    m->async_handler = std::move(handler);
    state_.methods.emplace(name, std::move(m));
  }

  // Handles one request to completion on a fresh io_context.
  http1::Response Run(const HttpRequest& request) {
    asio::io_context io;
    CallDispatcher dispatcher(state_);
    std::future<http1::Response> result =
        asio::co_spawn(io, dispatcher.Handle(request, peer_, io.get_executor()), asio::use_future);
    io.run();
    return result.get();
  }

  // POSTs a JSON-RPC body to /rpc; expects 200 with a JSON body.
  json::value Rpc(const std::string& body, const Headers& headers = {}) {
    http1::Response r = Run(Post("/rpc", body, headers));
    EXPECT_EQ(r.status, 200) << body << " -> " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return BodyJson(r);
  }

  // Calls the method ran (its latency histogram holds each).
  uint64_t Ran(const std::string& method) { return state_.Find(method)->stats.latency.count(); }
  // Calls to the method answered with `code`, whether it ran or refused them.
  uint64_t Answered(const std::string& method, StatusCode code) { return state_.Find(method)->stats.Answered(code); }

  ServerState state_;
  std::string peer_ = "127.0.0.1:50312";
  asio::steady_timer* gate_ = nullptr;
};

// ---- the default method: a plain requests.post(url, json=...) client ----

TEST_F(DispatcherTest, DefaultMethodEchoesTheBodyAsIs) {
  http1::Response r = Run(Post("/rpc", R"({"key":"value"})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"key":"value"})");
  EXPECT_FALSE(r.close);
  EXPECT_EQ(Ran("Echo.echo"), 1u);

  r = Run(Post("/rpc/", R"({"nested":{"a":[1,2.5,null,true]}})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(BodyJson(r), json::parse(R"({"nested":{"a":[1,2.5,null,true]}})"));
}

TEST_F(DispatcherTest, DefaultMethodErrorsArePlainErrorBodies) {
  state_.default_method = state_.Find("Fail.invalid");
  http1::Response r = Run(Post("/rpc", R"({"key":"value"})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":-32602,"message":"need a number"}})");
}

TEST_F(DispatcherTest, WithoutADefaultMethodPlainObjectsGet404) {
  state_.default_method = nullptr;
  http1::Response r = Run(Post("/rpc", R"({"key":"value"})"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(PlainErrorCode(r), -32601);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("no default method"));
}

// ---- JSON-RPC 2.0 ----

TEST_F(DispatcherTest, JsonRpcCallWithNumberStringAndNullIds) {
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":{"a":1},"id":1})"), json::parse(R"({"a":1})"),
                  1);
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1,"two"],"id":"abc"})"),
                  json::parse(R"([1,"two"])"), "abc");
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":[],"id":null})"), json::array{}, nullptr);
  // No params: the handler sees null.
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":2.5})"), nullptr, 2.5);
}

TEST_F(DispatcherTest, JsonRpcCoroutineMethod) {
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Async.add","params":[2,40],"id":7})"), 42, 7);
  std::string message =
      ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Async.add","params":{"a":2},"id":8})"), -32602, 8);
  EXPECT_THAT(message, HasSubstr("takes [a, b]"));
}

TEST_F(DispatcherTest, NotificationGets204AndStillRuns) {
  http1::Response r = Run(Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1]})"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(Ran("Echo.echo"), 1u);

  // A notification of an unknown or failing method is not answered either.
  r = Run(Post("/rpc", R"({"jsonrpc":"2.0","method":"Nope.nope"})"));
  EXPECT_EQ(r.status, 204);
  r = Run(Post("/rpc", R"({"jsonrpc":"2.0","method":"Fail.throw"})"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(Ran("Fail.throw"), 1u);
}

TEST_F(DispatcherTest, BatchAnswersEveryCallInOrderAndSkipsNotifications) {
  json::value reply = Rpc(R"([
    {"jsonrpc":"2.0","method":"Echo.echo","params":{"a":1},"id":1},
    {"jsonrpc":"2.0","method":"Echo.echo","params":[5]},
    {"jsonrpc":"2.0","method":"Nope.nope","id":"x"},
    42,
    {"jsonrpc":"2.0","method":"Fail.throw","id":5},
    {"jsonrpc":"2.0","method":"Async.add","params":[2,3],"id":6},
    {"jsonrpc":"2.0","method":"Fail.invalid","id":7}
  ])");
  ASSERT_TRUE(reply.is_array()) << reply;
  const json::array& replies = reply.as_array();
  ASSERT_EQ(replies.size(), 6u) << reply;
  ExpectRpcResult(replies[0], json::parse(R"({"a":1})"), 1);
  ExpectRpcError(replies[1], -32601, "x");
  ExpectRpcError(replies[2], -32600, nullptr);
  EXPECT_THAT(ExpectRpcError(replies[3], -32603, 5), HasSubstr("boom"));
  ExpectRpcResult(replies[4], 5, 6);
  EXPECT_EQ(ExpectRpcError(replies[5], -32602, 7), "need a number");
  EXPECT_EQ(Ran("Echo.echo"), 2u);  // the notification ran too
}

TEST_F(DispatcherTest, BatchOfNotificationsGets204) {
  http1::Response r = Run(Post("/rpc", R"([
    {"jsonrpc":"2.0","method":"Echo.echo","params":[1]},
    {"jsonrpc":"2.0","method":"Async.add","params":[1,2]}
  ])"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(Ran("Echo.echo"), 1u);
  EXPECT_EQ(Ran("Async.add"), 1u);
}

TEST_F(DispatcherTest, ParseError32700) {
  for (const char* body : {R"({"jsonrpc":"2.0",)", "", "[1,", "nope"}) {
    std::string message = ExpectRpcError(Rpc(body), -32700, nullptr);
    EXPECT_THAT(message, HasSubstr("parse error")) << body;
  }
}

// A number beyond the double range would be read as infinity and written back
// as "Infinity", which is not JSON: refused before any method runs, in every
// call form, at any depth.
TEST_F(DispatcherTest, NumbersOutOfTheDoubleRangeAreRefused) {
  for (const char* body : {R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1e400],"id":1})",
                           R"([{"jsonrpc":"2.0","method":"Echo.echo","params":{"a":{"b":[-1e999]}},"id":1}])"}) {
    EXPECT_THAT(ExpectRpcError(Rpc(body), -32700, nullptr), HasSubstr("out of range")) << body;
  }
  http1::Response r = Run(Post("/rpc/Echo.echo", R"({"weight":1e400})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(PlainErrorCode(r), -32700);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("out of range"));
  // The default method's form is parsed as /rpc bodies are: a JSON-RPC parse error.
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"key":[0, 2e308]})"), -32700, nullptr), HasSubstr("out of range"));
  EXPECT_EQ(Ran("Echo.echo"), 0u);

  // The largest doubles are fine, and so is an integer too large for int64 (a double).
  r = Run(Post("/rpc/Echo.echo", R"({"max":1.7976931348623157e308,"big":123456789012345678901234567890})"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ran("Echo.echo"), 1u);
}

// One request must not buy unbounded work: a batch over the limit (1,000 by
// default) is refused as a whole, before any element runs; at the limit it runs.
TEST_F(DispatcherTest, BatchOverTheLimitIsRefusedWhole) {
  auto batch_of = [](size_t n) {
    std::string body = "[";
    for (size_t i = 0; i < n; ++i) {
      if (i) body += ",";
      body += R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1],"id":)" + std::to_string(i) + "}";
    }
    return body + "]";
  };
  EXPECT_THAT(ExpectRpcError(Rpc(batch_of(1001)), -32600, nullptr), HasSubstr("at most 1000"));
  EXPECT_EQ(Ran("Echo.echo"), 0u);

  // A large batch over the limit is refused the same way, counted before it is parsed.
  std::string ones = "[1";
  for (int i = 0; i < 2000000; ++i) ones += ",1";
  ones += "]";
  EXPECT_THAT(ExpectRpcError(Rpc(ones), -32600, nullptr), HasSubstr("at most 1000 requests, this one 2000001"));
  std::string padded = batch_of(1001);
  padded.insert(1, 300 * 1024, ' ');
  EXPECT_THAT(ExpectRpcError(Rpc(padded), -32600, nullptr), HasSubstr("this one 1001"));
  EXPECT_EQ(Ran("Echo.echo"), 0u);

  http1::Response r = Run(Post("/rpc", batch_of(1000)));
  ASSERT_EQ(r.status, 200);
  json::value replies = json::parse(r.body);
  ASSERT_TRUE(replies.is_array());
  EXPECT_EQ(replies.as_array().size(), 1000u);
  EXPECT_EQ(Ran("Echo.echo"), 1000u);
}

// An answer is never buffered past max_answer_bytes: over it the caller gets
// INTERNAL ("answer too large") in the form it asked for.
TEST_F(DispatcherTest, AnswerOverTheSizeLimitIsAnInternalError) {
  state_.options.max_answer_bytes = 1000;
  const std::string big = "[\"" + std::string(2000, 'x') + "\"]";
  http1::Response r = Run(Post("/rpc/Echo.echo", big));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(PlainErrorCode(r), -32603);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("answer too large"));
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("1000 bytes (max_answer_bytes)"));
  // An answer of exactly the limit is whole.
  const std::string fits = "[\"" + std::string(996, 'x') + "\"]";
  ASSERT_EQ(fits.size(), 1000u);
  r = Run(Post("/rpc/Echo.echo", fits));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, fits);

  // JSON-RPC: the error carries the request's id.
  EXPECT_THAT(
      ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":)" + big + R"(,"id":4})"), -32603, 4),
      HasSubstr("answer too large"));
  // A batch: one error for the whole, naming how many requests ran; the rest do not.
  std::string batch = "[";
  for (int i = 0; i < 10; ++i) {
    if (i) batch += ",";
    batch += R"({"jsonrpc":"2.0","method":"Echo.echo","params":[")" + std::string(300, 'x') + R"("],"id":)" +
             std::to_string(i) + "}";
  }
  batch += "]";
  const uint64_t before = Ran("Echo.echo");
  EXPECT_THAT(ExpectRpcError(Rpc(batch), -32603, nullptr), HasSubstr("the first 3 of the 10 requests"));
  EXPECT_EQ(Ran("Echo.echo") - before, 3u);
}

// JSON has no NaN nor infinity: a handler that answers one gets INTERNAL,
// and what is written stays JSON.
TEST_F(DispatcherTest, NonFiniteNumbersInAnswersBecomeInternalErrors) {
  AddSync("Math.nan", [](const json::value&, CallContext&) -> Result { return json::value{{"x", std::nan("")}}; });
  AddAsync("Math.inf", [](json::value, CallContext&) -> asio::awaitable<Result> {
    co_return json::value{1.0, json::array{-std::numeric_limits<double>::infinity()}};
  });
  http1::Response r = Run(Post("/rpc/Math.nan", ""));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("NaN or infinity"));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Math.inf","id":1})"), -32603, 1),
              HasSubstr("'Math.inf' answered a number JSON cannot express"));
  json::value replies = Rpc(R"([{"jsonrpc":"2.0","method":"Math.nan","id":1},
                                {"jsonrpc":"2.0","method":"Echo.echo","params":[2],"id":2}])");
  ASSERT_TRUE(replies.is_array()) << replies;
  ExpectRpcError(replies.at(0), -32603, 1);
  ExpectRpcResult(replies.at(1), json::array{2}, 2);
}

// A big batch lets its loop serve other work between its requests: a loop
// timer ticking every 5 ms sees at most a few of the batch's requests run
// between two of its ticks (all 200 would, were the loop held for the whole
// batch). Counted in requests, not in milliseconds: a loaded machine that
// deschedules the test must not make it fail.
TEST_F(DispatcherTest, BatchLetsItsLoopServeOthersMeanwhile) {
  int spins = 0;
  AddSync("Work.spin", [&spins](const json::value&, CallContext&) -> Result {
    ++spins;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (std::chrono::steady_clock::now() < until) {
    }
    return json::value(true);
  });
  std::string batch = "[";
  for (int i = 0; i < 200; ++i) {
    if (i) batch += ",";
    batch += R"({"jsonrpc":"2.0","method":"Work.spin","id":)" + std::to_string(i) + "}";
  }
  batch += "]";
  asio::io_context io;
  CallDispatcher dispatcher(state_);
  const HttpRequest request = Post("/rpc", batch);
  std::future<http1::Response> answer =
      asio::co_spawn(io, dispatcher.Handle(request, peer_, io.get_executor()), asio::use_future);
  int ticks = 0;
  int most_between_ticks = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer tick(io);
        int spins_at_last_tick = 0;
        while (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready && ticks < 100000) {
          tick.expires_after(std::chrono::milliseconds(5));
          co_await tick.async_wait(kNoThrow);
          most_between_ticks = std::max(most_between_ticks, spins - spins_at_last_tick);
          spins_at_last_tick = spins;
          ++ticks;
        }
      },
      asio::detached);
  io.run();
  http1::Response r = answer.get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).as_array().size(), 200u);
  EXPECT_EQ(spins, 200);
  EXPECT_GE(ticks, 20) << "the timer ticked while the batch ran";
  // About 3 (5 ms of 2 ms requests); generous.
  EXPECT_LE(most_between_ticks, 20) << "the loop was held for " << most_between_ticks << " requests in a row";
}

TEST(JsonArrayLengthTest, CountsTopLevelElementsOnly) {
  EXPECT_EQ(JsonArrayLength("[]"), 0u);
  EXPECT_EQ(JsonArrayLength(" [ ] "), 0u);
  EXPECT_EQ(JsonArrayLength("[1]"), 1u);
  EXPECT_EQ(JsonArrayLength("[1, 2 ,3]"), 3u);
  EXPECT_EQ(JsonArrayLength(R"([{"a":[1,2,3],"b":{"c":","}}, "x,y", "q\",", [[],[]]])"), 4u);
  EXPECT_EQ(JsonArrayLength(R"(["\\", 2])"), 2u);
  EXPECT_EQ(JsonArrayLength(R"([{}])"), 1u);
}

TEST_F(DispatcherTest, InvalidRequest32600) {
  EXPECT_THAT(ExpectRpcError(Rpc("42"), -32600, nullptr), HasSubstr("object or array"));
  EXPECT_THAT(ExpectRpcError(Rpc(R"("text")"), -32600, nullptr), HasSubstr("object or array"));
  EXPECT_THAT(ExpectRpcError(Rpc("null"), -32600, nullptr), HasSubstr("object or array"));
  EXPECT_THAT(ExpectRpcError(Rpc("[]"), -32600, nullptr), HasSubstr("empty batch"));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"1.0","method":"Echo.echo","id":1})"), -32600, 1),
              HasSubstr("\"jsonrpc\" must be \"2.0\""));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":2.0,"method":"Echo.echo","id":1})"), -32600, 1),
              HasSubstr("\"jsonrpc\" must be \"2.0\""));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","id":2})"), -32600, 2), HasSubstr("\"method\""));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":7,"id":2})"), -32600, 2),
              HasSubstr("\"method\" must be a string"));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":"x","id":3})"), -32600, 3),
              HasSubstr("\"params\""));
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":{"a":1}})"), -32600, nullptr),
              HasSubstr("\"id\""));

  json::value reply = Rpc("[1, \"x\"]");
  ASSERT_TRUE(reply.is_array());
  ASSERT_EQ(reply.as_array().size(), 2u);
  for (const json::value& r : reply.as_array()) ExpectRpcError(r, -32600, nullptr);
  EXPECT_EQ(Ran("Echo.echo"), 0u);
}

TEST_F(DispatcherTest, MethodNotFound32601) {
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Nope.nope","id":1})"), -32601, 1),
              HasSubstr("'Nope.nope' not found"));
}

TEST_F(DispatcherTest, InvalidParams32602) {
  EXPECT_EQ(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Fail.invalid","params":[],"id":1})"), -32602, 1),
            "need a number");
  // Params of the wrong shape for the handler (as_object() on an array).
  EXPECT_THAT(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Shape.object","params":[1],"id":2})"), -32602, 2),
              HasSubstr("params"));
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Shape.object","params":{"x":1},"id":3})"), true, 3);
}

TEST_F(DispatcherTest, InternalError32603) {
  EXPECT_EQ(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Fail.throw","id":1})"), -32603, 1),
            "handler failed: boom");
  EXPECT_EQ(ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Async.throw","id":2})"), -32603, 2),
            "handler failed: async boom");
  EXPECT_EQ(state_.in_flight.load(), 0);  // released even when the handler threw
  const MethodStats& stats = state_.Find("Fail.throw")->stats;
  EXPECT_EQ(stats.Answered(StatusCode::kInternal), 1u);
  EXPECT_EQ(stats.latency.count(), 1u);
}

TEST_F(DispatcherTest, DeadlineExceeded32004) {
  std::string message =
      ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":1})", {{"X-Deadline-Ms", "0"}}), -32004, 1);
  EXPECT_THAT(message, HasSubstr("deadline"));
  ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":1})", {{"X-Deadline-Ms", "-5"}}), -32004, 1);
  EXPECT_EQ(Ran("Echo.echo"), 0u);  // never ran

  http1::Response r = Run(Post("/rpc/Echo.echo", "{}", {{"X-Deadline-Ms", "0"}}));
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(PlainErrorCode(r), -32004);
  // Refused, yet counted under the method with the code it was answered with.
  EXPECT_EQ(Answered("Echo.echo", StatusCode::kDeadlineExceeded), 3u);
  EXPECT_THAT(Run(Get("/metrics")).body,
              HasSubstr("harpc_server_requests_total{method=\"Echo.echo\",code=\"DEADLINE_EXCEEDED\"} 3\n"));

  // Time left: the call runs.
  ExpectRpcResult(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1],"id":1})", {{"X-Deadline-Ms", "5000"}}),
                  json::array{1}, 1);
}

TEST_F(DispatcherTest, HeadersReachTheHandler) {
  http1::Response r =
      Run(Post("/rpc/Ctx.info", "", {{"X-Deadline-Ms", "5000"}, {"Idempotency-Key", "k-1"}, {"X-Request-Id", "r-9"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value info = BodyJson(r);
  EXPECT_EQ(info.at("method"), "Ctx.info");
  EXPECT_EQ(info.at("idempotency_key"), "k-1");
  EXPECT_EQ(info.at("request_id"), "r-9");
  EXPECT_EQ(info.at("peer"), "127.0.0.1:50312");
  EXPECT_EQ(info.at("has_deadline"), true);
  EXPECT_GT(info.at("remaining_ms").as_int64(), 4000);
  EXPECT_LE(info.at("remaining_ms").as_int64(), 5000);

  r = Run(Post("/rpc/Ctx.info", ""));
  info = BodyJson(r);
  EXPECT_EQ(info.at("has_deadline"), false);
  EXPECT_EQ(info.at("idempotency_key"), "");
}

TEST_F(DispatcherTest, BadDeadlineHeaderGets400) {
  for (const char* value : {"soon", "12abc", "", "1.5", "1e3"}) {
    for (const char* target : {"/rpc", "/rpc/Echo.echo"}) {
      http1::Response r = Run(Post(target, R"({"key":"value"})", {{"X-Deadline-Ms", value}}));
      EXPECT_EQ(r.status, 400) << target << " '" << value << "'";
      EXPECT_EQ(PlainErrorCode(r), -32600);
      EXPECT_THAT(PlainErrorMessage(r), HasSubstr("X-Deadline-Ms")) << value;
    }
  }
  EXPECT_EQ(Ran("Echo.echo"), 0u);
  EXPECT_EQ(state_.http_errors[400].load(), 10u);
}

// Keys are kept with their answers: a long one is refused before anything runs
// or is stored; 255 bytes is the longest accepted.
TEST_F(DispatcherTest, OverlongIdempotencyKeyGets400) {
  for (const char* target : {"/rpc", "/rpc/Echo.echo"}) {
    http1::Response r = Run(Post(target, R"({"key":"value"})", {{"Idempotency-Key", std::string(256, 'k')}}));
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(PlainErrorCode(r), -32600);
    EXPECT_THAT(PlainErrorMessage(r), HasSubstr("at most 255 bytes"));
  }
  EXPECT_EQ(Ran("Echo.echo"), 0u);
  http1::Response r = Run(Post("/rpc/Echo.echo", R"({"key":"value"})", {{"Idempotency-Key", std::string(255, 'k')}}));
  EXPECT_EQ(r.status, 200) << r.body;
}

// ---- POST /rpc/<Method> ----

TEST_F(DispatcherTest, NamedMethodBodyIsParamsAndResultIsBody) {
  http1::Response r = Run(Post("/rpc/Echo.echo", R"({"a":[1,2]})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"a":[1,2]})");

  r = Run(Post("/rpc/Async.add", "[2,40]"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "42");

  r = Run(Post("/rpc/Echo.echo", ""));  // no body: null params
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "null");

  r = Run(Post("/rpc/Echo.echo?trace=1", "[7]"));  // the query string is not part of the name
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[7]");
}

TEST_F(DispatcherTest, NamedMethodErrorsCarryTheirHttpStatus) {
  http1::Response r = Run(Post("/rpc/Nope.nope", "{}"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(PlainErrorCode(r), -32601);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("'Nope.nope' not found"));

  r = Run(Post("/rpc/Fail.invalid", "{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":-32602,"message":"need a number"}})");

  r = Run(Post("/rpc/Shape.object", "[1]"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(PlainErrorCode(r), -32602);

  r = Run(Post("/rpc/Fail.throw", "{}"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(PlainErrorCode(r), -32603);
  EXPECT_EQ(PlainErrorMessage(r), "handler failed: boom");

  r = Run(Post("/rpc/Echo.echo", "{bad"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(PlainErrorCode(r), -32700);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("not valid JSON"));
  EXPECT_EQ(Ran("Echo.echo"), 0u);
}

// ---- routing and built-in endpoints ----

TEST_F(DispatcherTest, HealthServingAndDraining) {
  http1::Response r = Run(Get("/health"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, "SERVING\n");

  r = Run(MakeRequest(http::verb::head, "/health", "", {}));
  EXPECT_EQ(r.status, 200);
  r = Run(Get("/health?probe=1"));
  EXPECT_EQ(r.status, 200);

  state_.draining = true;
  r = Run(Get("/health"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, "NOT_SERVING\n");
}

TEST_F(DispatcherTest, DrainingServerRefusesCallsWithUnavailable) {
  state_.draining = true;
  http1::Response r = Run(Post("/rpc/Echo.echo", "{}"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(PlainErrorCode(r), -32014);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("draining"));

  ExpectRpcError(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":1})"), -32014, 1);

  r = Run(Post("/rpc", R"({"key":"value"})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Ran("Echo.echo"), 0u);
  EXPECT_EQ(Answered("Echo.echo", StatusCode::kUnavailable), 3u);
}

TEST_F(DispatcherTest, MetricsIsPrometheusText) {
  Run(Post("/rpc/Echo.echo", "{}"));
  Run(Post("/rpc/Echo.echo", "{}"));
  Run(Post("/rpc/Fail.throw", "{}"));
  Run(Get("/nowhere"));
  http1::Response r = Run(Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  const std::string& t = r.body;
  EXPECT_THAT(t, HasSubstr("# TYPE harpc_server_requests_total counter\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_requests_total{method=\"Echo.echo\",code=\"OK\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_requests_total{method=\"Fail.throw\",code=\"OK\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_requests_total{method=\"Fail.throw\",code=\"INTERNAL\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_errors_total{method=\"Fail.throw\",code=\"INTERNAL\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE harpc_server_request_duration_seconds histogram\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_request_duration_seconds_bucket{method=\"Echo.echo\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_request_duration_seconds_count{method=\"Echo.echo\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_http_errors_total{status=\"404\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_in_flight_requests 0\n"));
  EXPECT_THAT(t, HasSubstr("harpc_server_draining 0\n"));
  // Every line is a comment or "name[{labels}] value".
  size_t start = 0;
  while (start < t.size()) {
    size_t end = t.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "text must end with a newline";
    std::string line = t.substr(start, end - start);
    EXPECT_FALSE(line.empty());
    if (line[0] != '#') {
      EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    }
    start = end + 1;
  }
}

// Every call to a method is counted once in harpc_server_requests_total under
// the code it was answered with, refusals before the method ran included;
// harpc_server_errors_total is that family without OK, so an error ratio
// never passes 1. Requests that name no method are counted apart, once each.
TEST_F(DispatcherTest, EveryCallIsCountedOnceWithTheCodeItWasAnsweredWith) {
  AddSync("Store.put", [](const json::value& params, CallContext&) -> Result { return params; });
  state_.Find("Store.put")->options.role = Role::kService;
  TokenTable tokens;
  ASSERT_TRUE(TokenTable::Parse("client c-token\npeer p-token\n", "test tokens", &tokens).ok());
  state_.tokens.store(std::make_shared<const TokenTable>(std::move(tokens)));
  const Headers peer = {{"Authorization", "Bearer p-token"}};
  const Headers client = {{"Authorization", "Bearer c-token"}};
  auto with = [](Headers headers, const std::string& name, const std::string& value) {
    headers.emplace_back(name, value);
    return headers;
  };

  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "{}", peer)).status, 200);
  EXPECT_EQ(
      Run(Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo","id":1})", with(peer, "X-Deadline-Ms", "0"))).status,
      200);
  EXPECT_EQ(Run(Post("/rpc/Store.put", "[1]", client)).status, 403);
  EXPECT_EQ(Run(Post("/rpc", R"({"jsonrpc":"2.0","method":"Store.put","id":2})", client)).status, 403);
  EXPECT_EQ(Run(Post("/rpc/Store.put", "[1]", with(peer, "Idempotency-Key", "k-1"))).status, 200);
  EXPECT_EQ(Run(Post("/rpc/Store.put", "[1]", with(peer, "Idempotency-Key", "k-1"))).status, 200);  // replayed
  EXPECT_EQ(Run(Post("/rpc/Store.put", "[2]", with(peer, "Idempotency-Key", "k-1"))).status, 422);
  state_.options.max_concurrency = 1;
  state_.in_flight = 1;  // as if a call were running
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "{}", peer)).status, 429);
  state_.in_flight = 0;
  state_.draining = true;
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "{}", peer)).status, 503);
  state_.draining = false;
  EXPECT_EQ(Run(Post("/rpc/Fail.throw", "{}", peer)).status, 500);
  constexpr double kCalls = 10, kFailed = 7;
  // Named no method: no token, a batch of a non-object and an unknown method, a body not JSON.
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "{}")).status, 401);
  EXPECT_EQ(Run(Post("/rpc", R"([1,{"jsonrpc":"2.0","method":"Nope.nope","id":3}])", peer)).status, 200);
  EXPECT_EQ(Run(Post("/rpc", "nope", peer)).status, 200);

  http1::Response r = Run(MakeRequest(http::verb::get, "/metrics", "", peer));
  ASSERT_EQ(r.status, 200);
  const std::map<std::string, double> requests = Samples(r.body, "harpc_server_requests_total");
  const std::map<std::string, double> errors = Samples(r.body, "harpc_server_errors_total");
  auto total = [](const std::map<std::string, double>& samples) {
    double n = 0;
    for (const auto& [labels, value] : samples) n += value;
    return n;
  };
  EXPECT_EQ(total(requests), kCalls) << r.body;
  EXPECT_EQ(total(errors), kFailed) << r.body;
  for (const auto& [labels, value] : errors) EXPECT_EQ(requests.at(labels), value) << labels;
  auto requests_of = [&](const std::string& method, const std::string& code) {
    auto it = requests.find("{method=\"" + method + "\",code=\"" + code + "\"}");
    return it == requests.end() ? -1 : it->second;
  };
  EXPECT_EQ(requests_of("Echo.echo", "OK"), 1);
  EXPECT_EQ(requests_of("Echo.echo", "DEADLINE_EXCEEDED"), 1);
  EXPECT_EQ(requests_of("Echo.echo", "RESOURCE_EXHAUSTED"), 1);
  EXPECT_EQ(requests_of("Echo.echo", "UNAVAILABLE"), 1);
  EXPECT_EQ(requests_of("Store.put", "PERMISSION_DENIED"), 2);
  EXPECT_EQ(requests_of("Store.put", "OK"), 2);
  EXPECT_EQ(requests_of("Store.put", "FAILED_PRECONDITION"), 1);
  EXPECT_EQ(requests_of("Fail.throw", "INTERNAL"), 1);
  EXPECT_EQ(Samples(r.body, "harpc_server_http_errors_total"),
            (std::map<std::string, double>{{"{status=\"401\"}", 1}}));
  EXPECT_EQ(
      Samples(r.body, "harpc_server_jsonrpc_rejected_total"),
      (std::map<std::string, double>{{"{code=\"-32700\"}", 1}, {"{code=\"-32600\"}", 1}, {"{code=\"-32601\"}", 1}}));
  // /status tells the same.
  const json::value status = BodyJson(Run(MakeRequest(http::verb::get, "/status", "", peer)));
  ASSERT_TRUE(status.is_object()) << status;
  bool found = false;
  for (const json::value& m : status.at("methods").as_array()) {
    if (m.at("name") != "Store.put") continue;
    found = true;
    EXPECT_EQ(m.at("requests"), 5);
    EXPECT_EQ(m.at("errors"), 3);
  }
  EXPECT_TRUE(found) << status;
}

TEST_F(DispatcherTest, StatusIsJson) {
  Run(Post("/rpc/Echo.echo", "{}"));
  http1::Response r = Run(Get("/status"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json::value s = BodyJson(r);
  EXPECT_EQ(s.at("name"), "unit");
  EXPECT_EQ(s.at("address"), "127.0.0.1:8001");
  EXPECT_EQ(s.at("state"), "SERVING");
  EXPECT_EQ(s.at("in_flight"), 0);
  bool found = false;
  for (const json::value& m : s.at("methods").as_array()) {
    if (m.at("name") != "Echo.echo") continue;
    found = true;
    EXPECT_EQ(m.at("default"), true);
    EXPECT_EQ(m.at("idempotent"), true);
    EXPECT_EQ(m.at("requests"), 1);
    EXPECT_EQ(m.at("errors"), 0);
  }
  EXPECT_TRUE(found) << r.body;
  EXPECT_EQ(s.at("methods").as_array().size(), state_.methods.size());

  state_.draining = true;
  EXPECT_EQ(BodyJson(Run(Get("/status"))).at("state"), "NOT_SERVING");
}

TEST_F(DispatcherTest, UnknownPathsGet404) {
  for (const char* target : {"/", "/nope", "/rpcx", "/favicon.ico", "/healthz"}) {
    http1::Response r = Run(Get(target));
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(PlainErrorCode(r), -32601) << target;
    EXPECT_THAT(PlainErrorMessage(r), HasSubstr("no such path")) << target;
  }
  http1::Response r = Run(Post("/api/Echo.echo", "{}"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(state_.http_errors[404].load(), 6u);
}

TEST_F(DispatcherTest, WrongVerbsGet405) {
  http1::Response r = Run(Get("/rpc"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.extra_headers, "Allow: POST\r\n");
  EXPECT_EQ(PlainErrorCode(r), -32600);

  r = Run(MakeRequest(http::verb::put, "/rpc/Echo.echo", "{}", {}));
  EXPECT_EQ(r.status, 405);
  r = Run(MakeRequest(http::verb::delete_, "/rpc", "", {}));
  EXPECT_EQ(r.status, 405);

  for (const char* target : {"/health", "/metrics", "/status"}) {
    r = Run(Post(target, "{}"));
    EXPECT_EQ(r.status, 405) << target;
    EXPECT_THAT(PlainErrorMessage(r), HasSubstr("takes GET")) << target;
  }
  EXPECT_EQ(Ran("Echo.echo"), 0u);
}

TEST_F(DispatcherTest, MaxConcurrencyGives429) {
  state_.options.max_concurrency = 1;
  asio::io_context io;
  asio::steady_timer gate(io, asio::steady_timer::time_point::max());
  gate_ = &gate;
  CallDispatcher dispatcher(state_);

  const HttpRequest slow = Post("/rpc/Slow.wait", "{}");
  std::future<http1::Response> first =
      asio::co_spawn(io, dispatcher.Handle(slow, peer_, io.get_executor()), asio::use_future);
  io.poll();  // runs until Slow.wait waits at the gate
  ASSERT_EQ(state_.in_flight.load(), 1);

  const HttpRequest named = Post("/rpc/Echo.echo", "{}");
  const HttpRequest rpc = Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo","id":9})");
  std::future<http1::Response> second =
      asio::co_spawn(io, dispatcher.Handle(named, peer_, io.get_executor()), asio::use_future);
  std::future<http1::Response> third =
      asio::co_spawn(io, dispatcher.Handle(rpc, peer_, io.get_executor()), asio::use_future);
  io.poll();
  ASSERT_EQ(second.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  ASSERT_EQ(third.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(first.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  http1::Response r = second.get();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(PlainErrorCode(r), -32008);
  EXPECT_THAT(PlainErrorMessage(r), HasSubstr("overloaded"));
  r = third.get();
  EXPECT_EQ(r.status, 200);
  ExpectRpcError(BodyJson(r), -32008, 9);

  gate.cancel();  // let the slow call finish
  io.run();
  r = first.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "\"done\"");
  EXPECT_EQ(state_.in_flight.load(), 0);
  EXPECT_EQ(Answered("Echo.echo", StatusCode::kResourceExhausted), 2u);
  EXPECT_EQ(Answered("Slow.wait", StatusCode::kOk), 1u);

  // Below the limit again: calls run.
  gate_ = nullptr;
  r = Run(Post("/rpc/Echo.echo", "[1]"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[1]");
}

// ---- trace context (traceparent) and the access log ----

constexpr char kCallerTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kCallerSpan[] = "00f067aa0ba902b7";
const std::string kTraceparent = "00-" + std::string(kCallerTrace) + "-" + std::string(kCallerSpan) + "-01";

TEST_F(DispatcherTest, HandlersSeeTheCallersTraceWithASpanOfTheirOwn) {
  http1::Response r =
      Run(Post("/rpc/Ctx.trace", "", {{"traceparent", kTraceparent}, {"tracestate", "congo=t61rcWkgMzE"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value seen = BodyJson(r);
  EXPECT_EQ(seen.at("trace_id"), kCallerTrace);
  EXPECT_EQ(seen.at("parent_id"), kCallerSpan);
  EXPECT_NE(seen.at("span_id"), kCallerSpan);
  EXPECT_EQ(seen.at("tracestate"), "congo=t61rcWkgMzE");
  // The same through JSON-RPC 2.0 and the default method's path.
  json::value reply = Rpc(R"({"jsonrpc":"2.0","method":"Ctx.trace","id":1})", {{"traceparent", kTraceparent}});
  EXPECT_EQ(reply.at("result").at("trace_id"), kCallerTrace);
  EXPECT_EQ(reply.at("result").at("parent_id"), kCallerSpan);
}

TEST_F(DispatcherTest, WithoutAValidTraceparentACallStartsANewTrace) {
  const std::string id = std::string(kCallerTrace), span = std::string(kCallerSpan);
  const std::vector<Headers> cases = {
      {},
      {{"traceparent", "garbage"}, {"tracestate", "congo=t61rcWkgMzE"}},
      {{"traceparent", std::string(6000, 'f')}},
      {{"traceparent", "00-" + id + "-" + span + "-01-extra"}},
      {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + span + "-01"}},
      {{"traceparent", "00-00000000000000000000000000000000-" + span + "-01"}},
      {{"traceparent", "ff-" + id + "-" + span + "-01"}},
  };
  std::set<std::string> traces;
  for (const Headers& headers : cases) {
    http1::Response r = Run(Post("/rpc/Ctx.trace", "", headers));
    ASSERT_EQ(r.status, 200) << "a bad traceparent never refuses a call: " << r.body;
    json::value seen = BodyJson(r);
    EXPECT_EQ(seen.at("valid"), true);
    EXPECT_NE(seen.at("trace_id"), kCallerTrace);
    EXPECT_TRUE(seen.at("parent_id").is_null()) << seen;
    EXPECT_EQ(seen.at("tracestate"), "") << "the tracestate of a trace not taken is dropped";
    EXPECT_TRUE(traces.insert(std::string(seen.at("trace_id").as_string())).second);
  }
}

TEST_F(DispatcherTest, TwoTraceparentHeadersAreInvalid) {
  HttpRequest request = Post("/rpc/Ctx.trace", "");
  request.insert("traceparent", kTraceparent);
  request.insert("traceparent", "00-" + std::string(32, 'a') + "-" + std::string(16, 'b') + "-01");
  http1::Response r = Run(request);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(BodyJson(r).at("trace_id"), kCallerTrace);
}

TEST_F(DispatcherTest, EachRequestOfABatchHasItsOwnSpan) {
  json::value replies = Rpc(R"([{"jsonrpc":"2.0","method":"Ctx.trace","id":1},
                                {"jsonrpc":"2.0","method":"Ctx.trace","id":2}])",
                            {{"traceparent", kTraceparent}});
  ASSERT_TRUE(replies.is_array() && replies.as_array().size() == 2) << replies;
  const json::value& a = replies.as_array()[0].at("result");
  const json::value& b = replies.as_array()[1].at("result");
  EXPECT_EQ(a.at("trace_id"), kCallerTrace);
  EXPECT_EQ(b.at("trace_id"), kCallerTrace);
  EXPECT_EQ(a.at("parent_id"), kCallerSpan);
  EXPECT_EQ(b.at("parent_id"), kCallerSpan);
  EXPECT_NE(a.at("span_id"), b.at("span_id"));
}

class AccessLogTest : public DispatcherTest {
 protected:
  AccessLogTest() { EXPECT_TRUE(AccessLog::Open(dir_.File("access.log"), &state_.access_log).ok()); }

  // The lines written so far, each parsed (the log is closed to flush it).
  std::vector<json::object> Lines() {
    state_.access_log.reset();
    std::ifstream in(dir_.File("access.log"));
    std::vector<json::object> out;
    for (std::string line; std::getline(in, line);) {
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      EXPECT_FALSE(ec) << "not JSON: " << line;
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(AccessLogTest, OneLinePerCallRefusalsIncluded) {
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", R"({"a":1})", {{"traceparent", kTraceparent}})).status, 200);
  EXPECT_EQ(Run(Post("/rpc/No.such", "{}")).status, 404);
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "{not json")).status, 400);
  EXPECT_EQ(Run(Post("/rpc/Fail.invalid", "{}")).status, 400);
  EXPECT_EQ(Run(Post("/rpc/Echo.echo", "1", {{"X-Deadline-Ms", "soon"}})).status, 400);
  EXPECT_EQ(Run(Get("/rpc/Echo.echo")).status, 405);
  Rpc(R"({"jsonrpc":"2.0","method":"Fail.throw","id":7})");
  Rpc(R"([{"jsonrpc":"2.0","method":"Echo.echo","params":[1],"id":1},{"jsonrpc":"2.0","method":"Nope","id":2}])");
  EXPECT_EQ(Run(Get("/health")).status, 200);  // not a call: no line

  std::vector<json::object> lines = Lines();
  ASSERT_EQ(lines.size(), 9u);
  for (const json::object& o : lines) {
    for (const char* field :
         {"time", "method", "status", "http_status", "latency_ms", "peer", "trace_id", "span_id", "parent_id"}) {
      EXPECT_TRUE(o.contains(field)) << field << " missing in " << json::serialize(o);
    }
    EXPECT_EQ(o.at("peer"), json::value(json::string(peer_)));
    EXPECT_EQ(o.at("trace_id").as_string().size(), 32u) << "every call has a trace";
    EXPECT_GE(o.at("latency_ms").to_number<double>(), 0);
  }
  auto expect = [&](size_t i, const json::value& method, const char* status, int http_status) {
    EXPECT_EQ(lines[i].at("method"), method) << i;
    EXPECT_EQ(lines[i].at("status"), status) << i;
    EXPECT_EQ(lines[i].at("http_status"), http_status) << i;
  };
  expect(0, "Echo.echo", "OK", 200);
  EXPECT_EQ(lines[0].at("trace_id"), kCallerTrace);
  EXPECT_EQ(lines[0].at("parent_id"), kCallerSpan);
  expect(1, "No.such", "UNIMPLEMENTED", 404);
  EXPECT_TRUE(lines[1].at("parent_id").is_null());
  expect(2, "Echo.echo", "INVALID_ARGUMENT", 400);
  expect(3, "Fail.invalid", "INVALID_ARGUMENT", 400);
  expect(4, nullptr, "INVALID_ARGUMENT", 400);
  expect(5, nullptr, "UNIMPLEMENTED", 405);
  expect(6, "Fail.throw", "INTERNAL", 200);
  expect(7, "Echo.echo", "OK", 200);
  expect(8, "Nope", "UNIMPLEMENTED", 200);
  EXPECT_EQ(lines[7].at("trace_id"), lines[8].at("trace_id")) << "one batch, one trace";
  EXPECT_NE(lines[7].at("span_id"), lines[8].at("span_id"));
}

}  // namespace
}  // namespace harpc
