// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The subcommands of the harpc binary; each file adds one to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace harpc::cli {

// Each returns the subcommand's exit status through `exit_code` once it ran.
void AddServeCommand(CLI::App& app, int& exit_code);
void AddCallCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
void AddDemoCommand(CLI::App& app, int& exit_code);
void AddSentinelCommand(CLI::App& app, int& exit_code);
void AddStatusCommand(CLI::App& app, int& exit_code);
void AddCoordinatorCommand(CLI::App& app, int& exit_code);
void AddTransferCommand(CLI::App& app, int& exit_code);

}  // namespace harpc::cli
