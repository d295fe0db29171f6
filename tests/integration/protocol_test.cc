// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The wire protocol (docs/protocol.md) over real sockets: JSON-RPC 2.0, the
// default method, POST /rpc/<Method>, deadlines and the built-in endpoints.
#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

class ItProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_ = StartServe({"--threads", "2"});
    ASSERT_GT(serve_.port, 0);
  }
  // POST /rpc with `body`; returns the response.
  std::string Rpc(std::string_view body, std::string_view headers = "") {
    return RoundTrip(serve_.port, Post("/rpc", body, headers));
  }
  ServeProcess serve_;
};

// ---- JSON-RPC 2.0 ---------------------------------------------------------

TEST_F(ItProtocol, JsonRpcSingleRequest) {
  std::string r = Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":{"a":[1,2],"b":"x"},"id":1})");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(HeaderOf(r, "Content-Type").value_or(""), "application/json");
  json::value v = ParseJson(BodyOf(r));
  EXPECT_EQ(v, json::parse(R"({"jsonrpc":"2.0","result":{"a":[1,2],"b":"x"},"id":1})"));
}

TEST_F(ItProtocol, JsonRpcPositionalParamsAndNoParams) {
  json::value v = ParseJson(BodyOf(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":[1,"two"],"id":2})")));
  EXPECT_EQ(v.at("result"), json::parse(R"([1,"two"])"));
  v = ParseJson(BodyOf(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":3})")));
  EXPECT_TRUE(v.at("result").is_null()) << v;
  EXPECT_EQ(v.at("id"), 3);
}

TEST_F(ItProtocol, JsonRpcBatchMixesValidInvalidAndNotifications) {
  std::string r = Rpc(R"([
    {"jsonrpc":"2.0","method":"Echo.echo","params":{"n":1},"id":"first"},
    {"jsonrpc":"2.0","method":"Echo.echo","params":{"n":2}},
    {"method":"Echo.echo","params":{"n":3},"id":3},
    42,
    {"jsonrpc":"2.0","method":"No.such","id":5},
    {"jsonrpc":"2.0","method":"Echo.echo","params":{"n":6},"id":6}
  ])");
  ASSERT_EQ(StatusOf(r), 200) << r;
  json::value v = ParseJson(BodyOf(r));
  ASSERT_TRUE(v.is_array()) << v;
  const json::array& replies = v.as_array();
  // Six requests, one notification: five replies.
  ASSERT_EQ(replies.size(), 5u) << v;
  auto find = [&](const json::value& id) -> const json::object* {
    for (const auto& reply : replies) {
      if (reply.as_object().at("id") == id && !(id.is_null() && reply.as_object().contains("result"))) {
        return &reply.as_object();
      }
    }
    return nullptr;
  };
  const json::object* first = find("first");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->at("result"), json::parse(R"({"n":1})"));
  EXPECT_EQ(first->at("jsonrpc"), "2.0");
  const json::object* no_version = find(3);
  ASSERT_TRUE(no_version);
  EXPECT_EQ(ErrorCodeOf(*no_version), -32600);
  const json::object* not_object = find(nullptr);
  ASSERT_TRUE(not_object);
  EXPECT_EQ(ErrorCodeOf(*not_object), -32600);
  const json::object* unknown = find(5);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(ErrorCodeOf(*unknown), -32601);
  const json::object* sixth = find(6);
  ASSERT_TRUE(sixth);
  EXPECT_EQ(sixth->at("result"), json::parse(R"({"n":6})"));
  // The notification ran (it reached the method) although it got no reply.
  std::string metrics = Scrape(serve_.port);
  EXPECT_EQ(MetricValue(metrics, R"(harpc_server_requests_total{method="Echo.echo",code="OK"})").value_or(-1), 3)
      << metrics;
}

TEST_F(ItProtocol, AllNotificationBatchGets204WithoutBody) {
  std::string r = Rpc(R"([{"jsonrpc":"2.0","method":"Echo.echo","params":{"a":1}},
                          {"jsonrpc":"2.0","method":"Echo.echo","params":{"a":2}}])");
  EXPECT_EQ(StatusOf(r), 204) << r;
  EXPECT_EQ(BodyOf(r), "");
  EXPECT_FALSE(HeaderOf(r, "Content-Length").has_value() && HeaderOf(r, "Content-Length") != "0") << r;
  // A single notification too.
  r = Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","params":{"a":3}})");
  EXPECT_EQ(StatusOf(r), 204) << r;
  EXPECT_EQ(BodyOf(r), "");
}

TEST_F(ItProtocol, EmptyBatchIsInvalidRequest) {
  std::string r = Rpc("[]");
  ASSERT_EQ(StatusOf(r), 200) << r;
  json::value v = ParseJson(BodyOf(r));
  EXPECT_EQ(ErrorCodeOf(v), -32600) << v;
  EXPECT_TRUE(v.at("id").is_null());
}

