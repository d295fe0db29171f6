// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The client's connections to one endpoint (http/connection_pool.h): calls
// in flight share a few keep-alive connections with HTTP/1.1 pipelining.
// Against a scripted server on loopback that records what arrives together,
// and against `harpc serve`.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/error.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "http/connection_pool.h"
#include "http/request.h"
#include "it_support.h"

namespace harpc::testing::it {
namespace {

namespace asio = boost::asio;

// What the scripted server does with one request.
struct Reply {
  std::string status_line = "HTTP/1.1 200 OK";
  bool close = false;  // "Connection: close", then close the connection
  bool hang = false;   // never answer (the connection stays open)
};

// A loopback HTTP server that answers each request with its own body (an
// echo), as `script` says, and records how requests arrived: how many
// connections, how many requests it ran, and the most that were already
// complete in its buffer at once (more than one: they were pipelined).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<Reply(const std::string& body)> script)
      : script_(std::move(script)), listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::listen(listener_, 64) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1: " << std::system_category().message(errno);
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    ::close(listener_);
  }

  asio::ip::tcp::endpoint endpoint() const {
    return {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)};
  }
  int connections() const { return connections_; }
  int requests_run() const { return requests_run_; }
  int most_at_once() const { return most_at_once_; }

 private:
  void Accept() {
    for (int i = 0; i < 1000 && !stopping_; ++i) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      open_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Complete requests at the start of `in` (head, then Content-Length bytes).
  static std::vector<std::string> TakeRequests(std::string& in) {
    std::vector<std::string> bodies;
    for (;;) {
      size_t head_end = in.find("\r\n\r\n");
      if (head_end == std::string::npos) break;
      size_t length = 0;
      if (size_t at = in.find("Content-Length: "); at != std::string::npos && at < head_end) {
        length = std::stoul(in.substr(at + 16));
      }
      if (in.size() < head_end + 4 + length) break;
      bodies.push_back(in.substr(head_end + 4, length));
      in.erase(0, head_end + 4 + length);
    }
    return bodies;
  }

  void Serve(int fd) {
    std::string in;
    char chunk[65536];
    for (int reads = 0; reads < 100000; ++reads) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      in.append(chunk, static_cast<size_t>(n));
      std::vector<std::string> bodies = TakeRequests(in);
      most_at_once_ = std::max<int>(most_at_once_, static_cast<int>(bodies.size()));
      for (const std::string& body : bodies) {
        ++requests_run_;
        Reply r = script_(body);
        if (r.hang) continue;
        std::string out = r.status_line +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n" + (r.close ? "Connection: close\r\n" : "") + "\r\n" + body;
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (r.close) {
          ::shutdown(fd, SHUT_RDWR);  // what came behind it is not run
          return;
        }
      }
    }
  }

  std::function<Reply(const std::string&)> script_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0}, requests_run_{0}, most_at_once_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> workers_;
};

std::string RequestFor(const std::string& body) {
  std::string out;
  http1::AppendRequestLine(out, "POST", "/rpc/Echo.echo", "127.0.0.1");
  http1::AppendBody(out, "application/json", body);
  return out;
}

// Every exchange answered without error, each with its own request's body.
void ExpectEachAnsweredWithItsOwnBody(const std::vector<http1::ClientResponse>& responses,
                                      const std::vector<std::string>& bodies) {
  ASSERT_EQ(responses.size(), bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_FALSE(responses[i].error) << i << ": " << responses[i].error.message();
    EXPECT_EQ(responses[i].body, bodies[i]) << "answer " << i << " matched to the wrong request";
  }
}

// A pool of at most one connection (and more only when it is 8 deep) to `endpoint`, on a loop of its own.
struct OneConnectionPool {
  explicit OneConnectionPool(const asio::ip::tcp::endpoint& endpoint)
      : pool(io.get_executor(), endpoint, {.connections = 1, .depth = 8}, plaintext) {}
  asio::io_context io;
  ClientSecurity plaintext;
  ConnectionPool pool;

  // Runs one exchange per body at once, each with `timeout`, and returns their responses.
  std::vector<http1::ClientResponse> ExchangeAll(const std::vector<std::string>& bodies,
                                                 std::chrono::milliseconds timeout = 5s) {
    std::vector<http1::ClientResponse> out(bodies.size());
    std::vector<std::shared_ptr<http1::PendingRequest>> pending(bodies.size());
    size_t done = 0;
    for (size_t i = 0; i < bodies.size(); ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            out[i] = co_await pool.Exchange(RequestFor(bodies[i]), Clock::now() + timeout, {}, &pending[i]);
            ++done;
          },
          asio::detached);
    }
    const auto give_up = Clock::now() + timeout + 5s;
    while (done < bodies.size() && Clock::now() < give_up) {
      io.restart();  // run_for stops the context whenever it runs out of work
      io.run_for(10ms);
    }
    EXPECT_EQ(done, bodies.size()) << "exchanges still waiting";
    return out;
  }
};

