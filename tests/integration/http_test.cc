// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// HTTP/1.1 behaviour over real sockets: keep-alive, pipelining, HTTP/1.0,
// Connection: close, chunked request bodies, Date; `ab -k` when installed.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

class ItHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_ = StartServe({"--threads", "2"});
    ASSERT_GT(serve_.port, 0);
  }
  ServeProcess serve_;
};

std::string NumberedBody(int i) {
  return R"({"request":)" + std::to_string(i) + R"(,"pad":")" + std::string(i % 7, 'x') + "\"}";
}

TEST_F(ItHttp, KeepAliveServesManyRequestsOnOneConnection) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", NumberedBody(i)))) << "request " << i;
    std::string r = s.ReadResponse(5s);
    ASSERT_EQ(StatusOf(r), 200) << "request " << i << ": " << r;
    ASSERT_EQ(BodyOf(r), NumberedBody(i));
    ASSERT_FALSE(HeaderOf(r, "Connection").has_value()) << r;
  }
  // The server accepted exactly one connection for all of them (plus the scrape's own).
  std::string m = Scrape(serve_.port);
  EXPECT_EQ(MetricValue(m, "harpc_server_connections_accepted_total").value_or(-1), 2) << m;
  EXPECT_EQ(MetricValue(m, R"(harpc_server_requests_total{method="Echo.echo",code="OK"})").value_or(-1), kRequests);
}

TEST_F(ItHttp, PipelinedRequestsAreAnsweredInOrder) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  constexpr int kRequests = 20;
  std::string all;
  for (int i = 0; i < kRequests; ++i) {
    // Mix the three call forms and a built-in endpoint.
    switch (i % 4) {
      case 0:
        all += Post("/rpc/Echo.echo", NumberedBody(i));
        break;
      case 1:
        all += Post("/rpc", NumberedBody(i));
        break;
      case 2:
        all += Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo","params":)" + NumberedBody(i) + R"(,"id":)" +
                                std::to_string(i) + "}");
        break;
      case 3:
        all += Get("/health");
        break;
    }
  }
  ASSERT_TRUE(s.Send(all));  // one write
  for (int i = 0; i < kRequests; ++i) {
    std::string r = s.ReadResponse(5s);
    ASSERT_EQ(StatusOf(r), 200) << "response " << i << ": " << r;
    switch (i % 4) {
      case 0:
      case 1:
        EXPECT_EQ(BodyOf(r), NumberedBody(i)) << "response " << i;
        break;
      case 2: {
        json::value v = ParseJson(BodyOf(r));
        EXPECT_EQ(v.at("id"), i);
        EXPECT_EQ(v.at("result"), json::parse(NumberedBody(i)));
        break;
      }
      case 3:
        EXPECT_EQ(BodyOf(r), "SERVING\n");
        break;
    }
  }
  // Nothing more arrives, and the connection is still usable.
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "[\"after\"]")));
  EXPECT_EQ(BodyOf(s.ReadResponse(5s)), "[\"after\"]");
}

TEST_F(ItHttp, Http10WithoutKeepAliveIsClosedAfterTheAnswer) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  const std::string body = R"({"v":"1.0"})";
  ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), body);
  EXPECT_TRUE(s.WaitClosed(3s)) << "an HTTP/1.0 connection without keep-alive must be closed";
}

TEST_F(ItHttp, Http10WithKeepAliveStaysOpenAndSaysSo) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  // As `ab -k` does: a client that asked for keep-alive reads each answer by
  // its Content-Length and waits for "Connection: keep-alive" to reuse.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(s.Send(i % 2 == 0
                           ? std::string("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                           : "POST /rpc/Echo.echo HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n" +
                                 std::to_string(i % 10)))
        << "request " << i;
    std::string r = s.ReadResponse(5s);
    ASSERT_EQ(StatusOf(r), 200) << "request " << i << ": " << r;
    ASSERT_EQ(BodyOf(r), i % 2 == 0 ? "SERVING\n" : std::to_string(i % 10)) << r;
    ASSERT_EQ(HeaderOf(r, "Connection").value_or(""), "keep-alive") << r;
    ASSERT_TRUE(HeaderOf(r, "Date").has_value()) << r;
  }
  std::string m = Scrape(serve_.port);
  EXPECT_EQ(MetricValue(m, "harpc_server_connections_accepted_total").value_or(-1), 2) << m;
}

TEST_F(ItHttp, ApacheBenchKeepAliveCompletes) {
  if (::access("/usr/bin/ab", X_OK) != 0) GTEST_SKIP() << "ab (apache2-utils) is not installed";
  const auto start = Clock::now();
  CliRun ab = RunProgram({"/usr/bin/ab", "-k", "-n", "50", "-c", "1", "-s", "5",
                          "http://127.0.0.1:" + std::to_string(serve_.port) + "/health"},
                         10s);
  const std::string out = ab.Stdout();
  ASSERT_EQ(ab.exit_code, 0) << out << ab.err;
  EXPECT_LT(Since(start), 10s);
  EXPECT_NE(out.find("Complete requests:      50\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Failed requests:        0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Keep-Alive requests:    50\n"), std::string::npos) << out;
}

TEST_F(ItHttp, EveryAnswerCarriesADate) {
  for (const std::string& request : {Get("/health"), Get("/nope"), Post("/rpc/Echo.echo", "[1]"),
                                     Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo"})"),
                                     std::string("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")}) {
    std::string r = RoundTrip(serve_.port, request);
    ASSERT_NE(StatusOf(r), 0) << request;
    std::optional<std::string> date = HeaderOf(r, "Date");
    ASSERT_TRUE(date.has_value()) << r;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    EXPECT_EQ(date->size(), 29u) << *date;
    EXPECT_TRUE(date->ends_with(" GMT")) << *date;
  }
}

