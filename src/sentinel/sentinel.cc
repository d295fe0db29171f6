#include "sentinel/sentinel.h"

#include <cstdio>

#include "harpc/server.h"
#include "sentinel/sentinel_service.h"

namespace harpc::sentinel {

Status RunSentinel(const SentinelOptions& options) {
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
