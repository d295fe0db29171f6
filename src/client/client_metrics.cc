#include "client/client_metrics.h"

#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "client/channel_core.h"

namespace harpc {

namespace asio = boost::asio;

namespace {
struct Registered {
  std::string target;
  std::weak_ptr<ChannelCore> core;
};

// Never destroyed: a channel that outlives main() (a static one, or one held
// by a static object) unregisters itself during the exit's destructors, which
// may run after those of this file's statics.
std::mutex& RegistryMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::map<uint64_t, Registered>& Registry() {
  static auto* channels = new std::map<uint64_t, Registered>;
  return *channels;
}

std::string Labels(const std::string& target, const std::string& endpoint) {
  return "target=\"" + metrics::EscapeLabel(target) + "\",endpoint=\"" + metrics::EscapeLabel(endpoint) + "\"";
}
struct Snapshot {
  std::string target;
  std::shared_ptr<ChannelCore> core;
  std::vector<EndpointInfo> endpoints;  // empty when its loop did not answer in time
  Channel::Counters counters;
};

// Fills every snapshot's endpoints on its channel's loop, waiting at most
// kLoopAnswerWait. Answers come back to this coroutine's loop by post, so the
// gathered state is touched on that loop only; late answers find it still alive.
asio::awaitable<void> FillEndpoints(std::vector<Snapshot>& snapshots) {
  auto here = co_await asio::this_coro::executor;
  struct Gather {
    Gather(asio::any_io_executor ex, size_t n) : done(ex), answers(n) {}
    asio::steady_timer done;
    std::vector<std::optional<std::vector<EndpointInfo>>> answers;
    size_t left = 0;
  };
  auto gather = std::make_shared<Gather>(here, snapshots.size());
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const std::shared_ptr<ChannelCore>& core = snapshots[i].core;
    if (RunningInThisThread(core->executor())) {
      gather->answers[i] = core->Snapshot();
      continue;
    }
    ++gather->left;
    asio::post(core->executor(), [gather, here, i, weak = std::weak_ptr<ChannelCore>(core)] {
      std::vector<EndpointInfo> endpoints;
      if (auto alive = weak.lock()) endpoints = alive->Snapshot();
      asio::post(here, [gather, i, endpoints = std::move(endpoints)]() mutable {
        gather->answers[i] = std::move(endpoints);
        if (--gather->left == 0) gather->done.cancel();
      });
    });
  }
  if (gather->left > 0) {
    gather->done.expires_after(kLoopAnswerWait);
    co_await gather->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  for (size_t i = 0; i < snapshots.size(); ++i) {
    if (gather->answers[i]) snapshots[i].endpoints = std::move(*gather->answers[i]);
  }
}
}  // namespace

uint64_t RegisterChannel(std::string target, const std::shared_ptr<ChannelCore>& core) {
  static uint64_t next_id = 0;
  std::lock_guard lock(RegistryMutex());
  Registry().emplace(++next_id, Registered{std::move(target), core});
  return next_id;
}

void UnregisterChannel(uint64_t id) {
  std::lock_guard lock(RegistryMutex());
  Registry().erase(id);
}

asio::awaitable<void> WriteClientMetrics(metrics::PrometheusWriter& w) {
  std::vector<Snapshot> snapshots;
  {
    std::lock_guard lock(RegistryMutex());
    for (const auto& [id, channel] : Registry()) {
      if (auto core = channel.core.lock()) snapshots.push_back({channel.target, std::move(core), {}, {}});
    }
  }
  if (snapshots.empty()) co_return;
  for (Snapshot& s : snapshots) s.counters = s.core->counters();
  co_await FillEndpoints(snapshots);

  auto per_channel = [&](const char* name, const char* help, uint64_t Channel::Counters::*field) {
    w.Family(name, "counter", help);
    for (const Snapshot& s : snapshots) {
      w.Sample(name, "target=\"" + metrics::EscapeLabel(s.target) + "\"", s.counters.*field);
    }
  };
  per_channel("harpc_client_calls_total", "Calls made through the channel.", &Channel::Counters::calls);
  per_channel("harpc_client_retries_total", "Retry attempts.", &Channel::Counters::retries);
  per_channel("harpc_client_hedges_total", "Hedged (backup) attempts.", &Channel::Counters::hedges);
  per_channel("harpc_client_retry_budget_exhausted_total", "Retries or hedges refused by the retry budget.",
              &Channel::Counters::budget_exhausted);
  per_channel("harpc_client_leader_redirects_total",
              "NOT_LEADER answers of a replicated group's member followed to the leader it named.",
              &Channel::Counters::leader_redirects);

  auto per_endpoint = [&](const char* name, const char* type, const char* help,
                          const std::function<double(const EndpointInfo&)>& value) {
    w.Family(name, type, help);
    for (const Snapshot& s : snapshots) {
      for (const EndpointInfo& e : s.endpoints) w.Sample(name, Labels(s.target, e.address), value(e));
    }
  };
  w.Family("harpc_client_endpoint_state", "gauge",
           "1 for the endpoint's current state: healthy, suspect, draining, unhealthy, ejected, open, half_open.");
  for (const Snapshot& s : snapshots) {
    for (const EndpointInfo& e : s.endpoints) {
      w.Sample("harpc_client_endpoint_state", Labels(s.target, e.address) + ",state=\"" + e.state + "\"", 1.0);
    }
  }
  per_endpoint("harpc_client_endpoint_picks_total", "counter", "Attempts sent to the endpoint.",
               [](const EndpointInfo& e) { return static_cast<double>(e.picks); });
  per_endpoint("harpc_client_endpoint_failures_total", "counter", "Attempts that failed (transport or server fault).",
               [](const EndpointInfo& e) { return static_cast<double>(e.failures); });
  per_endpoint("harpc_client_endpoint_ejections_total", "counter", "Times outlier detection ejected the endpoint.",
               [](const EndpointInfo& e) { return static_cast<double>(e.ejections); });
  per_endpoint("harpc_client_endpoint_circuit_opens_total", "counter", "Times the endpoint's circuit breaker opened.",
               [](const EndpointInfo& e) { return static_cast<double>(e.circuit_opens); });
  per_endpoint("harpc_client_endpoint_in_flight", "gauge", "Attempts in flight on the endpoint.",
               [](const EndpointInfo& e) { return static_cast<double>(e.in_flight); });
  per_endpoint("harpc_client_endpoint_latency_seconds", "gauge", "Decaying average latency of the endpoint.",
               [](const EndpointInfo& e) { return e.latency_ms / 1000.0; });
}

}  // namespace harpc
