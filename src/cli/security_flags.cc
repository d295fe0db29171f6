// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/security_flags.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <utility>

#include "http/tls_context.h"

namespace harpc::cli {

namespace {

using FlagFile = std::pair<std::string, const std::string&>;  // a flag and the path it names

// Every file named (flags not given name none) exists.
Status MustExist(std::initializer_list<FlagFile> files) {
  for (const auto& [flag, path] : files) {
    std::error_code ec;
    if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
      return InvalidArgument(flag + ": no such file '" + path + "'");
    }
  }
  return Status::Ok();
}

// A certificate needs its key and the other way round.
Status CertificateWithKey(const FlagFile& cert, const FlagFile& key) {
  if (cert.second.empty() == key.second.empty()) return Status::Ok();
  return InvalidArgument(cert.second.empty() ? key.first + " needs " + cert.first : cert.first + " needs " + key.first);
}

// The first line of the file, without its line end and surrounding blanks;
// `what` ("token", "password") names it in errors.
Status ReadFirstLine(const std::string& flag, const std::string& path, const char* what, std::string* out) {
  std::ifstream in(path);
  if (!in) return InvalidArgument(flag + ": cannot read '" + path + "'");
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    return InvalidArgument(flag + ": the first line of '" + path + "' holds no " + what);
  }
  *out = line.substr(first, last - first + 1);
  return Status::Ok();
}

Status ReadToken(const std::string& path, std::string* token) {
  std::string line;
  if (Status s = ReadFirstLine("--token-file", path, "token", &line); !s.ok()) return s;
  for (unsigned char c : line) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("--token-file: the token in '" + path + "' must be one word of visible ASCII characters");
    }
  }
  *token = std::move(line);
  return Status::Ok();
}

}  // namespace

Status SecurityFlags::ClientSecurityOf(ClientSecurity* out) const {
  if (Status s = CertificateWithKey({"--tls-cert", tls_cert}, {"--tls-key", tls_key}); !s.ok()) return s;
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return InvalidArgument(
        "--tls-client-ca needs --tls-cert and --tls-key (client certificates are asked for over TLS)");
  }
  if (Status s = MustExist({{"--token-file", token_file},
                            {"--auth-file", auth_file},
                            {"--tls-cert", tls_cert},
                            {"--tls-key", tls_key},
                            {"--tls-ca", tls_ca},
                            {"--tls-client-ca", tls_client_ca}});
      !s.ok()) {
    return s;
  }
  ClientSecurity security;
  if (!token_file.empty()) {
    if (Status s = ReadToken(token_file, &security.bearer_token); !s.ok()) return s;
  }
  // A daemon presents its own certificate as the client certificate too.
  security.tls = {.cert_file = tls_cert, .key_file = tls_key, .ca_file = tls_ca};
  if (Status s = EtcdAccessOf(&security.etcd); !s.ok()) return s;
  // Broken files are this command's error now, not every call's later.
  for (const TlsOptions* tls : {&security.tls, &security.etcd.tls}) {
    if (!tls->client_enabled()) continue;
    std::shared_ptr<http1::TlsContext> context;
    if (Status s = http1::TlsContext::ForClient(*tls, &context); !s.ok()) return s;
  }
  *out = std::move(security);
  return Status::Ok();
}

Status SecurityFlags::EtcdAccessOf(EtcdAccess* out) const {
  if (Status s = CertificateWithKey({"--etcd-cert", etcd_cert}, {"--etcd-key", etcd_key}); !s.ok()) return s;
  if (!etcd_cert.empty() && etcd_ca.empty()) {
    return InvalidArgument("--etcd-cert needs --etcd-ca (a client certificate is presented over https)");
  }
  if (Status s = MustExist({{"--etcd-ca", etcd_ca},
                            {"--etcd-cert", etcd_cert},
                            {"--etcd-key", etcd_key},
                            {"--etcd-password-file", etcd_password_file}});
      !s.ok()) {
    return s;
  }
  EtcdAccess access{.tls = {.cert_file = etcd_cert, .key_file = etcd_key, .ca_file = etcd_ca}, .user = etcd_user};
  // Read while the command parses its flags, before any thread runs; harpc never sets the environment.
  const char* env = std::getenv(kEtcdPasswordEnv);  // NOLINT(concurrency-mt-unsafe)
  if (!etcd_password_file.empty()) {
    if (Status s = ReadFirstLine("--etcd-password-file", etcd_password_file, "password", &access.password); !s.ok()) {
      return s;
    }
  } else if (env && *env) {
    access.password = env;
  }
  if (etcd_user.empty() && !etcd_password_file.empty())
    return InvalidArgument("--etcd-password-file needs --etcd-user");
  if (!etcd_user.empty() && access.password.empty()) {
    return InvalidArgument(std::string("--etcd-user needs a password: --etcd-password-file FILE or ") +
                           kEtcdPasswordEnv);
  }
  *out = std::move(access);
  return Status::Ok();
}