TEST_F(ItHttp, ConnectionCloseIsHonoured) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", R"({"bye":true})", "Connection: close\r\n")));
  std::string r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), R"({"bye":true})");
  EXPECT_EQ(HeaderOf(r, "Connection").value_or(""), "close") << r;
  EXPECT_TRUE(s.WaitClosed(3s));
}

TEST_F(ItHttp, RequestsPipelinedAfterConnectionCloseAreNotAnswered) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "1", "Connection: close\r\n") + Post("/rpc/Echo.echo", "2")));
  std::string r = s.ReadResponse(5s);
  EXPECT_EQ(BodyOf(r), "1") << r;
  EXPECT_TRUE(s.WaitClosed(3s));
  EXPECT_EQ(s.ReadResponse(100ms), "");
}

TEST_F(ItHttp, ChunkedRequestBodyIsAccepted) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(
      s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             "Content-Type: application/json\r\n\r\n"
             "5\r\n{\"a\":\r\n"
             "a\r\n[1,2,3,4]}\r\n"
             "0\r\n\r\n"));
  std::string r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ParseJson(BodyOf(r)), json::parse(R"({"a":[1,2,3,4]})"));
  // Chunks sent in separate writes, then a second request on the same connection.
  ASSERT_TRUE(s.Send("POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(s.Send("f\r\n{\"key\":\"value\"}\r\n"));
  ASSERT_TRUE(s.Send("0\r\n\r\n"));
  r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), R"({"key":"value"})");
}

TEST_F(ItHttp, ExpectContinueGets100BeforeTheBody) {
  RawSocket s(serve_.port);
  const std::string body = R"({"big":")" + std::string(5000, 'b') + "\"}";
  ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  // The client waits for the interim answer before sending the body.
  std::string interim = s.ReadResponse(1s);
  ASSERT_EQ(StatusOf(interim), 100) << interim;
  EXPECT_EQ(BodyOf(interim), "");
  ASSERT_TRUE(s.Send(body));
  std::string r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r.substr(0, 200);
  EXPECT_EQ(BodyOf(r), body);
  // A head with its body in the same write needs no interim answer.
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "[1]", "Expect: 100-continue\r\n")));
  r = s.ReadResponse(5s);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "[1]");
}

TEST_F(ItHttp, HeadAnswersHeadersOnlyAndKeepsFraming) {
  RawSocket s(serve_.port);
  // HEAD then GET in one write: the HEAD answer must carry no body, or the
  // client would read it as the start of the next response.
  ASSERT_TRUE(s.Send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string all;
  ASSERT_TRUE(PollUntil(
      [&] {
        all += s.ReadResponse(50ms);
        return all.find("SERVING\n") != std::string::npos;
      },
      3s))
      << all;
  const std::string head_answer = "HTTP/1.1 200 OK\r\n";
  ASSERT_EQ(all.rfind(head_answer, 0), 0u) << all;
  auto second = all.find(head_answer, head_answer.size());
  ASSERT_NE(second, std::string::npos) << all;
  std::string first = all.substr(0, second);
  EXPECT_EQ(BodyOf(first), "") << "HEAD answered with a body: " << all;
  EXPECT_EQ(HeaderOf(first, "Content-Length").value_or(""), "8") << first;
  EXPECT_EQ(BodyOf(all.substr(second)), "SERVING\n");
}

TEST_F(ItHttp, HalfClosedClientStillGetsItsAnswer) {
  RawSocket s(serve_.port);
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", R"({"half":"closed"})")));
  ASSERT_EQ(::shutdown(s.fd(), SHUT_WR), 0);
  std::string r = s.ReadResponse(3s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), R"({"half":"closed"})");
  EXPECT_TRUE(s.WaitClosed(3s));
}

TEST_F(ItHttp, LargePipelinedBurstIsAnsweredCompletelyAndInOrder) {
  // More answers than fit in one output batch: exercises the server's
  // flushing while it still has requests to read. A separate thread writes so
  // that neither side blocks the other.
  RawSocket s(serve_.port);
  constexpr int kRequests = 2000;
  std::string all;
  for (int i = 0; i < kRequests; ++i) all += Post("/rpc/Echo.echo", NumberedBody(i) + std::string(200, ' '));
  std::atomic<bool> sent{false};
  std::thread writer([&] { sent = s.Send(all); });
  int good = 0;
  const auto start = Clock::now();
  for (int i = 0; i < kRequests && Since(start) < 30s; ++i) {
    std::string r = s.ReadResponse(5s);
    if (StatusOf(r) != 200 || ParseJson(BodyOf(r)) != json::parse(NumberedBody(i))) {
      ADD_FAILURE() << "response " << i << ": " << r.substr(0, 200);
      break;
    }
    ++good;
  }
  writer.join();
  EXPECT_TRUE(sent.load());
  EXPECT_EQ(good, kRequests);
}

TEST_F(ItHttp, HeadersAreCaseInsensitive) {
  std::string r = RoundTrip(serve_.port,
                            "POST /rpc/Echo.echo HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n"
                            "x-deadline-ms: 0\r\n\r\n{}");
  EXPECT_EQ(StatusOf(r), 504) << r;
}

}  // namespace
}  // namespace harpc::testing::it
