// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/register_flags.h"

#include <cstdio>

#include "util/log.h"

namespace harpc::cli {

Registration RegisterFlags::Apply(Registration registration) const {
  if (!as.empty()) registration.service = as;
  registration.ttl = std::chrono::milliseconds(lease_ttl_ms);
  return registration;
}

void AddRegisterFlags(CLI::App* cmd, RegisterFlags& flags, const std::string& service) {
  cmd->add_option("--register", flags.spec,
                  "Register with a naming service while serving: sentinel://H:P[,H:P] or etcd://H:P[,H:P]");
  cmd->add_option("--register-as", flags.as,
                  "Service name to register under (default: " + service + "); e.g. bank-a and bank-b for two banks");
  cmd->add_option("--lease-ttl-ms", flags.lease_ttl_ms, "Registration lease TTL; heartbeats renew it every TTL/3")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
}

bool CheckRegisterFlags(const RegisterFlags& flags, const Registration& registration, const ClientSecurity& security,
                        const char* command) {
  if (flags.spec.empty()) return true;
  std::unique_ptr<Registrar> check;
  if (Status s = MakeRegistrar(flags.spec, flags.Apply(registration), security, &check); !s.ok()) {
    std::fprintf(stderr, "harpc %s: --register: %s\n", command, s.message().c_str());
    return false;
  }
  return true;
}

bool StartRegistering(const RegisterFlags& flags, Registration registration, const ClientSecurity& security,
                      Server& server, std::unique_ptr<Registrar>* out, const char* command) {
  if (flags.spec.empty()) return true;
  registration.address = server.address();
  if (registration.name.empty()) registration.name = registration.address;
  if (Status s = MakeRegistrar(flags.spec, flags.Apply(std::move(registration)), security, out); !s.ok()) {
    std::fprintf(stderr, "harpc %s: --register: %s\n", command, s.message().c_str());
    server.Shutdown();
    server.Wait();
    return false;
  }
  (*out)->Start(server.executor());
  Registrar* registrar = out->get();
  if (Status added = server.AddShutdownStep([registrar] { return registrar->Deregister(); }); !added.ok()) {
    Log().warn("server {}: {}; its registration will expire instead", server.address(), added.message());
  }
  return true;
}

}  // namespace harpc::cli
