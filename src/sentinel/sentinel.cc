// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/sentinel.h"

#include <cstdio>

#include "harpc/server.h"
#include "sentinel/sentinel_service.h"

namespace harpc::sentinel {

using std::chrono::milliseconds;

milliseconds DetectionBound(milliseconds down_after, milliseconds probe_interval) {
  return down_after + 4 * probe_interval;
}

milliseconds LeaseLeftAfterCrash(milliseconds ttl) { return ttl - ttl / 3; }

Status CheckDetectionSettings(const SentinelOptions& o) {
  auto n = [](milliseconds d) { return std::to_string(d.count()); };
  if (o.probe_interval >= o.down_after) {
    return InvalidArgument("--probe-interval-ms " + n(o.probe_interval) + " must be below --down-after-ms " +
                           n(o.down_after) + ": a single lost probe would take an instance down");
  }
  const milliseconds bound = DetectionBound(o.down_after, o.probe_interval);
  if (LeaseLeftAfterCrash(o.lease_ttl) <= bound) {
    milliseconds enough = bound * 3 / 2;
    while (LeaseLeftAfterCrash(enough) <= bound) enough += milliseconds(1);  // (at most 3 steps: rounding)
    return InvalidArgument("--lease-ttl-ms " + n(o.lease_ttl) + " can expire " + n(LeaseLeftAfterCrash(o.lease_ttl)) +
                           " ms after a crash (renewed every TTL/3), before the sentinels declare it down (up to " +
                           n(bound) + " ms: --down-after-ms " + n(o.down_after) + " + 4 x --probe-interval-ms " +
                           n(o.probe_interval) + "): use --lease-ttl-ms " + n(enough) +
                           " or more, or a lower --down-after-ms");
  }
  return Status::Ok();
}

Status RunSentinel(const SentinelOptions& options) {
  if (Status s = CheckDetectionSettings(options); !s.ok()) return s;
  if (options.data_dir.empty()) return InvalidArgument("--data-dir is required");
  std::unique_ptr<RegistryStore> store;
  if (Status s = RegistryStore::Open(options.data_dir, &store); !s.ok()) return s;
  SentinelService service(options, std::move(store));
  ServerOptions so;
  so.threads = 1;  // the registry, monitor and notifier share one loop: no locks
  so.name = "sentinel";
  so.tls = options.tls;
  so.auth = options.auth;
  {
    Server server(so);
    if (Status s = service.Attach(server); !s.ok()) return s;
    if (Status s = server.Start(options.listen); !s.ok()) return s;
    service.StartMonitor(server);
    std::printf("listening on %s\n", server.address().c_str());
    std::fflush(stdout);
    server.Wait();
    service.Stop();
  }
  return Status::Ok();
}

}  // namespace harpc::sentinel
