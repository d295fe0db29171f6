// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel group's failure detection against real processes: SDOWN and
// ODOWN by quorum, one alert per decision (--notify, --webhook), frozen
// (SIGSTOP) and partitioned sentinels, and a frozen sentinel rejoining.
#include <signal.h>

#include <map>

#include <gtest/gtest.h>

#include "sentinel/registry.h"
#include "sentinel_support.h"

namespace harpc::sentineltest {
namespace {

constexpr int kDownAfterMs = 500;
constexpr int kProbeIntervalMs = 100;

class SentinelQuorum : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const std::string& log : logs_) std::cerr << "--- " << log << ":\n" << Tail(log, 60);
    }
  }
  void Watch(const std::vector<SentinelProcess>& group) {
    for (const SentinelProcess& s : group) logs_.push_back(s.log_path());
  }
  // Data dirs that outlive the test body, so that TearDown can show the logs.
  std::vector<std::unique_ptr<TempDir>> dirs;
  TempDir dir;
  std::vector<std::string> logs_;
};

std::vector<std::unique_ptr<RegistryClient>> ClientsOf(const std::vector<SentinelProcess>& group) {
  std::vector<std::unique_ptr<RegistryClient>> out;
  for (const SentinelProcess& s : group) out.push_back(std::make_unique<RegistryClient>(s.address));
  return out;
}

// Registers `address` in service "echo" on every sentinel, with a lease that
// outlives the test (the instance is `harpc serve`, which does not heartbeat).
void RegisterEverywhere(std::vector<std::unique_ptr<RegistryClient>>& clients, const std::string& address) {
  for (auto& c : clients) {
    std::string lease;
    Status st = c->Register("echo", address, 1, 600000, &lease);
    ASSERT_TRUE(st.ok()) << c->address() << ": " << st;
  }
}

// Every sentinel in `clients` reports `state` for the instance.
bool AllReport(std::vector<std::unique_ptr<RegistryClient>>& clients, const std::string& address,
               const std::string& state, size_t count = 0) {
  if (count == 0) count = clients.size();
  for (size_t i = 0; i < count; ++i) {
    if (clients[i]->State("echo", address) != state) return false;
  }
  return true;
}

// Every sentinel has probed the instance successfully (probe_latency_ms >= 0) and holds it up.
bool AllProbedUp(std::vector<std::unique_ptr<RegistryClient>>& clients, const std::string& address) {
  for (auto& c : clients) {
    auto i = c->Instance("echo", address);
    if (!i || i->at("state") != json::value("up") || i->at("probe_latency_ms").to_number<double>() < 0) return false;
  }
  return true;
}

std::string Describe(std::vector<std::unique_ptr<RegistryClient>>& clients, const std::string& address) {
  std::string out;
  for (auto& c : clients) {
    auto i = c->Instance("echo", address);
    out += c->address() + "=" + (i ? json::serialize(*i) : std::string("(none)")) + " epoch " +
           std::to_string(c->Epoch()) + "\n";
  }
  return out;
}

int64_t InstanceEpoch(RegistryClient& c, const std::string& address) {
  auto i = c.Instance("echo", address);
  return i ? i->at("epoch").to_number<int64_t>() : -1;
}

// Checks the alert JSON that --notify / --webhook got.
void ExpectEventShape(const json::object& e, const std::string& event, const std::string& address,
                      int64_t wall_from_ms) {
  EXPECT_EQ(e.at("event"), json::value(event));
  EXPECT_EQ(e.at("service"), json::value("echo"));
  EXPECT_EQ(e.at("address"), json::value(address));
  ASSERT_TRUE(e.contains("epoch") && e.at("epoch").is_int64()) << json::serialize(e);
  EXPECT_GE(e.at("epoch").as_int64(), 1);
  ASSERT_TRUE(e.contains("time") && e.at("time").is_int64()) << json::serialize(e);
  EXPECT_GE(e.at("time").as_int64(), wall_from_ms);
  EXPECT_LE(e.at("time").as_int64(), sentinel::WallClockMs());
}

