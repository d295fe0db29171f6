// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Checks of numeric flags whose refusals read well: CLI11's own PositiveNumber
// and NonNegativeNumber name the whole range of a double (300 digits).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace harpc::cli {

// A number above (or, `or_equal`, at least) `bound`: "must be a number > 0,
// got 'x'". (An integer flag still refuses "1.5" when CLI11 converts it.)
inline CLI::Validator NumberAbove(double bound, bool or_equal) {
  std::string shown = std::to_string(bound);
  shown.erase(shown.find_last_not_of('0') + 1);
  if (shown.back() == '.') shown.pop_back();
  const std::string relation = (or_equal ? ">= " : "> ") + shown;
  return CLI::Validator(
      [bound, or_equal, relation](std::string& text) -> std::string {
        size_t used = 0;
        double value = 0;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool fits = or_equal ? value >= bound : value > bound;
        if (used == 0 || used != text.size() || !fits) return "must be a number " + relation + ", got '" + text + "'";
        return {};
      },
      relation);
}

inline CLI::Validator Positive() { return NumberAbove(0, false); }
inline CLI::Validator NonNegative() { return NumberAbove(0, true); }

}  // namespace harpc::cli
