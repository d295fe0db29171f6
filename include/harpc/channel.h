// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Channel: the client side. Calls methods on a set of servers named by a
// target, spreading the calls with a load balancer and keeping one pool of
// keep-alive connections per endpoint.
//
//   harpc::Channel channel("list://127.0.0.1:8001=5,127.0.0.1:8002");
//   harpc::CallResult r = channel.Call("Echo.echo", boost::json::parse(R"({"a":1})"));
//   if (!r.ok()) std::cerr << r.status << "\n";
//
// Inside a coroutine:
//   harpc::CallResult r = co_await channel.AsyncCall("Echo.echo", params);
//
// A channel is safe to use from any number of threads. It runs its network
// I/O on one event loop: by default a private loop thread of its own, or the
// loop given as ChannelOptions::executor (a server's, say), which then
// starts no thread at all. Destroying a channel never waits for a shared
// loop: calls in flight finish within their deadlines (or fail CANCELLED)
// and the channel's background work stops; the loop must outlive them, that
// is, outlive the channel.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/options.h"
#include "harpc/security.h"
#include "harpc/status.h"
#include "harpc/trace.h"

namespace harpc {

// How a channel writes its calls and reads the answers.
enum class Protocol {
  // POST /rpc/<Method> with the params as the body; the answer's body is the
  // result, an error is {"error":{"code","message"}} (harpc's plain form).
  kHarpc,
  // JSON-RPC 2.0: POST ChannelOptions::jsonrpc_path with
  // {"jsonrpc":"2.0","method":M,"params":P,"id":N}; the answer's "result" is
  // the value, its "error" object the Status. For any JSON-RPC 2.0 server,
  // harpc's own included.
  kJsonRpc,
};

struct ChannelOptions {
  // The request format: Protocol::kHarpc (default) or Protocol::kJsonRpc.
  Protocol protocol = Protocol::kHarpc;
  // The path JSON-RPC 2.0 requests are posted to. Default "/rpc".
  std::string jsonrpc_path = "/rpc";

  // Load-balancing policy: "wrr" (smooth weighted round robin), "least_time",
  // "p2c", "random", "hash" (consistent, on CallOptions::hash_key) or "rr".
  // Default "wrr". See docs/load-balancing.md.
  std::string lb = "wrr";

  // Deadline of a whole call, all attempts included; sent to the server as
  // X-Deadline-Ms so that it can give up too. Default 1000 ms.
  std::chrono::milliseconds timeout{1000};

  // Longest wait for a TCP connection to be established. Default 200 ms.
  std::chrono::milliseconds connect_timeout{200};

  // What a call does on failure: failover (retry elsewhere), failfast (no
  // retry) or failsafe (failover, then an empty result). Default failover.
  FaultMode fault_mode = FaultMode::kFailover;

  RetryOptions retry;             // retries and their budget
  HedgeOptions hedge;             // backup requests (off by default)
  HealthCheckOptions health;      // heartbeats: GET /health every second
  OutlierOptions outlier;         // passive ejection of failing endpoints
  CircuitBreakerOptions breaker;  // per-endpoint circuit breaker

  // Endpoints that join or come back after the channel started ramp from 10 %
  // to 100 % of their weight over this; the initial ones do not. Default 5 s.
  std::chrono::milliseconds slow_start{5000};

  // Methods that are safe to run twice; their calls are retried after
  // timeouts and hedged freely. Default none (Echo.echo and "/" are
  // idempotent on `harpc serve`, but the channel cannot know it).
  std::vector<std::string> idempotent_methods;

  // Give every other call one Idempotency-Key, reused by all its attempts,
  // when it may be retried or hedged; the server then runs it at most once
  // and answers repeats with the first answer. Without a key (false), such a
  // call is retried only when it certainly did not reach a server. Default true.
  bool idempotency_keys = true;

  // How calls in flight to one endpoint share its keep-alive connections.
  PipelineOptions pipeline;

  // Idle keep-alive connections kept per endpoint; more are closed after use.
  // Default 256.
  size_t max_idle_connections = 256;

  // Largest response body accepted; larger fails the call with INTERNAL. Default 64 MiB.
  size_t max_response_bytes = 64 * 1024 * 1024;
  // The event loop the channel runs on (its I/O, health checks, resolver),
  // e.g. harpc::Server::executor(): no thread is started, and coroutines on
  // that loop call without a hop. Must outlive the channel; an io_context
  // executor lets Call() detect (and refuse) a call from the loop's own
  // thread. Default none: the channel starts one private loop thread of its own.
  boost::asio::any_io_executor executor;

  // TLS and the bearer token of every request, health probes included.
  // Default: plaintext, no token. See harpc/security.h.
  ClientSecurity security;
};

struct CallOptions {
  // This call's deadline; zero means ChannelOptions::timeout.
  std::chrono::milliseconds timeout{0};
  // True when this call is safe to run twice (as if its method were in
  // ChannelOptions::idempotent_methods). Default false.
  bool idempotent = false;
  // Sent as Idempotency-Key; the server answers a repeat with the first answer.
  // Empty: the channel makes one when it may retry (see idempotency_keys).
  std::string idempotency_key;
  // Sent as X-Request-Id, for tracing across logs.
  std::string request_id;
  // Routes the call with the "hash" balancer: equal keys go to the same endpoint.
  std::string hash_key;
  // The span this call is made for. Each attempt (retries and hedges alike)
  // is a child span of it, sent as traceparent (and its tracestate as
  // tracestate), so the servers' spans join its trace. A handler passes
  // ctx.trace(). Default: none, and the call starts a trace of its own.
  TraceContext trace{};
};

struct CallResult {
  Status status;
  // The method's result; null unless status.ok().
  boost::json::value value;
  // "host:port" of the endpoint that gave the final answer (empty if none did).
  std::string endpoint;
  // Attempts made, the first, any hedge and any NOT_LEADER hop included.
  int attempts = 0;
  // Whether a backup (hedged) attempt was sent.
  bool hedged = false;
  // In failsafe mode, the failure that was swallowed (status is then OK).
  Status suppressed;
  // The span of the attempt that gave the final answer (else of the last
  // attempt sent): the call's trace id, and the span id the server saw as
  // its parent. Invalid when no attempt was sent.
  TraceContext trace{};

