// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/server.h"
#include "util/log.h"

#include <sys/resource.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "core/wire_error.h"
#include "http/tls_context.h"
#include "server/connection.h"
#include "server/dispatcher.h"
#include "server/server_faults.h"
#include "server/server_requests.h"
#include "server/server_state.h"
#include "server/server_upgrades.h"
#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::chrono::milliseconds SweepInterval(const ServerOptions& o) {
  auto shortest = std::min({o.header_timeout, o.body_timeout, o.idle_timeout});
  return std::clamp(shortest / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}
}  // namespace

class Server::Impl {
 public:
  explicit Impl(ServerOptions options) : dispatcher_(state_) {
    state_.options = std::move(options);
    const ServerOptions& o = state_.options;
    limits_ = {.max_header_bytes = o.max_header_bytes,
               .max_body_bytes = o.max_body_bytes,
               .header_timeout = o.header_timeout,
               .body_timeout = o.body_timeout,
               .idle_timeout = o.idle_timeout,
               .max_unsent_bytes = o.max_unsent_bytes};
    state_.idempotency = std::make_unique<IdempotencyStore>(o.idempotency_ttl, o.idempotency_max_entries,
                                                            o.idempotency_max_bytes, o.max_answer_bytes);
  }

  ~Impl() {
    StopLoops();
    Join();
    // I/O objects go before the contexts they live on; each loop's context goes
    // before its connection list (see EventLoop).
    reload_signal_.reset();
    signals_.reset();
    reload_signal_.reset();
    acceptor_.reset();
    loops_.clear();
  }

  Status AddMethod(std::string name, Handler handler, AsyncHandler async_handler, MethodOptions options) {
    if (started_) return {StatusCode::kFailedPrecondition, "methods must be added before Start()"};
    if (name.empty()) return InvalidArgument("method name must not be empty");
    if (state_.methods.contains(name)) return {StatusCode::kAlreadyExists, "method '" + name + "' exists"};
    auto method = std::make_unique<Method>();
    method->name = name;
    method->handler = std::move(handler);
    method->async_handler = std::move(async_handler);
    method->options = options;
    state_.methods.emplace(std::move(name), std::move(method));
    return Status::Ok();
  }

  Status SetDefaultMethod(const std::string& name) {
    Method* m = state_.Find(name);
    if (!m) return InvalidArgument("default method '" + name + "' is not registered");
    state_.default_method = m;
    return Status::Ok();
  }

