// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Registrars keep a server registered in a naming service for as long as it
// serves: `harpc serve --register sentinel://H:P[,H:P]` or `etcd://H:P[,H:P]`.
// They register, renew the lease with heartbeats, register again when the
// naming service forgot the instance (a restarted sentinel, an expired lease),
// and deregister when the server shuts down gracefully (a shutdown step of the
// server, Server::AddShutdownStep). They run on the server's loop, with no
// thread of their own.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/security.h"
#include "harpc/status.h"

namespace harpc {

// The lease TTL of a registration that names none (`harpc serve
// --lease-ttl-ms`, Registry.register without ttl_ms). Heartbeats renew a
// lease every TTL / 3, so after a crash it lives on for 2/3 of it at least
// (6.7 s): longer than a group of sentinels with their defaults takes to
// declare the instance down and raise the alert (docs/sentinel.md, "Why
// these defaults"), so that a crash alerts as "odown", not as a lease
// that silently ran out.
inline constexpr std::chrono::milliseconds kDefaultLeaseTtl{10000};

struct Registration {
  std::string service;    // e.g. "echo"
  std::string address;    // "host:port" clients should call
  std::string name = "";  // instance name (default: the address)
  int weight = 1;
  boost::json::object metadata = {};
  std::chrono::milliseconds ttl = kDefaultLeaseTtl;  // lease TTL; heartbeats every ttl / 3
  // A replicated group's members ("host:port", this server's included) when
  // this server is one of them; empty (the default) for any other server.
  // Registered as metadata {"group":{"members":[...]}}: the sentinels then
  // read the member's GET /status and watch the group (docs/sentinel.md).
  std::vector<std::string> group = {};
};

class Registrar {
 public:
  // Stops renewing without deregistering (the leases expire after their TTL);
  // does not wait. The loop given to Start must outlive the registrar.
  virtual ~Registrar() = default;
  // Starts registering and renewing on `loop` (a server's executor()) and
  // returns at once; from any thread, once.
  virtual void Start(boost::asio::any_io_executor loop) = 0;
  // On the loop given to Start: stops renewing and deregisters everywhere,
  // giving each naming service at most kDeregisterTimeout. Cancelling it
  // abandons the deregistration (the leases then expire). Idempotent; without
  // Start it does nothing.
  virtual boost::asio::awaitable<void> Deregister() = 0;

  static constexpr std::chrono::milliseconds kDeregisterTimeout{1000};
};

// "sentinel://H:P[,H:P]" or "etcd://H:P[,H:P]"; INVALID_ARGUMENT for anything
// else. `security` is what the server presents on its outgoing calls:
// sentinels get it whole (registering needs a token of role service); etcd
// gets its etcd part and its TLS, never the bearer token.
Status MakeRegistrar(std::string_view spec, Registration registration, const ClientSecurity& security,
                     std::unique_ptr<Registrar>* out);

}  // namespace harpc