TEST_F(SentinelQuorum, ThreeSentinelsDeclareOdownOnceAndUpOnce) {
  TempDir alerts_dir;
  const std::string alerts = alerts_dir.File("alerts.jsonl");
  std::vector<SentinelProcess> group = StartGroup(
      3,
      {.quorum = 2, .down_after_ms = kDownAfterMs, .probe_interval_ms = kProbeIntervalMs, .notify = "cat >> " + alerts},
      dirs);
  ASSERT_EQ(group.size(), 3u);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  const int port = serve.port;
  const std::string address = serve.address;
  RegisterEverywhere(clients, address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, address); }, 5s)) << Describe(clients, address);

  const int64_t wall_before = sentinel::WallClockMs();
  const auto killed = Clock::now();
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);

  // Every sentinel reports ODOWN within down-after + a probe interval + slack.
  std::map<size_t, std::chrono::milliseconds> seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (size_t i = 0; i < clients.size(); ++i) {
          if (!seen.contains(i) && clients[i]->State("echo", address) == "odown") seen[i] = Since(killed);
        }
        return seen.size() == clients.size();
      },
      10s))
      << Describe(clients, address);
  const auto all_odown = Since(killed);
  std::cout << "[ measure  ] ODOWN (down-after " << kDownAfterMs << " ms, probe " << kProbeIntervalMs
            << " ms, quorum 2 of 3): every sentinel after " << all_odown.count() << " ms (first "
            << std::min({seen[0], seen[1], seen[2]}).count() << " ms), decided at epoch "
            << InstanceEpoch(*clients[0], address) << "\n";
  EXPECT_LT(all_odown, 3000ms);
  // The last good probe may have come up to one probe interval before the kill.
  EXPECT_GE(std::min({seen[0], seen[1], seen[2]}), std::chrono::milliseconds(kDownAfterMs - kProbeIntervalMs - 10))
      << "ODOWN before down-after";

  // One alert for the decision, whichever sentinel led it, and no second one later.
  ASSERT_TRUE(PollUntil([&] { return EventsInFile(alerts, "odown").size() >= 1; }, 5s)) << Tail(alerts);
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "odown").size() == 1; }, 1000ms)) << Tail(alerts);
  std::vector<json::object> odown = EventsInFile(alerts, "odown");
  ASSERT_EQ(odown.size(), 1u) << Tail(alerts);
  ExpectEventShape(odown[0], "odown", address, wall_before);
  const int64_t odown_epoch = odown[0].at("epoch").as_int64();
  for (auto& c : clients) EXPECT_EQ(InstanceEpoch(*c, address), odown_epoch) << Describe(clients, address);

  // The instance comes back on its port: up again everywhere, one "up" alert.
  const auto restarted = Clock::now();
  ServeProcess again = StartServeOn(port);
  ASSERT_EQ(again.port, port);
  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, address, "up"); }, 10s)) << Describe(clients, address);
  std::cout << "[ measure  ] back up everywhere " << Since(restarted).count() << " ms after the restart\n";
  ASSERT_TRUE(PollUntil([&] { return EventsInFile(alerts, "up").size() >= 1; }, 5s)) << Tail(alerts);
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "up").size() == 1; }, 1000ms)) << Tail(alerts);
  std::vector<json::object> up = EventsInFile(alerts, "up");
  ASSERT_EQ(up.size(), 1u) << Tail(alerts);
  ExpectEventShape(up[0], "up", address, wall_before);
  EXPECT_GT(up[0].at("epoch").as_int64(), odown_epoch);
  for (auto& c : clients) EXPECT_EQ(InstanceEpoch(*c, address), up[0].at("epoch").as_int64());
  EXPECT_EQ(EventsInFile(alerts, "odown").size(), 1u);
  EXPECT_EQ(ReadLines(alerts).size(), 2u) << "alerts are only the decisions:\n" << Tail(alerts);
}

