// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Random identifiers: transaction and participant ids, leases, idempotency
// keys. They are capabilities as much as names (whoever knows a txid or a
// lease can act on it), so they are 128 bits from the kernel's CSPRNG
// (getrandom), never from a seeded generator whose next output can be
// predicted from earlier ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace harpc {

// 128 random bits as 32 lowercase hex digits. Aborts the process if the
// kernel cannot give randomness: an id from anything weaker would be forgeable.
std::string RandomId();

// Fills `out` with `size` bytes from the kernel's CSPRNG; aborts like RandomId.
void KernelRandomBytes(void* out, size_t size);

// 64 random bits from a per-thread splitmix64 generator seeded once by
// KernelRandomBytes: a few nanoseconds and no system call, for ids that must
// not collide but are no secret (trace and span ids). Never for capabilities.
uint64_t FastRandom64();

// Whether a presented secret (a RandomId given to one peer) equals the one
// kept, in time that does not depend on where they differ: a caller timing
// the answers must not learn a secret byte by byte.
bool SameSecret(std::string_view kept, std::string_view presented);

}  // namespace harpc
