// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The flags of the daemons that announce themselves to a naming service
// (serve, coordinator): --register, --register-as and --lease-ttl-ms.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "harpc/security.h"
#include "harpc/server.h"
#include "harpc/status.h"
#include "naming/registrar.h"

namespace harpc::cli {

struct RegisterFlags {
  std::string spec;  // sentinel://H:P[,H:P] or etcd://H:P[,H:P]; empty: do not register
  std::string as;    // the service name registered; empty: the daemon's own
  int lease_ttl_ms = static_cast<int>(kDefaultLeaseTtl.count());

  // `registration` under the --register-as name, with the lease TTL.
  Registration Apply(Registration registration) const;
};

// `service`: what --register-as defaults to, for its help text.
void AddRegisterFlags(CLI::App* cmd, RegisterFlags& flags, const std::string& service);

// Checks --register before the server listens (a registrar made and thrown
// away); prints "harpc COMMAND: --register: <reason>" on stderr when wrong.
bool CheckRegisterFlags(const RegisterFlags& flags, const Registration& registration, const ClientSecurity& security,
                        const char* command);

// With --register: registers `registration` (its address: the server's, once
// started) in the background on the server's loop for as long as it serves —
// a naming service out of reach is retried and logged, it never stops the
// server — and leaves it at a graceful shutdown, once the server stops
// accepting. `out` must outlive server.Wait(). Without --register: nothing.
// False (a line on stderr, the server stopped) only when the registrar cannot
// be made, which CheckRegisterFlags rules out.
bool StartRegistering(const RegisterFlags& flags, Registration registration, const ClientSecurity& security,
                      Server& server, std::unique_ptr<Registrar>* out, const char* command);

}  // namespace harpc::cli
