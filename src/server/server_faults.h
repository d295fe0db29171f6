// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Faults a server injects on purpose, for failure tests and demos
// (`harpc serve --reset-rate`). Deliberately not part of ServerOptions: an
// application never wants them, tools and tests reach them here.
#pragma once

#include "harpc/server.h"

namespace harpc {

class ServerFaults {
 public:
  // This share (0..1) of the answers of /rpc/<Method> and default-method
  // calls is replaced by a connection reset (RST) after the method ran, as if
  // the network failed after the server did the work. Any time; default 0.
  static void SetResetRate(Server& server, double rate);
};

}  // namespace harpc
