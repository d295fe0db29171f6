#include "naming/resolver.h"

#include "naming/file_resolver.h"
#include "naming/static_resolver.h"

namespace harpc {

Status MakeResolver(std::string_view target, std::unique_ptr<Resolver>* out) {
  if (target.starts_with("file://")) {
    std::string_view path = target.substr(7);
    if (path.empty() || path.front() != '/') {
      return InvalidArgument("file target needs an absolute path: file:///path/endpoints.json");
    }
    *out = std::make_unique<FileResolver>(std::string(path));
    return Status::Ok();
  }
  std::vector<EndpointSpec> specs;
  if (Status s = ParseListTarget(target, &specs); !s.ok()) return s;
  *out = std::make_unique<StaticResolver>(std::move(specs));
  return Status::Ok();
}

}  // namespace harpc
