// The client side in /metrics: every live channel of this process, with the
// state and counters of each of its endpoints. A server that calls other
// services through channels shows both sides on its one /metrics page.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "harpc/channel.h"
#include "metrics/prometheus.h"

namespace harpc {

// How the registry reads one channel: its target, an endpoint snapshot and counters.
struct ChannelProbe {
  std::string target;
  std::function<std::vector<EndpointInfo>()> endpoints;
  std::function<Channel::Counters()> counters;
};

// Channels register for their lifetime; the returned id unregisters.
uint64_t RegisterChannel(ChannelProbe probe);
void UnregisterChannel(uint64_t id);

// Appends the harpc_client_* families; nothing when no channel lives.
void WriteClientMetrics(metrics::PrometheusWriter& w);

}  // namespace harpc
