// The transactions chapter of `harpc demo`: two bank servers and a
// coordinator under a load of transfers in both directions. The coordinator
// is SIGKILLed and restarted mid-run, then one bank; at the end the money
// adds up, every reservation is released and nothing is left in doubt.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "cli/demo_support.h"
#include "cli/transfer_load.h"
#include "harpc/channel.h"
#include "harpc/transaction.h"

namespace harpc::cli {

namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kAccounts = 20;
constexpr int64_t kOpeningBalance = 1000;

struct Daemon {
  std::string name;
  std::vector<std::string> args;  // without the binary
  const DemoTrust& trust;
  Subprocess process;
  std::string address;

  Status Start() { return StartDaemonProcess(args, trust, &process, &address); }
};

class TransactionChapter {
 public:
  explicit TransactionChapter(const DemoTrust& trust) : trust_(trust) {}
  int Run();

 private:
  void Say(const char* format, auto... args) {
    std::lock_guard lock(print_mu_);
    std::printf("%6.1fs  ", std::chrono::duration<double>(Clock::now() - start_).count());
    std::printf(format, args...);
    std::printf("\n");
    std::fflush(stdout);
  }
  void SleepUntil(double seconds) {
    std::this_thread::sleep_until(start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  }
  // A bank's {"accounts","total","reserved"} and its count of prepared calls; false if it does not answer.
  bool Audit(Channel& bank, int64_t* total, int64_t* reserved, int64_t* prepared) {
    CallResult audit = bank.Call("Bank.audit", boost::json::object{});
    CallResult status = bank.Call("Participant.status", boost::json::object{});
    if (!audit.ok() || !status.ok()) return false;
    *total = audit.value.at("total").to_number<int64_t>();
    *reserved = audit.value.at("reserved").to_number<int64_t>();
    *prepared = status.value.at("prepared").to_number<int64_t>();
    return true;
  }
  void Restart(Daemon& d) {
    if (Status s = d.Start(); !s.ok()) {
      Say(">>> could not restart %s: %s", d.name.c_str(), s.ToString().c_str());
      failed_ = true;
    }
  }

  const DemoTrust& trust_;
  Clock::time_point start_ = Clock::now();
  std::mutex print_mu_;
  bool failed_ = false;
};

int TransactionChapter::Run() {
  std::printf("\n== Transactions: two bank servers and a coordinator (two-phase commit, presumed abort, group\n"
              "   commit, every fsync on). 16 callers transfer money both ways for 10 s; the coordinator\n"
              "   and then bank-b are SIGKILLed and restarted on their ports.\n\n");
  std::string dir;
  if (!MakeChapterDir("txn", &dir)) return 1;
  const std::string coordinator_address = "127.0.0.1:" + std::to_string(FreePort());
  Daemon coordinator{.name = "coordinator",
                     .args = {"coordinator", "--listen", coordinator_address, "--data-dir", dir + "/coordinator"},
                     .trust = trust_};
  Daemon banks[2] = {{.trust = trust_}, {.trust = trust_}};
  for (int i = 0; i < 2; ++i) {
    banks[i].name = i == 0 ? "bank-a" : "bank-b";
    banks[i].args = {"serve", "--service", "bank", "--listen", "127.0.0.1:" + std::to_string(FreePort()),
                     "--threads", "1", "--db", dir + "/" + banks[i].name + ".db", "--coordinator", coordinator_address};
  }
  for (Daemon* d : {&coordinator, &banks[0], &banks[1]}) {
    if (Status s = d->Start(); !s.ok()) {
      std::printf("  cannot start %s: %s\n", d->name.c_str(), s.ToString().c_str());
      return 1;
    }
    std::printf("  %-12s %-22s pid %d\n", d->name.c_str(), d->address.c_str(), d->process.pid());
  }
  ChannelOptions options;
  options.security = trust_.security;
  options.timeout = milliseconds(2000);
  Channel coordinator_channel("list://" + coordinator.address, options);
  Channel bank_a("list://" + banks[0].address, options), bank_b("list://" + banks[1].address, options);
  Channel* bank_channels[2] = {&bank_a, &bank_b};
  const char* prefixes[2] = {"a", "b"};  // accounts a0..a19 on bank-a, b0..b19 on bank-b
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < kAccounts; ++i) {
      boost::json::value account{{"account", prefixes[b] + std::to_string(i)}, {"balance", kOpeningBalance}};
      if (CallResult r = bank_channels[b]->Call("Bank.open", account); !r.ok()) {
        std::printf("  cannot open an account: %s\n", r.status.ToString().c_str());
        return 1;
      }
    }
  }
  int64_t totals[2], reserved[2], prepared[2];
  for (int b = 0; b < 2; ++b) Audit(*bank_channels[b], &totals[b], &reserved[b], &prepared[b]);
  const int64_t before = totals[0] + totals[1];
  std::printf("  %d accounts of %lld on each bank: total money %lld\n\n", kAccounts, (long long)kOpeningBalance,
              (long long)before);

