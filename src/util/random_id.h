// Random identifiers (idempotency keys, leases, transaction and participant
// ids): hex strings from a per-thread generator seeded by the OS.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace harpc {

// `words` 64-bit words as 16·words lowercase hex digits.
inline std::string RandomHexId(int words = 2) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id;
  char buf[17];
  for (int i = 0; i < words; ++i) {
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    id += buf;
  }
  return id;
}

}  // namespace harpc
