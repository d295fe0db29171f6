// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Bytes as lowercase hex digits and back, for ids on the wire and in logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace harpc {

// Writes 2 * size digits at `out`.
inline void WriteHex(const uint8_t* bytes, size_t size, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
}

// Reads `hex` (exactly 2 * size lowercase digits) into `bytes`; false, with
// `bytes` partly written, on any other character or length.
inline bool ReadLowerHex(std::string_view hex, uint8_t* bytes, size_t size) {
  // By table: every call's traceparent goes through here.
  static constexpr auto kValue = [] {
    std::array<int8_t, 256> v{};
    v.fill(-1);
    for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<int8_t>(c - 'a' + 10);
    return v;
  }();
  if (hex.size() != 2 * size) return false;
  for (size_t i = 0; i < size; ++i) {
    const int high = kValue[static_cast<uint8_t>(hex[2 * i])], low = kValue[static_cast<uint8_t>(hex[2 * i + 1])];
    if ((high | low) < 0) return false;
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

}  // namespace harpc
