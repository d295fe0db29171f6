// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Trace context across processes and hops: a traceparent from a plain
// Python client reaches the handler, a handler's calls continue its trace
// downstream, a harpc client starts a trace when given none, retries stay in
// one trace, hostile traceparent values break nothing, and `harpc serve
// --access-log` writes one valid JSON line per call, refused ones included.
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "integration/it_support.h"
#include "support/test_support.h"

namespace harpc::testing::it {
namespace {

constexpr char kCallerTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kCallerSpan[] = "00f067aa0ba902b7";
const std::string kTraceparent = "00-" + std::string(kCallerTrace) + "-" + std::string(kCallerSpan) + "-01";

json::object TraceJson(const TraceContext& t) {
  return {{"trace_id", t.trace_id_hex()},
          {"span_id", t.span_id_hex()},
          {"parent_id", t.has_parent() ? json::value(t.parent_id_hex()) : nullptr},
          {"tracestate", t.tracestate()}};
}

// A server of its own loop whose methods the test adds before Start().
struct InProcessServer {
  InProcessServer() : server(Options()) {}
  static ServerOptions Options() {
    ServerOptions o;
    o.handle_signals = false;
    o.threads = 1;
    return o;
  }
  void Start() {
    Status s = server.Start("127.0.0.1:0");
    ASSERT_TRUE(s.ok()) << s;
    address = server.address();
  }
  ~InProcessServer() {
    server.Shutdown();
    server.Wait();
  }
  Server server;
  std::string address;
};

// Trace.seen: the span the handler was given.
void AddTraceSeen(Server& server) {
  ASSERT_TRUE(
      server
          .AddMethod("Trace.seen",
                     [](const json::value&, CallContext& ctx) -> Result { return json::value(TraceJson(ctx.trace())); },
                     {.idempotent = true})
          .ok());
}

// POSTs `body` to http://127.0.0.1:PORT/rpc/METHOD with Python's requests
// and the given traceparent; returns the answer's JSON.
json::value PythonPost(int port, const std::string& method, const std::string& traceparent) {
  const std::string script =
      "import requests, sys\n"
      "r = requests.post('http://127.0.0.1:%s/rpc/%s' % (sys.argv[1], sys.argv[2]), json={},\n"
      "                  headers={'traceparent': sys.argv[3], 'tracestate': 'congo=t61rcWkgMzE'}, timeout=10)\n"
      "print(r.status_code)\n"
      "print(r.text)\n";
  CliRun run = RunProgram({"/usr/bin/python3", "-c", script, std::to_string(port), method, traceparent});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  if (run.out.size() < 2) {
    ADD_FAILURE() << "python printed: " << run.Stdout() << run.err;
    return nullptr;
  }
  EXPECT_EQ(run.out[0], "200") << run.out[1];
  return ParseJson(run.out[1]);
}

TEST(Trace, APythonClientsTraceparentReachesTheHandlerAndItsDownstreamCalls) {
  InProcessServer downstream;
  AddTraceSeen(downstream.server);
  downstream.Start();

  InProcessServer upstream;
  // On the upstream's loop, so made once that runs (the constructor waits on
  // it), and destroyed before the server.
  std::unique_ptr<Channel> channel;
  ASSERT_TRUE(upstream.server
                  .AddAsyncMethod("Trace.relay",
                                  [&channel](json::value, CallContext& ctx) -> boost::asio::awaitable<Result> {
                                    // Python sends no X-Deadline-Ms: remaining() is milliseconds::max(),
                                    // which the channel must take as no deadline (not overflow into a past one).
                                    CallOptions call{.timeout = ctx.remaining(), .trace = ctx.trace()};
                                    json::value params = nullptr;
                                    CallResult r =
                                        co_await channel->AsyncCall("Trace.seen", std::move(params), std::move(call));
                                    if (!r.ok()) co_return r.status;
                                    co_return json::value(json::object{{"upstream", TraceJson(ctx.trace())},
                                                                       {"sent", TraceJson(r.trace)},
                                                                       {"downstream", r.value}});
                                  })
                  .ok());
  upstream.Start();
  ChannelOptions options;
  options.executor = upstream.server.executor();  // the handler calls without a thread hop
  channel = std::make_unique<Channel>("list://" + downstream.address, options);
  ASSERT_TRUE(channel->status().ok()) << channel->status();

  json::value answer = PythonPost(PortOf(upstream.address), "Trace.relay", kTraceparent);
  ASSERT_TRUE(answer.is_object()) << answer;
  const json::value& up = answer.at("upstream");
  const json::value& sent = answer.at("sent");
  const json::value& down = answer.at("downstream");
  // The handler joined the caller's trace, as the caller's child.
  EXPECT_EQ(up.at("trace_id"), kCallerTrace);
  EXPECT_EQ(up.at("parent_id"), kCallerSpan);
  EXPECT_NE(up.at("span_id"), kCallerSpan);
  EXPECT_EQ(up.at("tracestate"), "congo=t61rcWkgMzE");
  // Its call is one attempt span, its child...
  EXPECT_EQ(sent.at("trace_id"), kCallerTrace);
  EXPECT_EQ(sent.at("parent_id"), up.at("span_id"));
  // ... whose child is the downstream handler's span, tracestate passed on.
  EXPECT_EQ(down.at("trace_id"), kCallerTrace);
  EXPECT_EQ(down.at("parent_id"), sent.at("span_id"));
  EXPECT_NE(down.at("span_id"), sent.at("span_id"));
  EXPECT_EQ(down.at("tracestate"), "congo=t61rcWkgMzE");
}

TEST(Trace, AClientGivenNoTraceStartsOne) {
  InProcessServer server;
  AddTraceSeen(server.server);
  server.Start();
  Channel channel("list://" + server.address);
  std::set<std::string> traces;
  for (int i = 0; i < 3; ++i) {
    CallResult r = channel.Call("Trace.seen", nullptr);
    ASSERT_TRUE(r.ok()) << r.status;
    ASSERT_TRUE(r.trace.valid());
    EXPECT_EQ(r.value.at("trace_id"), json::value(json::string(r.trace.trace_id_hex())));
    EXPECT_EQ(r.value.at("parent_id"), json::value(json::string(r.trace.span_id_hex())))
        << "the server's span is the attempt's child";
    EXPECT_TRUE(traces.insert(r.trace.trace_id_hex()).second) << "each call a trace of its own";
  }
}

TEST(Trace, RetriesStayInTheCallsTraceEachAttemptASpan) {
  // Whichever server gets the first attempt fails it UNAVAILABLE; the retry
  // goes to the other one.
  struct Seen {
    std::mutex mu;
    std::vector<TraceContext> spans;
  };
  auto seen = std::make_shared<Seen>();
  auto flaky = [seen](const json::value&, CallContext& ctx) -> Result {
    std::lock_guard lock(seen->mu);
    seen->spans.push_back(ctx.trace());
    if (seen->spans.size() == 1) return Unavailable("first attempt refused by the test");
    return json::value("ok");
  };
  InProcessServer a, b;
  ASSERT_TRUE(a.server.AddMethod("Trace.flaky", flaky, {.idempotent = true}).ok());
  ASSERT_TRUE(b.server.AddMethod("Trace.flaky", flaky, {.idempotent = true}).ok());
  a.Start();
  b.Start();
  ChannelOptions options;
  options.idempotent_methods = {"Trace.flaky"};
  options.health.interval = std::chrono::milliseconds(0);
  Channel channel("list://" + a.address + "," + b.address, options);
  // The caller's own span given: the attempts are its children.
  const TraceContext caller = TraceContext::NewTrace();
  CallResult r = channel.Call("Trace.flaky", nullptr, {.trace = caller});
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.attempts, 2);
  std::lock_guard lock(seen->mu);
  ASSERT_EQ(seen->spans.size(), 2u);
  const TraceContext& first = seen->spans[0];
  const TraceContext& second = seen->spans[1];
  EXPECT_EQ(first.trace_id(), caller.trace_id());
  EXPECT_EQ(second.trace_id(), caller.trace_id());
  EXPECT_NE(first.parent_id(), second.parent_id()) << "each attempt is a span of its own";
  EXPECT_EQ(second.parent_id(), r.trace.span_id()) << "the answering attempt's span";
  EXPECT_EQ(r.trace.parent_id(), caller.span_id());
}

// The lines of an access log file, each parsed; fails the test on a line that is not a JSON object.
std::vector<json::object> AccessLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json::object> out;
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    EXPECT_TRUE(!ec && v.is_object()) << "not a JSON object: " << line;
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

TEST(Trace, HarpcServeWritesTheAccessLogAndSurvivesHostileTraceparents) {
  TempDir dir;
  const std::string log = dir.File("access.log");
  const std::string auth = dir.File("auth");
  { std::ofstream(auth) << "client s3cret-token\n"; }
  ServeProcess serve = StartServe({"--access-log", log, "--auth-file", auth, "--max-header-bytes", "8192"});
  ASSERT_GT(serve.port, 0);
  const std::string token = "Authorization: Bearer s3cret-token\r\n";

  // 1: a good call with a traceparent.
  std::string r =
      RoundTrip(serve.port, Post("/rpc/Echo.echo", R"({"a":1})", token + "traceparent: " + kTraceparent + "\r\n"));
  EXPECT_EQ(StatusOf(r), 200) << r;
  // 2-5: hostile traceparents: garbage, oversized (under the head limit), JSON-breaking, many dashes.
  for (const std::string& hostile :
       {std::string("garbage"), std::string(7000, 'f'), std::string("00-\"},{\"x\":1}\\"), std::string(200, '-')}) {
    std::string headers = token;
    headers.append("traceparent: ").append(hostile).append("\r\n");
    r = RoundTrip(serve.port, Post("/rpc/Echo.echo", R"({"b":2})", headers));
    EXPECT_EQ(StatusOf(r), 200) << "hostile traceparent of " << hostile.size() << " bytes: " << r;
  }
  // 6: refused for its credentials.
  r = RoundTrip(serve.port, Post("/rpc/Echo.echo", "{}"));
  EXPECT_EQ(StatusOf(r), 401) << r;
  // 7: refused by the connection: a head over --max-header-bytes.
  r = RoundTrip(serve.port, Post("/rpc/Echo.echo", "{}", token + "traceparent: " + std::string(9000, 'a') + "\r\n"));
  EXPECT_EQ(StatusOf(r), 431) << r;
  // 8: through the harpc client.
  { std::ofstream(dir.File("token")) << "s3cret-token\n"; }
  CliRun call = RunHarpc({"call", serve.address, "Echo.echo", R"({"c":3})", "--token-file", dir.File("token")});
  EXPECT_EQ(call.exit_code, 0) << call.err;
  EXPECT_EQ(StatusOf(RoundTrip(serve.port, Get("/health"))), 200);  // not a call: no line

  std::vector<json::object> lines;
  ASSERT_TRUE(PollUntil(
      [&] {
        lines = AccessLines(log);
        return lines.size() >= 8;
      },
      std::chrono::seconds(5)))
      << lines.size() << " lines";
  ASSERT_EQ(lines.size(), 8u);
  for (const json::object& o : lines) {
    for (const char* field :
         {"time", "method", "status", "http_status", "latency_ms", "peer", "trace_id", "span_id", "parent_id"}) {
      EXPECT_TRUE(o.contains(field)) << field << " missing in " << json::serialize(o);
    }
    EXPECT_EQ(o.at("time").as_string().size(), 24u) << o;  // 2026-12-02T07:42:14.123Z
    EXPECT_TRUE(o.at("peer").as_string().starts_with("127.0.0.1:")) << o;
  }
  EXPECT_EQ(lines[0].at("method"), "Echo.echo");
  EXPECT_EQ(lines[0].at("status"), "OK");
  EXPECT_EQ(lines[0].at("trace_id"), kCallerTrace);
  EXPECT_EQ(lines[0].at("parent_id"), kCallerSpan);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(lines[i].at("status"), "OK") << lines[i];
    EXPECT_NE(lines[i].at("trace_id"), kCallerTrace) << "a hostile traceparent starts a new trace";
    EXPECT_EQ(lines[i].at("trace_id").as_string().size(), 32u);
    EXPECT_TRUE(lines[i].at("parent_id").is_null());
  }
  EXPECT_EQ(lines[5].at("status"), "UNAUTHENTICATED");
  EXPECT_EQ(lines[5].at("http_status"), 401);
  EXPECT_EQ(lines[6].at("http_status"), 431);
  EXPECT_TRUE(lines[6].at("method").is_null());
  EXPECT_TRUE(lines[6].at("trace_id").is_null()) << "refused before its headers were read";
  EXPECT_EQ(lines[7].at("method"), "Echo.echo");
  EXPECT_EQ(lines[7].at("status"), "OK");
  EXPECT_FALSE(lines[7].at("parent_id").is_null()) << "the harpc client sent a traceparent of its own";
}

TEST(Trace, HarpcServeRefusesAnAccessLogItCannotOpen) {
  TempDir dir;
  CliRun run = RunHarpc({"serve", "--listen", "127.0.0.1:0", "--access-log", dir.File("no/such/dir/a.log")},
                        std::chrono::seconds(10));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("access log: cannot open"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace harpc::testing::it
