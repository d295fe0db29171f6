// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The bank invariant for replicated groups: a coordinator group and two bank
// groups of three, 16 transfer callers for 30 s, and every 1-2 s one random
// member SIGKILLed or frozen (SIGSTOP) and then restarted or thawed.
// Afterwards the money adds up, nothing is prepared or reserved, every
// replica of a bank has the same state (digests at the same applied index),
// and no transfer was aborted (or left unknown) because of a failure.
#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "txn/txn_support.h"

namespace harpc::txntest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kAccounts = 20;
constexpr int64_t kOpening = 1000;

struct Group {
  std::vector<std::string> addresses;
  std::vector<std::unique_ptr<Daemon>> members;
  std::string List() const {
    std::string list;
    for (const auto& a : addresses) list += (list.empty() ? "" : ",") + a;
    return list;
  }
  std::string Target() const { return "list://" + List(); }
};

Group MakeGroup() {
  Group g;
  for (int i = 0; i < 3; ++i) g.addresses.push_back("127.0.0.1:" + std::to_string(testing::FreePort()));
  return g;
}

// The lines of harpc transfer's log that give a failed transfer's whole reason.
std::string TransferFailures(const std::string& log) {
  std::string lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" aborted: ") != std::string::npos || line.find(" outcome unknown: ") != std::string::npos) {
      lines += line + "\n";
    }
  }
  return lines;
}

// Every member's digest, once all applied the same number of commands.
bool ReplicasAgree(const Group& bank, std::string* why) {
  std::set<std::string> digests;
  std::set<int64_t> applied;
  for (const auto& address : bank.addresses) {
    CallResult r = CallOnce(address, "Participant.digest", json::object{}, 2s);
    if (!r.ok()) {
      *why = address + ": " + r.status.ToString();
      return false;
    }
    applied.insert(r.value.at("commands").to_number<int64_t>());
    digests.insert(std::string(r.value.at("digest").as_string()));
  }
  *why = std::to_string(applied.size()) + " command counts, " + std::to_string(digests.size()) + " digests";
  return applied.size() == 1 && digests.size() == 1;
}

