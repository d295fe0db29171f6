// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A coordinator talks to participants over channels on its own server loop:
// naming 1,000 distinct participant addresses adds no threads (each channel
// used to start one and never free it), and the coordinator keeps serving.
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "txn_support.h"

namespace harpc::txntest {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

size_t LinesContaining(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

TEST(CoordinatorThreads, AThousandParticipantAddressesAddNoThreads) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.ok()) << cluster.Logs();
  ASSERT_TRUE(OpenAccounts(cluster.banks[0]->address(), {{"alice", 100}}));
  ASSERT_TRUE(OpenAccounts(cluster.banks[1]->address(), {{"bob", 0}}));
  const pid_t pid = cluster.coordinator->pid();
  const int before = testing::ThreadCount(pid);
  ASSERT_GT(before, 0);

  // 1,000 distinct loopback ports nobody listens on (closed: refused at once).
  std::set<int> ports;
  for (int tries = 0; ports.size() < 1000 && tries < 20000; ++tries) ports.insert(testing::FreePort());
  ASSERT_EQ(ports.size(), 1000u);
  Channel coordinator("list://" + cluster.coordinator->address(), OneShotOptions(10s));  // a loaded machine
  CallResult begun = coordinator.Call("Coordinator.begin", json::object{});
  ASSERT_TRUE(begun.ok()) << begun.status;
  const std::string txid(begun.value.at("txid").as_string()), key(begun.value.at("key").as_string());
  // Votes registered from 1,000 addresses (as participants there would),
  // then the transaction aborted: the coordinator tells each of them.
  CallOptions idempotent;
  idempotent.idempotent = true;
  int call = 0;
  for (int port : ports) {
    json::value vote{{"txid", txid},
                     {"call", std::to_string(call++)},
                     {"participant", "p"},
                     {"address", "127.0.0.1:" + std::to_string(port)},
                     {"secret", std::string(32, 'c')}};
    CallResult registered = coordinator.Call("Coordinator.register", vote, idempotent);
    ASSERT_TRUE(registered.ok()) << registered.status;
  }
  CallResult aborted = coordinator.Call("Coordinator.abort", json::object{{"txid", txid}, {"key", key}}, idempotent);
  ASSERT_TRUE(aborted.ok()) << aborted.status;
  EXPECT_EQ(aborted.value.at("outcome"), "aborted");

  // The coordinator tells every one of them (and fails: nobody listens),
  // while its thread count stays where it was.
  int most = before;
  const std::string log = cluster.dir.File("coordinator.log");
  EXPECT_TRUE(PollUntil(
      [&] {
        most = std::max(most, testing::ThreadCount(pid));
        return LinesContaining(log, "not delivered to 127.0.0.1:") >= 1000;
      },
      60s))
      << LinesContaining(log, "not delivered to 127.0.0.1:") << " aborts told";
  most = std::max(most, testing::ThreadCount(pid));
  std::printf("[ threads  ] coordinator: %d before, at most %d while telling 1000 participants\n", before, most);
  EXPECT_LT(most - before, 20);

  // Still serving: /health, and a normal transfer commits.
  testing::RawSocket socket(cluster.coordinator->port());
  ASSERT_TRUE(socket.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(testing::StatusOf(socket.ReadResponse(5s)), 200);
  CliRun run = testing::RunHarpc({"transfer", "--coordinator", cluster.coordinator->address(), "--from",
                                  cluster.BankTarget(0), "--from-account", "alice", "--to", cluster.BankTarget(1),
                                  "--to-account", "bob", "--amount", "30"});
  ASSERT_EQ(run.exit_code, 0) << run.Stdout() << run.err;
  EXPECT_NE(run.Stdout().find("\"committed\""), std::string::npos) << run.Stdout();
  ASSERT_TRUE(WaitNothingPrepared({cluster.banks[0]->address(), cluster.banks[1]->address()}, 10s));
  EXPECT_EQ(AccountOf(cluster.banks[0]->address(), "alice")->balance, 70);
  EXPECT_EQ(AccountOf(cluster.banks[1]->address(), "bob")->balance, 30);
}

}  // namespace
}  // namespace harpc::txntest
