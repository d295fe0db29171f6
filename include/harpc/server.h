// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Server: answers remote procedure calls over HTTP/1.1 with JSON.
//
//   harpc::Server server;
//   server.AddMethod("Echo.echo", [](const boost::json::value& params, harpc::CallContext&) {
//     return harpc::Result(params);
//   }, {.idempotent = true});
//   harpc::Status s = server.Start("127.0.0.1:8001");
//   server.Wait();  // until SIGTERM/SIGINT (graceful) or Shutdown()
//
// Wire protocol (docs/protocol.md): JSON-RPC 2.0 on POST /rpc, the default
// method for POST /rpc bodies without "jsonrpc", POST /rpc/<Method> with the
// params as body, GET /health, GET /metrics (Prometheus), GET /status (JSON).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/result.h"
#include "harpc/security.h"
#include "harpc/status.h"
#include "harpc/trace.h"

namespace harpc {

struct ServerOptions {
  // Shown in /status and in logs. Default: the listen address.
  std::string name;

  // Event-loop threads. Each runs its own loop; connections are spread over
  // them round robin. Default 0: one per core.
  int threads = 0;

  // Largest request head (request line + headers) accepted; larger gets 431.
  std::size_t max_header_bytes = 8 * 1024;

  // Largest request body accepted; larger gets 413 before it is read.
  std::size_t max_body_bytes = 4 * 1024 * 1024;

  // A request head must arrive whole within this time from its first byte,
  // or the connection gets 408 and is closed (slow-drip clients).
  std::chrono::milliseconds header_timeout{5000};

  // A request body must arrive whole within this time from the end of its head.
  std::chrono::milliseconds body_timeout{30000};

  // A keep-alive connection with no request in progress is closed after this.
  // Also bounds how long a response may take to be written.
  std::chrono::milliseconds idle_timeout{60000};

  // Open connections above this are answered 503 and closed at once.
  // Start() raises the process's open-file soft limit toward what this needs
  // (up to the hard limit) and lowers this, with a warning, to what the limit
  // then allows (about 90 % of it), so that a client over the limit always
  // gets its 503 rather than an unanswered connect. Default 100,000.
  std::size_t max_connections = 100000;

  // Calls being handled at once above this get RESOURCE_EXHAUSTED (HTTP 429,
  // JSON-RPC -32008) instead of queueing. Default 0: no limit.
  std::size_t max_concurrency = 0;

  // A JSON-RPC batch with more requests than this is refused as a whole with
  // one -32600 error, before any of them runs: one request must not buy
  // unbounded work. Default 1,000.
  std::size_t max_batch_requests = 1000;

  // The largest answer one request may get, as JSON text: a batch's answers
  // together, a plain call's result, a JSON-RPC result. Over it the caller
  // gets INTERNAL instead (HTTP 500 / JSON-RPC -32603, "answer too large");
  // the answer is never buffered beyond the limit, and the requests of a
  // batch after the one that passed it do not run. Four times the default
  // max_body_bytes, so that echoing any accepted request fits. Default 16 MiB.
  std::size_t max_answer_bytes = 16 * 1024 * 1024;

  // Answers to pipelined requests gather in a connection's output buffer
  // until this much is waiting (or no further request has arrived); then the
  // connection reads no more requests until the client has taken them. A
  // client that pipelines requests and never reads thus holds at most this
  // plus one answer, and idle_timeout closes it. Default 64 KiB.
  std::size_t max_unsent_bytes = 64 * 1024;

  // On shutdown, in-flight calls get this long to finish before the process
  // stops waiting for them.
  std::chrono::milliseconds shutdown_grace{10000};

  // When true, Wait() turns SIGTERM and SIGINT into a graceful Shutdown(),
  // and SIGHUP into ReloadCredentials().
  bool handle_signals = true;

