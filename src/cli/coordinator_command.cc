// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc coordinator: the two-phase-commit coordinator of distributed
// transactions, with its decision log in --data-dir, or one member of a
// replicated coordinator group (--group), its Raft data in --data-dir/raft.
#include <cstdio>

#include "cli/commands.h"
#include "cli/group_flags.h"
#include "cli/number_checks.h"
#include "cli/register_flags.h"
#include "cli/security_flags.h"
#include "harpc/coordinator.h"
#include "harpc/server.h"
#include "util/log.h"

namespace harpc::cli {

namespace {
struct CoordinatorFlags {
  std::string listen = "127.0.0.1:7000";
  std::string data_dir;
  int default_timeout_ms = 5000;
  int grace_ms = 2000;
  int64_t phase_two_give_up_ms = 600000;
  std::string group;  // H:P,H:P,...: the members of a replicated coordinator group, --listen among them
  RegisterFlags registration;
  SecurityFlags security;
};

int RunCoordinator(const CoordinatorFlags& f) {
  ClientSecurity security;
  if (!ResolveSecurityFlags(f.security, "coordinator", &security)) return 2;
  std::optional<GroupOptions> group;
  if (!GroupFlag("coordinator", f.group, f.listen, f.data_dir + "/raft", security, &group)) return 2;
  Registration registration{.service = "coordinator", .address = f.listen};
  if (group) registration.group = group->members;  // the sentinels follow the group's Raft state
  if (!CheckRegisterFlags(f.registration, registration, security, "coordinator")) return 2;
  // One loop: the coordinator's state lives on it (and fsyncs, not CPU, bound
  // it). Declared first so that it is destroyed last: the coordinator's
  // coroutines still hold its loop.
  ServerOptions options;
  options.name = "coordinator";
  options.threads = 1;
  options.shutdown_grace = std::chrono::milliseconds(f.grace_ms);
  options.tls = f.security.ServerTls();
  options.auth = f.security.Auth();
  Server server(options);
  CoordinatorOptions coordinator_options{.data_dir = f.data_dir,
                                         .default_timeout = std::chrono::milliseconds(f.default_timeout_ms),
                                         .phase_two_give_up = std::chrono::milliseconds(f.phase_two_give_up_ms),
                                         .security = security,
                                         .group = group};
  if (group) {
    // A group keeps done decisions in memory and in every snapshot, not on
    // disk: minutes of them (long past any client's retry), and snapshots
    // far enough apart that writing them stays a small part of the loop.
    coordinator_options.retain_done = std::chrono::minutes(5);
    coordinator_options.group->snapshot_threshold = 65536;
  }
  std::unique_ptr<Coordinator> coordinator;
  Status s = Coordinator::Open(std::move(coordinator_options), &coordinator);
  if (s.ok()) s = coordinator->Attach(server);
  if (s.ok()) s = server.Start(f.listen);
  if (!s.ok()) {
    std::fprintf(stderr, "harpc coordinator: %s\n", s.ToString().c_str());
    return 1;
  }
  if (s = coordinator->Start(server); !s.ok()) {
    std::fprintf(stderr, "harpc coordinator: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<Registrar> registrar;
  if (!StartRegistering(f.registration, registration, security, server, &registrar, "coordinator")) return 1;
  std::printf("listening on %s\n", server.address().c_str());
  std::fflush(stdout);
  if (group) {
    Log().info("coordinator {} serving as a member of the group {}, its Raft data in {}", server.address(), f.group,
               group->data_dir);
  } else {
    Log().info("coordinator {} serving, decision log in {}", server.address(), f.data_dir);
  }
  server.Wait();
  return 0;
}
}  // namespace

void AddCoordinatorCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<CoordinatorFlags>();
  CLI::App* cmd =
      app.add_subcommand("coordinator", "Run a two-phase-commit coordinator (presumed abort, group commit)");
  cmd->add_option("--listen", f->listen, "Address to listen on; port 0 picks a free one")->capture_default_str();
  cmd->add_option("--data-dir", f->data_dir,
                  "Directory of the durable decision log (SQLite), or with --group of this member's Raft log")
      ->required();
  cmd->add_option("--group", f->group,
                  "H:P,H:P,H:P: run as one member of a replicated coordinator group (Raft) with these members, "
                  "--listen among them");
  cmd->add_option("--default-timeout-ms", f->default_timeout_ms,
                  "A transaction not committed within this (unless begin asks otherwise) is aborted")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  cmd->add_option("--phase-two-give-up-ms", f->phase_two_give_up_ms,
                  "Stop pushing a commit to a participant that has not acknowledged it this long after the "
                  "decision (it learns the outcome when it asks; reported as unresolved)")
      ->check(CLI::Range(int64_t{1}, int64_t{30} * 24 * 3600 * 1000))
      ->capture_default_str();
  cmd->add_option("--grace-ms", f->grace_ms, "On SIGTERM/SIGINT, time in-flight calls get to finish")
      ->check(NonNegative())
      ->capture_default_str();
  AddRegisterFlags(cmd, f->registration, "coordinator");
  AddSecurityFlags(cmd, f->security, /*daemon=*/true);
  cmd->callback([f, &exit_code] { exit_code = RunCoordinator(*f); });
}

}  // namespace harpc::cli
