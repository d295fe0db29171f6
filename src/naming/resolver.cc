// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/resolver.h"

#include "naming/etcd.h"
#include "naming/file_resolver.h"
#include "naming/sentinel_resolver.h"
#include "naming/static_resolver.h"

namespace harpc {

Status MakeResolver(std::string_view target, const ClientSecurity& security, std::unique_ptr<Resolver>* out) {
  if (target.starts_with("file://")) {
    std::string_view path = target.substr(7);
    if (path.empty() || path.front() != '/') {
      return InvalidArgument("file target needs an absolute path: file:///path/endpoints.json");
    }
    *out = std::make_unique<FileResolver>(std::string(path));
    return Status::Ok();
  }
  if (target.starts_with("sentinel://")) {
    std::vector<std::string> sentinels;
    std::string service;
    if (Status s = SentinelResolver::ParseTarget(target, &sentinels, &service); !s.ok()) return s;
    *out = std::make_unique<SentinelResolver>(std::move(sentinels), std::move(service), security);
    return Status::Ok();
  }
  if (target.starts_with("etcd://")) return MakeEtcdResolver(target, security, out);
  std::vector<EndpointSpec> specs;
  if (Status s = ParseListTarget(target, &specs); !s.ok()) return s;
  *out = std::make_unique<StaticResolver>(std::move(specs));
  return Status::Ok();
}

}  // namespace harpc