  start_ = Clock::now();
  TransferReport report;
  uint64_t last_committed = 0, last_aborted = 0, last_unknown = 0;
  std::thread load([&] {
    TransferLoadSpec spec{.from_account = "a", .to_account = "b", .accounts = kAccounts, .both_ways = true,
                          .amount = 7, .concurrency = 16, .duration = std::chrono::seconds(10),
                          .transaction = {.timeout = milliseconds(1000)}};
    report = RunTransferLoad(coordinator_channel, bank_a, bank_b, spec, [&](const TransferReport& r) {
      Say("%5llu committed %5llu aborted %3llu unknown this second",
          (unsigned long long)(r.committed - last_committed), (unsigned long long)(r.aborted - last_aborted),
          (unsigned long long)(r.unknown - last_unknown));
      last_committed = r.committed;
      last_aborted = r.aborted;
      last_unknown = r.unknown;
    });
  });

  SleepUntil(2.5);
  coordinator.process.Signal(SIGKILL);
  Say(">>> coordinator killed with SIGKILL (undecided transactions are forgotten: presumed abort)");
  SleepUntil(4);
  Restart(coordinator);
  Say(">>> coordinator restarted on %s: it resumes phase two of what it had committed", coordinator.address.c_str());
  SleepUntil(6);
  banks[1].process.Signal(SIGKILL);
  Say(">>> bank-b killed with SIGKILL (its prepared transfers are in its database)");
  SleepUntil(7.5);
  Restart(banks[1]);
  Say(">>> bank-b restarted: it asks the coordinator about every transfer still prepared");
  load.join();

  // Everything in doubt resolves: phase two is retried, participants ask.
  const auto t_end = Clock::now();
  bool settled = false;
  while (Clock::now() - t_end < std::chrono::seconds(15)) {
    bool ok = true;
    for (int b = 0; b < 2; ++b) ok = Audit(*bank_channels[b], &totals[b], &reserved[b], &prepared[b]) && ok;
    if (ok && prepared[0] == 0 && prepared[1] == 0 && reserved[0] == 0 && reserved[1] == 0) {
      settled = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  const long settle_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t_end).count();
  const int64_t after = totals[0] + totals[1];
  const uint64_t committed = report.committed, aborted = report.aborted, unknown = report.unknown;

  // The callers that lost the coordinator mid-commit ask it now.
  uint64_t later_committed = 0, later_aborted = 0;
  for (const std::string& txid : report.unknown_txids) {
    TxnOutcome o = Transaction::Query(coordinator_channel, txid);
    if (o.status.ok()) ++(o.committed ? later_committed : later_aborted);
  }

  std::printf("\n== Summary\n");
  std::printf("  transfers %llu: committed %llu, aborted %llu, outcome unknown to the caller %llu\n",
              (unsigned long long)(committed + aborted + unknown), (unsigned long long)committed,
              (unsigned long long)aborted, (unsigned long long)unknown);
  for (const auto& [reason, n] : report.abort_reasons) std::printf("    %6llu  %s\n", (unsigned long long)n, reason.c_str());
  if (unknown > 0) {
    std::printf("  the %llu unknown, asked afterwards (Transaction::Query): %llu committed, %llu aborted "
                "(the aborted ones were undecided when the coordinator died: presumed abort)\n",
                (unsigned long long)unknown, (unsigned long long)later_committed,
                (unsigned long long)later_aborted);
  }
  std::printf("  total money before %lld, after %lld: %s\n", (long long)before, (long long)after,
              before == after ? "equal" : "DIFFERENT");
  std::printf("  in doubt after the run: bank-a %lld prepared, bank-b %lld prepared; reserved %lld + %lld "
              "(settled %ld ms after the load)\n",
              (long long)prepared[0], (long long)prepared[1], (long long)reserved[0], (long long)reserved[1],
              settle_ms);
  for (Daemon* d : {&coordinator, &banks[0], &banks[1]}) d->process.Signal(SIGTERM);
  for (Daemon* d : {&coordinator, &banks[0], &banks[1]}) d->process.Wait(std::chrono::seconds(10));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool ok = !failed_ && settled && before == after && committed > 0;
  std::printf("\n%s: money %s, %s in doubt.\n", ok ? "PASS" : "FAIL", before == after ? "conserved" : "NOT conserved",
              settled ? "nothing" : "something still");
  return ok ? 0 : 1;
}
}  // namespace

int RunTransactionChapter(const DemoTrust& trust) { return TransactionChapter(trust).Run(); }

}  // namespace harpc::cli
