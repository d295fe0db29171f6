// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// etcd v3 naming, for users beyond one sentinel group: `harpc serve --register
// etcd://H:P[,H:P]` and channels on "etcd://H:P[,H:P]/SERVICE". Both speak
// etcd's JSON gateway (grpc-gateway, /v3/... on the client URL; etcd 3.4 and
// later), so harpc needs no gRPC stack. The members listed are tried one at a
// time, over http or https, signed in as an etcd user when one is given
// (etcd_client.h: failover, TLS, authentication).
//
// Layout: one key per instance, bound to the instance's lease,
//   /harpc/services/<SERVICE>/<ADDRESS>
//     = {"address":"H:P","name":"N","weight":W,"metadata":{...}}
//
// Registrar (on the server's loop): POST /v3/lease/grant {"TTL":T} with
// T = max(2, ceil(ttl / 1 s)) seconds, then /v3/kv/put of the key with that
// lease, then /v3/lease/keepalive every T/3. The lease is the cluster's, so
// any member keeps it alive: when the member in use dies, the next keepalive
// goes to another one (each request waits at most T/3, at least 500 ms, for a
// member before it moves on, so that a hung member cannot let the lease
// lapse). When the lease is gone (keepalive answers TTL 0: it expired while
// the process was stopped, or etcd lost it) it grants a new lease and puts
// the key again; when no member can be reached it keeps trying. Deregister
// revokes the lease (/v3/lease/revoke), which deletes the key at once. A
// process that dies or hangs disappears after T seconds.
//
// Resolver (on the channel's loop): /v3/kv/range over the service's prefix,
// the members handed to the listener, then one long-lived /v3/watch from the
// range's revision + 1 whose puts and deletes update the membership. The
// watch asks the member to cancel it when it loses its leader, and a probe
// (a serializable count-only range on the same member, every 2 s, 1 s to
// answer) ends it when the member stops answering (SIGSTOP, a hung host): a
// silent stream cannot tell. When the watch ends (the member died or hung,
// etcd restarted, compaction) it moves to the next member, ranges again and
// watches anew, retrying with backoff (100 ms doubling to 2 s) when no member
// answers; meanwhile the channel keeps the last membership it had. Nothing
// blocks the loop: a channel's first calls wait for the first range (within
// their deadline), and fail with the reason when it did not come ("etcd
// unreachable at 127.0.0.1:2379: connection refused").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "harpc/status.h"
#include "naming/registrar.h"
#include "naming/resolver.h"

namespace harpc {

// The prefix every harpc key lives under, and the key of one instance.
inline constexpr std::string_view kEtcdServicesPrefix = "/harpc/services/";
std::string EtcdInstanceKey(std::string_view service, std::string_view address);

// `spec`: "etcd://H:P[,H:P]". `security`: what the process presents
// (ClientSecurity::etcd, and its TLS when etcd has no CA of its own; the
// harpc bearer token is never sent to etcd). INVALID_ARGUMENT when wrong.
Status MakeEtcdRegistrar(std::string_view spec, const Registration& registration, const ClientSecurity& security,
                         std::unique_ptr<Registrar>* out);

// `target`: "etcd://H:P[,H:P]/SERVICE"; `security` as for the registrar.
Status MakeEtcdResolver(std::string_view target, const ClientSecurity& security, std::unique_ptr<Resolver>* out);

}  // namespace harpc
