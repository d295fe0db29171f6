// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc's logger: named "harpc", writing to stderr, because a library's
// stdout belongs to the application. An application may register its own
// spdlog logger under the name "harpc" before the first log line to redirect it.
#pragma once

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace harpc {

inline spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto existing = spdlog::get("harpc");
    return existing ? existing : spdlog::stderr_color_mt("harpc");
  }();
  return *logger;
}

}  // namespace harpc