  Status Start(std::string_view listen_address) {
    if (started_) return {StatusCode::kFailedPrecondition, "server already started"};
    HostPort hp;
    if (Status s = ParseHostPort(listen_address, &hp, /*allow_port_zero=*/true); !s.ok()) return s;
    tcp::endpoint endpoint;
    if (Status s = ResolveEndpoint(hp, &endpoint); !s.ok()) return s;
    if (Status s = LoadTokens(); !s.ok()) return s;
    FitConnectionsToFileLimit();
    const TlsOptions& tls = state_.options.tls;
    if (tls.server_enabled()) {
      if (Status s = http1::TlsContext::Load(http1::TlsContext::Side::kServer, tls, &tls_); !s.ok()) return s;
    } else if (!tls.client_ca_file.empty()) {
      return InvalidArgument("TLS: client certificates (--tls-client-ca) need the server's own (--tls-cert)");
    }
    if (!state_.options.access_log.empty()) {
      if (Status s = AccessLog::Open(state_.options.access_log, &state_.access_log); !s.ok()) return s;
    }
    if (!state_.options.idempotency_db.empty()) {
      std::unique_ptr<IdempotencyLog> log;
      if (Status s = IdempotencyLog::Open(state_.options.idempotency_db, &log); !s.ok()) return s;
      state_.idempotency->SetLog(std::move(log));
    }

    MakeLoops();

    acceptor_.emplace(loops_[0]->context);
    boost::system::error_code ec;
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + std::string(listen_address) + ": " + ec.message());
    }
    state_.address = ToString(acceptor_->local_endpoint());
    state_.started_at = Clock::now();

    asio::co_spawn(loops_[0]->context, AcceptLoop(), asio::detached);
    for (auto& loop : loops_) asio::co_spawn(loop->context, SweepLoop(*loop), asio::detached);
    if (state_.options.handle_signals) {
      signals_.emplace(loops_[0]->context, SIGTERM, SIGINT);
      signals_->async_wait([this](const boost::system::error_code& e, int sig) {
        if (e) return;
        Log().info("server {}: signal {} received, shutting down gracefully", state_.address, sig);
        Shutdown();
      });
      reload_signal_.emplace(loops_[0]->context, SIGHUP);
      WaitForReloadSignal();
    }
    for (auto& loop : loops_) {
      loop->thread = std::thread([&ctx = loop->context] { ctx.run(); });
    }
    started_ = true;
    return Status::Ok();
  }

  Status AddShutdownStep(std::function<asio::awaitable<void>()> step) {
    std::lock_guard lock(shutdown_steps_mu_);
    if (shutdown_steps_taken_) return {StatusCode::kFailedPrecondition, "the server is shutting down"};
    shutdown_steps_.push_back(std::move(step));
    return Status::Ok();
  }

  void Wait() { Join(); }

  void Shutdown() {
    if (loops_.empty()) return;
    asio::post(loops_[0]->context, [this] {
      if (state_.draining.exchange(true)) return;
      boost::system::error_code ec;
      if (acceptor_) acceptor_->close(ec);
      if (signals_) signals_->cancel(ec);
      if (reload_signal_) reload_signal_->cancel(ec);
      asio::co_spawn(loops_[0]->context, Drain(), asio::detached);
    });
  }

  // Reads ServerOptions::auth's file into a new token table, replacing the
  // one the loops read only once it parsed whole.
  Status LoadTokens() {
    const AuthOptions& auth = state_.options.auth;
    if (!auth.enabled()) return Status::Ok();
    auto tokens = std::make_shared<TokenTable>();
    if (Status s = TokenTable::Load(auth.auth_file, tokens.get()); !s.ok()) return s;
    if (tokens->size() == 0) {
      return InvalidArgument("auth file '" + auth.auth_file + "' lists no token: no call could be made");
    }
    state_.tokens.store(std::move(tokens), std::memory_order_release);
    return Status::Ok();
  }

  // Each SIGHUP reloads; the handler waits again until the shutdown cancels it.
  void WaitForReloadSignal() {
    reload_signal_->async_wait([this](const boost::system::error_code& e, int) {
      if (e) return;
      ReloadCredentials();
      WaitForReloadSignal();
    });
  }

  // Tokens, the listener's certificate and those of the process's TLS
  // clients; each part that fails keeps what it had, and the first error is returned.
  Status ReloadCredentials() {
    Status s = LoadTokens();
    Status tls = tls_ ? tls_->Reload() : Status::Ok();
    Status clients = http1::TlsContext::ReloadClients();
    if (s.ok()) s = tls;
    if (s.ok()) s = clients;
    if (s.ok()) {
      Log().info("server {}: credentials reloaded", state_.address);
    } else {
      Log().error("server {}: credentials not reloaded, keeping the previous ones: {}", state_.address, s.message());
    }
    return s;
  }

  ServerState& state() { return state_; }
  CallDispatcher& dispatcher() { return dispatcher_; }
  boost::asio::any_io_executor executor() {
    MakeLoops();
    return loops_[0]->context.get_executor();
  }

  // The loops exist from the first executor() or Start(), and run from Start().
  void MakeLoops() {
    if (!loops_.empty()) return;
    int threads = state_.options.threads > 0 ? state_.options.threads
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    state_.options.threads = threads;
    for (int i = 0; i < threads; ++i) loops_.push_back(std::make_unique<EventLoop>());
  }

 private:
  // Every connection is a descriptor. Past the open-file limit accept() fails,
  // and new clients would wait unanswered instead of getting the 503 of
  // max_connections: raise the soft limit as far as the hard one allows, and
  // lower max_connections (with a warning) to what fits.
  void FitConnectionsToFileLimit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    size_t& max = state_.options.max_connections;
    // Descriptors that are not connections: listener, logs, databases, channels to peers.
    auto reserve = [](rlim_t limit) { return std::max<rlim_t>(64, limit / 10); };
    const rlim_t wanted = static_cast<rlim_t>(max) + reserve(static_cast<rlim_t>(max));
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
      rlimit raised = lim;
      raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, lim.rlim_max);
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    if (lim.rlim_cur == RLIM_INFINITY) return;
    const rlim_t usable = lim.rlim_cur > reserve(lim.rlim_cur) ? lim.rlim_cur - reserve(lim.rlim_cur) : 1;
    if (max > usable) {
      Log().warn("server: max_connections {} does not fit the open-file limit {}: using {}", max, lim.rlim_cur, usable);
      max = static_cast<size_t>(usable);
    }
  }

  asio::awaitable<void> AcceptLoop() {
    size_t next = 0;
    asio::steady_timer backoff(loops_[0]->context);
    for (;;) {
      EventLoop& loop = *loops_[next++ % loops_.size()];
      auto [ec, socket] = co_await acceptor_->async_accept(loop.context, kNoThrow);
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      if (ec) {
        // Out of descriptors or a transient error: back off instead of spinning.
        Log().warn("server {}: accept failed: {}", state_.address, ec.message());
        backoff.expires_after(std::chrono::milliseconds(20));
        co_await backoff.async_wait(kNoThrow);
        continue;
      }
      if (state_.connections_open.load(std::memory_order_relaxed) >=
          static_cast<int64_t>(state_.options.max_connections)) {
        state_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
        if (tls_) continue;  // closed: a 503 would cost a handshake, the very work an overload must shed
        std::string answer;
        http1::AppendResponse(answer, ConnectionError(503, wire::JsonRpcCode(ResourceExhausted("")),
                                                      "too many connections to this server"));
        boost::system::error_code ignored;
        socket.non_blocking(true, ignored);
        socket.write_some(asio::buffer(answer), ignored);
        socket.shutdown(tcp::socket::shutdown_send, ignored);
        continue;
      }
      state_.connections_open.fetch_add(1, std::memory_order_relaxed);
      state_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
      auto tls = tls_ ? tls_->current() : nullptr;
      asio::co_spawn(loop.context,
                     ServeConnection(loop, std::move(socket), state_, dispatcher_, limits_, std::move(tls)),
                     asio::detached);
    }
  }

  asio::awaitable<void> SweepLoop(EventLoop& loop) {
    const auto interval = SweepInterval(state_.options);
    for (;;) {
      loop.sweeper.expires_after(interval);
      auto [ec] = co_await loop.sweeper.async_wait(kNoThrow);
      if (ec) co_return;
      const auto now = Clock::now();
      for (Connection& c : loop.connections) c.Sweep(now);
    }
  }

  // Runs the shutdown steps, waits for in-flight requests (each bounded by
  // the grace period), then stops the loops.
  asio::awaitable<void> Drain() {
    co_await RunShutdownSteps();
    Log().info("server {}: draining, {} requests in progress", state_.address, state_.requests_in_progress.load());
    const auto give_up = Clock::now() + state_.options.shutdown_grace;
    asio::steady_timer poll(loops_[0]->context);
    while (state_.requests_in_progress.load() > 0 && Clock::now() < give_up) {
      poll.expires_after(std::chrono::milliseconds(5));
      co_await poll.async_wait(kNoThrow);
    }
    if (state_.requests_in_progress.load() > 0) {
      Log().warn("server {}: grace period over, {} requests abandoned", state_.address,
                 state_.requests_in_progress.load());
    }
    StopLoops();
  }

  asio::awaitable<void> RunShutdownSteps() {
    using namespace asio::experimental::awaitable_operators;
    std::vector<std::function<asio::awaitable<void>()>> steps;
    {
      std::lock_guard lock(shutdown_steps_mu_);
      shutdown_steps_taken_ = true;
      steps.swap(shutdown_steps_);
    }
    asio::steady_timer grace(loops_[0]->context);
    for (auto& step : steps) {
      grace.expires_after(state_.options.shutdown_grace);
      // Whichever ends first cancels the other.
      auto ended = co_await (Guarded(step) || grace.async_wait(kNoThrow));
      if (ended.index() == 1) {
        Log().warn("server {}: a shutdown step was still running after the grace period; cancelled", state_.address);
      }
    }
  }

  // A step that throws is logged, and the shutdown goes on.
  asio::awaitable<void> Guarded(const std::function<asio::awaitable<void>()>& step) {
    try {
      co_await step();
    } catch (const std::exception& e) {
      Log().error("server {}: a shutdown step failed: {}", state_.address, e.what());
    }
  }

  void StopLoops() {
    for (auto& loop : loops_) loop->context.stop();
  }

  void Join() {
    for (auto& loop : loops_) {
      if (loop->thread.joinable() && loop->thread.get_id() != std::this_thread::get_id()) loop->thread.join();
    }
  }

  ServerState state_;
  http1::ServerLimits limits_;
  CallDispatcher dispatcher_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::signal_set> signals_;
  std::optional<asio::signal_set> reload_signal_;  // SIGHUP: ReloadCredentials()
  std::shared_ptr<http1::TlsContext> tls_;         // the listener's, when it speaks TLS
  bool started_ = false;
  std::mutex shutdown_steps_mu_;  // AddShutdownStep runs on any thread, Drain on the first loop
  std::vector<std::function<asio::awaitable<void>()>> shutdown_steps_;
  bool shutdown_steps_taken_ = false;  // Drain began: no more steps
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;

