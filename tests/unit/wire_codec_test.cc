// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The RPC wire codec without sockets: the client's request bytes
// (FormatRequest) and what an answer means (InterpretResponse). The HTTP
// codec itself is tested in http_codec_test.
#include <string>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/http_exchange.h"

namespace harpc {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using ::testing::HasSubstr;

// ---- FormatRequest ----

TEST(FormatRequest, DefaultMethodGoesToPostRpc) {
  RequestHeaders headers;
  EXPECT_EQ(FormatRequest("127.0.0.1:8001", "/", R"({"key":"value"})", headers),
            "POST /rpc HTTP/1.1\r\n"
            "Host: 127.0.0.1:8001\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 15\r\n"
            "\r\n"
            R"({"key":"value"})");
}

TEST(FormatRequest, NamedMethodGoesToPostRpcSlashName) {
  RequestHeaders headers;
  EXPECT_EQ(FormatRequest("localhost:9", "Echo.echo", "[1,2]", headers),
            "POST /rpc/Echo.echo HTTP/1.1\r\n"
            "Host: localhost:9\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "[1,2]");
}

TEST(FormatRequest, DeadlineIdempotencyKeyAndRequestId) {
  RequestHeaders headers;
  headers.deadline_in = std::chrono::milliseconds(250);
  headers.idempotency_key = "key-7f3a";
  headers.request_id = "req-1";
  EXPECT_EQ(FormatRequest("h:1", "Bank.deposit", "{}", headers),
            "POST /rpc/Bank.deposit HTTP/1.1\r\n"
            "Host: h:1\r\n"
            "X-Deadline-Ms: 250\r\n"
            "Idempotency-Key: key-7f3a\r\n"
            "X-Request-Id: req-1\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 2\r\n"
            "\r\n"
            "{}");
}

TEST(FormatRequest, NoDeadlineHeaderWhenNoneIsLeft) {
  RequestHeaders headers;
  headers.deadline_in = std::chrono::milliseconds(0);
  std::string bytes = FormatRequest("h:1", "/", "{}", headers);
  EXPECT_EQ(bytes.find("X-Deadline-Ms"), std::string::npos) << bytes;
  headers.deadline_in = std::chrono::milliseconds(-5);
  bytes = FormatRequest("h:1", "/", "{}", headers);
  EXPECT_EQ(bytes.find("X-Deadline-Ms"), std::string::npos) << bytes;
}

TEST(FormatRequest, EmptyBodyHasContentLengthZero) {
  RequestHeaders headers;
  EXPECT_EQ(FormatRequest("h:1", "Echo.echo", "", headers),
            "POST /rpc/Echo.echo HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\n"
            "Content-Length: 0\r\n\r\n");
}

TEST(FormatRequest, BeastParsesWhatWeSend) {
  RequestHeaders headers;
  headers.deadline_in = std::chrono::milliseconds(1000);
  headers.idempotency_key = "abc";
  const std::string body = R"({"text":"héllo","n":[1,2,3]})";
  std::string bytes = FormatRequest("127.0.0.1:8001", "Echo.echo", body, headers);

  http::request_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(bytes), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(used, bytes.size());
  const auto& req = parser.get();
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/rpc/Echo.echo");
  EXPECT_EQ(req.version(), 11);
  EXPECT_TRUE(req.keep_alive());
  EXPECT_EQ(req["X-Deadline-Ms"], "1000");
  EXPECT_EQ(req["Idempotency-Key"], "abc");
  EXPECT_EQ(req.body(), body);
}

// ---- InterpretResponse ----

TEST(InterpretResponse, SuccessCarriesTheJsonValue) {
  AttemptOutcome out = InterpretResponse(200, R"({"key":"value"})");
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.stage, AttemptStage::kAnswered);
  EXPECT_EQ(out.value, json::parse(R"({"key":"value"})"));

  out = InterpretResponse(200, "[1, 2.5, null, true]");
  EXPECT_TRUE(out.status.ok());
  EXPECT_EQ(out.value, json::parse("[1,2.5,null,true]"));
}

TEST(InterpretResponse, EmptySuccessIsNull) {
  AttemptOutcome out = InterpretResponse(204, "");
  EXPECT_TRUE(out.status.ok());
  EXPECT_TRUE(out.value.is_null());
}

TEST(InterpretResponse, InvalidJsonOnSuccessIsInternal) {
  // 1e400: a number JSON cannot write back is refused as on the server.
  for (const char* body : {"not json", "{\"key\":", "<html>ok</html>", "{} trailing", "{\"n\":1e400}"}) {
    AttemptOutcome out = InterpretResponse(200, body);
    EXPECT_EQ(out.status.code(), StatusCode::kInternal) << body << ": " << out.status;
    EXPECT_THAT(out.status.message(), HasSubstr("invalid JSON")) << body;
    EXPECT_EQ(out.stage, AttemptStage::kAnswered);
    EXPECT_TRUE(out.value.is_null());
  }
}

struct JsonErrorCase {
  int http_status;
  int code;
  StatusCode want;
};

TEST(InterpretResponse, JsonErrorBodiesDecodeToTheirStatusCode) {
  const JsonErrorCase cases[] = {
      {400, -32602, StatusCode::kInvalidArgument},
      {400, -32700, StatusCode::kInvalidArgument},
      {400, -32600, StatusCode::kInvalidArgument},
      {404, -32601, StatusCode::kUnimplemented},
      {500, -32603, StatusCode::kInternal},
      {504, -32004, StatusCode::kDeadlineExceeded},
      {429, -32008, StatusCode::kResourceExhausted},
      {422, -32009, StatusCode::kFailedPrecondition},
      {409, -32017, StatusCode::kAborted},
      {503, -32014, StatusCode::kUnavailable},
      {404, -32005, StatusCode::kNotFound},
      // The code in the body wins over the HTTP status.
      {500, -32014, StatusCode::kUnavailable},
      // Outside every known range: unknown.
      {500, -1, StatusCode::kUnknown},
  };
  for (const auto& c : cases) {
    std::string body =
        json::serialize(json::object{{"error", json::object{{"code", c.code}, {"message", "what went wrong"}}}});
    AttemptOutcome out = InterpretResponse(c.http_status, body);
    EXPECT_EQ(out.status.code(), c.want) << c.http_status << " " << body << ": " << out.status;
    // A code harpc does not know stays in the message.
    EXPECT_EQ(out.status.message(),
              c.want == StatusCode::kUnknown ? "what went wrong (JSON-RPC error -1)" : "what went wrong");
    EXPECT_EQ(out.stage, AttemptStage::kAnswered);
    EXPECT_TRUE(out.value.is_null());
  }
}

TEST(InterpretResponse, NotLeaderAnswersNameTheLeader) {
  AttemptOutcome out =
      InterpretResponse(421, R"({"error":{"code":-32010,"message":"not leader","data":{"leader":"127.0.0.1:7002"}}})");
  EXPECT_EQ(out.status.code(), StatusCode::kNotLeader) << out.status;
  EXPECT_EQ(out.status.leader(), "127.0.0.1:7002");
  EXPECT_EQ(out.status.ToString(), "NOT_LEADER: not leader (leader is 127.0.0.1:7002)");
  EXPECT_EQ(out.stage, AttemptStage::kAnswered);

  out = InterpretResponse(421, R"({"error":{"code":-32010,"message":"not leader","data":{"leader":null}}})");
  EXPECT_EQ(out.status.code(), StatusCode::kNotLeader) << out.status;
  EXPECT_EQ(out.status.leader(), "");

  // A 421 from something that is not harpc names no leader.
  out = InterpretResponse(421, "<html>Misdirected Request</html>");
  EXPECT_EQ(out.status.code(), StatusCode::kNotLeader) << out.status;
  EXPECT_EQ(out.status.leader(), "");
  EXPECT_EQ(out.stage, AttemptStage::kAnswered);
}

TEST(InterpretResponse, JsonErrorWithoutMessage) {
  AttemptOutcome out = InterpretResponse(503, R"({"error":{"code":-32014}})");
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(out.status.message(), "");
}

struct PlainErrorCase {
  int http_status;
  StatusCode want;
};

TEST(InterpretResponse, NonJsonErrorsFollowTheHttpStatus) {
  const PlainErrorCase cases[] = {
      {502, StatusCode::kUnavailable},      {503, StatusCode::kUnavailable},       {504, StatusCode::kDeadlineExceeded},
      {408, StatusCode::kDeadlineExceeded}, {500, StatusCode::kInternal},          {501, StatusCode::kInternal},
      {400, StatusCode::kInvalidArgument},  {413, StatusCode::kInvalidArgument},   {404, StatusCode::kUnimplemented},
      {405, StatusCode::kUnimplemented},    {429, StatusCode::kResourceExhausted}, {409, StatusCode::kAborted},
      {401, StatusCode::kUnauthenticated},  {403, StatusCode::kPermissionDenied},  {418, StatusCode::kUnknown},
  };
  for (const auto& c : cases) {
    AttemptOutcome out = InterpretResponse(c.http_status, "<html><body>Bad Gateway</body></html>");
    EXPECT_EQ(out.status.code(), c.want) << c.http_status << ": " << out.status;
    EXPECT_THAT(out.status.message(), HasSubstr("HTTP " + std::to_string(c.http_status)));
    EXPECT_THAT(out.status.message(), HasSubstr("Bad Gateway"));
    EXPECT_EQ(out.stage, AttemptStage::kAnswered);
  }
}

TEST(InterpretResponse, EmptyAndJsonButNotHarpcErrorBodies) {
  AttemptOutcome out = InterpretResponse(503, "");
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(out.status.message(), "HTTP 503");

  out = InterpretResponse(502, R"({"detail":"upstream down"})");
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(out.status.message(), HasSubstr("upstream down"));

  out = InterpretResponse(504, R"({"error":"timeout"})");  // "error" is not an object
  EXPECT_EQ(out.status.code(), StatusCode::kDeadlineExceeded);

  out = InterpretResponse(503, R"({"error":{"code":"x","message":"m"}})");  // code not an integer
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);

