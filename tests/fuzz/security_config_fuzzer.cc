// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The credentials a process is configured with: an auth file (lines
// "ROLE TOKEN", ServerOptions::auth, through TokenTable::Parse, then tokens
// looked up in it), the Authorization header's bearer token, and the TLS
// files (certificate chain, private key, CA file) as a server and a client
// load them (TlsContext::Load). The input is the auth file, the certificate,
// the key and the CA file, separated by lines "%%".
#include <fstream>

#include "fuzz_support.h"
#include "http/tls_context.h"
#include "server/credentials.h"
#include "support/test_support.h"

using namespace harpc;

namespace {

void Write(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static const harpc::testing::TempDir dir("harpc-fuzz-security");
  std::string_view input = fuzz::Bytes(data, size);
  std::string_view parts[4];
  for (std::string_view& part : parts) {
    const size_t end = input.find("\n%%\n");
    part = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 4);
  }

  TokenTable tokens;
  if (TokenTable::Parse(parts[0], "auth file fuzz", &tokens).ok()) {
    const std::string_view first_line = parts[0].substr(0, parts[0].find('\n'));
    (void)tokens.Find(first_line.substr(first_line.rfind(' ') + 1));
    if (tokens.Find("")) __builtin_trap();  // an empty token is never accepted
  }
  (void)BearerToken(parts[0].substr(0, parts[0].find('\n')));

  const TlsOptions options{.cert_file = dir.File("cert.pem"),
                           .key_file = dir.File("key.pem"),
                           .ca_file = dir.File("ca.pem"),
                           .client_ca_file = dir.File("ca.pem")};
  Write(options.cert_file, parts[1]);
  Write(options.key_file, parts[2]);
  Write(options.ca_file, parts[3]);
  std::shared_ptr<http1::TlsContext> context;
  (void)http1::TlsContext::Load(http1::TlsContext::Side::kServer, options, &context);
  (void)http1::TlsContext::Load(http1::TlsContext::Side::kClient, options, &context);
  return 0;
}