TEST_F(SentinelQuorum, FrozenSentinelBlocksQuorumOfThreeThenRejoins) {
  std::vector<SentinelProcess> group =
      StartGroup(3, {.quorum = 3, .down_after_ms = kDownAfterMs, .probe_interval_ms = kProbeIntervalMs}, dirs);
  ASSERT_EQ(group.size(), 3u);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  RegisterEverywhere(clients, address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, address); }, 5s)) << Describe(clients, address);

  group[2].process.Signal(SIGSTOP);
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);

  // The two live sentinels see it down, but two of three is no quorum of 3.
  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, address, "sdown", 2); }, 5s)) << Describe(clients, address);
  EXPECT_TRUE(HoldsFor(
      [&] { return AllReport(clients, address, "sdown", 2) && clients[0]->Epoch() == 0 && clients[1]->Epoch() == 0; },
      2000ms))
      << Describe(clients, address);

  // Thawed, the third agrees: now the group declares ODOWN, all on one epoch.
  const auto thawed = Clock::now();
  group[2].process.Signal(SIGCONT);
  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, address, "odown"); }, 10s)) << Describe(clients, address);
  std::cout << "[ measure  ] quorum 3: ODOWN everywhere " << Since(thawed).count() << " ms after SIGCONT\n";
  const int64_t epoch = InstanceEpoch(*clients[0], address);
  EXPECT_GE(epoch, 1);
  for (auto& c : clients) {
    EXPECT_EQ(InstanceEpoch(*c, address), epoch) << Describe(clients, address);
    EXPECT_GE(c->Epoch(), epoch);
  }
}

TEST_F(SentinelQuorum, TwoLiveSentinelsDecideWhileOneIsFrozenWhichLearnsAfterSigcont) {
  TempDir alerts_dir;
  const std::string alerts = alerts_dir.File("alerts.jsonl");
  std::vector<SentinelProcess> group = StartGroup(
      3,
      {.quorum = 2, .down_after_ms = kDownAfterMs, .probe_interval_ms = kProbeIntervalMs, .notify = "cat >> " + alerts},
      dirs);
  ASSERT_EQ(group.size(), 3u);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  RegisterEverywhere(clients, address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, address); }, 5s)) << Describe(clients, address);

  group[2].process.Signal(SIGSTOP);
  const auto killed = Clock::now();
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);

  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, address, "odown", 2); }, 10s)) << Describe(clients, address);
  const auto took = Since(killed);
  const int64_t epoch = InstanceEpoch(*clients[0], address);
  std::cout << "[ measure  ] quorum 2, one sentinel frozen: ODOWN on the live two after " << took.count()
            << " ms, decided at epoch " << epoch << "\n";
  EXPECT_LT(took, 4000ms);
  ASSERT_TRUE(PollUntil([&] { return EventsInFile(alerts, "odown").size() >= 1; }, 5s)) << Tail(alerts);
  EXPECT_EQ(InstanceEpoch(*clients[1], address), epoch);

  // Thawed, the third learns the decision from its peers: same state, same epoch, no second alert.
  const auto thawed = Clock::now();
  group[2].process.Signal(SIGCONT);
  ASSERT_TRUE(PollUntil([&] { return clients[2]->State("echo", address) == "odown"; }, 10s))
      << Describe(clients, address);
  std::cout << "[ measure  ] the thawed sentinel reports ODOWN " << Since(thawed).count() << " ms after SIGCONT\n";
  EXPECT_EQ(InstanceEpoch(*clients[2], address), epoch) << Describe(clients, address);
  EXPECT_GE(clients[2]->Epoch(), epoch);
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "odown").size() == 1; }, 1000ms)) << Tail(alerts);
  std::vector<json::object> odown = EventsInFile(alerts, "odown");
  ASSERT_EQ(odown.size(), 1u);
  EXPECT_EQ(odown[0].at("epoch").as_int64(), epoch);
}

