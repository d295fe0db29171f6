#include "util/log.h"
#include "naming/sentinel_registrar.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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
  if (list.empty()) return InvalidArgument("no sentinel address");
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  std::string_view rest = list;
  for (;;) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    HostPort hp;
    if (item.empty()) return InvalidArgument("empty sentinel address in '" + std::string(list) + "'");
    if (Status s = ParseHostPort(item, &hp); !s.ok()) {
      return InvalidArgument("sentinel " + s.message());
    }
    if (!seen.insert(std::string(item)).second) {
      return InvalidArgument("sentinel " + std::string(item) + " is listed twice");
    }
    addresses.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  *out = std::move(addresses);
  return Status::Ok();
}

// One sentinel: its channel and the state its loop shares with Stop().
struct SentinelRegistrar::Link {
  std::string sentinel;
  std::unique_ptr<Channel> channel;

  struct State {
    // Touched on the channel's loop only.
    StopSignal heartbeats;  // Stop ends the heartbeats; the loop then deregisters
    std::string lease;
    Clock::time_point stop_deadline = Clock::time_point::max();
    // Shared with other threads.
    std::atomic<bool> registered{false};
    std::promise<void> done;  // set when the loop ended (deregistered or gave up)
  };
  std::shared_ptr<State> state;
  std::future<void> done;
};

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{2000};

asio::awaitable<void> RunLink(Channel* channel, std::string sentinel, Registration reg,
                              std::shared_ptr<SentinelRegistrar::Link::State> state);
}  // namespace

SentinelRegistrar::SentinelRegistrar(std::vector<std::string> sentinels, Registration registration)
    : registration_(std::move(registration)) {
  if (registration_.name.empty()) registration_.name = registration_.address;
  const milliseconds period = std::max(registration_.ttl / 3, milliseconds(1));
  for (std::string& sentinel : sentinels) {
    ChannelOptions options;
    options.lb = "rr";
    options.retry.max_retries = 0;    // one sentinel per channel: nowhere else to go
    options.health.interval = milliseconds(0);  // no probes of the sentinel
    options.outlier.consecutive_failures = 0;   // a lone endpoint is always called
    options.outlier.failure_ratio = 0;
    options.breaker.failure_ratio = 0;
    options.timeout = std::max(period, milliseconds(100));
    options.idempotency_keys = false;
    auto link = std::make_unique<Link>();
    link->sentinel = std::move(sentinel);
    link->channel = std::make_unique<Channel>("list://" + link->sentinel, std::move(options));
    link->state = std::make_shared<Link::State>();
    link->done = link->state->done.get_future();
    links_.push_back(std::move(link));
  }
}

SentinelRegistrar::~SentinelRegistrar() { Stop(milliseconds(0)); }

void SentinelRegistrar::Start() {
  if (started_ || stopped_) return;
  started_ = true;
  for (auto& link : links_) {
    const asio::any_io_executor loop = link->channel->executor();
    asio::post(loop, [loop, link = link.get(), registration = registration_] {
      link->state->heartbeats.Spawn(loop, RunLink(link->channel.get(), link->sentinel, registration, link->state));
    });
  }
}

void SentinelRegistrar::Stop(milliseconds timeout) {
  if (stopped_) return;
  stopped_ = true;
  const auto deadline = Clock::now() + std::max(timeout, milliseconds(0));
  if (started_) {
    for (auto& link : links_) {
      asio::post(link->channel->executor(), [state = link->state, deadline] {
        state->stop_deadline = deadline;
        state->heartbeats.Stop();
      });
    }
    for (auto& link : links_) {
      if (link->done.wait_until(deadline) != std::future_status::ready && timeout.count() > 0) {
        Log().warn("registrar: sentinel {} did not confirm the deregistration in time; its lease will expire",
                     link->sentinel);
      }
    }
  }
  // Stops each channel's loop; a loop still running is destroyed with it.
  for (auto& link : links_) link->channel.reset();
}

size_t SentinelRegistrar::registered_count() const {
  size_t n = 0;
  for (const auto& link : links_) n += link->state->registered ? 1 : 0;
  return n;
}

namespace {

asio::awaitable<void> RunLink(Channel* channel, std::string sentinel, Registration reg,
                              std::shared_ptr<SentinelRegistrar::Link::State> state) {
  const milliseconds period = std::max(reg.ttl / 3, milliseconds(1));
  const milliseconds max_backoff = std::clamp(period, kMinBackoff, kMaxBackoff);
  milliseconds backoff = kMinBackoff;
  std::string last_error;  // logged once, not at every retry
  const std::string who = reg.service + " " + reg.address;

  auto failed = [&](const char* what, const Status& s) {
    if (s.ToString() != last_error) {
      last_error = s.ToString();
      Log().warn("registrar: {} {} on sentinel {} failed: {}; retrying", what, who, sentinel, last_error);
    }
    const milliseconds wait = backoff;
    backoff = std::min(backoff * 2, max_backoff);
    return wait;
  };

  // A stop cancels the call or the wait in progress and ends the loop below;
  // no exception, so that the deregistration still runs.
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!Stopped(co_await asio::this_coro::cancellation_state)) {
    milliseconds wait = period;
    if (state->lease.empty()) {
      json::value params = {{"service", reg.service}, {"address", reg.address}, {"name", reg.name},
                            {"weight", reg.weight}, {"metadata", reg.metadata}, {"ttl_ms", reg.ttl.count()}};
      CallResult r = co_await channel->AsyncCall("Registry.register", std::move(params));
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      const json::string* lease = nullptr;
      if (r.ok() && r.value.is_object()) {
        if (const json::value* l = r.value.as_object().if_contains("lease")) lease = l->if_string();
      }
      if (lease && !lease->empty()) {
        state->lease = std::string(*lease);
        state->registered = true;
        Log().info("registrar: registered {} on sentinel {} (lease {}, ttl {} ms)", who, sentinel,
                     state->lease, reg.ttl.count());
        last_error.clear();
        backoff = kMinBackoff;
      } else {
        wait = failed("registration of", r.ok() ? Internal("answer without a lease") : r.status);
      }
    } else {
      json::value params = {{"lease", state->lease}};
      CallResult r = co_await channel->AsyncCall("Registry.heartbeat", std::move(params));
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (r.ok()) {
        if (!last_error.empty()) Log().info("registrar: heartbeats of {} reach sentinel {} again", who, sentinel);
        last_error.clear();
        backoff = kMinBackoff;
      } else if (r.status.code() == StatusCode::kNotFound) {
        Log().info("registrar: sentinel {} forgot {} (lease {}); registering again", sentinel, who, state->lease);
        state->lease.clear();
        state->registered = false;
        wait = milliseconds(0);
      } else {
        wait = failed("heartbeat of", r.status);
      }
    }
    if (wait.count() == 0) continue;
    timer.expires_after(wait);
    co_await timer.async_wait(kNoThrow);
  }

  if (!state->lease.empty()) {
    CallOptions options;
    options.timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(
                                                    state->stop_deadline - Clock::now()));
    options.idempotent = true;
    json::value params = {{"lease", state->lease}};
    CallResult r = co_await channel->AsyncCall("Registry.deregister", std::move(params), std::move(options));
    if (r.ok() || r.status.code() == StatusCode::kNotFound) {
      Log().info("registrar: deregistered {} from sentinel {}", who, sentinel);
    } else {
      Log().warn("registrar: deregistration of {} from sentinel {} failed: {}; its lease will expire", who,
                   sentinel, r.status.ToString());
    }
    state->lease.clear();
    state->registered = false;
  }
  state->done.set_value();
}

}  // namespace
}  // namespace harpc
