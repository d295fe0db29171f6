// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The echo service of `harpc serve`: Echo.echo and the default method return
// their params unchanged; a counter shows what runs twice and what once.
// Fault injection makes it a stand-in for a sick server.
#pragma once

#include <chrono>

#include "harpc/server.h"

namespace harpc {

struct EchoServiceOptions {
  // Every call waits this long before answering (or until its deadline, then
  // DEADLINE_EXCEEDED), without blocking the event loop. Default 0.
  std::chrono::milliseconds delay{0};
  // Fraction of calls, in [0, 1], answered UNAVAILABLE ("injected failure")
  // instead of echoing. Default 0.
  double fail_rate = 0;
};

// Registers Echo.echo (idempotent; the default method), Counter.increment
// ({"by": N} → {"value": total}; not idempotent), Counter.get (idempotent)
// and Fault.set ({"delay_ms": N, "fail_rate": R}: changes the faults above
// while the server runs; for demos and tests only).
Status RegisterEchoService(Server& server, EchoServiceOptions options = {});

}  // namespace harpc
