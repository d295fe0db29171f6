// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Bad input never crashes a server nor stalls others (docs/protocol.md): each test
// sends one kind of bad input on one connection and checks both the answer to
// it and that a healthy client on another connection is served meanwhile.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

// Starts `harpc serve` with `args` and two event-loop threads.
ServeProcess Serve(std::vector<std::string> args = {}) {
  args.insert(args.end(), {"--threads", "2"});
  return StartServe(args);
}

// Waits `ms` for the peer to answer; true if something (data or EOF) arrived.
// This is the drip interval of slow clients: the slowness is the behaviour
// under test, and waiting on the socket also notices an early answer.
bool PeerSpokeWithin(const RawSocket& s, int ms) {
  pollfd pfd{s.fd(), POLLIN, 0};
  return ::poll(&pfd, 1, ms) > 0;
}

// Closes with a TCP reset instead of a FIN.
void ResetConnection(RawSocket& s) {
  linger l{1, 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  s.Close();
}

// The server is alive and leaks no connection: after the bad ones are closed,
// only the scraping connection itself is open.
void ExpectNoConnectionLeft(int port) {
  double open = -1;
  EXPECT_TRUE(PollUntil(
      [&] {
        open = MetricValue(Scrape(port), "harpc_server_connections").value_or(-1);
        return open == 1;
      },
      5s))
      << "connections still open: " << open;
}

void ExpectErrorAndClose(RawSocket& s, int status, std::chrono::milliseconds within = 3s) {
  std::string r = s.ReadResponse(within);
  EXPECT_EQ(StatusOf(r), status) << r;
  json::value v = ParseJson(BodyOf(r));
  EXPECT_TRUE(v.is_object() && v.as_object().contains("error")) << r;
  EXPECT_EQ(HeaderOf(r, "Connection").value_or(""), "close") << r;
  EXPECT_TRUE(HeaderOf(r, "Date").has_value()) << "every answer carries a Date: " << r;
  EXPECT_TRUE(s.WaitClosed(within)) << "the connection must be closed after a " << status;
}

// User plus system CPU time of process `pid` so far (/proc/PID/stat), in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after its ')'.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST(ItBadInput, MalformedRequestLineGets400AndClose) {
  ServeProcess serve = Serve();
  for (std::string_view bad :
       {"GARBAGE\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET\r\n\r\n", "POST /rpc HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /health  HTTP/1.1\r\n\r\n", "\r\n\r\nGET /health HTTP/1.1\r\nBad Header: x\r\n\r\n"}) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send(bad));
    std::string r = s.ReadResponse(3s);
    EXPECT_EQ(StatusOf(r), 400) << "'" << bad << "' -> " << r;
    EXPECT_TRUE(s.WaitClosed(3s)) << bad;
    EXPECT_TRUE(HealthyCallServed(serve.port));
  }
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, BadHttpVersionIsRefusedAndClosed) {
  ServeProcess serve = Serve();
  // A well-formed version this server does not speak is a 505; a version
  // token that is not one at all is a malformed request, 400.
  for (auto [version, status] : {std::pair<std::string_view, int>{"HTTP/2.0", 505},
                                 {"HTTP/0.9", 505},
                                 {"HTTX/1.1", 400},
                                 {"HTTP/1.1x", 400},
                                 {"http/1.1", 400},
                                 {"HTTP/1", 400}}) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("GET /health " + std::string(version) + "\r\nHost: x\r\n\r\n"));
    std::string r = s.ReadResponse(3s);
    EXPECT_EQ(StatusOf(r), status) << version << " -> " << r;
    EXPECT_TRUE(s.WaitClosed(3s)) << version;
    EXPECT_TRUE(HealthyCallServed(serve.port));
  }
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, GarbageBytesGet400AndClose) {
  ServeProcess serve = Serve();
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage += static_cast<char>((i * 37 + 11) % 256);
  RawSocket s(serve.port);
  ASSERT_TRUE(s.Send(garbage));
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ExpectErrorAndClose(s, 400);
  std::string nuls(64, '\0');
  RawSocket s2(serve.port);
  ASSERT_TRUE(s2.Send(nuls + "\r\n\r\n"));
  ExpectErrorAndClose(s2, 400);
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, BadContentLengthGets400) {
  ServeProcess serve = Serve();
  for (std::string_view cl :
       {"Content-Length: abc\r\n", "Content-Length: -5\r\n", "Content-Length: 2\r\nContent-Length: 3\r\n",
        "Content-Length: 2, 3\r\n", "Content-Length: 99999999999999999999999\r\n"}) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\n" + std::string(cl) + "\r\n{}"));
    std::string r = s.ReadResponse(3s);
    // An absurdly large length may be refused as too large (413) instead.
    EXPECT_TRUE(StatusOf(r) == 400 || (cl.find("999") != std::string_view::npos && StatusOf(r) == 413))
        << cl << " -> " << r;
    EXPECT_TRUE(s.WaitClosed(3s)) << cl;
    EXPECT_TRUE(HealthyCallServed(serve.port));
  }
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, TransferEncodingOtherThanChunkedGets400AndClose) {
  ServeProcess serve = Serve();
  // Without chunked as the final coding the body length is unknown (RFC 9112
  // §6.3): the body must not be taken for a next request (request smuggling).
  const std::string smuggled = Post("/rpc/Echo.echo", R"({"smuggled":true})");
  for (std::string_view te : {"gzip", "chunked, identity", "identity"}) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + std::string(te) + "\r\n\r\n" +
                       smuggled));
    std::string r = s.ReadResponse(3s);
    EXPECT_EQ(StatusOf(r), 400) << te << " -> " << r;
    EXPECT_TRUE(s.WaitClosed(3s)) << te;
    EXPECT_EQ(s.ReadResponse(100ms), "");
    EXPECT_TRUE(HealthyCallServed(serve.port));
  }
  // Content-Length together with chunked is refused as well.
  RawSocket both(serve.port);
  ASSERT_TRUE(
      both.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"));
  ExpectErrorAndClose(both, 400);
  // Neither smuggled request ever reached the method.
  EXPECT_EQ(MethodRequests(serve.port, "Echo.echo"), 3) << "only the three healthy calls";
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, OversizedHeadersGet431) {
  ServeProcess serve = Serve({"--max-header-bytes", "1024"});
  // Just under the limit is fine...
  std::string r = RoundTrip(serve.port, Post("/rpc/Echo.echo", "{}", "X-Pad: " + std::string(700, 'a') + "\r\n"));
  EXPECT_EQ(StatusOf(r), 200) << r;
  // ...above it, many small headers or one huge one, is not.
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": 0123456789\r\n";
  for (const std::string& headers : {"X-Pad: " + std::string(4000, 'a') + "\r\n", many}) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "{}", headers)));
    EXPECT_TRUE(HealthyCallServed(serve.port));
    ExpectErrorAndClose(s, 431);
  }
  // A head that never ends is refused as soon as it passes the limit.
  RawSocket endless(serve.port);
  ASSERT_TRUE(endless.Send("GET /health HTTP/1.1\r\nX-Endless: " + std::string(2000, 'b')));
  ExpectErrorAndClose(endless, 431);
  ExpectNoConnectionLeft(serve.port);
}

