// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The counter of the participant machine's tests and fuzz target: a table of
// named values, each with what prepared calls hold of it.
#pragma once

#include <cstdint>
#include <string>

#include "harpc/database.h"
#include "harpc/status.h"

namespace harpc {

inline constexpr const char* kCounterSchema =
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL, held INTEGER NOT NULL);";

// Adds `value` to the counter `name` and `held` to what is held of it (a new name starts at 0).
inline Status AddToCounter(Database db, const std::string& name, int64_t value, int64_t held) {
  return Statement(db,
                   "INSERT INTO counter (name, value, held) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                   " SET value = value + excluded.value, held = held + excluded.held")
      .Bind(1, name)
      .Bind(2, value)
      .Bind(3, held)
      .Run();
}

}  // namespace harpc
