// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/channel_core.h"
#include "util/log.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "health/health_checker.h"
#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

ChannelCore::ChannelCore(asio::any_io_executor executor, ChannelOptions options,
                         std::shared_ptr<asio::io_context> owned_loop)
    : owned_loop_(std::move(owned_loop)),
      executor_(std::move(executor)),
      loop_(executor_),
      options_(std::move(options)),
      budget_(options_.retry.budget_ratio, options_.retry.budget_min_per_second) {
  policy_.health = options_.health;
  policy_.outlier = options_.outlier;
  policy_.breaker = options_.breaker;
  policy_.slow_start = options_.slow_start;
  policy_.pool = {.connections = options_.pipeline.connections,
                  .depth = options_.pipeline.depth,
                  .max_idle = options_.max_idle_connections,
                  .connect_timeout = options_.connect_timeout};
  policy_.security = options_.security;
  idempotent_methods_.insert(options_.idempotent_methods.begin(), options_.idempotent_methods.end());
}

// Stop() ran on the loop already, or the loop is gone with every coroutine.
ChannelCore::~ChannelCore() = default;

Status ChannelCore::StartResolver(std::unique_ptr<Resolver> resolver) {
  resolver_ = std::move(resolver);
  // Shared with the listener: resolvers that answer later (file://,
  // sentinel://) call it on the loop after this returned.
  auto first = std::make_shared<Status>();
  resolver_->Start(executor_,
                   [weak = weak_from_this(), first, started = false](std::vector<EndpointSpec> specs) mutable {
                     auto self = weak.lock();
                     if (!self || self->stopped_) return;
                     Status s = self->UpdateEndpoints(std::move(specs));
                     if (!started) *first = s;
                     started = true;
                     if (!s.ok()) Log().warn("membership update rejected: {}", s.ToString());
                   });
  return *first;
}

void ChannelCore::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (resolver_) resolver_->Stop();
  for (StopSignal& checks : health_checks_) checks.Stop();
  for (auto& waiter : membership_waiters_) waiter->cancel();
  membership_waiters_.clear();
}

asio::awaitable<CallResult> ChannelCore::ExecuteOn(std::shared_ptr<ChannelCore> core, WireCall call,
                                                   CallOptions options) {
  ChannelCore& self = *core;  // held by `core` until the call ends
  if (RunningInThisThread(self.executor_)) co_return co_await self.Execute(std::move(call), options);
  co_return co_await asio::co_spawn(self.executor_, self.Execute(std::move(call), options), asio::use_awaitable);
}

namespace {
// A path that can go on a request line as it is.
bool IsRequestPath(std::string_view path) {
  return !path.empty() && path.front() == '/' && path.find_first_of(" \r\n") == std::string_view::npos;
}
}  // namespace

Status ChannelCore::Prepare(const std::string& method, const json::value& params, const CallOptions& options,
                            WireCall* out) {
  out->method = method;
  out->idempotent = IsIdempotent(method, options);
  if (options_.protocol == Protocol::kHarpc) {
    out->form = AnswerForm::kPlain;
    out->body = params.is_null() && method != "/" ? std::string() : json::serialize(params);
    return Status::Ok();
  }
  if (method == "/") return InvalidArgument("the default method \"/\" has no JSON-RPC 2.0 name");
  // One envelope for every attempt: a server that dedups by id sees one request.
  out->form = AnswerForm::kJsonRpc;
  return AppendJsonRpcRequest(method, params, TakeJsonRpcIds(1), &out->body);
}

Status ChannelCore::PrepareNotification(const std::string& method, const json::value& params,
                                        const CallOptions& options, WireCall* out) {
  out->method = method;
  out->form = AnswerForm::kNotification;
  out->idempotent = IsIdempotent(method, options);
  return AppendJsonRpcRequest(method, params, std::nullopt, &out->body);
}

Status ChannelCore::PrepareBatch(const std::vector<BatchCall>& calls, const CallOptions& options, WireCall* out,
                                 uint64_t* first_id) {
  if (calls.empty()) return InvalidArgument("a JSON-RPC 2.0 batch needs at least one call");
  *first_id = TakeJsonRpcIds(calls.size());
  out->method = "batch of " + std::to_string(calls.size());
  out->form = AnswerForm::kJsonRpcBatch;
  out->idempotent = true;
  out->body = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    const BatchCall& c = calls[i];
    if (i > 0) out->body += ',';
    std::optional<uint64_t> id;
    if (!c.notification) id = *first_id + i;
    if (Status s = AppendJsonRpcRequest(c.method, c.params, id, &out->body); !s.ok()) {
      return Status(s.code(), "batch call " + std::to_string(i) + " (" + c.method + "): " + s.message());
    }
    // Retried after it was sent only when every call in it may run twice.
    out->idempotent = out->idempotent && IsIdempotent(c.method, options);
  }
  out->body += ']';
  return Status::Ok();
}

