// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Resolvers turn a target into a membership that changes over time:
//   list://H:P[=W],...        fixed (also bare "H:P[,H:P]")
//   file:///path/eps.json     a JSON list, reloaded when the file changes
//   sentinel://H:P[,H:P]/SVC  watched on harpc sentinels
//   etcd://H:P[,H:P]/SVC      watched on etcd v3 (JSON gateway)
// (The Resolver interface itself is the client's: client/resolver.h.)
#pragma once

#include <memory>
#include <string_view>

#include "client/resolver.h"
#include "harpc/security.h"
#include "harpc/status.h"
#include "naming/target.h"

namespace harpc {

// Checks the target's syntax now (INVALID_ARGUMENT with the reason) and
// makes the resolver for its scheme. `security` is what the channel presents
// (ChannelOptions::security): sentinel:// watches carry it whole; etcd://
// takes its etcd part and its TLS (a harpc token is not etcd's to see).
Status MakeResolver(std::string_view target, const ClientSecurity& security, std::unique_ptr<Resolver>* out);

}  // namespace harpc
