// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's methods (sentinel/sentinel.h) on a running sentinel: the
// registry's (Registry.register, heartbeat, deregister, list, watch) and the
// peer protocol's (Sentinel.opinion, vote, voted, decide, events). The input
// is a method session (fuzz_support.h): "Registry.register {...}" then
// "Registry.heartbeat {\"lease\":$lease}" reaches the lease the first made.
// The sentinel runs as `harpc sentinel` does, on 127.0.0.1 with its data in
// a temporary directory, and two peers at closed loopback ports.
#include "fuzz_support.h"
#include "method_session.h"
#include "sentinel/sentinel_service.h"
#include "support/test_support.h"

using namespace harpc;

namespace {

struct RunningSentinel {
  RunningSentinel() {
    sentinel::SentinelOptions options;
    options.data_dir = dir.path();
    // Fixed, so that inputs can name them; closed (in isolated.sh's namespace nothing else listens).
    options.peers = {"127.0.0.1:26380", "127.0.0.1:26381"};
    options.probe_interval = std::chrono::milliseconds(50);
    options.down_after = std::chrono::milliseconds(200);
    options.limits.max_services = 64;
    options.limits.max_instances = 256;
    std::unique_ptr<sentinel::RegistryStore> store;
    Status s = sentinel::RegistryStore::Open(options.data_dir, &store);
    service = std::make_unique<sentinel::SentinelService>(options, std::move(store));
    ServerOptions so;
    so.threads = 1;
    so.handle_signals = false;
    so.shutdown_grace = std::chrono::milliseconds(100);
    server = std::make_unique<Server>(so);
    if (s.ok()) s = service->Attach(*server);
    if (s.ok()) s = server->Start("127.0.0.1:0");
    if (!s.ok()) throw std::runtime_error(s.message());
    service->StartMonitor(*server);
  }
  // As `harpc sentinel` ends: the loop stops, then the monitor goes and the writes commit.
  ~RunningSentinel() {
    server->Shutdown();
    server->Wait();
    service->Stop();
  }
  harpc::testing::TempDir dir{"harpc-fuzz-sentinel"};
  std::unique_ptr<sentinel::SentinelService> service;
  std::unique_ptr<Server> server;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static RunningSentinel sentinel;
  fuzz::RunSessionOnLoop(*sentinel.server, fuzz::Bytes(data, size));
  return 0;
}
