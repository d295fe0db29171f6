// harpc coordinator: the two-phase-commit coordinator of distributed
// transactions, with its decision log in --data-dir.
#include <cstdio>

#include "cli/commands.h"
#include "cli/register_flags.h"
#include "cli/security_flags.h"
#include "harpc/server.h"
#include "harpc/coordinator.h"
#include "util/log.h"

namespace harpc::cli {

namespace {
struct CoordinatorFlags {
  std::string listen = "127.0.0.1:7000";
  std::string data_dir;
  int default_timeout_ms = 5000;
  int grace_ms = 2000;
  int64_t phase_two_give_up_ms = 600000;
  RegisterFlags registration;
  SecurityFlags security;
};

int RunCoordinator(const CoordinatorFlags& f) {
  ClientSecurity security;
  if (!ResolveSecurityFlags(f.security, "coordinator", &security)) return 2;
  const Registration registration{.service = "coordinator", .address = f.listen};
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
  std::unique_ptr<Coordinator> coordinator;
  Status s = Coordinator::Open({.data_dir = f.data_dir,
                                .default_timeout = std::chrono::milliseconds(f.default_timeout_ms),
                                .phase_two_give_up = std::chrono::milliseconds(f.phase_two_give_up_ms),
                                .security = security},
                               &coordinator);
  if (s.ok()) s = coordinator->Attach(server);
  if (s.ok()) s = server.Start(f.listen);
  if (!s.ok()) {
    std::fprintf(stderr, "harpc coordinator: %s\n", s.ToString().c_str());
    return 1;
  }
  coordinator->Start(server);
  std::unique_ptr<Registrar> registrar;
  if (!StartRegistering(f.registration, registration, security, server, &registrar, "coordinator")) return 1;
  std::printf("listening on %s\n", server.address().c_str());
  std::fflush(stdout);
  Log().info("coordinator {} serving, decision log in {}", server.address(), f.data_dir);
  server.Wait();
  return 0;
}
}  // namespace

void AddCoordinatorCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<CoordinatorFlags>();
  CLI::App* cmd = app.add_subcommand("coordinator", "Run a two-phase-commit coordinator (presumed abort, group commit)");
  cmd->add_option("--listen", f->listen, "Address to listen on; port 0 picks a free one")->capture_default_str();
  cmd->add_option("--data-dir", f->data_dir, "Directory of the durable decision log (SQLite)")->required();
  cmd->add_option("--default-timeout-ms", f->default_timeout_ms,
                  "A transaction not committed within this (unless begin asks otherwise) is aborted")
      ->check(CLI::Range(1, 60000))->capture_default_str();
  cmd->add_option("--phase-two-give-up-ms", f->phase_two_give_up_ms,
                  "Stop pushing a commit to a participant that has not acknowledged it this long after the "
                  "decision (it learns the outcome when it asks; reported as unresolved)")
      ->check(CLI::Range(int64_t{1}, int64_t{30} * 24 * 3600 * 1000))->capture_default_str();
  cmd->add_option("--grace-ms", f->grace_ms, "On SIGTERM/SIGINT, time in-flight calls get to finish")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  AddRegisterFlags(cmd, f->registration, "coordinator");
  AddSecurityFlags(cmd, f->security, /*daemon=*/true);
  cmd->callback([f, &exit_code] { exit_code = RunCoordinator(*f); });
}

}  // namespace harpc::cli
