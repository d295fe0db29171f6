// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/sentinel_resolver.h"
#include "util/log.h"

#include <algorithm>
#include <optional>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "harpc/channel.h"
#include "naming/sentinel_registrar.h"
#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kWatchTimeout{5000};     // how long a sentinel holds a watch without news
constexpr milliseconds kRetryDelay{200};        // between rounds in which no sentinel answered
constexpr milliseconds kQuickAnswer{20};        // answers faster than this with no news...
constexpr int kQuickAnswersBeforePause = 3;     // ...this many times in a row...
constexpr milliseconds kQuickAnswerPause{100};  // ...make the next poll wait this long
}  // namespace

SentinelResolver::SentinelResolver(std::vector<std::string> sentinels, std::string service, ClientSecurity security)
    : sentinels_(std::move(sentinels)), service_(std::move(service)), security_(std::move(security)) {}

Status SentinelResolver::ParseTarget(std::string_view target, std::vector<std::string>* sentinels,
                                     std::string* service) {
  constexpr std::string_view kScheme = "sentinel://";
  const std::string usage = " (expected sentinel://H:P[,H:P]/SERVICE)";
  if (!target.starts_with(kScheme))
    return InvalidArgument("'" + std::string(target) + "' is not a sentinel target" + usage);
  std::string_view rest = target.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgument("sentinel target '" + std::string(target) + "' names no service" + usage);
  }
  std::string_view name = rest.substr(slash + 1);
  if (name.empty()) return InvalidArgument("sentinel target '" + std::string(target) + "' names no service" + usage);
  if (name.find('/') != std::string_view::npos) {
    return InvalidArgument("bad service name '" + std::string(name) + "' in '" + std::string(target) + "'" + usage);
  }
  std::vector<std::string> list;
  if (Status s = ParseSentinelList(rest.substr(0, slash), &list); !s.ok()) {
    return InvalidArgument(s.message() + " in '" + std::string(target) + "'" + usage);
  }
  *sentinels = std::move(list);
  *service = std::string(name);
  return Status::Ok();
}

