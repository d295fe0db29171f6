// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// libraft's transport (struct raft_uv_transport) over harpc's own port: a
// member dials a peer's listening port, speaks the peer's TLS, presents its
// token, and upgrades the HTTP connection to "harpc-raft/1" (GET /raft, role
// peer); the server side accepts that upgrade. libraft then reads and writes
// its own encoding of Raft messages through a Unix socket pair whose other
// end harpc splices to the network connection. libraft thus keeps its wire
// format, connection handling and memory rules, and the network sees only
// the listener's protocol, with its TLS and tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "harpc/security.h"
#include "harpc/server.h"
#include "replication/raft_c.h"
#include "replication/uv_loop.h"

namespace harpc::replication {

class RaftTransport {
 public:
  // `loop` drives libraft; connections are made on its executor. A peer's
  // connection closes at its first message larger than `max_message_bytes`
  // or outside libraft's format (replication/raft_wire_check.h).
  RaftTransport(UvLoop& loop, ClientSecurity security, uint64_t max_message_bytes);
  ~RaftTransport();

  // What raft_uv_init takes. Valid for the transport's life.
  raft_uv_transport* get();

  // Accepts upgrades on `server` (before server.Start()); they reach
  // libraft once it listens.
  Status Attach(Server& server);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace harpc::replication
