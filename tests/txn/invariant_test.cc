// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The invariant of two-phase commit, checked on real processes: whatever is
// killed when, every transfer ends up applied exactly once on both banks or on
// neither, money is conserved, nothing stays reserved or in doubt, and every
// outcome a client was told is the coordinator's final word.
#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "apps/transfer.h"
#include "txn_support.h"

namespace harpc::txntest {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kAccountsPerBank = 20;

std::string AccountName(int bank, int i) { return std::string(1, static_cast<char>('a' + bank)) + std::to_string(i); }
int64_t StartBalance(int bank, int i) { return 1000 + 37 * i + 500 * bank; }

// A transfer as planned, and what its client was told.
struct TransferRecord {
  int from_bank = 0, to_bank = 0;
  std::string from_account, to_account;
  int64_t amount = 0;
  std::string txid;
  enum class Reported { kCommitted, kAborted, kUnknown } reported = Reported::kUnknown;
  std::string why;  // the abort reason, or the unknown outcome's status
};

// `concurrency` coroutines on the coordinator channel's loop, each running
// transfers (txn::Transfer, as `harpc transfer` does) with `pace` to 1.5 x
// `pace` between two, until Stop() or `max_transfers` have started. Both directions, some within one
// bank, and about one in ten asking for more than any account holds.
class TransferLoad {
 public:
  TransferLoad(Channel& coordinator, std::vector<Channel*> banks, int concurrency, int max_transfers,
               std::chrono::milliseconds txn_timeout, std::chrono::milliseconds pace, uint64_t seed)
      : coordinator_(coordinator),
        banks_(std::move(banks)),
        max_transfers_(max_transfers),
        pace_(pace),
        rng_(seed),
        running_(concurrency) {
    options_.timeout = txn_timeout;
    for (int i = 0; i < concurrency; ++i) asio::co_spawn(coordinator_.executor(), Worker(), asio::detached);
  }
  ~TransferLoad() {
    Stop();
    WaitDone(60s);
  }

  void Stop() { stop_ = true; }
  bool WaitDone(std::chrono::milliseconds timeout) {
    return PollUntil([&] { return running_.load() == 0; }, timeout);
  }
  int finished() const { return finished_.load(); }
  std::vector<TransferRecord> Records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  // On the loop only.
  TransferRecord Plan() {
    TransferRecord t;
    const int kind = static_cast<int>(rng_() % 10);
    t.from_bank = static_cast<int>(rng_() % banks_.size());
    // 0: within one bank; else across (both directions, by from_bank).
    t.to_bank = kind == 0 ? t.from_bank : static_cast<int>((t.from_bank + 1) % banks_.size());
    const int i = static_cast<int>(rng_() % kAccountsPerBank);
    int j = static_cast<int>(rng_() % kAccountsPerBank);
    if (t.to_bank == t.from_bank && j == i) j = (j + 1) % kAccountsPerBank;
    t.from_account = AccountName(t.from_bank, i);
    t.to_account = AccountName(t.to_bank, j);
    // 1: overdraws for sure; else small enough that most commit.
    t.amount = kind == 1 ? 1'000'000 : 1 + static_cast<int64_t>(rng_() % 150);
    return t;
  }