// A chunk extension or trailer that never ends used to fill the read buffer and
// spin the connection's loop (0-byte reads) until the body timeout.
TEST(ItBadInput, EndlessChunkExtensionOrTrailerGets431AtOnce) {
  ServeProcess serve = Serve();
  const std::string head = "POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& flood :
       {"2;ext=" + std::string(200 * 1024, 'e'), "2\r\n{}\r\n0\r\nX-Trailer: " + std::string(200 * 1024, 't')}) {
    const double cpu_before = CpuSeconds(serve.process.pid());
    const auto start = Clock::now();
    RawSocket s(serve.port);
    // The server may refuse before it has read everything: a failed send is fine.
    s.Send(head + flood);
    std::string r = s.ReadResponse(5s);
    EXPECT_EQ(StatusOf(r), 431) << r.substr(0, 300);
    EXPECT_LT(Since(start), 2s);
    EXPECT_TRUE(HeaderOf(r, "Date").has_value()) << r;
    EXPECT_TRUE(s.WaitClosed(5s));
    EXPECT_LT(CpuSeconds(serve.process.pid()) - cpu_before, 0.3) << "the server spun on the flood";
  }
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, OversizedBodyGets413BeforeTheBodyIsSent) {
  ServeProcess serve = Serve({"--max-body-bytes", "1000"});
  RawSocket s(serve.port);
  // Only the head: the answer must come without the server waiting for the body.
  ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  const auto start = Clock::now();
  std::string r = s.ReadResponse(3s);
  EXPECT_LT(Since(start), 1s);
  ASSERT_EQ(StatusOf(r), 413) << r;
  EXPECT_EQ(HeaderOf(r, "Connection").value_or(""), "close");
  EXPECT_TRUE(HealthyCallServed(serve.port));
  EXPECT_TRUE(s.WaitClosed(5s));
  // A client that asks first (Expect: 100-continue) gets the 413, not a 100.
  RawSocket asking(serve.port);
  ASSERT_TRUE(
      asking.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  "Content-Length: 5000\r\n\r\n"));
  ExpectErrorAndClose(asking, 413);
  // A body at the limit passes; a chunked body that grows past it is refused too.
  std::string at_limit = "\"" + std::string(998, 'z') + "\"";
  EXPECT_EQ(StatusOf(RoundTrip(serve.port, Post("/rpc/Echo.echo", at_limit))), 200);
  RawSocket chunked(serve.port);
  ASSERT_TRUE(
      chunked.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "7d0\r\n" +
                   std::string(2000, 'c') + "\r\n0\r\n\r\n"));
  ExpectErrorAndClose(chunked, 413);
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, TruncatedRequestClosedMidBodyLeavesServerHealthy) {
  ServeProcess serve = Serve();
  for (int i = 0; i < 20; ++i) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"partial\":"));
    if (i == 0) {  // while the half request is pending
      EXPECT_TRUE(HealthyCallServed(serve.port));
    }
    s.Close();  // FIN in the middle of the body
  }
  // And one closed in the middle of the head.
  {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Le"));
    s.Close();
  }
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ExpectNoConnectionLeft(serve.port);
  EXPECT_TRUE(serve.process.running());
}

