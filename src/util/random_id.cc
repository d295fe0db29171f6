// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "util/hash.h"
#include "util/hex.h"
#include "util/log.h"

namespace harpc {

void KernelRandomBytes(void* out, size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  size_t filled = 0;
  // getrandom blocks only before the kernel's pool is first initialised, and
  // returns at most 256 bytes per call uninterrupted; a signal may cut it short.
  while (filled < size) {
    ssize_t n = ::getrandom(bytes + filled, size - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log().critical("getrandom failed (errno {}): refusing to make guessable ids", errno);
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
}

std::string RandomId() {
  uint8_t bytes[16];
  KernelRandomBytes(bytes, sizeof bytes);
  std::string id(2 * sizeof bytes, '0');
  WriteHex(bytes, sizeof bytes, id.data());
  return id;
}

uint64_t FastRandom64() {
  // Each thread walks its own sequence from a random start: splitmix64 never
  // repeats an output within its 2^64 period.
  thread_local uint64_t state = [] {
    uint64_t seed;
    KernelRandomBytes(&seed, sizeof seed);
    return seed;
  }();
  return Mix64(state += 0x9e3779b97f4a7c15ULL);
}

bool SameSecret(std::string_view kept, std::string_view presented) {
  if (kept.empty() || kept.size() != presented.size()) return false;  // lengths are not secret: ids are 32 digits
  unsigned char differ = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    differ |= static_cast<unsigned char>(kept[i] ^ presented[i]);
  }
  // Read through a volatile so that the loop is not cut short by the optimiser.
  volatile unsigned char result = differ;
  return result == 0;
}

}  // namespace harpc
