// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc transfer: moves money between accounts of two bank servers in one
// distributed transaction, or runs a closed-loop load of such transfers.
#include <cstdio>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "apps/transfer.h"
#include "cli/commands.h"
#include "cli/load_generator.h"
#include "cli/number_checks.h"
#include "cli/security_flags.h"
#include "cli/transfer_load.h"

namespace harpc::cli {

namespace {
struct TransferFlags {
  std::string coordinator, from, from_account, to, to_account;
  int64_t amount = 0;
  int timeout_ms = 5000;
  // Load mode.
  uint64_t count = 0;
  double duration_s = 0;
  int concurrency = 1;
  int accounts = 0;
  bool both_ways = false;
  bool json = false;
  bool progress = false;
  SecurityFlags security;
};

constexpr int kExitAborted = 3;  // docs/cli.md

int RunTransfer(const TransferFlags& f) {
  const bool load = f.count > 0 || f.duration_s > 0;
  // One transfer, one line: the channels' heartbeat chatter would bury the
  // error line on stderr (as for `harpc call`).
  if (!load) spdlog::set_level(spdlog::level::err);
  ChannelOptions options;
  if (!ResolveSecurityFlags(f.security, "transfer", &options.security)) return 2;
  options.timeout = std::chrono::milliseconds(f.timeout_ms);
  // H:P (one coordinator) or any target, such as a coordinator group's list://A,B,C.
  const std::string coordinator_target =
      f.coordinator.find("://") == std::string::npos ? "list://" + f.coordinator : f.coordinator;
  Channel coordinator(coordinator_target, TransferChannelOptions(options, coordinator_target)),
      from(f.from, TransferChannelOptions(options, f.from)), to(f.to, TransferChannelOptions(options, f.to));
  for (const Channel* c : {&coordinator, &from, &to}) {
    if (!c->status().ok()) {
      std::fprintf(stderr, "harpc transfer: %s\n", c->status().ToString().c_str());
      return 2;
    }
  }
  TransactionOptions txn_options{.timeout = std::chrono::milliseconds(f.timeout_ms)};
  if (load) {
    TransferLoadSpec spec{.from_account = f.from_account,
                          .to_account = f.to_account,
                          .accounts = f.accounts,
                          .both_ways = f.both_ways,
                          .amount = f.amount,
                          .concurrency = f.concurrency,
                          .duration = std::chrono::milliseconds(static_cast<int64_t>(f.duration_s * 1000)),
                          .count = f.count,
                          .transaction = txn_options};
    std::function<void(const TransferReport&)> on_tick;
    if (f.progress) {
      on_tick = [](const TransferReport& so_far) { PrintProgressLine(so_far.ToJson()); };
    }
    TransferReport report = RunTransferLoad(coordinator, from, to, spec, on_tick);
    if (f.json) {
      std::printf("%s\n", boost::json::serialize(report.ToJson()).c_str());
    } else {
      std::printf(
          "%llu transfers in %.1f s: %llu committed (%.0f/s), %llu aborted, %llu unknown; "
          "latency p50 %.2f ms, p99 %.2f ms\n",
          (unsigned long long)report.transfers, report.seconds, (unsigned long long)report.committed, report.tps(),
          (unsigned long long)report.aborted, (unsigned long long)report.unknown,
          report.latency->QuantileMicros(0.5) / 1000, report.latency->QuantileMicros(0.99) / 1000);
    }
    return 0;
  }
  txn::TransferRequest request{.from_account = f.from_account, .to_account = f.to_account, .amount = f.amount};
  std::promise<TxnOutcome> promise;
  boost::asio::co_spawn(coordinator.executor(), txn::Transfer(coordinator, from, to, request, txn_options),
                        [&promise](const std::exception_ptr& e, TxnOutcome o) {
                          if (e) o.status = Internal("transfer failed with an exception");
                          promise.set_value(std::move(o));
                        });
  TxnOutcome outcome = promise.get_future().get();
  if (outcome.status.ok() && outcome.txid.empty()) {
    // Never begun (the coordinator is out of reach): nothing happened, and
    // that is an error, not an abort.
    std::fprintf(stderr, "harpc transfer: coordinator %s: %s\n", f.coordinator.c_str(), outcome.reason.c_str());
    return 1;
  }
  if (!outcome.status.ok()) {
    std::fprintf(stderr, "harpc transfer: transaction %s: %s\n", outcome.txid.c_str(),
                 outcome.status.ToString().c_str());
    return 1;
  }
  boost::json::object line{
      {"txid", outcome.txid}, {"outcome", outcome.committed ? "committed" : "aborted"}, {"reason", outcome.reason}};
  std::printf("%s\n", boost::json::serialize(line).c_str());
  return outcome.committed ? 0 : kExitAborted;
}
}  // namespace

void AddTransferCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<TransferFlags>();
  CLI::App* cmd = app.add_subcommand("transfer", "Move money between two bank servers in one distributed transaction");
  cmd->add_option("--coordinator", f->coordinator,
                  "H:P of the coordinator, or a target (list://A,B,C for a coordinator group)")
      ->required();
  cmd->add_option("--from", f->from, "Target of the bank to debit (list://, sentinel://, etcd://)")->required();
  cmd->add_option("--from-account", f->from_account, "Account to debit")->required();
  cmd->add_option("--to", f->to, "Target of the bank to credit")->required();
  cmd->add_option("--to-account", f->to_account, "Account to credit")->required();
  cmd->add_option("--amount", f->amount, "Amount to move")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000'000'000}));
  cmd->add_option("--timeout-ms", f->timeout_ms, "The transaction must commit within this, or it aborts")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  cmd->add_option("--count", f->count, "Load mode: this many transfers in all");
  cmd->add_option("--duration", f->duration_s, "Load mode: transfer for this many seconds")->check(Positive());
  cmd->add_option("--concurrency,-c", f->concurrency, "Load mode: transfers in flight at once")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--accounts", f->accounts,
                  "Load mode: the accounts are FROM-ACCOUNT<i> and TO-ACCOUNT<j>, i and j random below this")
      ->check(CLI::Range(0, 100000000));
  cmd->add_flag("--both-ways", f->both_ways, "Load mode: half of the callers transfer from TO to FROM");
  cmd->add_flag("--json", f->json, "Load mode: print one JSON object");
  cmd->add_flag("--progress", f->progress,
                "Load mode: also print the totals so far every second, as one JSON line with \"unix_ms\"");
  AddSecurityFlags(cmd, f->security, /*daemon=*/false);
  cmd->callback([f, &exit_code] {
    if (f->count > 0 && f->duration_s > 0) {
      std::fprintf(stderr, "harpc transfer: give --count or --duration, not both\n");
      exit_code = 2;
      return;
    }
    exit_code = RunTransfer(*f);
  });
}

}  // namespace harpc::cli
