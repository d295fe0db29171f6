// `harpc sentinel`: a harpc server (one event loop) hosting the registry, the
// monitor and the notifier, with the dashboard on GET /.
//
// Methods (POST /rpc/<Method>, JSON):
//   Registry.register   {service, address, name?, weight?, metadata?, ttl_ms?} → {lease, ttl_ms, epoch}
//   Registry.heartbeat  {lease} → {ok}; NOT_FOUND (404) when the lease is unknown: register again
//   Registry.deregister {lease} → {ok}
//   Registry.list       {} → {"services": {NAME: [instance...]}, "epoch", "index"}
//   Registry.watch      {service, index?, timeout_ms?} → {service, index, epoch, instances}
//                       answers at once when `index` differs from the registry's, else on
//                       the next change or after timeout_ms (long poll)
//   Sentinel.opinion / Sentinel.vote / Sentinel.decide   the peer protocol (monitor.h)
//   Sentinel.events     {} → the recent events, newest first
#pragma once

#include <string>
#include <vector>

#include "harpc/security.h"
#include "harpc/status.h"
#include "sentinel/monitor.h"

namespace harpc::sentinel {

struct SentinelOptions {
  std::string listen = "127.0.0.1:26379";
  std::string data_dir;                // required: the registry's SQLite file lives here
  std::vector<std::string> peers;      // the other sentinels of the group
  int quorum = 0;                      // 0: a majority of the group (peers + 1)
  std::chrono::milliseconds down_after{3000};
  std::chrono::milliseconds probe_interval{500};
  std::string notify_command;          // run with the event as JSON on stdin
  std::string webhook_url;             // http://host:port/path, POSTed the event
  TlsOptions tls;                      // the listener's (ServerOptions::tls)
  AuthOptions auth;                    // the tokens accepted (ServerOptions::auth)
  // Presented on every outgoing call: whole to the peers (the peer protocol
  // needs a token of role peer); its TLS only to the instances probed (their
  // addresses come from whoever registered them) and to the webhook.
  ClientSecurity security;
};

// Runs until SIGTERM/SIGINT. Prints "listening on H:P" on stdout when ready.
Status RunSentinel(const SentinelOptions& options);

}  // namespace harpc::sentinel
