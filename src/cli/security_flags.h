// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The trust flags every subcommand shares (docs/security.md):
// --token-file, the --tls-* flags and the --etcd-* flags (docs/naming.md) on
// every subcommand, --auth-file and --tls-client-ca on the daemons (serve,
// sentinel, coordinator).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "harpc/security.h"
#include "harpc/status.h"

namespace harpc::cli {

// Where --etcd-user's password comes from without --etcd-password-file.
inline constexpr const char* kEtcdPasswordEnv = "HARPC_ETCD_PASSWORD";

struct SecurityFlags {
  std::string token_file;
  std::string auth_file;  // daemons only
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tls_client_ca;  // daemons only
  // etcd's own trust (docs/naming.md): https with its CA, a client certificate, a user.
  std::string etcd_ca;
  std::string etcd_cert;
  std::string etcd_key;
  std::string etcd_user;
  std::string etcd_password_file;  // else the environment variable HARPC_ETCD_PASSWORD

  // Checks the flags together (a certificate needs its key and the other way
  // round; every file named exists) and reads the token and password files
  // (or HARPC_ETCD_PASSWORD): what this process presents on each outgoing
  // call. INVALID_ARGUMENT naming the flag.
  Status ClientSecurityOf(ClientSecurity* out) const;
  // The --etcd-* part of it (checked the same way).
  Status EtcdAccessOf(EtcdAccess* out) const;
  // The listener's TLS and the accepted tokens (daemons), as given.
  TlsOptions ServerTls() const;
  AuthOptions Auth() const { return {.auth_file = auth_file}; }
  // The same flags as arguments, for the daemons a command starts (the demo).
  std::vector<std::string> Args() const;
};

// `daemon`: also --auth-file and --tls-client-ca.
void AddSecurityFlags(CLI::App* cmd, SecurityFlags& flags, bool daemon);

// ClientSecurityOf, printing "harpc COMMAND: <reason>" on stderr when the
// flags are refused; then the command exits 2 (a usage error).
bool ResolveSecurityFlags(const SecurityFlags& flags, const char* command, ClientSecurity* out);

}  // namespace harpc::cli