TEST_F(SentinelQuorum, LoneSentinelWithQuorumOneDeclaresOdown) {
  std::vector<SentinelProcess> group;
  group.push_back(StartSentinel({.data_dir = dir.path(),
                                 .down_after_ms = kDownAfterMs,
                                 .probe_interval_ms = kProbeIntervalMs,
                                 .notify = "cat >> " + dir.File("alerts.jsonl")}));
  ASSERT_GT(group[0].port, 0);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  RegisterEverywhere(clients, serve.address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, serve.address); }, 5s));
  const auto killed = Clock::now();
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, serve.address, "odown"); }, 10s))
      << Describe(clients, serve.address);
  std::cout << "[ measure  ] group of one: ODOWN after " << Since(killed).count() << " ms\n";
  EXPECT_LT(Since(killed), 3000ms);
  EXPECT_EQ(clients[0]->Epoch(), 1);
  ASSERT_TRUE(PollUntil([&] { return EventsInFile(dir.File("alerts.jsonl"), "odown").size() == 1; }, 5s));
}

TEST_F(SentinelQuorum, PartitionedSentinelNeverDeclaresOdownAlone) {
  RefusingPort peer1, peer2;  // listed, but down: every call to them is refused
  std::vector<SentinelProcess> group;
  group.push_back(StartSentinel({.data_dir = dir.path(),
                                 .peers = {peer1.address(), peer2.address()},
                                 .quorum = 2,
                                 .down_after_ms = kDownAfterMs,
                                 .probe_interval_ms = kProbeIntervalMs,
                                 .notify = "cat >> " + dir.File("alerts.jsonl")}));
  ASSERT_GT(group[0].port, 0);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  RegisterEverywhere(clients, serve.address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, serve.address); }, 5s));
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return AllReport(clients, serve.address, "sdown"); }, 5s))
      << Describe(clients, serve.address);
  // Its own view is all it has: SDOWN for good, never ODOWN, no election, no alert.
  EXPECT_TRUE(HoldsFor([&] { return AllReport(clients, serve.address, "sdown") && clients[0]->Epoch() == 0; }, 2500ms))
      << Describe(clients, serve.address);
  EXPECT_TRUE(ReadLines(dir.File("alerts.jsonl")).empty());
}

TEST_F(SentinelQuorum, WebhookReceivesTheDecisions) {
  HookReceiver hook;
  std::vector<SentinelProcess> group = StartGroup(
      3, {.quorum = 2, .down_after_ms = kDownAfterMs, .probe_interval_ms = kProbeIntervalMs, .webhook = hook.url()},
      dirs);
  ASSERT_EQ(group.size(), 3u);
  Watch(group);
  auto clients = ClientsOf(group);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  const int port = serve.port;
  const std::string address = serve.address;
  RegisterEverywhere(clients, address);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(clients, address); }, 5s)) << Describe(clients, address);

  const int64_t wall_before = sentinel::WallClockMs();
  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return hook.received("odown").size() >= 1; }, 10s)) << Describe(clients, address);
  EXPECT_TRUE(HoldsFor([&] { return hook.received("odown").size() == 1; }, 1000ms));
  json::value odown = hook.received("odown").at(0);
  ExpectEventShape(odown.as_object(), "odown", address, wall_before);
  EXPECT_TRUE(odown.as_object().contains("sentinel"));
  EXPECT_EQ(InstanceEpoch(*clients[0], address), odown.at("epoch").as_int64());

  ServeProcess again = StartServeOn(port);
  ASSERT_EQ(again.port, port);
  ASSERT_TRUE(PollUntil([&] { return hook.received("up").size() >= 1; }, 10s)) << Describe(clients, address);
  EXPECT_TRUE(HoldsFor([&] { return hook.received("up").size() == 1; }, 1000ms));
  ExpectEventShape(hook.received("up").at(0).as_object(), "up", address, wall_before);
  EXPECT_EQ(hook.total(), 2u) << "only decisions are posted";
}

}  // namespace
}  // namespace harpc::sentineltest