  out = InterpretResponse(500, R"(["error"])");
  EXPECT_EQ(out.status.code(), StatusCode::kInternal);
}

TEST(InterpretResponse, LongErrorBodiesAreCut) {
  AttemptOutcome out = InterpretResponse(500, std::string(5000, 'x'));
  EXPECT_EQ(out.status.code(), StatusCode::kInternal);
  EXPECT_LT(out.status.message().size(), 300u);
}

// ---- JSON-RPC 2.0 (ChannelOptions::protocol = kJsonRpc) ----

TEST(JsonRpcRequest, TheEnvelopeGoesToThePath) {
  std::string body;
  ASSERT_TRUE(AppendJsonRpcRequest("add", json::parse("[1,2]"), 7, &body).ok());
  EXPECT_EQ(json::parse(body), json::parse(R"({"jsonrpc":"2.0","method":"add","params":[1,2],"id":7})"));
  body.clear();
  ASSERT_TRUE(AppendJsonRpcRequest("Echo.echo", json::parse(R"({"a":1})"), 8, &body).ok());
  EXPECT_EQ(json::parse(body), json::parse(R"({"jsonrpc":"2.0","method":"Echo.echo","params":{"a":1},"id":8})"));
  body.clear();
  ASSERT_TRUE(AppendJsonRpcRequest("log", json::parse("[1]"), std::nullopt, &body).ok());
  EXPECT_EQ(json::parse(body), json::parse(R"({"jsonrpc":"2.0","method":"log","params":[1]})"))
      << "a notification has no id";
  body.clear();
  ASSERT_TRUE(AppendJsonRpcRequest("ping", nullptr, 9, &body).ok());
  EXPECT_EQ(json::parse(body), json::parse(R"({"jsonrpc":"2.0","method":"ping","id":9})")) << "no params when none";

  RequestHeaders headers{.deadline_in = std::chrono::milliseconds(250)};
  EXPECT_EQ(FormatJsonRpcRequest("h:1", "/api/v1", body, headers),
            "POST /api/v1 HTTP/1.1\r\nHost: h:1\r\nX-Deadline-Ms: 250\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(JsonRpcRequest, ParamsJsonRpcCannotCarryAreRefused) {
  std::string body;
  for (const char* params : {"7", "\"text\"", "true"}) {
    Status s = AppendJsonRpcRequest("add", json::parse(params), 1, &body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << params;
    EXPECT_THAT(s.message(), HasSubstr("array or an object")) << s;
  }
}

TEST(InterpretResponse, JsonRpcResultIsTheValueAndErrorsKeepTheirCode) {
  AttemptOutcome out = InterpretResponse(200, R"({"jsonrpc":"2.0","result":{"sum":3},"id":1})", AnswerForm::kJsonRpc);
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.value, json::parse(R"({"sum":3})"));
  out = InterpretResponse(200, R"({"jsonrpc":"2.0","result":null,"id":1})", AnswerForm::kJsonRpc);
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_TRUE(out.value.is_null());

  out = InterpretResponse(200, R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"},"id":1})",
                          AnswerForm::kJsonRpc);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status.message(), "Invalid params");
  out = InterpretResponse(200, R"({"jsonrpc":"2.0","error":{"code":42,"message":"no"},"id":1})", AnswerForm::kJsonRpc);
  EXPECT_EQ(out.status.code(), StatusCode::kUnknown);
  EXPECT_EQ(out.status.message(), "no (JSON-RPC error 42)");
  out = InterpretResponse(
      200, R"({"jsonrpc":"2.0","error":{"code":-32010,"message":"not leader","data":{"leader":"127.0.0.1:9"}},"id":1})",
      AnswerForm::kJsonRpc);
  EXPECT_EQ(out.status.code(), StatusCode::kNotLeader);
  EXPECT_EQ(out.status.leader(), "127.0.0.1:9");
  out = InterpretResponse(200, R"({"jsonrpc":"2.0","error":"bad","id":1})", AnswerForm::kJsonRpc);
  EXPECT_EQ(out.status.code(), StatusCode::kUnknown);
  EXPECT_THAT(out.status.message(), HasSubstr("malformed JSON-RPC error"));
}