std::vector<EndpointSpec> SentinelResolver::CallableEndpoints(const json::object& answer) {
  std::vector<EndpointSpec> specs;
  const json::value* instances = answer.if_contains("instances");
  if (!instances || !instances->is_array()) return specs;
  for (const json::value& item : instances->as_array()) {
    const json::object* i = item.if_object();
    if (!i) continue;
    const json::value* address = i->if_contains("address");
    const json::value* state = i->if_contains("state");
    if (!address || !address->is_string() || !state || !state->is_string()) continue;
    if (state->as_string() != "up" && state->as_string() != "sdown") continue;
    EndpointSpec spec{.address = std::string(address->as_string())};
    HostPort hp;
    if (!ParseHostPort(spec.address, &hp).ok()) continue;  // one bad entry must not reject the rest
    if (const json::value* w = i->if_contains("weight"); w && w->is_number()) {
      boost::system::error_code ec;
      const auto weight = w->to_number<int64_t>(ec);
      if (!ec) spec.weight = static_cast<int>(std::clamp<int64_t>(weight, 1, 1000000));
    }
    if (std::any_of(specs.begin(), specs.end(), [&](const EndpointSpec& s) { return s.address == spec.address; })) {
      continue;
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

namespace {

// Waits `delay`; false once the watch was stopped.
asio::awaitable<bool> Pause(asio::steady_timer& timer, milliseconds delay) {
  timer.expires_after(delay);
  co_await timer.async_wait(kNoThrow);
  co_return !Stopped(co_await asio::this_coro::cancellation_state);
}

asio::awaitable<void> Watch(std::vector<std::unique_ptr<Channel>> sentinels, std::vector<std::string> names,
                            std::string target, std::string service, Resolver::Listener listener) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const std::string method = "Registry.watch";
  // The sentinel asked now: a random one first, so that clients spread over the group.
  size_t current = std::random_device{}() % sentinels.size();
  int64_t index = -1;   // the last answer's index, from sentinels[current]; -1 asks for an answer at once
  size_t failures = 0;  // consecutive failed watches
  std::optional<std::vector<EndpointSpec>> last;
  std::string last_error;
  int quick_answers = 0;
  bool kept_for_empty = false;  // warned that an empty listing was ignored

  for (;;) {
    json::object params{{"service", service}, {"timeout_ms", kWatchTimeout.count()}};
    if (index >= 0) params["index"] = index;
    json::value body(std::move(params));
    CallOptions options;
    options.timeout = kWatchTimeout + milliseconds(1000);
    options.idempotent = true;
    const auto sent = Clock::now();
    CallResult r = co_await sentinels[current]->AsyncCall(method, std::move(body), std::move(options));
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;

    const json::object* answer = r.ok() ? r.value.if_object() : nullptr;
    const json::value* new_index = answer ? answer->if_contains("index") : nullptr;
    if (!answer || !new_index || !new_index->is_number()) {
      const std::string error = r.ok() ? "answer without an index" : r.status.ToString();
      Log().log(failures == 0 ? spdlog::level::warn : spdlog::level::debug,
                "{}: watch on sentinel {} failed ({}); asking the next one", target, names[current], error);
      // Another sentinel, or this one after a restart: its index means nothing here.
      current = (current + 1) % sentinels.size();
      index = -1;
      if (++failures % sentinels.size() == 0) {  // a whole round failed
        if (error != last_error) {
          last_error = error;
          Log().warn("{}: no sentinel answers; keeping the last {} endpoint(s), retrying every {} ms", target,
                     last ? last->size() : 0, kRetryDelay.count());
        }
        if (!co_await Pause(timer, kRetryDelay)) break;
      }
      continue;
    }
    if (failures > 0) Log().info("{}: watching sentinel {}", target, names[current]);
    failures = 0;
    last_error.clear();
    boost::system::error_code ec;
    const int64_t answered_index = new_index->to_number<int64_t>(ec);

    std::vector<EndpointSpec> specs = SentinelResolver::CallableEndpoints(*answer);
    const bool news = !last || specs != *last;
    const json::value* instances = answer->if_contains("instances");
    const bool none_listed = !instances || !instances->is_array() || instances->as_array().empty();
    if (specs.empty() && none_listed) {
      if (news && last && !last->empty() && !kept_for_empty) {
        kept_for_empty = true;
        Log().warn("{}: sentinel {} lists no instance; keeping the last {} endpoint(s)", target, names[current],
                   last->size());
      }
      // Never hand the channel an empty membership (see the header).
      if (!last) last.emplace();
    } else if (news) {  // (empty when every listed instance is odown or draining: the sentinels' verdict)
      kept_for_empty = false;
      last = specs;
      listener(std::move(specs));
    }
    // A guard against a watch that keeps answering at once with nothing new
    // (it should not happen: the index sent is the one this sentinel gave).
    if (!news && !ec && Clock::now() - sent < kQuickAnswer) {
      if (++quick_answers >= kQuickAnswersBeforePause) {
        quick_answers = 0;
        if (!co_await Pause(timer, kQuickAnswerPause)) break;
      }
    } else {
      quick_answers = 0;
    }
    index = ec ? -1 : answered_index;
  }
}

}  // namespace

void SentinelResolver::Start(asio::any_io_executor executor, Listener listener) {
  if (started_) return;
  started_ = true;
  std::vector<std::unique_ptr<Channel>> sentinels;
  std::string list;
  for (const std::string& address : sentinels_) {
    ChannelOptions options;
    options.retry.max_retries = 0;              // failover is the resolver's (see the header)
    options.health.interval = milliseconds(0);  // no probes of sentinels: the watch itself tells
    options.outlier.consecutive_failures = 0;   // a lone endpoint is always called
    options.outlier.failure_ratio = 0;
    options.breaker.failure_ratio = 0;
    options.timeout = kWatchTimeout + milliseconds(1000);
    options.idempotency_keys = false;
    options.executor = executor;
    options.security = security_;
    sentinels.push_back(std::make_unique<Channel>("list://" + address, std::move(options)));
    list += (list.empty() ? "" : ",") + address;
  }
  std::string target = "sentinel://" + list + "/" + service_;
  watch_.Spawn(executor, Watch(std::move(sentinels), sentinels_, std::move(target), service_, std::move(listener)));
}

// On the loop (Resolver::Stop): cancels the watch call or the pause in progress.
void SentinelResolver::Stop() { watch_.Stop(); }

}  // namespace harpc
