// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/target.h"

#include <charconv>
#include <set>

#include "util/address.h"

namespace harpc {

Status ParseListTarget(std::string_view target, std::vector<EndpointSpec>* out) {
  std::string_view rest = target;
  if (rest.starts_with("list://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return InvalidArgument("unsupported target '" + std::string(target) + "' (expected list://H:P[=W],...)");
  }
  if (rest.empty()) return InvalidArgument("target '" + std::string(target) + "' names no endpoint");

  std::vector<EndpointSpec> specs;
  std::set<std::string> seen;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) {
      return InvalidArgument("target '" + std::string(target) + "' ends with a comma");
    }

    EndpointSpec spec;
    std::string_view address = item;
    if (auto eq = item.find('='); eq != std::string_view::npos) {
      address = item.substr(0, eq);
      std::string_view w = item.substr(eq + 1);
      auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), spec.weight);
      if (w.empty() || ec != std::errc() || ptr != w.data() + w.size() || spec.weight < 1 || spec.weight > 1000000) {
        return InvalidArgument("bad weight '" + std::string(w) + "' for " + std::string(address) +
                               " (expected an integer from 1 to 1000000)");
      }
    }
    HostPort hp;
    if (Status s = ParseHostPort(address, &hp); !s.ok()) return s;
    spec.address = std::string(address);
    if (!seen.insert(spec.address).second) {
      return InvalidArgument("endpoint " + spec.address + " is listed twice");
    }
    specs.push_back(std::move(spec));
  }
  *out = std::move(specs);
  return Status::Ok();
}

}  // namespace harpc
