// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Targets name the endpoints a channel talks to. This file knows the static
// form: "list://H:P[=W],H:P[=W]" (and bare "H:P[,H:P]").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint_spec.h"
#include "harpc/status.h"

namespace harpc {

// Parses a list target. Duplicate addresses and bad weights are errors.
Status ParseListTarget(std::string_view target, std::vector<EndpointSpec>* out);

}  // namespace harpc
