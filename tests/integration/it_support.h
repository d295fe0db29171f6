// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the integration tests: hand-written HTTP requests, a
// "healthy client" probe, Prometheus scraping, an in-process server with
// test methods, and a port that refuses connections.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/server.h"
#include "support/test_support.h"

namespace harpc::testing::it {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// "POST <path> HTTP/1.1" with Content-Length, keep-alive (HTTP/1.1 default).
inline std::string Post(std::string_view path, std::string_view body, std::string_view extra_headers = "") {
  std::string r = "POST " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

inline std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra_headers) + "\r\n";
}

// One request on a fresh connection; the raw response ("" on failure).
inline std::string RoundTrip(int port, std::string_view request, std::chrono::milliseconds timeout = 5s) {
  RawSocket s(port);
  if (!s.connected() || !s.Send(request)) return {};
  return s.ReadResponse(timeout);
}

// The value of header `name` (case-insensitive) in a raw response, or nullopt.
inline std::optional<std::string> HeaderOf(const std::string& response, std::string_view name) {
  std::string head = response.substr(0, response.find("\r\n\r\n"));
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n" + std::string(name) + ":";
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto p = lower.find(key);
  if (p == std::string::npos) return std::nullopt;
  auto start = p + key.size();
  auto end = head.find("\r\n", start);
  std::string v = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

// Parses a JSON body; null (and a test failure) when it is not JSON.
inline json::value ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON: '" << text << "': " << ec.message();
    return nullptr;
  }
  return v;
}

// The JSON-RPC / plain error code in {"error":{"code":N}} (or a JSON-RPC
// response object), 0 when there is none.
inline int64_t ErrorCodeOf(const json::value& v) {
  if (!v.is_object()) return 0;
  const json::value* e = v.as_object().if_contains("error");
  if (!e || !e->is_object()) return 0;
  const json::value* c = e->as_object().if_contains("code");
  return c && c->is_int64() ? c->as_int64() : 0;
}

// A healthy client on its own connection: POST /rpc/Echo.echo must answer 200
// with the echoed body within `within`. Used by the bad-input tests to show
// that other clients are still served while one misbehaves.
inline ::testing::AssertionResult HealthyCallServed(int port, std::chrono::milliseconds within = 1000ms) {
  const auto start = Clock::now();
  const std::string body = R"({"probe":"healthy"})";
  std::string r = RoundTrip(port, Post("/rpc/Echo.echo", body), within);
  auto took = Since(start);
  if (StatusOf(r) != 200 || BodyOf(r) != body) {
    return ::testing::AssertionFailure() << "healthy call not served: '" << r << "' after " << took.count() << " ms";
  }
  if (took > within) return ::testing::AssertionFailure() << "healthy call took " << took.count() << " ms";
  return ::testing::AssertionSuccess();
}