TEST(InterpretResponse, AJsonRpcRequestNeedsAJsonRpcAnswer) {
  for (const char* body : {R"({"sum":3})", "[1,2]", "3", ""}) {
    AttemptOutcome out = InterpretResponse(200, body, AnswerForm::kJsonRpc);
    EXPECT_EQ(out.status.code(), StatusCode::kInternal) << body;
    EXPECT_THAT(out.status.message(), HasSubstr("not a JSON-RPC 2.0 answer")) << body;
  }
}

TEST(InterpretResponse, AJsonRpcRefusalOfAPlainRequestIsAnError) {
  // A JSON-RPC server reading harpc's plain body as a request, or a batch.
  AttemptOutcome out =
      InterpretResponse(200, R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null})");
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status.message(), "Invalid Request");
  out = InterpretResponse(200, R"([{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},)"
                               R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}])");
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  // Results stay results: a plain method may answer anything else.
  out = InterpretResponse(200, R"({"jsonrpc":"2.0","result":1,"id":1})");
  ASSERT_TRUE(out.status.ok());
  EXPECT_TRUE(out.value.is_object());
  out = InterpretResponse(200, R"([{"error":{"code":1}}])");
  ASSERT_TRUE(out.status.ok());
}

TEST(InterpretResponse, ABatchAnswerIsTheArrayErrorsIncluded) {
  const char* answers = R"([{"jsonrpc":"2.0","error":{"code":-32601,"message":"no such method"},"id":1},)"
                        R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"bad"},"id":2}])";
  AttemptOutcome out = InterpretResponse(200, answers, AnswerForm::kJsonRpcBatch);
  ASSERT_TRUE(out.status.ok()) << "each error is its own call's, not the batch's: " << out.status;
  EXPECT_EQ(out.value, json::parse(answers));
  out = InterpretResponse(204, "", AnswerForm::kJsonRpcBatch);
  ASSERT_TRUE(out.status.ok()) << "only notifications: nothing to answer";
  EXPECT_TRUE(out.value.is_null());
  // The batch refused as a whole: one error object, no array.
  out = InterpretResponse(200, R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"empty batch"},"id":null})",
                          AnswerForm::kJsonRpcBatch);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  out = InterpretResponse(200, R"({"sum":3})", AnswerForm::kJsonRpcBatch);
  EXPECT_EQ(out.status.code(), StatusCode::kInternal);
  EXPECT_THAT(out.status.message(), HasSubstr("not a JSON-RPC 2.0 batch answer"));
  out = InterpretResponse(503, R"({"error":{"code":-32014,"message":"draining"}})", AnswerForm::kJsonRpcBatch);
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
}

