// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// `harpc sentinel`: a harpc server (one event loop) hosting the registry, the
// monitor and the notifier, with the dashboard on GET /.
//
// Methods (POST /rpc/<Method>, JSON):
//   Registry.register   {service, address, name?, weight?, metadata?, ttl_ms?, lease?} → {lease, ttl_ms, epoch}
//                       ALREADY_EXISTS (409) when another live lease holds the address
//   Registry.heartbeat  {lease} → {ok}; NOT_FOUND (404) when the lease is unknown: register again
//   Registry.deregister {lease} → {ok}
//   Registry.list       {} → {"services": {NAME: [instance...]}, "epoch", "index"}
//   Registry.watch      {service, index?, timeout_ms?} → {service, index, epoch, instances}
//                       answers at once when the service changed after `index` (or `index`
//                       is not this registry's), else on the service's next change or after
//                       timeout_ms (long poll); changes of other services wake nobody
//   Sentinel.opinion / vote / voted / decide   the peer protocol (monitor.h, docs/sentinel.md)
//   Sentinel.events     {limit?} → the recent events, newest first (at most Notifier::kRecentEvents)
//   Sentinel.history    {} → {instances: [...], retention_ms}: each instance's recent state changes,
//                       those that left the registry included for a while (InstanceHistory)
#pragma once

#include <string>
#include <vector>

#include "harpc/security.h"
#include "harpc/status.h"
#include "sentinel/monitor.h"
#include "sentinel/registry.h"

namespace harpc::sentinel {

struct SentinelOptions {
  std::string listen = "127.0.0.1:26379";
  std::string data_dir;            // required: the registry's SQLite file lives here
  std::vector<std::string> peers;  // the other sentinels of the group
  int quorum = 0;                  // 0: a majority of the group (peers + 1)
  std::chrono::milliseconds down_after{3000};
  std::chrono::milliseconds probe_interval{500};
  // The TTL of a registration that names none; with down_after and
  // probe_interval it must pass CheckDetectionSettings.
  std::chrono::milliseconds lease_ttl = kDefaultLeaseTtl;
  std::string notify_command;                       // run with the event as JSON on stdin
  std::string webhook_url;                          // http://host:port/path, POSTed the event
  std::chrono::milliseconds notify_timeout{10000};  // a --notify command still running then is killed
  int max_alerts_per_minute = 30;  // alert budget (burst included); the excess is counted and summed up
  RegistryLimits limits;           // services, instances and watchers one sentinel holds (registry.h)
  TlsOptions tls;                  // the listener's (ServerOptions::tls)
  AuthOptions auth;                // the tokens accepted (ServerOptions::auth)
  // Presented on every outgoing call: whole to the peers (the peer protocol
  // needs a token of role peer); its TLS only to the instances probed (their
  // addresses come from whoever registered them) and to the webhook.
  ClientSecurity security;
};

// How long after a crash the group takes to declare the instance ODOWN and
// raise the alert, allowing for one frozen peer: down-after from the probe
// round of its last good answer (before the crash; one probe interval more
// when down-after is no multiple of it), the random pause before standing
// for election (100 ms at most), and two calls to a peer that never answers
// (its opinions in the round that finds the quorum, and again when the
// leader asks before deciding: each waits a probe interval, 200 ms at least).
// Measured with the defaults (3000, 500), a group of 3, kill -9: the alert
// came 2.6 to 3.0 s after the kill, 3.7 to 4.1 s with one sentinel frozen;
// this bound is 5 s. More frozen peers or lost elections take longer.
std::chrono::milliseconds DetectionBound(std::chrono::milliseconds down_after,
                                         std::chrono::milliseconds probe_interval);
// The least time a lease of `ttl` outlives a crash: renewed every ttl / 3,
// it can have been renewed last a third of a TTL before.
std::chrono::milliseconds LeaseLeftAfterCrash(std::chrono::milliseconds ttl);

// Refuses settings that contradict each other (INVALID_ARGUMENT, one line
// naming the flags and what would do): a probe interval not below
// down-after (a single lost probe would take an instance down), and a
// default lease TTL that can expire before the DetectionBound (a crash
// would then alert as "lease-expired" rather than "odown").
Status CheckDetectionSettings(const SentinelOptions& options);

// Runs until SIGTERM/SIGINT. Prints "listening on H:P" on stdout when ready.
Status RunSentinel(const SentinelOptions& options);

}  // namespace harpc::sentinel