  asio::awaitable<void> Worker() {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (!stop_ && started_ < max_transfers_) {
      ++started_;
      TransferRecord t = Plan();
      txn::TransferRequest request{.from_account = t.from_account, .to_account = t.to_account, .amount = t.amount};
      TransactionOptions options = options_;
      Channel& from = *banks_[t.from_bank];
      Channel& to = *banks_[t.to_bank];
      TxnOutcome outcome = co_await txn::Transfer(coordinator_, from, to, std::move(request), options);
      t.txid = outcome.txid;
      if (!outcome.status.ok()) {
        t.reported = TransferRecord::Reported::kUnknown;
        t.why = outcome.status.ToString();
      } else {
        t.reported = outcome.committed ? TransferRecord::Reported::kCommitted : TransferRecord::Reported::kAborted;
        t.why = outcome.reason;
      }
      const bool trouble = !outcome.status.ok() || outcome.txid.empty();
      {
        std::lock_guard lock(mu_);
        records_.push_back(std::move(t));
      }
      ++finished_;
      // The load's pace; and when something is down, a pause as a real
      // client would make rather than spin.
      auto wait = pace_ + std::chrono::milliseconds(pace_.count() > 0 ? rng_() % (pace_.count() / 2 + 1) : 0);
      if (trouble) wait = std::max(wait, std::chrono::milliseconds(20));
      if (wait.count() > 0) {
        pause.expires_after(wait);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    --running_;
  }

  Channel& coordinator_;
  std::vector<Channel*> banks_;
  const int max_transfers_;
  const std::chrono::milliseconds pace_;
  TransactionOptions options_;
  std::mt19937_64 rng_;
  int started_ = 0;  // on the loop only
  std::atomic<bool> stop_{false};
  std::atomic<int> running_{0}, finished_{0};
  mutable std::mutex mu_;
  std::vector<TransferRecord> records_;
};

struct Tally {
  int committed = 0, aborted = 0, not_begun = 0, unknown = 0, overdraws_aborted = 0, same_bank_committed = 0;
  std::string Describe() const {
    std::ostringstream out;
    out << committed << " committed, " << aborted << " aborted (" << overdraws_aborted << " overdraws), " << not_begun
        << " never begun, " << unknown << " unknown to their client (settled by asking)";
    return out.str();
  }
};

// Every check of the invariant, once every process is up and nothing is in
// doubt any more.
void CheckInvariant(Cluster& cluster, const std::vector<TransferRecord>& records, Tally* out) {
  Tally& tally = *out;
  Channel coordinator("list://" + cluster.coordinator->address(), OneShotOptions(2s));
  std::vector<std::unique_ptr<Channel>> banks;
  for (const auto& b : cluster.banks)
    banks.push_back(std::make_unique<Channel>("list://" + b->address(), OneShotOptions(2s)));

  // What the coordinator says now, for every transfer that began: a client
  // that was told an outcome was told the final one; one that was not learns it.
  std::map<std::pair<int, std::string>, int64_t> expected;
  for (int b = 0; b < static_cast<int>(cluster.banks.size()); ++b) {
    for (int i = 0; i < kAccountsPerBank; ++i) expected[{b, AccountName(b, i)}] = StartBalance(b, i);
  }
  std::vector<const TransferRecord*> committed, aborted;
  for (const TransferRecord& t : records) {
    if (t.txid.empty()) {
      // Begin failed: nothing was prepared anywhere.
      EXPECT_NE(t.reported, TransferRecord::Reported::kCommitted);
      ++tally.not_begun;
      continue;
    }
    const std::string final_outcome = FinalOutcome(coordinator, t.txid, 15s);
    ASSERT_FALSE(final_outcome.empty()) << "the coordinator never settled " << t.txid;
    if (t.reported == TransferRecord::Reported::kCommitted) {
      EXPECT_EQ(final_outcome, "committed") << t.txid << " was reported committed";
    } else if (t.reported == TransferRecord::Reported::kAborted) {
      EXPECT_EQ(final_outcome, "aborted") << t.txid << " was reported aborted (" << t.why << ")";
    } else {
      ++tally.unknown;
    }
    if (final_outcome == "committed") {
      committed.push_back(&t);
      expected[{t.from_bank, t.from_account}] -= t.amount;
      expected[{t.to_bank, t.to_account}] += t.amount;
      if (t.from_bank == t.to_bank) ++tally.same_bank_committed;
      EXPECT_LT(t.amount, 1'000'000) << t.txid << " overdrew and committed";
    } else {
      aborted.push_back(&t);
      if (t.amount >= 1'000'000) ++tally.overdraws_aborted;
    }
  }
  tally.committed = static_cast<int>(committed.size());
  tally.aborted = static_cast<int>(aborted.size());

  // Every account: its start balance plus the committed transfers, exactly;
  // nothing held back by a reservation.
  int64_t start_total = 0, total = 0;
  for (int b = 0; b < static_cast<int>(cluster.banks.size()); ++b) {
    for (int i = 0; i < kAccountsPerBank; ++i) {
      start_total += StartBalance(b, i);
      const std::string name = AccountName(b, i);
      auto account = AccountOf(cluster.banks[b]->address(), name);
      ASSERT_TRUE(account.has_value()) << "Bank.balance " << name;
      EXPECT_EQ(account->balance, (expected[{b, name}])) << name << " on bank " << b;
      EXPECT_EQ(account->reserved, 0) << name << " on bank " << b;
    }
    auto audit = AuditOf(cluster.banks[b]->address());
    ASSERT_TRUE(audit.has_value());
    EXPECT_EQ(audit->accounts, kAccountsPerBank);
    EXPECT_EQ(audit->reserved, 0);
    total += audit->total;
  }
  EXPECT_EQ(total, start_total) << "money was made or lost";

  // The participants' own records: a committed transfer's debit and credit
  // are committed where they were prepared; an aborted one has nothing
  // committed (nor prepared) anywhere.
  auto check_committed = [&](const TransferRecord& t) {
    if (t.from_bank == t.to_bank) {
      CallStates calls = CallsOf(*banks[t.from_bank], t.txid);
      ASSERT_EQ(calls.size(), 2u) << t.txid;
      for (const auto& [call, state] : calls) EXPECT_EQ(state.second, "committed") << t.txid << " call " << call;
      return;
    }
    CallStates from = CallsOf(*banks[t.from_bank], t.txid), to = CallsOf(*banks[t.to_bank], t.txid);
    ASSERT_EQ(from.size(), 1u) << t.txid << " on the debited bank";
    ASSERT_EQ(to.size(), 1u) << t.txid << " on the credited bank";
    EXPECT_EQ(from.begin()->second, (std::pair<std::string, std::string>{"Bank.debit", "committed"})) << t.txid;
    EXPECT_EQ(to.begin()->second, (std::pair<std::string, std::string>{"Bank.credit", "committed"})) << t.txid;
  };
  auto check_aborted = [&](const TransferRecord& t) {
    for (auto& bank : banks) {
      for (const auto& [call, state] : CallsOf(*bank, t.txid)) {
        EXPECT_EQ(state.second, "aborted") << t.txid << " call " << call << " (" << state.first << ")";
      }
    }
  };
  for (const TransferRecord* t : committed) check_committed(*t);
  for (const TransferRecord* t : aborted) check_aborted(*t);
}

void OpenAllAccounts(Cluster& cluster) {
  for (int b = 0; b < static_cast<int>(cluster.banks.size()); ++b) {
    std::map<std::string, int64_t> accounts;
    for (int i = 0; i < kAccountsPerBank; ++i) accounts[AccountName(b, i)] = StartBalance(b, i);
    ASSERT_TRUE(OpenAccounts(cluster.banks[b]->address(), accounts));
  }
}

std::vector<std::string> BankAddresses(const Cluster& cluster) {
  std::vector<std::string> out;
  for (const auto& b : cluster.banks) out.push_back(b->address());
  return out;
}

TEST(TxnInvariant, ConcurrentTransfersWithoutFaultsKeepEveryAccountExact) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  ASSERT_NO_FATAL_FAILURE(OpenAllAccounts(cluster));
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));

  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(5s));
  Channel bank0(cluster.BankTarget(0), ClientOptions(5s)), bank1(cluster.BankTarget(1), ClientOptions(5s));
  std::vector<TransferRecord> records;
  {
    TransferLoad load(coordinator, {&bank0, &bank1}, 16, 200, 5s, 0ms, seed);
    ASSERT_TRUE(load.WaitDone(60s)) << load.finished() << " of 200 transfers finished";
    records = load.Records();
  }
  ASSERT_EQ(records.size(), 200u);
  for (const TransferRecord& t : records) {
    // Without faults every outcome is known at once; aborts are for lack of funds only.
    EXPECT_NE(t.reported, TransferRecord::Reported::kUnknown) << t.txid << ": " << t.why;
    EXPECT_FALSE(t.txid.empty()) << t.why;
    if (t.reported == TransferRecord::Reported::kAborted) {
      EXPECT_NE(t.why.find("insufficient funds"), std::string::npos) << t.txid << ": " << t.why;
    }
  }
  ASSERT_TRUE(WaitNothingPrepared(BankAddresses(cluster), 20s));
  Tally tally;
  ASSERT_NO_FATAL_FAILURE(CheckInvariant(cluster, records, &tally));
  EXPECT_GT(tally.committed, 100) << tally.Describe();
  EXPECT_GT(tally.overdraws_aborted, 0) << tally.Describe();
  EXPECT_GT(tally.same_bank_committed, 0) << tally.Describe();
  EXPECT_EQ(tally.unknown, 0);
  std::printf("[ baseline ] %s\n", tally.Describe().c_str());
}

