// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// --group A,B,C of a daemon (`harpc coordinator`): this process as one
// member of a replicated group whose members are the listed addresses.
#pragma once

#include <optional>
#include <string>

#include "harpc/replicated.h"

namespace harpc::cli {

// Fills `out` from the flags when `list` is not empty: every member a
// numeric H:P, none twice, `listen` one of them; the Raft data in
// `data_dir`. On a bad list prints one line ("harpc COMMAND: --group: why")
// and returns false.
bool GroupFlag(const char* command, const std::string& list, const std::string& listen, std::string data_dir,
               const ClientSecurity& security, std::optional<GroupOptions>* out);

}  // namespace harpc::cli