Status Server::AddMethod(std::string name, Handler handler, MethodOptions options) {
  if (!handler) return InvalidArgument("handler must not be empty");
  return impl_->AddMethod(std::move(name), std::move(handler), nullptr, options);
}

Status Server::AddAsyncMethod(std::string name, AsyncHandler handler, MethodOptions options) {
  if (!handler) return InvalidArgument("handler must not be empty");
  return impl_->AddMethod(std::move(name), nullptr, std::move(handler), options);
}

Status Server::SetDefaultMethod(const std::string& name) { return impl_->SetDefaultMethod(name); }

Status Server::AddMetrics(std::function<std::string()> exposition) {
  if (!exposition) return InvalidArgument("metrics source must not be empty");
  impl_->state().extra_metrics.push_back(std::move(exposition));
  return Status::Ok();
}

Status Server::AddPage(std::string path, std::function<Page()> page) {
  if (path.empty() || path.front() != '/' || path == "/health" || path == "/metrics" || path == "/status" ||
      path == "/rpc" || path.starts_with("/rpc/")) {
    return InvalidArgument("page path '" + path + "' must start with / and not be a built-in path");
  }
  if (!page) return InvalidArgument("page must not be empty");
  impl_->state().pages[std::move(path)] = std::move(page);
  return Status::Ok();
}
Status Server::AddStatus(std::string name, std::function<boost::json::value()> value) {
  static constexpr std::string_view kBuiltIn[] = {"name",    "address",     "state",     "uptime_ms",
                                                  "threads", "connections", "in_flight", "methods"};
  if (name.empty() || std::find(std::begin(kBuiltIn), std::end(kBuiltIn), name) != std::end(kBuiltIn)) {
    return InvalidArgument("status member '" + name + "' must be non-empty and not a built-in one");
  }
  if (!value) return InvalidArgument("status member '" + name + "' needs a value");
  impl_->state().status_members.emplace_back(std::move(name), std::move(value));
  return Status::Ok();
}

