// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc serve: an echo server with fault injection, for demos, tests and
// benchmarks, or a bank that takes part in distributed transactions.
#include <algorithm>
#include <cstdio>
#include <optional>

#include <spdlog/spdlog.h>

#include "apps/bank_service.h"
#include "apps/echo_service.h"
#include "cli/commands.h"
#include "cli/group_flags.h"
#include "cli/number_checks.h"
#include "cli/register_flags.h"
#include "cli/security_flags.h"
#include "harpc/server.h"
#include "harpc/txn.h"
#include "naming/registrar.h"
#include "server/server_faults.h"
#include "util/address.h"
#include "util/log.h"

namespace harpc::cli {

namespace {
struct ServeFlags {
  std::string listen = "127.0.0.1:8001";
  std::string name;
  std::string service = "echo";
  int weight = 1;
  int threads = 0;
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_header_bytes = 8 * 1024;
  int header_timeout_ms = 5000;
  int body_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  size_t max_connections = 100000;
  size_t max_concurrency = 0;
  size_t max_batch_requests = 1000;
  size_t max_answer_bytes = 16 * 1024 * 1024;
  size_t max_unsent_bytes = 64 * 1024;
  size_t idempotency_max_bytes = 64 * 1024 * 1024;
  int grace_ms = 10000;
  int delay_ms = 0;
  double fail_rate = 0;
  double reset_rate = 0;
  std::string idempotency_db;
  std::string access_log;
  std::string db;           // --service bank: the participant's database
  std::string coordinator;  // --service bank: asked about transactions in doubt
  std::string group;        // --service bank: H:P,H:P,... of the replicated bank's members
  RegisterFlags registration;
  SecurityFlags security;
};

// --group A,B,C: this process as one member of a replicated bank, its Raft
// log and snapshots in FILE.raft/ beside --db. Prints one line and returns
// false on a bad list.
bool GroupOf(const ServeFlags& f, const ClientSecurity& security, std::optional<GroupOptions>* out) {
  if (f.group.empty()) return true;
  if (f.service != "bank") {
    std::fprintf(stderr, "harpc serve: --group: only --service bank runs as a group\n");
    return false;
  }
  return GroupFlag("serve", f.group, f.listen, f.db + ".raft", security, out);
}

int RunServe(const ServeFlags& f) {
  ClientSecurity security;
  if (!ResolveSecurityFlags(f.security, "serve", &security)) return 2;
  ServerOptions options;
  options.tls = f.security.ServerTls();
  options.auth = f.security.Auth();
  options.name = f.name;
  options.threads = f.threads;
  options.max_body_bytes = f.max_body_bytes;
  options.max_header_bytes = f.max_header_bytes;
  options.header_timeout = std::chrono::milliseconds(f.header_timeout_ms);
  options.body_timeout = std::chrono::milliseconds(f.body_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(f.idle_timeout_ms);
  options.max_connections = f.max_connections;
  options.max_concurrency = f.max_concurrency;
  options.max_batch_requests = f.max_batch_requests;
  options.max_answer_bytes = f.max_answer_bytes;
  options.max_unsent_bytes = f.max_unsent_bytes;
  options.idempotency_max_bytes = f.idempotency_max_bytes;
  options.shutdown_grace = std::chrono::milliseconds(f.grace_ms);
  options.idempotency_db = f.idempotency_db;
  options.access_log = f.access_log;
  Server server(options);
  ServerFaults::SetResetRate(server, f.reset_rate);

  if (f.service != "echo" && f.service != "bank") {
    std::fprintf(stderr, "harpc serve: unknown --service '%s' (available: echo, bank)\n", f.service.c_str());
    return 2;
  }
  if (f.service == "bank" && f.db.empty()) {
    std::fprintf(stderr, "harpc serve: --service bank needs --db FILE\n");
    return 2;
  }
  std::optional<GroupOptions> group;
  if (!GroupOf(f, security, &group)) return 2;
  Registration registration{.service = f.service, .address = f.listen, .name = f.name, .weight = f.weight};
  if (group) registration.group = group->members;  // the sentinels follow the group's Raft state
  if (!CheckRegisterFlags(f.registration, registration, security, "serve")) return 2;
  Status s;
  std::unique_ptr<Participant> bank;
  if (f.service == "bank") {
    // The bank takes votes for its own coordinator only: a client naming
    // another one (of its own making) could have it commit what it likes.
    ParticipantOptions participant;
    participant.db_path = f.db;
    participant.group = std::move(group);
    participant.coordinator = f.coordinator;
    participant.security = security;
    if (!f.coordinator.empty()) participant.allowed_coordinators = {f.coordinator};
    s = Participant::Open(std::move(participant), kBankSchema, &bank);
    if (s.ok()) s = RegisterBankService(*bank);
    if (s.ok()) s = bank->Attach(server);
  } else {
    s = RegisterEchoService(server, {.delay = std::chrono::milliseconds(f.delay_ms), .fail_rate = f.fail_rate});
  }
  if (s.ok()) s = server.Start(f.listen);
  if (!s.ok()) {
    std::fprintf(stderr, "harpc serve: %s\n", s.ToString().c_str());
    return 1;
  }
  if (bank) s = bank->Start(server);  // a group member joins its group once it listens
  if (!s.ok()) {
    std::fprintf(stderr, "harpc serve: --group: %s\n", s.ToString().c_str());
    server.Shutdown();
    server.Wait();
    return 1;
  }
  // --register: announce this server to a naming service for as long as it serves.
  std::unique_ptr<Registrar> registrar;
  if (!StartRegistering(f.registration, registration, security, server, &registrar, "serve")) return 1;
  // One line on stdout when ready: scripts and tests read the bound port from it.
  std::printf("listening on %s\n", server.address().c_str());
  std::fflush(stdout);
  Log().info("server {} serving {} (delay {} ms, fail rate {})", server.address(), f.service, f.delay_ms, f.fail_rate);
  server.Wait();
  Log().info("server {} stopped", server.address());
  return 0;
}
}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Run an RPC server (echo service; fault injection for tests)");
  cmd->add_option("--listen", flags->listen, "Address to listen on; port 0 picks a free one")->capture_default_str();
  cmd->add_option("--name", flags->name, "Instance name shown in /status (default: the address)");
  cmd->add_option("--service", flags->service, "Service to run: echo, or bank (transfers by two-phase commit)")
      ->capture_default_str();
  cmd->add_option("--db", flags->db, "--service bank: SQLite file of the accounts and the transaction log");
  cmd->add_option("--coordinator", flags->coordinator,
                  "--service bank: H:P (numeric) of the coordinator, or list://H:P,... of a coordinator group; "
                  "prepares naming another are refused");
  cmd->add_option("--group", flags->group,
                  "--service bank: H:P,H:P,... (numeric) of a replicated bank's members, --listen among them; "
                  "its Raft log lives in FILE.raft/ beside --db");
  cmd->add_option("--weight", flags->weight, "Weight announced to registries")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Event-loop threads (0: one per core)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", flags->max_body_bytes, "Largest request body (413 above)")->capture_default_str();
  cmd->add_option("--max-header-bytes", flags->max_header_bytes, "Largest request head (431 above)")
      ->capture_default_str();
  cmd->add_option("--header-timeout-ms", flags->header_timeout_ms, "Time allowed for a request head (408 after)")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--body-timeout-ms", flags->body_timeout_ms, "Time allowed for a request body (408 after)")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--idle-timeout-ms", flags->idle_timeout_ms, "Idle keep-alive connections close after this")
      ->check(Positive())
      ->capture_default_str();
  cmd->add_option("--max-connections", flags->max_connections, "Open connections above this get 503")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", flags->max_concurrency,
                  "Calls in flight above this get 429 RESOURCE_EXHAUSTED (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--max-batch-requests", flags->max_batch_requests,
                  "A JSON-RPC batch with more requests is refused whole (one -32600)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-answer-bytes", flags->max_answer_bytes,
                  "Largest answer of one request, a batch's together (500 / -32603 above)")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--max-unsent-bytes", flags->max_unsent_bytes,
                  "Answers waiting for a client that does not read; then its connection is not read from")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--idempotency-max-bytes", flags->idempotency_max_bytes,
                  "Bytes of answers kept by Idempotency-Key; the oldest go first")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--grace-ms", flags->grace_ms, "On SIGTERM/SIGINT, time in-flight calls get to finish")
      ->check(NonNegative())
      ->capture_default_str();
  cmd->add_option("--delay-ms", flags->delay_ms, "Fault injection: answer every call after this delay")
      ->check(NonNegative())
      ->capture_default_str();
  cmd->add_option("--fail-rate", flags->fail_rate, "Fault injection: fraction of calls answered UNAVAILABLE")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--idempotency-db", flags->idempotency_db,
                  "SQLite file keeping answers by Idempotency-Key across restarts (default: memory only)");
  cmd->add_option("--access-log", flags->access_log,
                  "Write one JSON line per call (time, method, status, latency, peer, trace ids) to this file "
                  "(appended to), or - for stdout (docs/observability.md); default: none");
  cmd->add_option("--reset-rate", flags->reset_rate,
                  "Fault injection: fraction of calls whose connection is reset after the method ran")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  AddRegisterFlags(cmd, flags->registration, "--service");
  AddSecurityFlags(cmd, flags->security, /*daemon=*/true);
  cmd->callback([flags, &exit_code] { exit_code = RunServe(*flags); });
}

}  // namespace harpc::cli