  // Answers of non-idempotent methods are kept by Idempotency-Key for this
  // long, so that retries and hedges get the first answer. Default 10 min.
  std::chrono::milliseconds idempotency_ttl{600000};
  // At most this many answers are kept in memory; the oldest go first. Default 100,000.
  size_t idempotency_max_entries = 100000;
  // ... and at most this many bytes of them, counting each entry's key, its
  // answer as JSON text and its bookkeeping (about 350 bytes); the oldest go
  // first. An answer larger than this alone is not kept (a retry then runs
  // the method again). Default 64 MiB.
  size_t idempotency_max_bytes = 64 * 1024 * 1024;
  // A SQLite file that keeps the answers durably (committed before each answer
  // is sent; concurrent answers share an fsync),
  // so that a retry after a server restart still gets the first answer.
  // Default empty: memory only.
  std::string idempotency_db;

  // The listener's certificate (HTTPS only when tls.cert_file is set) and the
  // CA that client certificates must be signed by (mutual TLS when
  // tls.client_ca_file is set). Default: plaintext. See harpc/security.h.
  TlsOptions tls;

  // The bearer tokens accepted and the role each grants. Default: none asked
  // for. See harpc/security.h.
  AuthOptions auth;

  // Where the access log goes: one JSON line per call (time, method, status,
  // http_status, latency_ms, peer, trace_id, span_id, parent_id; see
  // docs/observability.md), refused calls included. A file path (appended
  // to; Start() fails when it cannot be opened) or "-" for stdout. Lines are
  // written by a thread of the log's own, in batches, never by the event
  // loops; should the disk fall behind by more than 8 MiB of lines, new ones
  // are dropped and counted (harpc_server_access_log_dropped_total).
  // Default empty: no access log.
  std::string access_log;
};

struct MethodOptions {
  // True when running the method twice has the effect of running it once.
  // Clients may retry and hedge idempotent methods freely. Default false.
  bool idempotent = false;

  // The least role a caller's token must grant when the server asks for
  // tokens (ServerOptions::auth); below it the call gets PERMISSION_DENIED
  // (HTTP 403, JSON-RPC -32003). Ignored without auth. Default kClient.
  Role role = Role::kClient;
};

// What a handler knows about the call it serves. Valid until the handler returns
// (for a coroutine handler: until its awaitable completes).
class CallContext {
 public:
  using Clock = std::chrono::steady_clock;

  const std::string& method() const { return method_; }
  // The caller's deadline (X-Deadline-Ms), or Clock::time_point::max() if none.
  Clock::time_point deadline() const { return deadline_; }
  bool has_deadline() const { return deadline_ != Clock::time_point::max(); }
  // Time left before the deadline: zero once it passed, max() without one.
  std::chrono::milliseconds remaining() const;
  // The Idempotency-Key and X-Request-Id headers, empty when absent.
  const std::string& idempotency_key() const { return idempotency_key_; }
  const std::string& request_id() const { return request_id_; }
  // The caller's address, "127.0.0.1:50312".
  const std::string& peer() const { return peer_; }
  // The role the caller's token grants; kPeer when the server asks for no token.
  Role role() const { return role_; }
  // The event loop serving this call; coroutine handlers use it for timers and I/O.
  const boost::asio::any_io_executor& executor() const { return executor_; }
  // This call's span: the trace of the caller's traceparent header (a new
  // trace when it sent none, or an invalid one), a span id of its own, and
  // the caller's span as parent_id(). A handler continues the trace on the
  // calls it makes with CallOptions{.trace = ctx.trace()}.
  const TraceContext& trace() const { return trace_; }

 private:
  friend class CallDispatcher;
  std::string method_;
  TraceContext trace_;
  // For the access log: the call's outcome once known (else its HTTP status
  // says), and whether its lines were written already (a batch writes one per request).
  std::optional<StatusCode> outcome_;
  bool logged_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string idempotency_key_;
  std::string request_id_;
  std::string peer_;
  Role role_ = Role::kPeer;
  boost::asio::any_io_executor executor_;
};

class Server {
 public:
  // Runs on the event loop: must not block. Slow work belongs in an AsyncHandler.
  using Handler = std::function<Result(const boost::json::value& params, CallContext& ctx)>;
  // A C++20 coroutine on the event loop; co_await timers, other channels, ...
  using AsyncHandler = std::function<boost::asio::awaitable<Result>(boost::json::value params, CallContext& ctx)>;

