#include "naming/resolver.h"

#include "naming/etcd.h"
#include "naming/file_resolver.h"
#include "naming/sentinel_resolver.h"
#include "naming/static_resolver.h"
#include "util/address.h"

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
  // ---- etcd://H:P/SERVICE: implemented in naming/etcd.cc --------------------------------
  if (target.starts_with("etcd://")) {
    const std::string usage = " (expected etcd://H:P/SERVICE)";
    std::string_view rest = target.substr(7);
    const auto slash = rest.find('/');
    std::string_view service = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (service.empty()) return InvalidArgument("etcd target '" + std::string(target) + "' names no service" + usage);
    if (service.find('/') != std::string_view::npos) {
      return InvalidArgument("bad service name '" + std::string(service) + "' in '" + std::string(target) + "'" + usage);
    }
    std::string_view host_port = rest.substr(0, slash);
    HostPort hp;
    if (Status s = ParseHostPort(host_port, &hp); !s.ok()) {
      return InvalidArgument("bad etcd address in '" + std::string(target) + "': " + s.message() + usage);
    }
    return MakeEtcdResolver(host_port, std::string(service), security.tls, out);
  }
  std::vector<EndpointSpec> specs;
  if (Status s = ParseListTarget(target, &specs); !s.ok()) return s;
  *out = std::make_unique<StaticResolver>(std::move(specs));
  return Status::Ok();
}

}  // namespace harpc
