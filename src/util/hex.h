// Bytes as lowercase hex digits and back, for ids on the wire and in logs.
#pragma once

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
  if (hex.size() != 2 * size) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    const int high = digit(hex[2 * i]), low = digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

}  // namespace harpc
