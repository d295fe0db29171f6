#include "client/client_metrics.h"

#include <map>
#include <mutex>

namespace harpc {

namespace {
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<uint64_t, ChannelProbe>& Registry() {
  static std::map<uint64_t, ChannelProbe> channels;
  return channels;
}

std::string Labels(const std::string& target, const std::string& endpoint) {
  return "target=\"" + metrics::EscapeLabel(target) + "\",endpoint=\"" + metrics::EscapeLabel(endpoint) + "\"";
}
}  // namespace

uint64_t RegisterChannel(ChannelProbe probe) {
  static uint64_t next_id = 0;
  std::lock_guard lock(RegistryMutex());
  Registry().emplace(++next_id, std::move(probe));
  return next_id;
}

void UnregisterChannel(uint64_t id) {
  std::lock_guard lock(RegistryMutex());
  Registry().erase(id);
}

void WriteClientMetrics(metrics::PrometheusWriter& w) {
  struct Snapshot {
    std::string target;
    std::vector<EndpointInfo> endpoints;
    Channel::Counters counters;
  };
  std::vector<Snapshot> snapshots;
  {
    std::lock_guard lock(RegistryMutex());  // held so that no channel goes away mid-read
    for (const auto& [id, probe] : Registry()) {
      snapshots.push_back({probe.target, probe.endpoints(), probe.counters()});
    }
  }
  if (snapshots.empty()) return;

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