// The value of one Prometheus sample (exact name with labels, e.g.
// `harpc_server_requests_total{method="Echo.echo",code="OK"}`), or nullopt.
inline std::optional<double> MetricValue(const std::string& text, std::string_view sample) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.size() > sample.size() && line.substr(0, sample.size()) == sample && line[sample.size()] == ' ') {
      return std::stod(std::string(line.substr(sample.size() + 1)));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

inline std::string Scrape(int port) { return BodyOf(RoundTrip(port, Get("/metrics"))); }

// /status as JSON (null if the server did not answer).
inline json::value StatusJson(int port) {
  std::string r = RoundTrip(port, Get("/status"), 2s);
  if (StatusOf(r) != 200) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(BodyOf(r), ec);
  return ec ? json::value(nullptr) : v;
}

inline int64_t StatusField(int port, std::string_view field) {
  json::value v = StatusJson(port);
  if (!v.is_object()) return -1;
  const json::value* f = v.as_object().if_contains(field);
  if (!f) return -1;
  if (f->is_int64()) return f->as_int64();
  if (f->is_uint64()) return static_cast<int64_t>(f->as_uint64());
  return -1;
}

// The "requests" count of one method in /status, -1 if unknown.
inline int64_t MethodRequests(int port, std::string_view method) {
  json::value v = StatusJson(port);
  if (!v.is_object()) return -1;
  const json::value* methods = v.as_object().if_contains("methods");
  if (!methods || !methods->is_array()) return -1;
  for (const json::value& m : methods->as_array()) {
    if (m.is_object() && m.as_object().contains("name") && m.at("name").is_string() &&
        m.at("name").as_string() == method) {
      const json::value& n = m.at("requests");
      return n.is_int64() ? n.as_int64() : (n.is_uint64() ? static_cast<int64_t>(n.as_uint64()) : -1);
    }
  }
  return -1;
}

// A loopback port that refuses connections: bound but never listening, so
// nobody else can take it while the object lives.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      socklen_t len = sizeof addr;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// An in-process server with the echo method and methods that only tests need:
//   Echo.echo   params back (the default method too)
//   Test.add    {"a":int,"b":int} -> a+b; anything else INVALID_ARGUMENT
//   Test.shape  params.as_object() on whatever came: wrong shape must be -32602
//   Test.throw  throws std::runtime_error (INTERNAL, -32603)
//   Test.sleep  coroutine: waits params.ms (capped at 2 s) then answers {"slept":ms}
class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}) {
    options.handle_signals = false;  // the test process keeps its own signal handling
    if (options.threads == 0) options.threads = 1;
    server_ = std::make_unique<Server>(options);
    EXPECT_TRUE(server_
                    ->AddMethod("Echo.echo", [](const json::value& p, CallContext&) -> Result { return p; },
                                {.idempotent = true})
                    .ok());
    EXPECT_TRUE(server_->SetDefaultMethod("Echo.echo").ok());
    EXPECT_TRUE(server_
                    ->AddMethod("Test.add",
                                [](const json::value& p, CallContext&) -> Result {
                                  const json::object* o = p.if_object();
                                  if (!o) return InvalidArgument("params must be an object {\"a\":int,\"b\":int}");
                                  const json::value* a = o->if_contains("a");
                                  const json::value* b = o->if_contains("b");
                                  if (!a || !b || !a->is_int64() || !b->is_int64()) {
                                    return InvalidArgument("params \"a\" and \"b\" must be integers");
                                  }
                                  return json::value(a->as_int64() + b->as_int64());
                                })
                    .ok());
    EXPECT_TRUE(server_
                    ->AddMethod("Test.shape",
                                [](const json::value& p, CallContext&) -> Result {
                                  return json::value(static_cast<int64_t>(p.as_object().size()));
                                })
                    .ok());
    EXPECT_TRUE(server_
                    ->AddMethod("Test.throw",
                                [](const json::value&, CallContext&) -> Result { throw std::runtime_error("boom"); })
                    .ok());
    EXPECT_TRUE(server_
                    ->AddAsyncMethod("Test.sleep",
                                     [](json::value p, CallContext& ctx) -> boost::asio::awaitable<Result> {
                                       int64_t ms = 0;
                                       if (const json::object* o = p.if_object()) {
                                         if (const json::value* v = o->if_contains("ms"); v && v->is_int64())
                                           ms = v->as_int64();
                                       }
                                       ms = std::clamp<int64_t>(ms, 0, 2000);
                                       boost::asio::steady_timer timer(ctx.executor(), std::chrono::milliseconds(ms));
                                       co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                                       co_return json::value(json::object{{"slept", ms}});
                                     })
                    .ok());
    Status s = server_->Start("127.0.0.1:0");
    EXPECT_TRUE(s.ok()) << s;
    address_ = server_->address();
    port_ = std::stoi(address_.substr(address_.rfind(':') + 1));
  }
  ~TestServer() {
    server_->Shutdown();
    server_->Wait();
  }
  const std::string& address() const { return address_; }
  int port() const { return port_; }

 private:
  std::unique_ptr<Server> server_;
  std::string address_;
  int port_ = 0;
};

}  // namespace harpc::testing::it
