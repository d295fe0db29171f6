// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The HTTP module (src/http) in both directions: request and response
// formatting without sockets; the client's response reading (limits,
// truncated and garbage answers) and the server's request reading (chunked
// limits) over loopback sockets inside this process.
#include <future>
#include <regex>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include "http/client.h"
#include "http/date.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server_connection.h"
#include "support/test_support.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testing::RawSocket;
using testing::StatusOf;

const std::regex kDateLine(
    R"(\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n)");

// The response with its Date line removed, for exact comparisons.
std::string WithoutDate(const std::string& response) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(response, m, kDateLine)) << response;
  return std::regex_replace(response, kDateLine, "\r\n");
}

// ---- Date ----

TEST(HttpDate, Rfc9110Example) {
  char text[32];
  EXPECT_EQ(http1::FormatHttpDate(784111777, text), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(HttpDate, NowIsCurrent) {
  char text[32];
  std::string_view now = http1::HttpDate();
  std::string_view expected = http1::FormatHttpDate(std::time(nullptr), text);
  // The same second, or the next one if the clock ticked in between.
  EXPECT_EQ(now.size(), 29u);
  EXPECT_EQ(now.substr(0, 22), expected.substr(0, 22)) << now << " vs " << expected;
}

// ---- response formatting ----

TEST(AppendResponse, OkWithJsonBodyAndDate) {
  std::string out;
  http1::Response r;
  r.body = R"({"key":"value"})";
  http1::AppendResponse(out, r);
  EXPECT_EQ(WithoutDate(out),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 15\r\n"
            "\r\n"
            R"({"key":"value"})");
}

TEST(AppendResponse, NoContentHasNoBodyHeaders) {
  std::string out;
  http1::Response r;
  r.status = 204;
  r.body = "ignored";  // a body given by mistake is not sent
  http1::AppendResponse(out, r);
  EXPECT_EQ(WithoutDate(out), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(AppendResponse, ConnectionCloseAndContentType) {
  std::string out;
  http1::Response r;
  r.status = 400;
  r.content_type = "text/plain";
  r.body = "bad request\n";
  r.close = true;
  http1::AppendResponse(out, r);
  EXPECT_EQ(WithoutDate(out),
            "HTTP/1.1 400 Bad Request\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 12\r\n"
            "Connection: close\r\n"
            "\r\n"
            "bad request\n");
}

TEST(AppendResponse, Http10KeepAliveSaysSo) {
  std::string out;
  http1::Response r;
  r.body = "[1]";
  http1::AppendResponse(out, r, {.http10 = true});
  EXPECT_EQ(WithoutDate(out),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 3\r\n"
            "Connection: keep-alive\r\n"
            "\r\n"
            "[1]");
  // Closing wins, for 1.0 as for 1.1.
  out.clear();
  r.close = true;
  http1::AppendResponse(out, r, {.http10 = true});
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("keep-alive"), std::string::npos) << out;
}

TEST(AppendResponse, HeadKeepsContentLengthDropsBody) {
  std::string out;
  http1::Response r;
  r.content_type = "text/plain";
  r.body = "SERVING\n";
  http1::AppendResponse(out, r, {.head = true});
  EXPECT_EQ(WithoutDate(out),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 8\r\n"
            "\r\n");
}

TEST(AppendResponse, ExtraHeadersAndEmptyBody) {
  std::string out;
  http1::Response r;
  r.status = 405;
  r.extra_headers = "Allow: POST\r\n";
  http1::AppendResponse(out, r);
  EXPECT_EQ(WithoutDate(out),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 0\r\n"
            "Allow: POST\r\n"
            "\r\n");
}

TEST(AppendResponse, ReasonPhrases) {
  EXPECT_EQ(http1::ReasonPhrase(200), "OK");
  EXPECT_EQ(http1::ReasonPhrase(404), "Not Found");
  EXPECT_EQ(http1::ReasonPhrase(408), "Request Timeout");
  EXPECT_EQ(http1::ReasonPhrase(413), "Content Too Large");
  EXPECT_EQ(http1::ReasonPhrase(429), "Too Many Requests");
  EXPECT_EQ(http1::ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(http1::ReasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(http1::ReasonPhrase(599), "Unknown");
}

TEST(AppendResponse, BeastParsesWhatWeSend) {
  std::string out;
  http1::Response a;
  a.body = "[1]";
  http1::AppendResponse(out, a);
  http1::Response b;
  b.status = 204;
  http1::AppendResponse(out, b);
  http1::Response c;
  c.status = 429;
  c.body = R"({"error":{"code":-32008,"message":"overloaded"}})";
  c.close = true;
  http1::AppendResponse(out, c);

  // Three pipelined responses, read back in order.
  std::string_view rest = out;
  struct Seen {
    int status;
    std::string body;
    bool keep_alive;
    bool has_date;
  } seen[3];
  for (Seen& s : seen) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(parser.is_done());
    rest.remove_prefix(used);
    s = {static_cast<int>(parser.get().result_int()), parser.get().body(), parser.get().keep_alive(),
         parser.get().find(http::field::date) != parser.get().end()};
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].body, "[1]");
  EXPECT_TRUE(seen[0].keep_alive);
  EXPECT_EQ(seen[1].status, 204);
  EXPECT_EQ(seen[1].body, "");
  EXPECT_EQ(seen[2].status, 429);
  EXPECT_EQ(seen[2].body, c.body);
  EXPECT_FALSE(seen[2].keep_alive);
  for (const Seen& s : seen) EXPECT_TRUE(s.has_date);
}

// ---- request formatting ----

TEST(AppendRequest, PostWithBody) {
  std::string out;
  http1::AppendRequestLine(out, "POST", "/v3/kv/", "127.0.0.1:2379", "range");
  http1::AppendHeader(out, "Connection", "close");
  http1::AppendHeader(out, "X-N", -12);
  http1::AppendBody(out, "application/json", "{}");
  EXPECT_EQ(out,
            "POST /v3/kv/range HTTP/1.1\r\n"
            "Host: 127.0.0.1:2379\r\n"
            "Connection: close\r\n"
            "X-N: -12\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 2\r\n"
            "\r\n"
            "{}");
}

TEST(AppendRequest, GetHasNoBodyHeaders) {
  std::string out;
  http1::AppendRequestLine(out, "GET", "/health", "h:1");
  http1::AppendBody(out, {}, {});
  EXPECT_EQ(out, "GET /health HTTP/1.1\r\nHost: h:1\r\n\r\n");
}

TEST(AppendRequest, BeastParsesWhatWeSend) {
  std::string out;
  http1::AppendRequestLine(out, "POST", "/rpc/", "127.0.0.1:1", "Echo.echo");
  http1::AppendHeader(out, "Idempotency-Key", "abc");
  http1::AppendBody(out, "application/json", R"({"a":[1,2]})");
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = parser.put(asio::buffer(out), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(used, out.size());
  EXPECT_EQ(parser.get().target(), "/rpc/Echo.echo");
  EXPECT_EQ(parser.get()["Idempotency-Key"], "abc");
  EXPECT_EQ(parser.get().body(), R"({"a":[1,2]})");
}

// ---- the client: reading answers over a loopback socket ----

// A loopback listener on its own thread that answers the first request of each
// connection with fixed bytes and then closes (or keeps) the connection.
class CannedServer {
 public:
  explicit CannedServer(std::string answer, bool close_after = true)
      : answer_(std::move(answer)), close_after_(close_after) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    endpoint_ = acceptor_.local_endpoint();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CannedServer() {
    io_.stop();
    thread_.join();
  }
  const tcp::endpoint& endpoint() const { return endpoint_; }
  asio::io_context& io() { return io_; }

  // Runs one Exchange from this server's loop, as a client would.
  http1::ClientResponse Exchange(std::string_view request, const http1::ResponseLimits& limits,
                                 std::chrono::milliseconds timeout = 2s) {
    auto run = [&]() -> asio::awaitable<http1::ClientResponse> {
      http1::ClientConnection c(co_await asio::this_coro::executor);
      const auto deadline = http1::Clock::now() + timeout;
      http1::ClientResponse failed;
      failed.error = co_await c.stream.Connect(endpoint_, deadline);
      if (failed.error) co_return failed;
      co_return co_await http1::Exchange(c, request, deadline, limits);
    };
    return asio::co_spawn(io_, run(), asio::use_future).get();
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, Answer(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> Answer(tcp::socket socket) {
    asio::streambuf request;
    auto [ec, n] = co_await asio::async_read_until(socket, request, "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    co_await asio::async_write(socket, asio::buffer(answer_), asio::as_tuple(asio::use_awaitable));
    if (close_after_) {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    } else {
      char byte;
      co_await socket.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  tcp::endpoint endpoint_;
  std::string answer_;
  bool close_after_;
  std::thread thread_;
};

constexpr std::string_view kGet = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";

TEST(HttpClient, ReadsAnAnswerAndItsReusability) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", /*close_after=*/false);
  http1::ClientResponse r = server.Exchange(kGet, {});
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_TRUE(r.sent);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.reusable);

  CannedServer closing("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  r = closing.Exchange(kGet, {});
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.reusable);

  CannedServer http10("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  r = http10.Exchange(kGet, {});
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_FALSE(r.reusable) << "HTTP/1.0 without keep-alive closes";
}

TEST(HttpClient, ChunkedAnswer) {
  CannedServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  http1::ClientResponse r = server.Exchange(kGet, {});
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.body, "abcde");
}

TEST(HttpClient, HeadLimit) {
  CannedServer server("HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'x') + "\r\nContent-Length: 0\r\n\r\n");
  http1::ClientResponse r = server.Exchange(kGet, {.head_bytes = 1024});
  EXPECT_EQ(r.error, http::error::header_limit) << r.error.message();
  EXPECT_TRUE(r.sent);
}

TEST(HttpClient, BodyLimit) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'));
  http1::ClientResponse r = server.Exchange(kGet, {.body_bytes = 99});
  EXPECT_EQ(r.error, http::error::body_limit) << r.error.message();
  r = server.Exchange(kGet, {.body_bytes = 100});
  EXPECT_FALSE(r.error) << r.error.message();
}

TEST(HttpClient, TruncatedAnswer) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part");
  http1::ClientResponse r = server.Exchange(kGet, {});
  EXPECT_EQ(r.error, http::error::partial_message) << r.error.message();
  EXPECT_TRUE(r.sent);
}

TEST(HttpClient, GarbageAnswer) {
  CannedServer server("SSH-2.0-OpenSSH_9.2\r\n\r\n");
  http1::ClientResponse r = server.Exchange(kGet, {});
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.error, http::error::partial_message) << r.error.message();
}

TEST(HttpClient, DeadlineEndsTheWait) {
  CannedServer silent("", /*close_after=*/false);
  const auto start = std::chrono::steady_clock::now();
  http1::ClientResponse r = silent.Exchange(kGet, {}, 200ms);
  EXPECT_EQ(r.error, boost::beast::error::timeout) << r.error.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// ---- the server: reading requests over a loopback socket ----

class EchoHandler : public http1::RequestHandler {
 public:
  asio::awaitable<http1::Response> Handle(const http1::Request& request) override {
    http1::Response echo;
    echo.body = request.body();
    co_return echo;
  }
  http1::Response Refuse(int status, std::string message) override {
    http1::Response refusal;
    refusal.status = status;
    refusal.body = std::move(message);
    refusal.close = true;
    return refusal;
  }
  bool Closing() override { return false; }
};

// One ServerConnection per accepted connection, on its own thread.
class ReaderServer {
 public:
  explicit ReaderServer(http1::ServerLimits limits) : limits_(limits) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ReaderServer() {
    io_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> Serve(tcp::socket socket) {
    http1::ServerConnection connection(std::move(socket), limits_);
    co_await connection.Serve(handler_);
  }

  http1::ServerLimits limits_;
  EchoHandler handler_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  std::thread thread_;
};

constexpr std::string_view kChunkedHead = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(HttpServerReader, ChunkedBodyIsAssembled) {
  ReaderServer server({});
  RawSocket s(server.port());
  ASSERT_TRUE(s.Send(std::string(kChunkedHead) + "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"));
  std::string r = s.ReadResponse(2s);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(testing::BodyOf(r), "abcde");
}

TEST(HttpServerReader, ChunkedBodyOverTheLimitIs413) {
  ReaderServer server({.max_body_bytes = 10});
  RawSocket s(server.port());
  ASSERT_TRUE(s.Send(std::string(kChunkedHead) + "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  std::string r = s.ReadResponse(2s);
  EXPECT_EQ(StatusOf(r), 413) << r;
  EXPECT_TRUE(s.WaitClosed(3s));
}

TEST(HttpServerReader, OversizedChunkExtensionIs431) {
  ReaderServer server({.max_header_bytes = 1024});
  RawSocket s(server.port());
  ASSERT_TRUE(s.Send(std::string(kChunkedHead) + "3;ext=" + std::string(4096, 'e')));
  std::string r = s.ReadResponse(2s);
  EXPECT_EQ(StatusOf(r), 431) << r;
  EXPECT_TRUE(s.WaitClosed(3s));
}

TEST(HttpServerReader, OversizedTrailerIs431) {
  ReaderServer server({.max_header_bytes = 1024});
  RawSocket s(server.port());
  ASSERT_TRUE(s.Send(std::string(kChunkedHead) + "3\r\nabc\r\n0\r\nX-T: " + std::string(4096, 't')));
  std::string r = s.ReadResponse(2s);
  EXPECT_EQ(StatusOf(r), 431) << r;
}

TEST(HttpServerReader, ExtensionJustBelowTheLimitPasses) {
  ReaderServer server({.max_header_bytes = 1024});
  RawSocket s(server.port());
  ASSERT_TRUE(s.Send(std::string(kChunkedHead) + "3;e=" + std::string(900, 'e') + "\r\nabc\r\n0\r\n\r\n"));
  std::string r = s.ReadResponse(2s);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(testing::BodyOf(r), "abc");
}

TEST(HttpServerReader, Http10KeepAliveAndClose) {
  ReaderServer server({});
  RawSocket s(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.Send("POST /x HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n" + std::to_string(i)));
    std::string r = s.ReadResponse(2s);
    EXPECT_EQ(StatusOf(r), 200) << r;
    EXPECT_NE(r.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << r;
    EXPECT_EQ(testing::BodyOf(r), std::to_string(i));
  }
  ASSERT_TRUE(s.Send("POST /x HTTP/1.0\r\nContent-Length: 1\r\n\r\nz"));
  std::string r = s.ReadResponse(2s);
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
  EXPECT_TRUE(s.WaitClosed(3s));
}

}  // namespace
}  // namespace harpc
