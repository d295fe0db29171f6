// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The transactions chapter of `harpc demo`: a coordinator group of three and
// two banks, each a group of three replicas, under a load of transfers in
// both directions. The coordinators' leader is SIGKILLed, then bank-b's
// leader; bank-a's leader is frozen (SIGSTOP) and later thawed; the dead
// members are restarted. At the end the money adds up, nothing is left in
// doubt, and no transfer was aborted because of a failure.
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
constexpr int kReplicas = 3;

struct Member {
  std::vector<std::string> args;  // without the binary
  Subprocess process;
  std::string address;
  bool down = false;  // killed and not restarted yet
};

// One replicated group of daemons: the coordinators, or one bank.
struct Group {
  std::string name;
  std::vector<Member> members{kReplicas};

  std::string Addresses() const {
    std::string list;
    for (const Member& m : members) list += (list.empty() ? "" : ",") + m.address;
    return list;
  }
  std::string Target() const { return "list://" + Addresses(); }
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
    std::this_thread::sleep_until(start_ +
                                  std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  }
  Status Start(Member& m) {
    m.down = false;
    return StartDaemonProcess(m.args, trust_, &m.process, &m.address);
  }
  void Restart(Group& g, Member& m) {
    if (Status s = Start(m); !s.ok()) {
      Say(">>> could not restart a member of %s: %s", g.name.c_str(), s.ToString().c_str());
      failed_ = true;
      return;
    }
    Say(">>> %s: %s restarted from its data dir; it catches up from the leader", g.name.c_str(), m.address.c_str());
  }
  // The member every answering member names as leader (Raft.status), or null.
  Member* Leader(Group& g) {
    ChannelOptions o;
    o.security = trust_.security;
    o.timeout = milliseconds(300);
    o.health.interval = milliseconds(0);
    for (Member& m : g.members) {
      if (m.down) continue;
      Channel member("list://" + m.address, o);
      CallResult r = member.Call("Raft.status", boost::json::object{});
      if (!r.ok() || !r.value.at("leader").is_string()) continue;
      const std::string leader(r.value.at("leader").as_string());
      for (Member& candidate : g.members) {
        if (candidate.address == leader && !candidate.down) return &candidate;
      }
    }
    return nullptr;
  }
  // Sends `signal` to the group's leader, when one is found, and says what it did.
  Member* HitLeader(Group& g, int signal, const char* what) {
    Member* leader = Leader(g);
    if (!leader) return nullptr;
    leader->process.Signal(signal);
    leader->down = true;
    Say(">>> %s: leader %s %s", g.name.c_str(), leader->address.c_str(), what);
    return leader;
  }
  // Polls the three groups' leaders for the per-second lines, off the load's loop.
  void WatchLeaders(const bool& stop) {
    while (!stop) {
      std::string names[3];
      for (int i = 0; i < 3; ++i) {
        Member* m = Leader(*groups_[i]);
        names[i] = m ? m->address.substr(m->address.rfind(':') + 1) : "none";
      }
      {
        std::lock_guard lock(print_mu_);
        leaders_ = "leaders: coordinator :" + names[0] + ", bank-a :" + names[1] + ", bank-b :" + names[2];
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
  }
  // A bank's {"accounts","total","reserved"} and its count of prepared calls; false if it does not answer.
  static bool Audit(Channel& bank, int64_t* total, int64_t* reserved, int64_t* prepared) {
    CallResult audit = bank.Call("Bank.audit", boost::json::object{});
    CallResult status = bank.Call("Participant.status", boost::json::object{});
    if (!audit.ok() || !status.ok()) return false;
    *total = audit.value.at("total").to_number<int64_t>();
    *reserved = audit.value.at("reserved").to_number<int64_t>();
    *prepared = status.value.at("prepared").to_number<int64_t>();
    return true;
  }

  const DemoTrust& trust_;
  Clock::time_point start_ = Clock::now();
  std::mutex print_mu_;
  std::string leaders_ = "leaders: ...";
  Group* groups_[3] = {};
  bool failed_ = false;
};

int TransactionChapter::Run() {
  std::printf(
      "\n== Transactions: a coordinator group of three and two banks of three replicas each (Raft: a\n"
      "   command counts once a majority has it on disk). 16 callers transfer money both ways for 12 s;\n"
      "   the coordinators' leader and bank-b's leader are SIGKILLed, bank-a's leader is frozen and\n"
      "   thawed, the dead members come back.\n\n");
  std::string dir;
  if (!MakeChapterDir("txn", &dir)) return 1;
  Group coordinators{.name = "coordinators"}, bank_a{.name = "bank-a"}, bank_b{.name = "bank-b"};
  groups_[0] = &coordinators;
  groups_[1] = &bank_a;
  groups_[2] = &bank_b;
  for (Group* g : groups_) {
    for (Member& m : g->members) m.address = "127.0.0.1:" + std::to_string(FreePort());
  }
  for (int i = 0; i < kReplicas; ++i) {
    const std::string n = std::to_string(i + 1);
    coordinators.members[i].args = {"coordinator",
                                    "--listen",
                                    coordinators.members[i].address,
                                    "--data-dir",
                                    dir + "/coordinator" + n,
                                    "--group",
                                    coordinators.Addresses()};
    for (Group* bank : {&bank_a, &bank_b}) {
      bank->members[i].args = {"serve",
                               "--service",
                               "bank",
                               "--listen",
                               bank->members[i].address,
                               "--threads",
                               "1",
                               "--db",
                               dir + "/" + bank->name + "-" + n + ".db",
                               "--group",
                               bank->Addresses(),
                               "--coordinator",
                               coordinators.Target()};
    }
  }
  for (Group* g : groups_) {
    for (Member& m : g->members) {
      if (Status s = Start(m); !s.ok()) {
        std::printf("  cannot start a member of %s: %s\n", g->name.c_str(), s.ToString().c_str());
        return 1;
      }
    }
    std::printf("  %-13s %s\n", g->name.c_str(), g->Addresses().c_str());
  }
  ChannelOptions options;
  options.security = trust_.security;
  options.timeout = milliseconds(2000);
  Channel coordinator_channel(coordinators.Target(), TransferChannelOptions(options, coordinators.Target()));
  Channel bank_a_channel(bank_a.Target(), TransferChannelOptions(options, bank_a.Target()));
  Channel bank_b_channel(bank_b.Target(), TransferChannelOptions(options, bank_b.Target()));
  Channel* bank_channels[2] = {&bank_a_channel, &bank_b_channel};
  const char* prefixes[2] = {"a", "b"};  // accounts a0..a19 on bank-a, b0..b19 on bank-b
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < kAccounts; ++i) {
      boost::json::value account{{"account", prefixes[b] + std::to_string(i)}, {"balance", kOpeningBalance}};
      CallOptions once;
      once.idempotency_key = std::string("open-") + prefixes[b] + std::to_string(i);
      if (CallResult r = bank_channels[b]->Call("Bank.open", account, once); !r.ok()) {
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
  bool stop_watching = false;
  std::thread watcher([&] { WatchLeaders(stop_watching); });
  TransferReport report;
  uint64_t last_committed = 0, last_aborted = 0, last_unknown = 0;
  std::thread load([&] {
    TransferLoadSpec spec{.from_account = "a",
                          .to_account = "b",
                          .accounts = kAccounts,
                          .both_ways = true,
                          .amount = 7,
                          .concurrency = 16,
                          .duration = std::chrono::seconds(12),
                          .transaction = {.timeout = milliseconds(3000)}};
    report = RunTransferLoad(coordinator_channel, bank_a_channel, bank_b_channel, spec, [&](const TransferReport& r) {
      std::string leaders;
      {
        std::lock_guard lock(print_mu_);
        leaders = leaders_;
      }
      Say("%5llu committed %4llu aborted %3llu unknown   %s", (unsigned long long)(r.committed - last_committed),
          (unsigned long long)(r.aborted - last_aborted), (unsigned long long)(r.unknown - last_unknown),
          leaders.c_str());
      last_committed = r.committed;
      last_aborted = r.aborted;
      last_unknown = r.unknown;
    });
  });

  SleepUntil(2);
  Member* victim =
      HitLeader(coordinators, SIGKILL, "killed with SIGKILL; the others elect a new one, which resumes phase two");
  SleepUntil(4);
  Member* dead_bank =
      HitLeader(bank_b, SIGKILL, "killed with SIGKILL; its prepared transfers are on the other replicas");
  SleepUntil(6);
  Member* frozen =
      HitLeader(bank_a, SIGSTOP, "frozen with SIGSTOP; alone it can commit nothing, the others elect a new leader");
  SleepUntil(8);
  if (frozen) {
    frozen->process.Signal(SIGCONT);
    frozen->down = false;
    Say(">>> bank-a: %s thawed with SIGCONT; it sees a newer term and follows", frozen->address.c_str());
  }
  SleepUntil(9);
  if (victim) Restart(coordinators, *victim);
  if (dead_bank) Restart(bank_b, *dead_bank);
  load.join();
  stop_watching = true;
  watcher.join();

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

  // Aborts a caller asked for (the bank refused: not enough money) are the
  // application's; every other abort, and every outcome the caller did not
  // learn, is a failure the groups did not hide.
  uint64_t refused = 0;
  for (const auto& [reason, n] : report.abort_reasons) {
    if (reason.find("insufficient funds") != std::string::npos) refused += n;
  }
  const uint64_t failure_aborts = report.aborted - refused + report.unknown;

  std::printf("\n== Summary\n");
  std::printf(
      "  transfers %llu: committed %llu, aborted %llu (%llu for insufficient funds), outcome unknown %llu; "
      "longest time without a commit %lld ms\n",
      (unsigned long long)report.transfers, (unsigned long long)report.committed, (unsigned long long)report.aborted,
      (unsigned long long)refused, (unsigned long long)report.unknown, (long long)report.longest_gap.count());
  for (const auto& [reason, n] : report.abort_reasons) {
    std::printf("    %6llu  %s\n", (unsigned long long)n, reason.c_str());
  }
  std::printf("  transfers aborted because of a failure: %llu\n", (unsigned long long)failure_aborts);
  std::printf("  total money before %lld, after %lld: %s\n", (long long)before, (long long)after,
              before == after ? "equal" : "DIFFERENT");
  std::printf(
      "  in doubt after the run: bank-a %lld prepared, bank-b %lld prepared; reserved %lld + %lld "
      "(settled %ld ms after the load)\n",
      (long long)prepared[0], (long long)prepared[1], (long long)reserved[0], (long long)reserved[1], settle_ms);
  for (Group* g : groups_) {
    for (Member& m : g->members) m.process.Signal(SIGTERM);
  }
  for (Group* g : groups_) {
    for (Member& m : g->members) m.process.Wait(std::chrono::seconds(10));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool ok = !failed_ && settled && before == after && report.committed > 0 && failure_aborts == 0;
  std::printf("\n%s: money %s, %s in doubt, %llu transfers aborted because of a failure.\n", ok ? "PASS" : "FAIL",
              before == after ? "conserved" : "NOT conserved", settled ? "nothing" : "something still",
              (unsigned long long)failure_aborts);
  return ok ? 0 : 1;
}
}  // namespace

int RunTransactionChapter(const DemoTrust& trust) { return TransactionChapter(trust).Run(); }

}  // namespace harpc::cli
