// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Text from the network printed on a terminal: names and addresses come from
// whoever registered them, and raw escape sequences or CR/LF in them could
// recolour the screen or forge table rows. Control characters are printed as
// \xNN instead.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace harpc::cli {

inline std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace harpc::cli
