// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/credentials.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace harpc {

namespace {

constexpr std::string_view kBlanks = " \t\r";

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kBlanks) - first + 1);
}

std::optional<Role> RoleNamed(std::string_view name) {
  for (Role r : {Role::kClient, Role::kService, Role::kPeer}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

bool Printable(std::string_view token) {
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

TokenTable::Digest TokenTable::DigestOf(std::string_view token) {
  Digest d{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), d.data(), &size, EVP_sha256(), nullptr);
  return d;
}

Status TokenTable::Parse(std::string_view text, std::string_view source, TokenTable* out) {
  TokenTable table;
  int number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return std::string(source) + " line " + std::to_string(number) + ": "; };
    const auto blank = line.find_first_of(kBlanks);
    if (blank == std::string_view::npos) {
      return InvalidArgument(where() + "expected 'ROLE TOKEN' (ROLE: client, service or peer), got one word");
    }
    const std::string_view role_name = line.substr(0, blank);
    const std::string_view token = Trim(line.substr(blank));
    const std::optional<Role> role = RoleNamed(role_name);
    if (!role) {
      return InvalidArgument(where() + "unknown role '" + std::string(role_name) +
                             "' (expected client, service or peer)");
    }
    // The token travels in an HTTP header: visible ASCII only, no blanks.
    if (!Printable(token)) {
      return InvalidArgument(where() + "the token must be one word of visible ASCII characters");
    }
    Entry entry{DigestOf(token), *role};
    for (const Entry& e : table.entries_) {
      if (e.digest == entry.digest) return InvalidArgument(where() + "this token is listed already");
    }
    table.entries_.push_back(entry);
  }
  *out = std::move(table);
  return Status::Ok();
}

Status TokenTable::Load(const std::string& path, TokenTable* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read auth file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgument("cannot read auth file '" + path + "'");
  return Parse(text.str(), "auth file '" + path + "'", out);
}

std::optional<Role> TokenTable::Find(std::string_view token) const {
  const Digest presented = DigestOf(token);
  // No early exit: every entry costs the same whether or not it matches.
  int found = 0;
  for (const Entry& e : entries_) {
    const bool match = CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0;
    found |= match ? static_cast<int>(e.role) : 0;  // tokens are unique: at most one match
  }
  if (token.empty() || found == 0) return std::nullopt;
  return static_cast<Role>(found);
}

std::string_view BearerToken(std::string_view authorization) {
  authorization = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  if (authorization[kScheme.size()] != ' ') return {};
  return Trim(authorization.substr(kScheme.size()));
}

}  // namespace harpc