TEST(ItBadInput, AbruptResetMidBodyLeavesServerHealthy) {
  ServeProcess serve = Serve({"--delay-ms", "100"});
  for (int i = 0; i < 20; ++i) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[1,2,"));
    ResetConnection(s);
  }
  // A reset while the call is being handled (the answer has nowhere to go).
  for (int i = 0; i < 5; ++i) {
    RawSocket s(serve.port);
    ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "{}")));
    ASSERT_TRUE(PollUntil([&] { return MethodRequests(serve.port, "Echo.echo") == i + 1; }, 2s));
    ResetConnection(s);
  }
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ExpectNoConnectionLeft(serve.port);
  EXPECT_TRUE(serve.process.running());
}

TEST(ItBadInput, SlowDripHeaderGets408WithinHeaderTimeout) {
  ServeProcess serve = Serve({"--header-timeout-ms", "500"});
  RawSocket s(serve.port);
  const std::string head =
      "POST /rpc/Echo.echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(100, 's') + "\r\n";
  const auto start = Clock::now();
  bool answered = false;
  size_t sent = 0;
  // One byte every ~100 ms: the head would take > 10 s; bounded by its length.
  for (; sent < head.size() && Since(start) < 5s; ++sent) {
    if (!s.Send(head.substr(sent, 1))) break;  // the server closed already
    if (sent == 3) {
      EXPECT_TRUE(HealthyCallServed(serve.port, 300ms));
    }
    if (PeerSpokeWithin(s, 100)) {
      answered = true;
      break;
    }
  }
  EXPECT_TRUE(answered) << "no answer after " << sent << " bytes";
  std::string r = s.ReadResponse(2s);
  auto took = Since(start);
  EXPECT_EQ(StatusOf(r), 408) << r;
  EXPECT_TRUE(s.WaitClosed(3s));
  EXPECT_GE(took, 400ms) << "the dripping client was cut off before its time";
  EXPECT_LT(took, 1500ms) << "the header timeout was not enforced promptly";
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, SlowBodyGets408WithinBodyTimeout) {
  ServeProcess serve = Serve({"--body-timeout-ms", "500"});
  RawSocket s(serve.port);
  ASSERT_TRUE(s.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"));
  const auto start = Clock::now();
  bool answered = false;
  // One body byte every ~100 ms: 200 bytes would take 20 s.
  for (int i = 0; i < 200 && Since(start) < 5s; ++i) {
    if (!s.Send(" ")) break;
    if (i == 2) {
      EXPECT_TRUE(HealthyCallServed(serve.port, 300ms));
    }
    if (PeerSpokeWithin(s, 100)) {
      answered = true;
      break;
    }
  }
  EXPECT_TRUE(answered);
  std::string r = s.ReadResponse(2s);
  auto took = Since(start);
  EXPECT_EQ(StatusOf(r), 408) << r;
  EXPECT_TRUE(s.WaitClosed(3s));
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 1500ms);
  ExpectNoConnectionLeft(serve.port);
}

