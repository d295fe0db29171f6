// Registrars keep a server registered in a naming service for as long as it
// serves: `harpc serve --register sentinel://H:P[,H:P]` or `etcd://H:P`.
// They register, renew the lease with heartbeats, register again when the
// naming service forgot the instance (a restarted sentinel, an expired lease),
// and deregister when the server shuts down gracefully.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "harpc/status.h"

namespace harpc {

struct Registration {
  std::string service;   // e.g. "echo"
  std::string address;   // "host:port" clients should call
  std::string name;      // instance name (default: the address)
  int weight = 1;
  boost::json::object metadata;
  std::chrono::milliseconds ttl{3000};  // lease TTL; heartbeats every ttl / 3
};

class Registrar {
 public:
  virtual ~Registrar() = default;
  // Starts registering and heartbeating in the background; returns at once.
  virtual void Start() = 0;
  // Deregisters everywhere (bounded by `timeout`) and stops. Idempotent.
  virtual void Stop(std::chrono::milliseconds timeout) = 0;
};

// "sentinel://H:P[,H:P]" or "etcd://H:P"; INVALID_ARGUMENT for anything else.
Status MakeRegistrar(std::string_view spec, Registration registration, std::unique_ptr<Registrar>* out);

}  // namespace harpc