Status ChannelCore::Init(std::string_view target) {
  target_ = std::string(target);
  const ChannelOptions& o = options_;
  if (o.timeout.count() <= 0) return InvalidArgument("timeout must be positive");
  if (!IsRequestPath(o.jsonrpc_path)) {
    return InvalidArgument("jsonrpc_path must be a path starting with '/': '" + o.jsonrpc_path + "'");
  }
  if (!IsRequestPath(o.health.path)) {
    return InvalidArgument("health.path must be a path starting with '/': '" + o.health.path + "'");
  }
  if (o.connect_timeout.count() <= 0) return InvalidArgument("connect_timeout must be positive");
  if (o.retry.max_retries < 0 || o.retry.max_retries > 10) return InvalidArgument("retry.max_retries must be 0..10");
  if (o.retry.budget_ratio < 0) return InvalidArgument("retry.budget_ratio must not be negative");
  if (o.hedge.after.count() < 0) return InvalidArgument("hedge.after must not be negative");
  if (o.health.fall < 1 || o.health.rise < 1) return InvalidArgument("health.fall and health.rise must be >= 1");
  if (o.outlier.max_ejection_percent < 0 || o.outlier.max_ejection_percent > 100) {
    return InvalidArgument("outlier.max_ejection_percent must be 0..100");
  }
  if (o.breaker.failure_ratio < 0 || o.breaker.failure_ratio > 1) {
    return InvalidArgument("breaker.failure_ratio must be in [0, 1]");
  }
  if (o.breaker.window_calls < 1 || o.breaker.half_open_calls < 1) {
    return InvalidArgument("breaker.window_calls and breaker.half_open_calls must be >= 1");
  }
  return MakeLoadBalancer(o.lb, &balancer_);
}

Status ChannelCore::UpdateEndpoints(std::vector<EndpointSpec> specs) {
  std::vector<asio::ip::tcp::endpoint> resolved(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    HostPort hp;
    if (Status s = ParseHostPort(specs[i].address, &hp); !s.ok()) return s;
    if (Status s = ResolveEndpoint(hp, &resolved[i]); !s.ok()) return s;
  }
  const auto now = Clock::now();
  std::vector<std::shared_ptr<Endpoint>> next;
  std::vector<StopSignal> next_checks;
  for (size_t i = 0; i < specs.size(); ++i) {
    auto same = std::find_if(endpoints_.begin(), endpoints_.end(),
                             [&](const auto& e) { return e->address() == specs[i].address; });
    if (same != endpoints_.end()) {
      (*same)->set_weight(specs[i].weight);
      next.push_back(*same);
      next_checks.push_back(std::move(health_checks_[static_cast<size_t>(same - endpoints_.begin())]));
      continue;
    }
    auto endpoint = std::make_shared<Endpoint>(std::move(specs[i]), resolved[i], executor_, policy_,
                                               has_members_ ? now : Endpoint::Clock::time_point{});
    StopSignal checks;
    checks.Spawn(executor_, RunHealthChecks(endpoint, options_.health, &ChannelCore::OnHeartbeatChange));
    next.push_back(std::move(endpoint));
    next_checks.push_back(std::move(checks));
  }
  // Those of endpoints that stay were moved out; Stop() on a moved-from signal does nothing.
  for (StopSignal& gone : health_checks_) gone.Stop();
  endpoints_ = std::move(next);
  health_checks_ = std::move(next_checks);
  balancer_->Update(endpoints_);
  has_members_ = true;
  for (auto& waiter : membership_waiters_) waiter->cancel();
  membership_waiters_.clear();
  return Status::Ok();
}

void ChannelCore::OnHeartbeatChange(Endpoint& e, HeartbeatState::State from, HeartbeatState::State to) {
  Log().info("endpoint {}: heartbeat {} -> {}", e.address(), HeartbeatStateName(from), HeartbeatStateName(to));
  if (to != HeartbeatState::State::kHealthy) e.pool().Clear();
}

bool ChannelCore::MayEject() const {
  const auto now = Clock::now();
  size_t ejected = 0;
  for (const auto& e : endpoints_) ejected += e->outlier().Ejected(now) ? 1 : 0;
  return (ejected + 1) * 100 <= static_cast<size_t>(options_.outlier.max_ejection_percent) * endpoints_.size();
}

std::vector<EndpointInfo> ChannelCore::Snapshot() const {
  const auto now = Clock::now();
  std::vector<EndpointInfo> out;
  for (const auto& e : endpoints_) {
    out.push_back({.address = e->address(),
                   .weight = e->weight(),
                   .state = std::string(e->StateName(now)),
                   .in_flight = e->in_flight(),
                   .latency_ms = e->latency_us() / 1000.0,
                   .ejections = e->ejections.load(),
                   .circuit_opens = static_cast<uint64_t>(e->breaker().opened_count()),
                   .picks = e->picks.load(),
                   .successes = e->successes.load(),
                   .failures = e->failures.load()});
  }
  return out;
}

Channel::Counters ChannelCore::counters() const {
  return {.calls = calls_.load(),
          .retries = retries_.load(),
          .hedges = hedges_.load(),
          .budget_exhausted = budget_exhausted_.load(),
          .leader_redirects = leader_redirects_.load()};
}

}  // namespace harpc