TEST(ItBadInput, IdleConnectionClosedAfterIdleTimeout) {
  ServeProcess serve = Serve({"--idle-timeout-ms", "400"});
  RawSocket used(serve.port);
  ASSERT_TRUE(used.Send(Post("/rpc/Echo.echo", "{}")));
  ASSERT_EQ(StatusOf(used.ReadResponse(3s)), 200);
  auto start = Clock::now();
  RawSocket silent(serve.port);  // never sends a byte
  ASSERT_TRUE(silent.connected());
  // A connection that keeps working is not idle: 6 requests over ~600 ms.
  RawSocket busy(serve.port);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(busy.Send(Post("/rpc/Echo.echo", "{}")));
    ASSERT_EQ(StatusOf(busy.ReadResponse(3s)), 200);
    EXPECT_FALSE(PeerSpokeWithin(busy, 100));  // deliberate pause between requests, below the idle timeout
  }
  EXPECT_TRUE(used.WaitClosed(3s));
  EXPECT_TRUE(silent.WaitClosed(3s));
  auto took = Since(start);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_TRUE(HealthyCallServed(serve.port));
  ASSERT_TRUE(busy.Send(Post("/rpc/Echo.echo", "{}")));
  EXPECT_EQ(StatusOf(busy.ReadResponse(3s)), 200) << "a busy connection must not be idled out";
}

TEST(ItBadInput, InvalidJsonAnswersErrorAndKeepsConnection) {
  ServeProcess serve = Serve();
  RawSocket s(serve.port);
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "{not json")));
  std::string r = s.ReadResponse(3s);
  ASSERT_EQ(StatusOf(r), 400) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32700);
  ASSERT_TRUE(s.Send(Post("/rpc", "{\"a\":")));
  r = s.ReadResponse(3s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32700);
  // Deeply nested JSON is refused, not a stack overflow.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  ASSERT_TRUE(s.Send(Post("/rpc", deep)));
  r = s.ReadResponse(5s);
  ASSERT_EQ(StatusOf(r), 200) << r.substr(0, 300);
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32700);
  // The connection is still in step.
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "[\"still here\"]")));
  EXPECT_EQ(BodyOf(s.ReadResponse(3s)), "[\"still here\"]");
  EXPECT_TRUE(HealthyCallServed(serve.port));
}