TEST(InterpretResponse, ANotificationExpectsNothingButAnError) {
  EXPECT_TRUE(InterpretResponse(204, "", AnswerForm::kNotification).status.ok());
  EXPECT_TRUE(InterpretResponse(200, "", AnswerForm::kNotification).status.ok());
  AttemptOutcome out = InterpretResponse(
      200, R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"},"id":null})", AnswerForm::kNotification);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(InterpretResponse(401, "", AnswerForm::kNotification).status.code(), StatusCode::kUnauthenticated);
}

TEST(OneLineExcerpt, HtmlAndLongBodiesBecomeOneShortLine) {
  EXPECT_EQ(OneLineExcerpt("<html>\r\n  <body>\n\tBad   Gateway\n</body>\n</html>\n"),
            "<html> <body> Bad Gateway </body> </html>");
  EXPECT_EQ(OneLineExcerpt("  lead and trail  "), "lead and trail");
  const std::string cut = OneLineExcerpt(std::string(500, 'x'), 20);
  EXPECT_EQ(cut, "xxxxxxxxxxxxxxxxxxxx...");  // 20 of 500, then the mark of the cut
  EXPECT_EQ(OneLineExcerpt(std::string{'a', '\x01', 'b'}), "a?b");
  AttemptOutcome out = InterpretResponse(502, "<html>\n<body>\nBad Gateway\n</body>\n</html>\n");
  EXPECT_EQ(out.status.message(), "HTTP 502: <html> <body> Bad Gateway </body> </html>");
}

}  // namespace
}  // namespace harpc