  bool ok() const { return status.ok(); }
};

// One call of a JSON-RPC 2.0 batch (Channel::CallBatch).
struct BatchCall {
  std::string method;
  // An array, an object or null (none), as JSON-RPC 2.0 requires.
  boost::json::value params;
  // A notification: sent without an id, so the server runs it and answers
  // nothing; its result is OK with a null value once the batch was
  // delivered. Default false.
  bool notification = false;
};

// What a channel knows about one endpoint, for dashboards and benchmarks.
struct EndpointInfo {
  std::string address;
  int weight = 1;
  // "healthy", "suspect", "draining", "unhealthy", "ejected", "open" or "half_open".
  std::string state;
  int in_flight = 0;
  double latency_ms = 0;  // decaying average
  uint64_t ejections = 0;
  uint64_t circuit_opens = 0;  // times its circuit breaker opened
  uint64_t picks = 0;          // attempts sent to it
  uint64_t successes = 0;      // answers that were OK
  uint64_t failures = 0;       // attempts that failed (transport or server error)
};

class Channel {
 public:
  // Targets: "list://H:P[=W],H:P[=W]..." (weight 1 when omitted) or a bare
  // "H:P[,H:P]"; "file:///path.json" (reloaded on change);
  // "sentinel://H:P[,H:P]/SERVICE" and "etcd://H:P[,H:P]/SERVICE" (watched).
  // Calls made before a watched target's first membership wait for it
  // (within their deadline), and fail with the resolver's reason when it did
  // not come (e.g. "etcd unreachable at H:P: connection refused"). A bad
  // target or option leaves the channel failed: status() says why, and every
  // call returns that status.
  explicit Channel(std::string_view target, ChannelOptions options = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const Status& status() const;

  // Method "Echo.echo" goes as POST /rpc/Echo.echo with params as the body;
  // method "/" is the server's default method: POST /rpc with params as is.
  // With Protocol::kJsonRpc it goes as a JSON-RPC 2.0 request instead, whose
  // params must be an array, an object or null (none); "/" is refused there.
  // Any error answer fails the call: a JSON-RPC error object (its code and
  // message kept in the Status), an HTTP 4xx or 5xx (with a one-line excerpt
  // of its body), and a 2xx that is a JSON-RPC 2.0 error envelope.
  // Blocks the calling thread. Called from the channel's own event-loop
  // thread it would deadlock, so it fails FAILED_PRECONDITION at once (use
  // AsyncCall there).
  CallResult Call(std::string_view method, const boost::json::value& params, const CallOptions& options = {});

  // The same as a C++20 coroutine; resumes on the caller's executor.
  // (Two overloads rather than a default argument: GCC 12 destroys default
  // arguments in co_await expressions twice.)
  boost::asio::awaitable<CallResult> AsyncCall(std::string method, boost::json::value params, CallOptions options);
  boost::asio::awaitable<CallResult> AsyncCall(std::string method, boost::json::value params);

  // Several calls in one request: a JSON-RPC 2.0 batch, POST
  // ChannelOptions::jsonrpc_path, whatever the protocol (harpc's servers
  // take batches there too). Returns one result per call, in order, each
  // with its own status and value, matched to the server's answers by id.
  // The batch is one call for balancing, deadline, retries and hedging: it
  // carries no Idempotency-Key unless `options` sets one, so once sent it
  // is retried or hedged only when every call in it is idempotent (its
  // method in ChannelOptions::idempotent_methods, or options.idempotent).
  // An error for the whole batch (transport, HTTP, a refusal of the batch
  // itself) is every call's status. An empty batch fails INVALID_ARGUMENT.
  // Blocks like Call.
  std::vector<CallResult> CallBatch(const std::vector<BatchCall>& calls, const CallOptions& options = {});
  boost::asio::awaitable<std::vector<CallResult>> AsyncCallBatch(std::vector<BatchCall> calls, CallOptions options);

  // A JSON-RPC 2.0 notification: the method runs and the server answers
  // nothing (204 or an empty 200). OK once a server accepted it; an error
  // when none could be reached or the request was refused as a whole (its
  // own failure is never reported). Retried like a call. Blocks like Call.
  Status Notify(std::string_view method, const boost::json::value& params, const CallOptions& options = {});
  boost::asio::awaitable<Status> AsyncNotify(std::string method, boost::json::value params, CallOptions options);

  // A snapshot of every endpoint of the target, in target order. Waits
  // briefly for the channel's loop (inline when called on it).
  std::vector<EndpointInfo> Endpoints() const;

  // Retries, hedges and retries refused by the budget, since the start, and
  // NOT_LEADER answers followed to the leader they named (leader_redirects;
  // they are not retries and cost no budget).
  struct Counters {
    uint64_t calls = 0, retries = 0, hedges = 0, budget_exhausted = 0, leader_redirects = 0;
  };
  Counters counters() const;

  // The channel's event loop; coroutines spawned on it call without a thread hop.
  boost::asio::any_io_executor executor() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace harpc
