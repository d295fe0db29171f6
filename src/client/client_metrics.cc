// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/client_metrics.h"

#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "client/channel_core.h"
#include "health/endpoint.h"
#include "util/loop_liveness.h"

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
// A channel as the writer sees it. No strong reference to the core: one taken
// on the writer's thread could be the last, and the core's destructor would
// then run off its loop, perhaps after that loop was destroyed.
struct Snapshot {
  std::string target;
  std::weak_ptr<ChannelCore> core;
  LoopLiveness loop;                    // the core's
  std::vector<EndpointInfo> endpoints;  // empty when its loop did not answer in time
  Channel::Counters counters;
};

// Fills every snapshot's endpoints on its channel's loop, waiting at most
// kLoopAnswerWait. Either loop may be destroyed meanwhile by its owner (a
// server's loop, shared by the channels of a coordinator in it): posts go
// through LoopLiveness, which posts nothing to a dead loop, and the handlers
// hold the gathered state weakly, so that only this coroutine's frame owns it
// (and its timer, bound to this loop) and a handler destroyed unrun on another
// thread frees nothing of this loop. Answers are stored on this loop only.
asio::awaitable<void> FillEndpoints(std::vector<Snapshot>& snapshots) {
  auto executor = co_await asio::this_coro::executor;
  const LoopLiveness here(executor);
  struct Gather {
    Gather(const asio::any_io_executor& ex, size_t n) : done(ex), answers(n) {}
    asio::steady_timer done;
    std::vector<std::optional<std::vector<EndpointInfo>>> answers;
    size_t left = 0;
  };
  auto gather = std::make_shared<Gather>(executor, snapshots.size());
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const Snapshot& s = snapshots[i];
    if (RunningInThisThread(s.loop.executor())) {
      if (auto core = s.core.lock()) gather->answers[i] = core->Snapshot();
      continue;
    }
    auto ask = [here, i, weak_gather = std::weak_ptr<Gather>(gather), weak = s.core] {
      std::vector<EndpointInfo> endpoints;
      if (auto core = weak.lock()) endpoints = core->Snapshot();
      here.Post([weak_gather, i, endpoints = std::move(endpoints)]() mutable {
        auto waiting = weak_gather.lock();
        if (!waiting) return;  // the writer gave up waiting
        waiting->answers[i] = std::move(endpoints);
        if (--waiting->left == 0) waiting->done.cancel();
      });
    };
    if (s.loop.Post(std::move(ask))) ++gather->left;
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
    // A registered core is held by its channel until it unregisters, which
    // waits for this lock: the reference taken here is never the last one.
    std::lock_guard lock(RegistryMutex());
    for (const auto& [id, channel] : Registry()) {
      if (auto core = channel.core.lock()) {
        snapshots.push_back({channel.target, core, core->loop(), {}, core->counters()});
      }
    }
  }
  if (snapshots.empty()) co_return;
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
  // A state set: one series per state, 1 for the current one and 0 for the
  // others, so that a state's series exists before the endpoint enters it.
  w.Family("harpc_client_endpoint_state", "gauge",
           "1 for the endpoint's current state, 0 for the others: healthy, suspect, draining, unhealthy, ejected, "
           "open, half_open.");
  for (const Snapshot& s : snapshots) {
    for (const EndpointInfo& e : s.endpoints) {
      const std::string labels = Labels(s.target, e.address) + ",state=\"";
      for (std::string_view state : kEndpointStateNames) {
        w.Sample("harpc_client_endpoint_state", labels + std::string(state) + "\"", state == e.state ? 1.0 : 0.0);
      }
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
