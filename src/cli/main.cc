// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc: server, client, benchmark and demo of the harpc RPC framework.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/version.h"  // generated (src/cli/version.h.in)

namespace {
// The first "--flag" (or "--flag=value") among `command`'s arguments that it
// does not know; empty if none. CLI11 checks required arguments before unknown
// ones, yet a mistyped flag is the likelier cause of both, so it goes first.
std::string UnknownLongFlag(const CLI::App& command, int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (!arg.starts_with("--") || arg.size() == 2) continue;
    std::string name(arg.substr(0, arg.find('=')));
    if (!command.get_option_no_throw(name) && name != "--help" && name != "--help-all") return name;
  }
  return {};
}

int Run(int argc, char** argv) {
  // Writes to closed pipes (a --notify command that exits early) must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  // Logs go to stderr; stdout carries only results (JSON, tables) for scripts.
  spdlog::set_default_logger(spdlog::stderr_color_mt("harpc"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"harpc: a high-availability RPC framework over HTTP/1.1 + JSON"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag("--version", "harpc " HARPC_VERSION " (" HARPC_GIT_REVISION ")",
                       "Print the version and the git revision built, and exit");
  int exit_code = 0;
  harpc::cli::AddServeCommand(app, exit_code);
  harpc::cli::AddCallCommand(app, exit_code);
  harpc::cli::AddBenchCommand(app, exit_code);
  harpc::cli::AddSentinelCommand(app, exit_code);
  harpc::cli::AddStatusCommand(app, exit_code);
  harpc::cli::AddCoordinatorCommand(app, exit_code);
  harpc::cli::AddTransferCommand(app, exit_code);
  harpc::cli::AddDemoCommand(app, exit_code);
  // Usage errors: exit 2 and one line on stderr, like harpc's own (docs/cli.md).
  std::string commands;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "harpc: unknown command '%s'; the commands are %s\n", argv[1], commands.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all, --version
    std::string what = e.what();
    if (dynamic_cast<const CLI::RequiredError*>(&e) && known) {
      if (std::string flag = UnknownLongFlag(*app.get_subcommand(argv[1]), argc, argv); !flag.empty()) {
        what = "unknown flag " + flag + " for harpc " + argv[1];
      }
    }
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::fprintf(stderr, "harpc: %s (harpc --help lists the commands, harpc COMMAND --help its flags)\n", what.c_str());
    return 2;
  }
  return exit_code;
}
}  // namespace

int main(int argc, char** argv) {
  // A command that throws (out of memory, a bug) ends with one line and exit
  // 1 instead of std::terminate's abort, and the stack unwinds: servers and
  // children are stopped by their destructors.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "harpc: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "harpc: internal error: an unknown exception\n");
  }
  return 1;
}