TEST(ItBadInput, InvalidJsonRpcAnswers32600AndKeepsConnection) {
  ServeProcess serve = Serve();
  RawSocket s(serve.port);
  for (std::string_view body : {R"({"jsonrpc":"2.0","method":5,"id":1})", R"({"jsonrpc":"2.0","id":1})",
                                R"({"jsonrpc":"2.0","method":"Echo.echo","params":3,"id":1})",
                                R"({"jsonrpc":"2.0","method":"Echo.echo","params":"s","id":1})", R"([1,2,3])"}) {
    ASSERT_TRUE(s.Send(Post("/rpc", body)));
    std::string r = s.ReadResponse(3s);
    ASSERT_EQ(StatusOf(r), 200) << body << " -> " << r;
    json::value v = ParseJson(BodyOf(r));
    if (v.is_array()) {
      ASSERT_EQ(v.as_array().size(), 3u);
      for (const auto& e : v.as_array()) EXPECT_EQ(ErrorCodeOf(e), -32600) << v;
    } else {
      EXPECT_EQ(ErrorCodeOf(v), -32600) << body << " -> " << v;
    }
  }
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "1")));
  EXPECT_EQ(BodyOf(s.ReadResponse(3s)), "1");
  EXPECT_TRUE(HealthyCallServed(serve.port));
}

TEST(ItBadInput, ConnectionsAboveMaxConnectionsGet503AndClose) {
  ServeProcess serve = Serve({"--max-connections", "5"});
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<RawSocket>(serve.port));
    ASSERT_TRUE(held.back()->Send(Post("/rpc/Echo.echo", std::to_string(i))));
    ASSERT_EQ(BodyOf(held.back()->ReadResponse(3s)), std::to_string(i)) << "connection " << i;
  }
  RawSocket sixth(serve.port);
  ASSERT_TRUE(sixth.connected());  // the kernel accepts; the server answers 503
  std::string r = sixth.ReadResponse(3s);
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_EQ(HeaderOf(r, "Connection").value_or(""), "close");
  EXPECT_TRUE(HeaderOf(r, "Date").has_value()) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32008) << r;
  EXPECT_TRUE(sixth.WaitClosed(3s));
  // The five are still served.
  for (auto& s : held) {
    ASSERT_TRUE(s->Send(Post("/rpc/Echo.echo", "[]")));
    EXPECT_EQ(StatusOf(s->ReadResponse(3s)), 200);
  }
  // Once one leaves, a newcomer is admitted (poll: the server notices the close).
  held.pop_back();
  std::string last;
  EXPECT_TRUE(PollUntil(
      [&] {
        last = RoundTrip(serve.port, Post("/rpc/Echo.echo", "\"in\""), 2s);
        return StatusOf(last) == 200;
      },
      5s))
      << last;
  EXPECT_EQ(BodyOf(last), "\"in\"");
  std::string m;
  // The rejected count is in the metrics (scraped over a held connection: no room for another).
  ASSERT_TRUE(held[0]->Send(Get("/metrics")));
  m = BodyOf(held[0]->ReadResponse(3s));
  EXPECT_GE(MetricValue(m, "harpc_server_connections_rejected_total").value_or(-1), 1) << m;
}

TEST(ItBadInput, MaxConcurrencyRejectsSecondConcurrentCallWith429) {
  ServeProcess serve = Serve({"--max-concurrency", "1", "--delay-ms", "300"});
  RawSocket first(serve.port);
  ASSERT_TRUE(first.Send(Post("/rpc/Echo.echo", R"({"first":1})")));
  ASSERT_TRUE(PollUntil([&] { return StatusField(serve.port, "in_flight") == 1; }, 2s));
  const auto start = Clock::now();
  std::string r = RoundTrip(serve.port, Post("/rpc/Echo.echo", R"({"second":2})"));
  EXPECT_LT(Since(start), 250ms) << "the second call must be refused at once, not queued";
  ASSERT_EQ(StatusOf(r), 429) << r;
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32008) << r;
  // JSON-RPC form: HTTP 200 with the error.
  r = RoundTrip(serve.port, Post("/rpc", R"({"jsonrpc":"2.0","method":"Echo.echo","id":2})"));
  EXPECT_EQ(ErrorCodeOf(ParseJson(BodyOf(r))), -32008) << r;
  r = first.ReadResponse(3s);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), R"({"first":1})");
  // Free again.
  EXPECT_EQ(StatusOf(RoundTrip(serve.port, Post("/rpc/Echo.echo", "{}"))), 200);
}

}  // namespace
}  // namespace harpc::testing::it
