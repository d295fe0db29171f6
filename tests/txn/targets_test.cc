// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A transaction's calls go through ordinary channels, so any target works:
// here two banks registered with a sentinel under their own service names,
// reached as sentinel://H:P/bank-a and sentinel://H:P/bank-b.
#include <gtest/gtest.h>

#include "txn_support.h"

namespace harpc::txntest {
namespace {

using namespace std::chrono_literals;

TEST(TxnTargets, TransfersReachBanksThroughTheSentinel) {
  TempDir dir("harpc-txn-targets");
  Daemon sentinel, coordinator, bank_a, bank_b;
  ASSERT_TRUE(sentinel.Start({"sentinel", "--data-dir", dir.File("sentinel")}, dir.File("sentinel.log")));
  ASSERT_TRUE(coordinator.Start({"coordinator", "--data-dir", dir.File("coordinator")}, dir.File("coordinator.log")));
  const std::string registry = "sentinel://" + sentinel.address();
  ASSERT_TRUE(bank_a.Start({"serve", "--service", "bank", "--db", dir.File("a.db"), "--coordinator",
                            coordinator.address(), "--register", registry, "--register-as", "bank-a"},
                           dir.File("a.log")));
  ASSERT_TRUE(bank_b.Start({"serve", "--service", "bank", "--db", dir.File("b.db"), "--coordinator",
                            coordinator.address(), "--register", registry, "--register-as", "bank-b"},
                           dir.File("b.log")));
  ASSERT_TRUE(OpenAccounts(bank_a.address(), {{"alice", 100}}));
  ASSERT_TRUE(OpenAccounts(bank_b.address(), {{"bob", 0}}));

  // Each service name resolves to its own bank only (the channel waits for
  // the first membership within the call's deadline).
  CliRun run = testing::RunHarpc({"transfer", "--coordinator", coordinator.address(), "--from", registry + "/bank-a",
                                  "--from-account", "alice", "--to", registry + "/bank-b", "--to-account", "bob",
                                  "--amount", "30"});
  ASSERT_EQ(run.exit_code, 0) << run.Stdout() << run.err;
  EXPECT_NE(run.Stdout().find("\"committed\""), std::string::npos) << run.Stdout();
  ASSERT_TRUE(WaitNothingPrepared({bank_a.address(), bank_b.address()}, 10s));
  EXPECT_EQ(AccountOf(bank_a.address(), "alice")->balance, 70);
  EXPECT_EQ(AccountOf(bank_b.address(), "bob")->balance, 30);

  // The wrong way round: bob's bank has no "alice", so the debit votes no.
  run = testing::RunHarpc({"transfer", "--coordinator", coordinator.address(), "--from", registry + "/bank-b",
                           "--from-account", "alice", "--to", registry + "/bank-a", "--to-account", "bob", "--amount",
                           "1"});
  EXPECT_EQ(run.exit_code, 3) << run.Stdout() << run.err;
  EXPECT_NE(run.Stdout().find("no account"), std::string::npos) << run.Stdout();
  EXPECT_EQ(AccountOf(bank_a.address(), "alice")->balance, 70);
  EXPECT_EQ(AccountOf(bank_b.address(), "bob")->balance, 30);
}

}  // namespace
}  // namespace harpc::txntest