TlsOptions SecurityFlags::ServerTls() const {
  return {.cert_file = tls_cert, .key_file = tls_key, .ca_file = tls_ca, .client_ca_file = tls_client_ca};
}

std::vector<std::string> SecurityFlags::Args() const {
  std::vector<std::string> args;
  auto add = [&args](const char* flag, const std::string& value) {
    if (value.empty()) return;
    args.emplace_back(flag);
    args.push_back(value);
  };
  add("--token-file", token_file);
  add("--auth-file", auth_file);
  add("--tls-cert", tls_cert);
  add("--tls-key", tls_key);
  add("--tls-ca", tls_ca);
  add("--tls-client-ca", tls_client_ca);
  add("--etcd-ca", etcd_ca);
  add("--etcd-cert", etcd_cert);
  add("--etcd-key", etcd_key);
  add("--etcd-user", etcd_user);
  add("--etcd-password-file", etcd_password_file);
  return args;
}

void AddSecurityFlags(CLI::App* cmd, SecurityFlags& f, bool daemon) {
  const std::string group = "Trust (docs/security.md)";
  cmd->add_option("--token-file", f.token_file,
                  "File whose first line is the token sent as 'Authorization: Bearer TOKEN' on every outgoing call")
      ->group(group);
  if (daemon) {
    cmd->add_option("--auth-file", f.auth_file,
                    "Accept only calls with a token listed here, one 'ROLE TOKEN' per line (ROLE: client, service, "
                    "peer; GET /health stays open); re-read on SIGHUP")
        ->group(group);
  }
  cmd->add_option("--tls-cert", f.tls_cert,
                  daemon ? "PEM certificate chain: the listener speaks HTTPS only, and presents it on outgoing calls"
                         : "PEM client certificate presented to servers that ask for one (needs --tls-key)")
      ->group(group);
  cmd->add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert")->group(group);
  cmd->add_option("--tls-ca", f.tls_ca,
                  "PEM CA bundle: every outgoing call uses TLS and verifies the server's chain and name against it")
      ->group(group);
  if (daemon) {
    cmd->add_option("--tls-client-ca", f.tls_client_ca,
                    "PEM CA bundle: require client certificates signed by it (mutual TLS)")
        ->group(group);
  }
  const std::string etcd = "etcd (docs/naming.md)";
  cmd->add_option("--etcd-ca", f.etcd_ca,
                  "PEM CA bundle: reach etcd over https, verified against it (default: as --tls-ca)")
      ->group(etcd);
  cmd->add_option("--etcd-cert", f.etcd_cert, "PEM client certificate presented to etcd (needs --etcd-key, --etcd-ca)")
      ->group(etcd);
  cmd->add_option("--etcd-key", f.etcd_key, "PEM private key of --etcd-cert")->group(etcd);
  cmd->add_option("--etcd-user", f.etcd_user, "etcd user to sign in as (etcd with authentication enabled)")
      ->group(etcd);
  cmd->add_option("--etcd-password-file", f.etcd_password_file,
                  std::string("File whose first line is the password of --etcd-user (else the environment "
                              "variable ") +
                      kEtcdPasswordEnv + ")")
      ->group(etcd);
}

bool ResolveSecurityFlags(const SecurityFlags& flags, const char* command, ClientSecurity* out) {
  if (Status s = flags.ClientSecurityOf(out); !s.ok()) {
    std::fprintf(stderr, "harpc %s: %s\n", command, s.message().c_str());
    return false;
  }
  return true;
}

}  // namespace harpc::cli