TEST_F(ItProtocol, BodyThatIsNeitherObjectNorArrayIsInvalidRequest) {
  for (std::string_view body : {"42", "\"text\"", "null", "true"}) {
    std::string r = Rpc(body);
    ASSERT_EQ(StatusOf(r), 200) << body << " -> " << r;
    json::value v = ParseJson(BodyOf(r));
    EXPECT_EQ(ErrorCodeOf(v), -32600) << body << " -> " << v;
    EXPECT_EQ(v.at("jsonrpc"), "2.0");
  }
}

TEST_F(ItProtocol, ParseErrorIs32700WithHttp200) {
  for (std::string_view body : {"{\"jsonrpc\":\"2.0\",", "not json at all", "", "[1,2"}) {
    std::string r = Rpc(body);
    ASSERT_EQ(StatusOf(r), 200) << "'" << body << "' -> " << r;
    json::value v = ParseJson(BodyOf(r));
    EXPECT_EQ(ErrorCodeOf(v), -32700) << body << " -> " << v;
    EXPECT_TRUE(v.at("id").is_null());
  }
}

TEST_F(ItProtocol, UnknownMethodIs32601) {
  std::string r = Rpc(R"({"jsonrpc":"2.0","method":"Nope.nope","id":9})");
  ASSERT_EQ(StatusOf(r), 200) << r;
  json::value v = ParseJson(BodyOf(r));
  EXPECT_EQ(ErrorCodeOf(v), -32601) << v;
  EXPECT_EQ(v.at("id"), 9);
  EXPECT_NE(v.at("error").at("message").as_string().find("Nope.nope"), std::string::npos) << v;
}

TEST_F(ItProtocol, WrongJsonRpcVersionIsInvalidRequest) {
  for (std::string_view body :
       {R"({"jsonrpc":"1.0","method":"Echo.echo","id":"v1"})", R"({"jsonrpc":2.0,"method":"Echo.echo","id":"v1"})"}) {
    std::string r = Rpc(body);
    ASSERT_EQ(StatusOf(r), 200) << r;
    json::value v = ParseJson(BodyOf(r));
    EXPECT_EQ(ErrorCodeOf(v), -32600) << v;
    EXPECT_EQ(v.at("id"), "v1") << v;
  }
}

TEST_F(ItProtocol, IdTypesAreEchoed) {
  for (std::string_view id : {R"("abc")", "7", "-12", "1.5", "null", R"("")"}) {
    std::string body = R"({"jsonrpc":"2.0","method":"Echo.echo","params":["p"],"id":)" + std::string(id) + "}";
    std::string r = Rpc(body);
    ASSERT_EQ(StatusOf(r), 200) << r;
    json::value v = ParseJson(BodyOf(r));
    ASSERT_TRUE(v.is_object()) << v;
    EXPECT_EQ(v.at("id"), json::parse(id)) << body << " -> " << v;
    EXPECT_EQ(v.at("result"), json::parse(R"(["p"])")) << v;
  }
  // An id of another type is an invalid request.
  json::value v = ParseJson(BodyOf(Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":{"x":1}})")));
  EXPECT_EQ(ErrorCodeOf(v), -32600) << v;
}

// ---- default method and named methods --------------------------------------

TEST_F(ItProtocol, DefaultMethodEchoesBodyExactly) {
  std::string r = Rpc(R"({"key":"value"})");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), R"({"key":"value"})");
  r = Rpc(R"({"nested":{"list":[1,2.5,"three",null,true]},"k":"v"})");
  EXPECT_EQ(ParseJson(BodyOf(r)), json::parse(R"({"nested":{"list":[1,2.5,"three",null,true]},"k":"v"})"));
}

