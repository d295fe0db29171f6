#include "cli/security_flags.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "http/tls_context.h"

namespace harpc::cli {

namespace {

Status MustExist(const std::string& flag, const std::string& path) {
  if (path.empty()) return Status::Ok();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return InvalidArgument(flag + ": no such file '" + path + "'");
  }
  return Status::Ok();
}

// The first line of the file, without its line end and surrounding blanks.
Status ReadToken(const std::string& path, std::string* token) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("--token-file: cannot read '" + path + "'");
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    return InvalidArgument("--token-file: the first line of '" + path + "' holds no token");
  }
  line = line.substr(first, last - first + 1);
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
  if (tls_cert.empty() != tls_key.empty()) {
    return InvalidArgument(tls_cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key (client certificates are asked for over TLS)");
  }
  for (const auto& [flag, path] : {std::pair<std::string, const std::string&>{"--token-file", token_file},
                                   {"--auth-file", auth_file},
                                   {"--tls-cert", tls_cert},
                                   {"--tls-key", tls_key},
                                   {"--tls-ca", tls_ca},
                                   {"--tls-client-ca", tls_client_ca}}) {
    if (Status s = MustExist(flag, path); !s.ok()) return s;
  }
  ClientSecurity security;
  if (!token_file.empty()) {
    if (Status s = ReadToken(token_file, &security.bearer_token); !s.ok()) return s;
  }
  // A daemon presents its own certificate as the client certificate too.
  security.tls = {.cert_file = tls_cert, .key_file = tls_key, .ca_file = tls_ca};
  // Broken files are this command's error now, not every call's later.
  if (security.tls.client_enabled()) {
    std::shared_ptr<http1::TlsContext> context;
    if (Status s = http1::TlsContext::ForClient(security.tls, &context); !s.ok()) return s;
  }
  *out = std::move(security);
  return Status::Ok();
}

TlsOptions SecurityFlags::ServerTls() const {
  return {.cert_file = tls_cert, .key_file = tls_key, .ca_file = tls_ca, .client_ca_file = tls_client_ca};
}

std::vector<std::string> SecurityFlags::Args() const {
  std::vector<std::string> args;
  auto add = [&args](const char* flag, const std::string& value) {
    if (value.empty()) return;
    args.push_back(flag);
    args.push_back(value);
  };
  add("--token-file", token_file);
  add("--auth-file", auth_file);
  add("--tls-cert", tls_cert);
  add("--tls-key", tls_key);
  add("--tls-ca", tls_ca);
  add("--tls-client-ca", tls_client_ca);
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
}

bool ResolveSecurityFlags(const SecurityFlags& flags, const char* command, ClientSecurity* out) {
  if (Status s = flags.ClientSecurityOf(out); !s.ok()) {
    std::fprintf(stderr, "harpc %s: %s\n", command, s.message().c_str());
    return false;
  }
  return true;
}

}  // namespace harpc::cli