TEST(TxnInvariant, TransfersSurviveSigkillsOfTheCoordinatorAndBothBanks) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  ASSERT_NO_FATAL_FAILURE(OpenAllAccounts(cluster));
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);

  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(2s));
  Channel bank0(cluster.BankTarget(0), ClientOptions(2s)), bank1(cluster.BankTarget(1), ClientOptions(2s));
  // At 32 x one transfer per 40-60 ms, some 2,000 to 4,000 transfers in all.
  constexpr int kMaxTransfers = 6000, kMinTransfers = 300, kKillsEach = 4;
  std::vector<TransferRecord> records;
  const auto started = Clock::now();
  {
    TransferLoad load(coordinator, {&bank0, &bank1}, 32, kMaxTransfers, 2s, 40ms, seed);
    ASSERT_TRUE(PollUntil([&] { return load.finished() >= 20; }, 20s)) << "no transfer finished";

    // The killer (on this thread: the restarted processes must outlive no
    // helper thread). A random order with each process killed kKillsEach
    // times; each kill a few hundred ms after the previous restart, once
    // some transfers went through.
    std::vector<Daemon*> victims;
    for (int k = 0; k < kKillsEach; ++k) {
      victims.push_back(cluster.coordinator.get());
      for (auto& b : cluster.banks) victims.push_back(b.get());
    }
    std::shuffle(victims.begin(), victims.end(), rng);
    std::map<Daemon*, int> kills;
    for (Daemon* victim : victims) {
      if (Since(started) > 40s) break;  // bounded, whatever the machine's speed
      const int before = load.finished();
      const auto t0 = Clock::now();
      // The pace of the chaos (the behaviour under test), not a wait for a condition.
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 300));
      // The load is flowing again (unless it is over).
      PollUntil([&] { return load.finished() >= before + 10 || load.finished() >= kMaxTransfers; }, 3s);
      const auto t1 = Clock::now();
      victim->Kill();
      ++kills[victim];
      // Down for a while: the outage is the behaviour under test.
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
      const auto t2 = Clock::now();
      ASSERT_TRUE(victim->Restart()) << "restart on port " << victim->port();
      std::printf("[ chaos    ] kill %s after %lld ms (%d transfers), restarted in %lld ms\n",
                  victim == cluster.coordinator.get() ? "coordinator"
                  : victim == cluster.banks[0].get()  ? "bank0"
                                                      : "bank1",
                  (long long)std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count(),
                  load.finished() - before, (long long)Since(t2).count());
    }
    EXPECT_EQ(kills[cluster.coordinator.get()], kKillsEach);
    EXPECT_EQ(kills[cluster.banks[0].get()], kKillsEach);
    EXPECT_EQ(kills[cluster.banks[1].get()], kKillsEach);
    // Some more transfers with everybody back, then stop.
    const auto kills_done = Clock::now();
    PollUntil([&] { return load.finished() >= kMinTransfers; }, 20s);
    const int after_kills = load.finished();
    PollUntil([&] { return load.finished() >= after_kills + 50; }, 10s);
    std::printf("[ chaos    ] kills done after %.1f s; %d transfers %lld ms later\n", Since(started).count() / 1000.0,
                load.finished(), (long long)Since(kills_done).count());
    load.Stop();
    ASSERT_TRUE(load.WaitDone(30s)) << "transfers still running 30 s after the stop";
    records = load.Records();
  }
  std::printf("[ chaos    ] %zu transfers, load phase %.1f s\n", records.size(), Since(started).count() / 1000.0);
  EXPECT_GE(records.size(), static_cast<size_t>(kMinTransfers));
  ASSERT_TRUE(cluster.coordinator->running() && cluster.banks[0]->running() && cluster.banks[1]->running());

  // Nothing stays in doubt once everybody is back.
  ASSERT_TRUE(WaitNothingPrepared(BankAddresses(cluster), 20s))
      << "prepared: bank0 " << PreparedOn(cluster.banks[0]->address()) << ", bank1 "
      << PreparedOn(cluster.banks[1]->address());
  Tally tally;
  const auto check_started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(CheckInvariant(cluster, records, &tally));
  std::printf("[ chaos    ] %s; checked in %.1f s\n", tally.Describe().c_str(), Since(check_started).count() / 1000.0);
  EXPECT_GT(tally.committed, 50) << tally.Describe();
  EXPECT_GT(tally.aborted, 0) << tally.Describe();
}

