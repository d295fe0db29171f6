// The trust flags every subcommand shares (docs/security.md):
// --token-file and the --tls-* flags on every subcommand, --auth-file and
// --tls-client-ca on the daemons (serve, sentinel, coordinator).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "harpc/security.h"
#include "harpc/status.h"

namespace harpc::cli {

struct SecurityFlags {
  std::string token_file;
  std::string auth_file;      // daemons only
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tls_client_ca;  // daemons only

  // Checks the flags together (a certificate needs its key and the other way
  // round; every file named exists) and reads the token file: what this
  // process presents on each outgoing call. INVALID_ARGUMENT naming the flag.
  Status ClientSecurityOf(ClientSecurity* out) const;
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
