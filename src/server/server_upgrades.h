// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Other protocols on a server's port, reached by an HTTP/1.1 upgrade: a GET
// on `path` with "Upgrade: <protocol>" (and the caller's token, which must
// grant `role`) is answered 101 Switching Protocols, and the connection then
// belongs to `serve` until it returns. Replicated groups carry Raft this way,
// so the listener's TLS and tokens protect it. Not part of the public API.
#pragma once

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "harpc/server.h"
#include "http/server_connection.h"

namespace harpc {

class ServerUpgrades {
 public:
  // Runs on the connection's loop; `request` is the upgrade request and
  // `early_bytes` what the client sent after it.
  using Serve = std::function<boost::asio::awaitable<void>(http1::Stream& stream, std::string early_bytes,
                                                           const http1::Request& request)>;
  // Before server.Start().
  static Status Add(Server& server, std::string path, std::string protocol, Role role, Serve serve);
};

}  // namespace harpc
