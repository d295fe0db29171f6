// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/sentinel_registrar.h"
#include "util/log.h"

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "harpc/channel.h"
#include "util/address.h"
#include "util/stop_signal.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Status ParseSentinelList(std::string_view list, std::vector<std::string>* out) {
  return ParseHostPortList(list, "sentinel", out);
}

// One sentinel: its channel and its lease, used on the loop only, shared by
// the registrar and its coroutines (a coroutine may outlive the registrar).
struct SentinelRegistrar::Link {
  explicit Link(const asio::any_io_executor& loop) : heartbeats_ended(loop, Clock::time_point::max()) {}
  std::string sentinel;
  std::unique_ptr<Channel> channel;     // on the registrar's loop
  StopSignal heartbeats;                // RunLink
  bool heartbeating = false;            // RunLink runs
  asio::steady_timer heartbeats_ended;  // cancelled when RunLink ends
  std::string lease;                    // empty: not registered
};

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{2000};

asio::awaitable<void> RunLink(std::shared_ptr<SentinelRegistrar::Link> link, Registration reg);
asio::awaitable<void> DeregisterLink(std::shared_ptr<SentinelRegistrar::Link> link, Registration reg);
}  // namespace

SentinelRegistrar::SentinelRegistrar(std::vector<std::string> sentinels, Registration registration,
                                     ClientSecurity security)
    : sentinels_(std::move(sentinels)), registration_(std::move(registration)), security_(std::move(security)) {
  if (registration_.name.empty()) registration_.name = registration_.address;
}

// Only post's allocation can throw: out of memory here ends the process either way.
SentinelRegistrar::~SentinelRegistrar() {  // NOLINT(bugprone-exception-escape)
  if (!links_) return;
  asio::post(loop_, [links = links_] {
    for (auto& link : *links) link->heartbeats.Stop();
  });
}

void SentinelRegistrar::Start(asio::any_io_executor loop) {
  if (links_) return;
  loop_ = loop;
  links_ = std::make_shared<std::vector<std::shared_ptr<Link>>>();
  const milliseconds period = std::max(registration_.ttl / 3, milliseconds(1));
  for (const std::string& sentinel : sentinels_) {
    ChannelOptions options;
    options.executor = loop;
    options.lb = "rr";
    options.retry.max_retries = 0;              // one sentinel per channel: nowhere else to go
    options.health.interval = milliseconds(0);  // no probes of the sentinel
    options.outlier.consecutive_failures = 0;   // a lone endpoint is always called
    options.outlier.failure_ratio = 0;
    options.breaker.failure_ratio = 0;
    options.timeout = std::max(period, milliseconds(100));
    options.idempotency_keys = false;
    options.security = security_;
    auto link = std::make_shared<Link>(loop);
    link->sentinel = sentinel;
    link->channel = std::make_unique<Channel>("list://" + sentinel, std::move(options));
    links_->push_back(std::move(link));
  }
  asio::post(loop, [loop, links = links_, registration = registration_] {
    for (auto& link : *links) link->heartbeats.Spawn(loop, RunLink(link, registration));
  });
}