TEST_F(ItProtocol, NamedMethodEchoesParams) {
  std::string r = RoundTrip(serve_.port, Post("/rpc/Echo.echo", R"({"hello":"world","n":[1,2,3]})"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ParseJson(BodyOf(r)), json::parse(R"({"hello":"world","n":[1,2,3]})"));
  r = RoundTrip(serve_.port, Post("/rpc/Echo.echo", R"("just a string")"));
  EXPECT_EQ(BodyOf(r), R"("just a string")");
}

TEST_F(ItProtocol, UnknownNamedMethodIs404WithJsonError) {
  std::string r = RoundTrip(serve_.port, Post("/rpc/Nope", "{}"));
  ASSERT_EQ(StatusOf(r), 404) << r;
  json::value v = ParseJson(BodyOf(r));
  EXPECT_EQ(ErrorCodeOf(v), -32601) << v;
  EXPECT_TRUE(v.at("error").at("message").is_string());
}

TEST_F(ItProtocol, GetOnRpcIs405) {
  std::string r = RoundTrip(serve_.port, Get("/rpc"));
  EXPECT_EQ(StatusOf(r), 405) << r;
  r = RoundTrip(serve_.port, Get("/rpc/Echo.echo"));
  EXPECT_EQ(StatusOf(r), 405) << r;
}

TEST_F(ItProtocol, UnknownPathIs404) {
  std::string r = RoundTrip(serve_.port, Get("/nope"));
  ASSERT_EQ(StatusOf(r), 404) << r;
  EXPECT_NE(ErrorCodeOf(ParseJson(BodyOf(r))), 0);
  r = RoundTrip(serve_.port, Post("/rpcx", "{}"));
  EXPECT_EQ(StatusOf(r), 404) << r;
}

// ---- deadlines -----------------------------------------------------------

TEST_F(ItProtocol, ZeroDeadlineIs504DeadlineExceeded) {
  std::string r = RoundTrip(serve_.port, Post("/rpc/Echo.echo", "{}", "X-Deadline-Ms: 0\r\n"));
  ASSERT_EQ(StatusOf(r), 504) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32004) << r;
  // The same through JSON-RPC: HTTP 200, error -32004.
  r = Rpc(R"({"jsonrpc":"2.0","method":"Echo.echo","id":1})", "X-Deadline-Ms: 0\r\n");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32004) << r;
}

TEST_F(ItProtocol, NonNumericDeadlineIs400) {
  for (std::string_view value : {"abc", "12ms", "", "1.5"}) {
    std::string r =
        RoundTrip(serve_.port, Post("/rpc/Echo.echo", "{}", "X-Deadline-Ms: " + std::string(value) + "\r\n"));
    EXPECT_EQ(StatusOf(r), 400) << "'" << value << "' -> " << r;
  }
}

TEST(ItDeadline, ShortDeadlineOnSlowServerAnswers504Promptly) {
  ServeProcess serve = StartServe({"--delay-ms", "300", "--threads", "1"});
  ASSERT_GT(serve.port, 0);
  const auto start = Clock::now();
  std::string r = RoundTrip(serve.port, Post("/rpc/Echo.echo", R"({"a":1})", "X-Deadline-Ms: 50\r\n"));
  const auto took = Since(start);
  ASSERT_EQ(StatusOf(r), 504) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32004);
  EXPECT_GE(took, 40ms);
  EXPECT_LT(took, 250ms) << "the server waited for the whole delay instead of the deadline";
  // Without a deadline the call takes the delay and succeeds.
  r = RoundTrip(serve.port, Post("/rpc/Echo.echo", R"({"a":1})"));
  EXPECT_EQ(StatusOf(r), 200) << r;
}

// ---- built-in endpoints ----------------------------------------------------

TEST_F(ItProtocol, HealthIsServing) {
  std::string r = RoundTrip(serve_.port, Get("/health"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r).substr(0, 7), "SERVING");
  EXPECT_EQ(StatusOf(RoundTrip(serve_.port, Post("/health", ""))), 405);
}

TEST_F(ItProtocol, MetricsCountCallsAndExposeHistogramAndConnections) {
  constexpr int kCalls = 7;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(StatusOf(RoundTrip(serve_.port, Post("/rpc/Echo.echo", "{}"))), 200);
  }
  // One unknown method and one default-method call.
  ASSERT_EQ(StatusOf(RoundTrip(serve_.port, Post("/rpc/Nope", "{}"))), 404);
  ASSERT_EQ(StatusOf(Rpc(R"({"key":"value"})")), 200);

  RawSocket keep(serve_.port);  // an open connection shows in the gauge
  ASSERT_TRUE(keep.connected());
  ASSERT_TRUE(keep.Send(Get("/metrics")));
  std::string r = keep.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(HeaderOf(r, "Content-Type").value_or("").find("text/plain"), std::string::npos);
  std::string m = BodyOf(r);
  EXPECT_EQ(MetricValue(m, R"(harpc_server_requests_total{method="Echo.echo",code="OK"})").value_or(-1), kCalls + 1)
      << m;
  EXPECT_NE(m.find("# TYPE harpc_server_request_duration_seconds histogram"), std::string::npos) << m;
  EXPECT_EQ(
      MetricValue(m, R"(harpc_server_request_duration_seconds_bucket{method="Echo.echo",le="+Inf"})").value_or(-1),
      kCalls + 1)
      << m;
  EXPECT_EQ(MetricValue(m, R"(harpc_server_request_duration_seconds_count{method="Echo.echo"})").value_or(-1),
            kCalls + 1);
  EXPECT_TRUE(MetricValue(m, R"(harpc_server_request_duration_seconds_bucket{method="Echo.echo",le="0.001"})"));
  EXPECT_GE(MetricValue(m, "harpc_server_connections").value_or(-1), 1) << m;
  EXPECT_EQ(MetricValue(m, R"(harpc_server_http_errors_total{status="404"})").value_or(-1), 1) << m;
}

