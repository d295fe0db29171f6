// etcd v3 naming, for users beyond one sentinel group: `harpc serve --register
// etcd://H:P` and channels on "etcd://H:P/SERVICE". Both speak etcd's JSON
// gateway (grpc-gateway, /v3/... on the client URL; etcd 3.4 and later), so
// harpc needs no gRPC stack.
//
// Layout: one key per instance, bound to the instance's lease,
//   /harpc/services/<SERVICE>/<ADDRESS>
//     = {"address":"H:P","name":"N","weight":W,"metadata":{...}}
//
// Registrar (on the server's loop): POST /v3/lease/grant {"TTL":T} with
// T = max(2, ceil(ttl / 1 s)) seconds, then /v3/kv/put of the key with that
// lease, then /v3/lease/keepalive every T/3. When the lease is gone (keepalive
// answers TTL 0: it expired while the process was stopped, or etcd lost it)
// it grants a new lease and puts the key again; when etcd cannot be reached
// it keeps trying. Deregister revokes the lease (/v3/lease/revoke), which deletes
// the key at once. A process that dies or hangs disappears after T seconds.
//
// Resolver (on the channel's loop): /v3/kv/range over the service's prefix,
// the members handed to the listener, then one long-lived /v3/watch from the
// range's revision + 1 whose puts and deletes update the membership. When the
// watch stream breaks (etcd restarted, compaction) it ranges again and
// watches anew, retrying with backoff (100 ms doubling to 2 s); while etcd
// cannot be reached the channel keeps the last membership it had. Nothing
// blocks the loop: a channel's first calls wait for the first range (within
// their deadline).
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

// `host_port` is the "H:P" of an etcd member (already checked by MakeRegistrar).
// `tls`: how to reach etcd (ClientSecurity::tls of the process; etcd has its
// own users, so no harpc token is ever sent to it).
Status MakeEtcdRegistrar(std::string_view host_port, Registration registration, const TlsOptions& tls,
                         std::unique_ptr<Registrar>* out);

// `host_port` is the "H:P" of an etcd member, `service` non-empty (checked by MakeResolver).
Status MakeEtcdResolver(std::string_view host_port, std::string service, const TlsOptions& tls,
                        std::unique_ptr<Resolver>* out);

}  // namespace harpc
