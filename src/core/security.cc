// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/security.h"

namespace harpc {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kClient:
      return "client";
    case Role::kService:
      return "service";
    case Role::kPeer:
      return "peer";
  }
  return "unknown";
}

}  // namespace harpc