TEST_F(ItProtocol, StatusAndMetricsCountEveryCallOnceWithItsCode) {
  for (int i = 0; i < 4; ++i) ASSERT_EQ(StatusOf(RoundTrip(serve_.port, Post("/rpc/Echo.echo", "{}"))), 200);
  ASSERT_EQ(StatusOf(RoundTrip(serve_.port, Post("/rpc/Echo.echo", "{}", "X-Deadline-Ms: 0\r\n"))), 504);
  json::value v = StatusJson(serve_.port);
  ASSERT_TRUE(v.is_object()) << v;
  EXPECT_EQ(v.at("state"), "SERVING");
  EXPECT_EQ(v.at("address"), json::value(serve_.address));
  EXPECT_GE(v.at("connections").as_int64(), 1);
  const json::array& methods = v.at("methods").as_array();
  bool found = false;
  for (const auto& m : methods) {
    if (m.at("name") != "Echo.echo") continue;
    found = true;
    EXPECT_EQ(m.at("requests"), 5) << m;  // the refused one is counted too, as an error
    EXPECT_EQ(m.at("errors"), 1) << m;
    EXPECT_EQ(m.at("default"), true);
    EXPECT_EQ(m.at("idempotent"), true);
  }
  EXPECT_TRUE(found) << v;
  // So does /metrics: the refused call under its code, and no more errors than calls.
  const std::string metrics = Scrape(serve_.port);
  EXPECT_EQ(MetricValue(metrics, R"(harpc_server_requests_total{method="Echo.echo",code="OK"})").value_or(-1), 4)
      << metrics;
  EXPECT_EQ(
      MetricValue(metrics, R"(harpc_server_requests_total{method="Echo.echo",code="DEADLINE_EXCEEDED"})").value_or(-1),
      1)
      << metrics;
  EXPECT_EQ(
      MetricValue(metrics, R"(harpc_server_errors_total{method="Echo.echo",code="DEADLINE_EXCEEDED"})").value_or(-1), 1)
      << metrics;
}

// ---- methods that only an in-process server has ----------------------------

TEST(ItInProcessProtocol, WrongParamsIs32602AndHttp400) {
  TestServer server;
  std::string r = RoundTrip(server.port(),
                            Post("/rpc", R"({"jsonrpc":"2.0","method":"Test.add","params":{"a":"x","b":2},"id":1})"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32602) << r;
  r = RoundTrip(server.port(), Post("/rpc", R"({"jsonrpc":"2.0","method":"Test.add","params":{"a":40,"b":2},"id":2})"));
  EXPECT_EQ(ParseJson(BodyOf(r)).at("result"), 42) << r;
  r = RoundTrip(server.port(), Post("/rpc/Test.add", R"([1,2])"));
  ASSERT_EQ(StatusOf(r), 400) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32602) << r;
  // A handler that uses params of the wrong shape (as_object() on an array).
  r = RoundTrip(server.port(), Post("/rpc", R"({"jsonrpc":"2.0","method":"Test.shape","params":[1],"id":3})"));
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32602) << r;
  r = RoundTrip(server.port(), Post("/rpc/Test.shape", R"({"a":1,"b":2})"));
  EXPECT_EQ(BodyOf(r), "2") << r;
}

TEST(ItInProcessProtocol, ThrowingHandlerIs32603AndHttp500) {
  TestServer server;
  std::string r = RoundTrip(server.port(), Post("/rpc", R"({"jsonrpc":"2.0","method":"Test.throw","id":"t"})"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  json::value v = ParseJson(BodyOf(r));
  EXPECT_EQ(ErrorCodeOf(v), -32603) << v;
  EXPECT_EQ(v.at("id"), "t");
  r = RoundTrip(server.port(), Post("/rpc/Test.throw", "{}"));
  ASSERT_EQ(StatusOf(r), 500) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32603) << r;
  // The server is still fine afterwards.
  EXPECT_TRUE(HealthyCallServed(server.port()));
}

TEST(ItInProcessProtocol, CoroutineHandlerAnswersAndKeepsOthersServed) {
  TestServer server;
  RawSocket slow(server.port());
  ASSERT_TRUE(slow.Send(Post("/rpc/Test.sleep", R"({"ms":300})")));
  // While the coroutine waits on its timer, the single event loop serves others.
  EXPECT_TRUE(HealthyCallServed(server.port(), 200ms));
  std::string r = slow.ReadResponse(3s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ParseJson(BodyOf(r)), json::parse(R"({"slept":300})"));
}

}  // namespace
}  // namespace harpc::testing::it