asio::awaitable<void> SentinelRegistrar::Deregister() {
  if (!links_) co_return;
  using Deregistration = decltype(asio::co_spawn(loop_, DeregisterLink(nullptr, registration_), asio::deferred));
  std::vector<Deregistration> deregistrations;
  for (auto& link : *links_) {
    deregistrations.push_back(asio::co_spawn(loop_, DeregisterLink(link, registration_), asio::deferred));
  }
  // In parallel; cancelling Deregister cancels each one.
  co_await asio::experimental::make_parallel_group(std::move(deregistrations))
      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

namespace {

asio::awaitable<void> RunLink(std::shared_ptr<SentinelRegistrar::Link> link, Registration reg) {
  const milliseconds period = std::max(reg.ttl / 3, milliseconds(1));
  const milliseconds max_backoff = std::clamp(period, kMinBackoff, kMaxBackoff);
  milliseconds backoff = kMinBackoff;
  std::string last_error;  // logged once, not at every retry
  const std::string who = reg.service + " " + reg.address;

  auto failed = [&](const char* what, const Status& s) {
    if (s.ToString() != last_error) {
      last_error = s.ToString();
      Log().warn("registrar: {} {} on sentinel {} failed: {}; retrying", what, who, link->sentinel, last_error);
    }
    const milliseconds wait = backoff;
    backoff = std::min(backoff * 2, max_backoff);
    return wait;
  };

  // A stop cancels the call or the wait in progress and ends the loop below;
  // the lease is left to DeregisterLink (or to expire).
  co_await asio::this_coro::throw_if_cancelled(false);
  link->heartbeating = true;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!Stopped(co_await asio::this_coro::cancellation_state)) {
    milliseconds wait = period;
    if (link->lease.empty()) {
      json::value params = {{"service", reg.service}, {"address", reg.address},   {"name", reg.name},
                            {"weight", reg.weight},   {"metadata", reg.metadata}, {"ttl_ms", reg.ttl.count()}};
      CallResult r = co_await link->channel->AsyncCall("Registry.register", std::move(params));
      const json::string* lease = nullptr;
      const json::string* warning = nullptr;  // the sentinel's word on this registration, e.g. a TTL too short
      if (r.ok() && r.value.is_object()) {
        if (const json::value* l = r.value.as_object().if_contains("lease")) lease = l->if_string();
        if (const json::value* w = r.value.as_object().if_contains("warning")) warning = w->if_string();
      }
      // Kept even when stopped meanwhile: DeregisterLink ends it.
      if (lease && !lease->empty()) link->lease = std::string(*lease);
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (!link->lease.empty()) {
        Log().info("registrar: registered {} on sentinel {} (lease {}, ttl {} ms)", who, link->sentinel, link->lease,
                   reg.ttl.count());
        if (warning) Log().warn("registrar: sentinel {} says: {}", link->sentinel, std::string_view(*warning));
        last_error.clear();
        backoff = kMinBackoff;
      } else {
        wait = failed("registration of", r.ok() ? Internal("answer without a lease") : r.status);
      }
    } else {
      json::value params = {{"lease", link->lease}};
      CallResult r = co_await link->channel->AsyncCall("Registry.heartbeat", std::move(params));
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (r.ok()) {
        if (!last_error.empty()) Log().info("registrar: heartbeats of {} reach sentinel {} again", who, link->sentinel);
        last_error.clear();
        backoff = kMinBackoff;
      } else if (r.status.code() == StatusCode::kNotFound) {
        Log().info("registrar: sentinel {} forgot {} (lease {}); registering again", link->sentinel, who, link->lease);
        link->lease.clear();
        wait = milliseconds(0);
      } else {
        wait = failed("heartbeat of", r.status);
      }
    }
    if (wait.count() == 0) continue;
    timer.expires_after(wait);
    co_await timer.async_wait(kNoThrow);
  }
  link->heartbeating = false;
  link->heartbeats_ended.cancel();
}

asio::awaitable<void> DeregisterLink(std::shared_ptr<SentinelRegistrar::Link> link, Registration reg) {
  // The heartbeats end at once (their call or wait is cancelled); a
  // registration answered meanwhile leaves its lease, deregistered below.
  link->heartbeats.Stop();
  if (link->heartbeating) co_await link->heartbeats_ended.async_wait(kNoThrow);
  if (link->lease.empty() || Stopped(co_await asio::this_coro::cancellation_state)) co_return;
  const std::string lease = std::exchange(link->lease, std::string());
  CallOptions options;
  options.timeout = Registrar::kDeregisterTimeout;
  options.idempotent = true;
  json::value params = {{"lease", lease}};
  CallResult r = co_await link->channel->AsyncCall("Registry.deregister", std::move(params), std::move(options));
  const std::string who = reg.service + " " + reg.address;
  if (r.ok() || r.status.code() == StatusCode::kNotFound) {
    Log().info("registrar: deregistered {} from sentinel {}", who, link->sentinel);
  } else {
    Log().warn("registrar: deregistration of {} from sentinel {} failed: {}; its lease will expire", who,
               link->sentinel, r.status.ToString());
  }
}

}  // namespace
}  // namespace harpc