TEST(GroupChaos, MoneyIsConservedAndNoTransferFailsWhileMembersDieAndFreeze) {
  TempDir dir{"harpc-chaos"};
  Group coordinators = MakeGroup(), bank_a = MakeGroup(), bank_b = MakeGroup();
  std::vector<Daemon*> everyone;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    auto c = std::make_unique<Daemon>();
    ASSERT_TRUE(c->Start({"coordinator", "--data-dir", dir.File("coordinator" + n), "--group", coordinators.List()},
                         dir.File("coordinator" + n + ".log"), coordinators.addresses[i]));
    coordinators.members.push_back(std::move(c));
    for (auto [bank, name] : {std::pair{&bank_a, "bank-a"}, std::pair{&bank_b, "bank-b"}}) {
      auto b = std::make_unique<Daemon>();
      ASSERT_TRUE(
          b->Start({"serve", "--service", "bank", "--threads", "1", "--db", dir.File(std::string(name) + n + ".db"),
                    "--group", bank->List(), "--coordinator", coordinators.Target()},
                   dir.File(std::string(name) + n + ".log"), bank->addresses[i]));
      bank->members.push_back(std::move(b));
    }
  }
  for (Group* g : {&coordinators, &bank_a, &bank_b}) {
    for (auto& m : g->members) everyone.push_back(m.get());
  }
  Channel a(bank_a.Target(), ClientOptions(5s)), b(bank_b.Target(), ClientOptions(5s));
  for (int i = 0; i < kAccounts; ++i) {
    for (auto [channel, prefix] : {std::pair{&a, "a"}, std::pair{&b, "b"}}) {
      CallOptions once;
      once.idempotency_key = std::string("open-") + prefix + std::to_string(i);
      CallResult r = channel->Call("Bank.open",
                                   json::object{{"account", prefix + std::to_string(i)}, {"balance", kOpening}}, once);
      ASSERT_TRUE(r.ok()) << r.status;
    }
  }

  // 16 callers for 30 s. Each transfer may take 10 s (stretched by
  // HARPC_TEST_TIME_SCALE, like every deadline for work to happen: under a
  // sanitizer with other tests beside it, 10 s was seen to pass): a frozen
  // leader answers nothing until the others elect, and on a loaded machine
  // elections and catch-up take seconds.
  CliRun load;
  std::thread loader([&] {
    load = testing::RunHarpc({"transfer",
                              "--coordinator",
                              coordinators.Target(),
                              "--from",
                              bank_a.Target(),
                              "--from-account",
                              "a",
                              "--to",
                              bank_b.Target(),
                              "--to-account",
                              "b",
                              "--amount",
                              "1",
                              "--accounts",
                              std::to_string(kAccounts),
                              "--duration",
                              "30",
                              "--concurrency",
                              "16",
                              "--timeout-ms",
                              std::to_string(testing::Scaled(10s).count()),
                              "--json"},
                             testing::Scaled(120s));
  });
  std::mt19937 rng(std::random_device{}());
  const auto end = Clock::now() + 28s;
  int kills = 0, freezes = 0;
  while (Clock::now() < end) {
    Daemon* victim = everyone[rng() % everyone.size()];
    const bool freeze = rng() % 2 == 0;
    if (freeze) {
      // A member that exited by itself crashed: its log says why.
      ASSERT_TRUE(victim->Stop()) << "pid " << victim->pid() << " at " << victim->address()
                                  << " did not stop in 10 s, or had exited:\n"
                                  << LogTail(victim->log(), 6000);
      ++freezes;
    } else {
      victim->Kill();
      ++kills;
    }
    // How long the member stays dead or frozen: the chaos under test, not a wait for a condition.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 1000));
    if (freeze) {
      ASSERT_TRUE(victim->Resume()) << "pid " << victim->pid() << " at " << victim->address()
                                    << " did not resume in 10 s, or had exited:\n"
                                    << LogTail(victim->log(), 6000);
    } else {
      ASSERT_TRUE(victim->Restart());
    }
  }
  loader.join();
  RecordProperty("kills", kills);
  RecordProperty("freezes", freezes);
  ASSERT_EQ(load.exit_code, 0) << load.err;
  json::value report = json::parse(load.Stdout());
  const int64_t committed = report.at("committed").to_number<int64_t>();
  const int64_t aborted = report.at("aborted").to_number<int64_t>();
  const int64_t unknown = report.at("errors").to_number<int64_t>();
  const json::object& reasons = report.at("abort_reasons").as_object();
  const int64_t refused =
      reasons.contains("insufficient funds") ? reasons.at("insufficient funds").to_number<int64_t>() : 0;
  EXPECT_GT(committed, 100);
  EXPECT_EQ(aborted - refused + unknown, 0)
      << "transfers aborted or unknown because of a failure: " << json::serialize(report) << "\n"
      << TransferFailures(load.err);
  if (::testing::Test::HasFailure()) {
    for (const char* name : {"bank-a", "bank-b", "coordinator"}) {
      for (int i = 0; i < 3; ++i) {
        std::cerr << "---- " << name << i << "\n"
                  << LogTail(dir.File(std::string(name) + std::to_string(i) + ".log"), 6000);
      }
    }
  }

  // Everything settles; the money is all there; every replica agrees.
  for (Channel* bank : {&a, &b}) {
    EXPECT_TRUE(PollUntil(
        [&] {
          CallResult s = bank->Call("Participant.status", json::object{});
          return s.ok() && s.value.at("prepared").to_number<int64_t>() == 0;
        },
        20s));
  }
  int64_t total = 0;
  for (Channel* bank : {&a, &b}) {
    CallResult audit = bank->Call("Bank.audit", json::object{});
    ASSERT_TRUE(audit.ok()) << audit.status;
    EXPECT_EQ(audit.value.at("reserved").to_number<int64_t>(), 0);
    total += audit.value.at("total").to_number<int64_t>();
  }
  EXPECT_EQ(total, 2 * kAccounts * kOpening) << "money was created or lost";
  for (const Group* bank : {&bank_a, &bank_b}) {
    std::string why;
    EXPECT_TRUE(PollUntil([&] { return ReplicasAgree(*bank, &why); }, 20s)) << "replicas differ: " << why;
  }
}

}  // namespace
}  // namespace harpc::txntest