Status ServerUpgrades::Add(Server& server, std::string path, std::string protocol, Role role, Serve serve) {
  ServerState& state = server.impl_->state();
  if (path.empty() || path.front() != '/' || path == "/health" || path == "/metrics" || path == "/status" ||
      path == "/rpc" || path.starts_with("/rpc/") || state.pages.contains(path)) {
    return InvalidArgument("upgrade path '" + path + "' must start with / and not be taken");
  }
  if (protocol.empty() || !serve) return InvalidArgument("an upgrade needs a protocol name and a server of it");
  std::string headers = "Connection: Upgrade\r\nUpgrade: " + protocol + "\r\n";
  state.upgrades[std::move(path)] = {std::move(protocol), std::move(headers), role, std::move(serve)};
  return Status::Ok();
}

Status Server::Start(std::string_view listen_address) { return impl_->Start(listen_address); }
Status Server::ReloadCredentials() { return impl_->ReloadCredentials(); }
std::string Server::address() const { return impl_->state().address; }
boost::asio::any_io_executor Server::executor() const { return impl_->executor(); }
Status Server::AddShutdownStep(std::function<boost::asio::awaitable<void>()> step) {
  if (!step) return InvalidArgument("shutdown step must not be empty");
  return impl_->AddShutdownStep(std::move(step));
}
void Server::Wait() { impl_->Wait(); }
void Server::Shutdown() { impl_->Shutdown(); }
bool Server::draining() const { return impl_->state().draining.load(); }

asio::awaitable<http1::Response> ServerRequests::Handle(Server& server, const http1::Request& request,
                                                        const std::string& peer, asio::any_io_executor executor) {
  return server.impl_->dispatcher().Handle(request, peer, std::move(executor));
}

void ServerFaults::SetResetRate(Server& server, double rate) {
  server.impl_->state().fault_reset_rate.store(rate, std::memory_order_relaxed);
}

}  // namespace harpc
