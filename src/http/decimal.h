// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Numbers in HTTP heads (status codes, Content-Length, numeric headers),
// written without a temporary string: this runs for every request and answer.
#pragma once

#include <charconv>
#include <string>

namespace harpc::http1 {

inline void AppendDecimal(std::string& out, long long n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace harpc::http1
