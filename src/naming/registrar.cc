// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/registrar.h"

#include <boost/json.hpp>

#include "naming/etcd.h"
#include "naming/sentinel_registrar.h"

namespace harpc {

Status MakeRegistrar(std::string_view spec, Registration registration, const ClientSecurity& security,
                     std::unique_ptr<Registrar>* out) {
  if (registration.service.empty()) return InvalidArgument("registration needs a service name");
  if (registration.address.empty()) return InvalidArgument("registration needs the server's address");
  if (registration.ttl.count() < 100 || registration.ttl.count() > 3600000) {
    return InvalidArgument("lease TTL must be from 100 to 3600000 ms");
  }
  if (!registration.group.empty()) {
    boost::json::array members(registration.group.begin(), registration.group.end());
    registration.metadata["group"] = boost::json::object{{"members", std::move(members)}};
  }
  if (spec.starts_with("sentinel://")) {
    std::string_view list = spec.substr(11);
    if (list.find('/') != std::string_view::npos) {
      return InvalidArgument("register target '" + std::string(spec) +
                             "' must not name a service (expected sentinel://H:P[,H:P]; the service is --service)");
    }
    std::vector<std::string> sentinels;
    if (Status s = ParseSentinelList(list, &sentinels); !s.ok()) {
      return InvalidArgument(s.message() + " in '" + std::string(spec) + "' (expected sentinel://H:P[,H:P])");
    }
    *out = std::make_unique<SentinelRegistrar>(std::move(sentinels), std::move(registration), security);
    return Status::Ok();
  }
  if (spec.starts_with("etcd://")) return MakeEtcdRegistrar(spec, registration, security, out);
  return InvalidArgument("unsupported register target '" + std::string(spec) +
                         "' (expected sentinel://H:P[,H:P] or etcd://H:P[,H:P])");
}

}  // namespace harpc