TEST(TxnInvariant, ABankKilledWhilePreparedComesBackWithItsReservationsAndResolvesThem) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE(OpenAccounts(cluster.banks[0]->address(), {{"alice", 1000}}));
  ASSERT_TRUE(OpenAccounts(cluster.banks[1]->address(), {{"bob", 1000}}));
  const std::string bank0 = cluster.banks[0]->address(), bank1 = cluster.banks[1]->address();
  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(3s));
  Channel a(cluster.BankTarget(0), ClientOptions(3s)), b(cluster.BankTarget(1), ClientOptions(3s));

  // Three transfers, each prepared on both banks and left undecided; long
  // timeouts, so that none times out while the test works.
  const TransactionOptions long_lived{.timeout = 30s};
  auto prepare = [&](Transaction& txn, int64_t amount) {
    ASSERT_TRUE(txn.Begin().ok());
    CallResult debit = txn.Call(a, "Bank.debit", json::value{{"account", "alice"}, {"amount", amount}});
    ASSERT_TRUE(debit.ok()) << debit.status;
    CallResult credit = txn.Call(b, "Bank.credit", json::value{{"account", "bob"}, {"amount", amount}});
    ASSERT_TRUE(credit.ok()) << credit.status;
  };
  Transaction to_commit(coordinator, long_lived), to_abort(coordinator, long_lived),
      decided_while_down(coordinator, long_lived);
  ASSERT_NO_FATAL_FAILURE(prepare(to_commit, 100));
  ASSERT_NO_FATAL_FAILURE(prepare(to_abort, 50));
  ASSERT_NO_FATAL_FAILURE(prepare(decided_while_down, 30));
  ASSERT_EQ(PreparedOn(bank0), 3);
  auto alice = AccountOf(bank0, "alice");
  ASSERT_TRUE(alice.has_value());
  ASSERT_EQ(alice->reserved, 180);

  // SIGKILL with three reservations; the restarted bank has them all (the
  // coordinator says "pending" to its questions: nothing is decided yet).
  cluster.banks[0]->Kill();
  ASSERT_TRUE(cluster.banks[0]->Restart());
  EXPECT_EQ(PreparedOn(bank0), 3);
  alice = AccountOf(bank0, "alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->balance, 1000);
  EXPECT_EQ(alice->reserved, 180);
  EXPECT_EQ(CallsOf(bank0, to_commit.id()).at("0"), (std::pair<std::string, std::string>{"Bank.debit", "prepared"}));

  // Committed through the restarted bank.
  TxnOutcome committed = to_commit.Commit();
  ASSERT_TRUE(committed.status.ok()) << committed.status;
  EXPECT_TRUE(committed.committed) << committed.reason;

  // Decided while the bank is down: phase two waits for it to come back.
  cluster.banks[0]->Kill();
  auto pending = std::async(std::launch::async, [&] { return decided_while_down.Commit(); });
  EXPECT_TRUE(PollUntil(
      [&] { return FinalOutcome(cluster.coordinator->address(), decided_while_down.id(), 1s) == "committed"; }, 10s))
      << "the coordinator did not decide while a participant was down";
  ASSERT_TRUE(cluster.banks[0]->Restart());
  ASSERT_EQ(pending.wait_for(40s), std::future_status::ready);
  TxnOutcome late = pending.get();
  ASSERT_TRUE(late.status.ok()) << late.status;
  EXPECT_TRUE(late.committed);

  // Aborted by its client: the coordinator tells both banks, whose votes it
  // registered (one that missed it would ask).
  TxnOutcome abort = to_abort.Abort("the test aborts it");
  ASSERT_TRUE(abort.status.ok()) << abort.status;
  EXPECT_FALSE(abort.committed);
  EXPECT_EQ(abort.reason, "the test aborts it");

  ASSERT_TRUE(WaitNothingPrepared({bank0, bank1}, 20s))
      << "prepared: bank0 " << PreparedOn(bank0) << ", bank1 " << PreparedOn(bank1);

  alice = AccountOf(bank0, "alice");
  auto bob = AccountOf(bank1, "bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->balance, 1000 - 100 - 30);
  EXPECT_EQ(alice->reserved, 0);
  EXPECT_EQ(bob->balance, 1000 + 100 + 30);
  EXPECT_EQ(bob->reserved, 0);
  for (const Transaction* t : {&to_commit, &decided_while_down}) {
    EXPECT_EQ(CallsOf(bank0, t->id()).at("0").second, "committed") << t->id();
    EXPECT_EQ(CallsOf(bank1, t->id()).at("1").second, "committed") << t->id();
  }
  EXPECT_EQ(CallsOf(bank0, to_abort.id()).at("0").second, "aborted");
  EXPECT_EQ(CallsOf(bank1, to_abort.id()).at("1").second, "aborted");
}

}  // namespace
}  // namespace harpc::txntest