std::vector<std::string> Numbered(int n) {
  std::vector<std::string> bodies;
  for (int i = 0; i < n; ++i) bodies.push_back(R"({"n":)" + std::to_string(i) + "}");
  return bodies;
}

TEST(Pipelining, RequestsShareAConnectionOnceTheServerProvedHttp11) {
  ScriptedServer server([](const std::string&) { return Reply{}; });
  OneConnectionPool p(server.endpoint());
  const auto bodies = Numbered(8);
  const auto responses = p.ExchangeAll(bodies);
  ExpectEachAnsweredWithItsOwnBody(responses, bodies);
  for (const auto& r : responses) EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests_run(), 8);
  // The first request went alone; the seven queued behind it went out together.
  EXPECT_GT(server.most_at_once(), 1);
}

TEST(Pipelining, RequestsBehindAConnectionCloseAreSentAgainElsewhere) {
  std::atomic<int> seen{0};
  // The third request run is answered with "Connection: close": the server
  // runs nothing else it read on that connection.
  ScriptedServer server([&](const std::string&) { return Reply{.close = ++seen == 3}; });
  OneConnectionPool p(server.endpoint());
  const auto bodies = Numbered(8);
  const auto responses = p.ExchangeAll(bodies);
  ExpectEachAnsweredWithItsOwnBody(responses, bodies);
  EXPECT_EQ(server.requests_run(), 8) << "each request ran exactly once";
  EXPECT_EQ(server.connections(), 2);
}

TEST(Pipelining, AnHttp10ServerGetsOneRequestPerConnection) {
  ScriptedServer server([](const std::string&) { return Reply{.status_line = "HTTP/1.0 200 OK", .close = true}; });
  OneConnectionPool p(server.endpoint());
  const auto bodies = Numbered(5);
  const auto responses = p.ExchangeAll(bodies);
  ExpectEachAnsweredWithItsOwnBody(responses, bodies);
  EXPECT_EQ(server.requests_run(), 5);
  EXPECT_EQ(server.connections(), 5);
  EXPECT_EQ(server.most_at_once(), 1) << "a request was pipelined to a server that never proved it keeps connections";
}

TEST(Pipelining, ACallerThatGivesUpTakesItsConnectionOutOfUse) {
  ScriptedServer server([](const std::string& body) { return Reply{.hang = body.find("hang") != std::string::npos}; });
  OneConnectionPool p(server.endpoint());
  // Prove the connection first, so that the hung request is pipelined on it.
  ASSERT_FALSE(p.ExchangeAll({R"({"warm":1})"})[0].error);
  const auto hung = p.ExchangeAll({R"({"hang":1})"}, 100ms);
  EXPECT_EQ(hung[0].error, boost::beast::error::timeout);
  EXPECT_TRUE(hung[0].sent);
  // Nobody waits on that connection any more: it is closed, and the next
  // request goes on a new one instead of queueing behind the silence.
  const auto after = p.ExchangeAll({R"({"after":1})"}, 2s);
  EXPECT_FALSE(after[0].error) << after[0].error.message();
  EXPECT_EQ(after[0].body, R"({"after":1})");
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(p.pool.connections(), 1u);
}

TEST(Pipelining, ARefusedConnectFailsEveryRequestAsNotSent) {
  RefusingPort refusing;
  OneConnectionPool p({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(refusing.port())});
  for (const auto& r : p.ExchangeAll(Numbered(3))) {
    EXPECT_TRUE(r.connect_failed);
    EXPECT_EQ(r.error, asio::error::connection_refused) << r.error.message();
    EXPECT_FALSE(r.sent);
  }
}

TEST(Pipelining, SixtyFourCallsInFlightShareFourConnectionsOfHarpcServeWhenAsked) {
  ServeProcess serve = StartServe({"--threads", "1"});
  ASSERT_GT(serve.port, 0);
  ChannelOptions options;
  options.health.interval = 0ms;  // no probes: every connection is the calls'
  options.timeout = 10s;
  options.pipeline.depth = 16;
  Channel channel("127.0.0.1:" + std::to_string(serve.port), options);
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 64; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) ok += channel.Call("Echo.echo", json::value{{"t", t}, {"i", i}}).ok() ? 1 : 0;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok, 64 * 20);
  const std::string metrics = Scrape(serve.port);
  // The calls' connections (4 by default, a few more while a burst
  // outgrows them), and the scrape's own.
  EXPECT_LE(MetricValue(metrics, "harpc_server_connections_accepted_total").value_or(1000), 4 + 4 + 1) << metrics;
}

}  // namespace
}  // namespace harpc::testing::it