  explicit Server(ServerOptions options = {});
  ~Server();  // shuts down at once if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Methods are registered before Start(). Names are unique and non-empty.
  Status AddMethod(std::string name, Handler handler, MethodOptions options = {});
  Status AddAsyncMethod(std::string name, AsyncHandler handler, MethodOptions options = {});
  // A page served on GET `path` (not /rpc, /health, /metrics or /status),
  // such as a dashboard. Registered before Start(); runs on the event loop.
  struct Page {
    std::string_view content_type = "text/html; charset=utf-8";  // a literal: it must outlive the server
    std::string body;
  };
  Status AddPage(std::string path, std::function<Page()> page);

  // Extra Prometheus text appended to GET /metrics (families of the
  // application, e.g. the sentinel's). Registered before Start().
  Status AddMetrics(std::function<std::string()> exposition);

  // An extra member `name` of GET /status's JSON object (e.g. a replicated
  // group's "group"), computed on the serving loop at each request; it must
  // be thread-safe with threads > 1. Registered before Start().
  Status AddStatus(std::string name, std::function<boost::json::value()> value);

  // The method that answers POST /rpc bodies without "jsonrpc" (the plain
  // requests.post(url, json=...) form). Must be registered.
  Status SetDefaultMethod(const std::string& name);

  // Binds "host:port" (port 0 picks a free one) and starts the loops.
  Status Start(std::string_view listen_address);
  // The bound "host:port", valid after Start().
  std::string address() const;
  // The first event loop: with threads = 1, the loop every handler runs on,
  // for the application's own timers, coroutines and channels
  // (ChannelOptions::executor). Valid from construction; work given to it
  // before Start() runs once the server starts.
  boost::asio::any_io_executor executor() const;

  // Work to finish before the server stops, such as leaving a naming service:
  // `step` runs on the first loop when a graceful shutdown begins (Shutdown(),
  // SIGTERM/SIGINT), after the server stops accepting and before it waits for
  // calls in flight. Steps run one after another, in the order added, each
  // cancelled (Asio cancellation) if still running after `shutdown_grace`.
  // A hard stop (the destructor without Shutdown(), SIGKILL) skips them.
  // May be added before or after Start(), until the shutdown begins
  // (FAILED_PRECONDITION after). Whatever `step` uses must outlive Wait().
  Status AddShutdownStep(std::function<boost::asio::awaitable<void>()> step);

  // Blocks until the server has stopped.
  void Wait();
  // Begins a graceful shutdown and returns: stop accepting, /health answers
  // 503 NOT_SERVING, new calls get UNAVAILABLE, the shutdown steps run,
  // in-flight calls get `shutdown_grace` to finish, then the loops stop and
  // Wait() returns.
  void Shutdown();
  bool draining() const;

  // Re-reads the credentials files: ServerOptions::auth.auth_file, the
  // listener's certificate, key and client CA (ServerOptions::tls), and those
  // of every TLS client of the process. New connections use the new
  // certificates, open ones keep theirs; the next request is judged by the
  // new tokens. Whatever fails to load keeps what it had, and the first error
  // is returned. With handle_signals, SIGHUP calls it (the outcome is logged).
  // From any thread, after Start().
  Status ReloadCredentials();

 private:
  friend class ServerFaults;    // fault injection for tests and demos (server/server_faults.h)
  friend class ServerUpgrades;  // other protocols on the server's port (server/server_upgrades.h)
  friend class ServerRequests;  // requests handed over without a connection (server/server_requests.h)
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace harpc
