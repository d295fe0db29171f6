// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/group_flags.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "util/address.h"

namespace harpc::cli {

namespace {
Status ParseMembers(std::string_view list, const std::string& listen, GroupOptions* group) {
  for (std::string_view rest = list;;) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (item.empty()) return InvalidArgument("an empty member in '" + std::string(list) + "'");
    std::string member;
    if (Status s = CanonicalNumericAddress(item, &member); !s.ok()) return InvalidArgument("member " + s.message());
    if (member.ends_with(":0")) return InvalidArgument("member " + member + " has no port");
    if (std::find(group->members.begin(), group->members.end(), member) != group->members.end()) {
      return InvalidArgument("member " + member + " is listed twice");
    }
    group->members.push_back(std::move(member));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (Status s = CanonicalNumericAddress(listen, &group->self); !s.ok() || group->self.ends_with(":0")) {
    return InvalidArgument("--listen " + listen + " must be a numeric address with its port, one of the members");
  }
  if (std::find(group->members.begin(), group->members.end(), group->self) == group->members.end()) {
    return InvalidArgument("--listen " + group->self + " is not one of the members " + std::string(list));
  }
  return Status::Ok();
}
}  // namespace

bool GroupFlag(const char* command, const std::string& list, const std::string& listen, std::string data_dir,
               const ClientSecurity& security, std::optional<GroupOptions>* out) {
  if (list.empty()) return true;
  GroupOptions group;
  if (Status s = ParseMembers(list, listen, &group); !s.ok()) {
    std::fprintf(stderr, "harpc %s: --group: %s\n", command, s.message().c_str());
    return false;
  }
  group.data_dir = std::move(data_dir);
  group.security = security;
  *out = std::move(group);
  return true;
}

}  // namespace harpc::cli
