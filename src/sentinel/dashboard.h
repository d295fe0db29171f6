// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's live dashboard: one HTML page with plain JavaScript, served
// on GET /, that polls Registry.list, Sentinel.events and Sentinel.history
// every second: instances with their states, down spells and timelines, and
// those that left the registry, for a while.
#pragma once

#include <string_view>

namespace harpc::sentinel {

std::string_view DashboardHtml();

}  // namespace harpc::sentinel
