// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A stable 64-bit string hash (FNV-1a with a splitmix64 finaliser): the same
// on every machine and build, so that clients agree on where a key goes.
#pragma once

#include <cstdint>
#include <string_view>

namespace harpc {

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t StableHash(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

}  // namespace harpc
