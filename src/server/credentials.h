// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The bearer tokens a server accepts (ServerOptions::auth): parsing the auth
// file, and finding the role of a presented token in constant time.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harpc/security.h"
#include "harpc/status.h"

namespace harpc {

class TokenTable {
 public:
  // Lines "ROLE TOKEN" (see AuthOptions::auth_file). `source` names the text
  // in errors: "auth file /etc/harpc/auth line 3: unknown role 'admin' ...".
  static Status Parse(std::string_view text, std::string_view source, TokenTable* out);
  // Reads and parses `path`.
  static Status Load(const std::string& path, TokenTable* out);

  // The role `token` grants, or none. The time taken does not depend on
  // which entry matches nor on how much of a token matches: every entry is
  // compared, by SHA-256 digest (equal lengths), with CRYPTO_memcmp.
  std::optional<Role> Find(std::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest DigestOf(std::string_view token);
  struct Entry {
    Digest digest;
    Role role;
  };
  std::vector<Entry> entries_;
};

// The token of an "Authorization: Bearer TOKEN" header value (the scheme
// case-insensitive), or empty when the value is not of that form.
std::string_view BearerToken(std::string_view authorization);

}  // namespace harpc
