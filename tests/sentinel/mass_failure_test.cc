// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Mass failures: many instances that die at once (one health_host.py, a host
// dying with its instances, SIGKILLed) are decided by the sentinel group in
// one election, held ODOWN by every sentinel and alerted once each; back,
// they are up everywhere and alerted once each again. Alerts beyond the
// budget are summed up in one "alerts_dropped" alert naming them: none is
// lost silently.
#include <signal.h>

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "sentinel_support.h"

namespace harpc::sentineltest {
namespace {

constexpr size_t kInstances = 30;
const std::string kService = "mass";

class SentinelMassFailure : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      // 400 lines: a round of 30 instances logs many.
      for (const std::string& log : logs_) std::cerr << "--- " << log << ":\n" << Tail(log, 400);
    }
  }
  void Watch(const std::vector<SentinelProcess>& group) {
    for (const SentinelProcess& s : group) {
      logs_.push_back(s.log_path());
      clients_.push_back(std::make_unique<RegistryClient>(s.address));
    }
  }
  // Registers every address with every sentinel, with a lease that outlives
  // the test (the host does not heartbeat).
  void RegisterAll(const std::vector<std::string>& addresses) {
    for (auto& c : clients_) {
      for (const std::string& address : addresses) {
        std::string lease;
        Status st = c->Register(kService, address, 1, 600000, &lease);
        ASSERT_TRUE(st.ok()) << c->address() << " " << address << ": " << st;
      }
    }
  }
  // Every sentinel lists all kInstances, each in `state`.
  bool AllIn(const std::string& state) {
    for (auto& c : clients_) {
      const std::map<std::string, std::string> states = c->States(kService);
      if (states.size() != kInstances) return false;
      for (const auto& [address, s] : states) {
        if (s != state) return false;
      }
    }
    return true;
  }
  // Every sentinel lists all kInstances up, each probed successfully.
  bool AllProbedUp() {
    if (!AllIn("up")) return false;
    for (auto& c : clients_) {
      auto list = c->List();
      if (!list) return false;
      for (const json::value& i : list->at("services").at(kService).as_array()) {
        if (i.at("probe_latency_ms").to_number<double>() < 0) return false;
      }
    }
    return true;
  }
  // The epoch of the decision each sentinel holds on each instance.
  std::map<std::string, int64_t> DecisionEpochs(RegistryClient& c) {
    std::map<std::string, int64_t> out;
    auto list = c.List();
    if (!list) return out;
    for (const json::value& i : list->at("services").at(kService).as_array()) {
      out[std::string(i.at("address").as_string())] = i.at("epoch").to_number<int64_t>();
    }
    return out;
  }
  std::string Describe() {
    std::string out;
    for (auto& c : clients_) {
      std::map<std::string, int> by_state;
      for (const auto& [address, state] : c->States(kService)) ++by_state[state];
      out += c->address() + ": epoch " + std::to_string(c->Epoch());
      for (const auto& [state, n] : by_state) out += " " + state + "=" + std::to_string(n);
      out += "\n";
    }
    return out;
  }

  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::unique_ptr<RegistryClient>> clients_;
  std::vector<std::string> logs_;
};

// The addresses that `event` was told for: one entry per alert of its own,
// and one per mention in an "alerts_dropped" summary.
std::multiset<std::string> ToldFor(const std::vector<json::value>& alerts, const std::vector<json::value>& summaries,
                                   const std::string& event) {
  std::multiset<std::string> out;
  for (const json::value& a : alerts) out.insert(std::string(a.at("address").as_string()));
  for (const json::value& s : summaries) {
    for (const json::value& a : s.at("alerts").as_array()) {
      if (a.at("event") == json::value(event)) out.insert(std::string(a.at("address").as_string()));
    }
  }
  return out;
}

// Each of `addresses` exactly once in `told`.
void ExpectEachOnce(const std::multiset<std::string>& told, const std::vector<std::string>& addresses) {
  EXPECT_EQ(told.size(), addresses.size());
  for (const std::string& a : addresses) EXPECT_EQ(told.count(a), 1u) << a;
}

TEST_F(SentinelMassFailure, InstancesKilledTogetherAreDecidedInOneElectionAndAlertedOnceEach) {
  HookReceiver hook;
  std::vector<SentinelProcess> group =
      StartGroup(3, {.quorum = 2, .down_after_ms = 500, .probe_interval_ms = 100, .webhook = hook.url()}, dirs_);
  ASSERT_EQ(group.size(), 3u);
  Watch(group);
  HealthHost host = StartHealthHost(kInstances);
  ASSERT_EQ(host.addresses.size(), kInstances);
  RegisterAll(host.addresses);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(); }, 10s)) << Describe();
  std::vector<int64_t> before;
  for (auto& c : clients_) before.push_back(c->Epoch());

  const auto killed = Clock::now();
  host.process.Signal(SIGKILL);
  host.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return AllIn("odown"); }, 15s)) << Describe();
  std::cout << "[ measure  ] " << kInstances << " instances killed at once (down-after 500 ms, probe 100 ms): "
            << "ODOWN on every sentinel " << Since(killed).count() << " ms after the kill\n";

  // One election: every sentinel's epoch moved by one, and holds every instance decided in it.
  for (size_t s = 0; s < clients_.size(); ++s) {
    const int64_t decided = before[s] + 1;
    EXPECT_EQ(clients_[s]->Epoch(), decided) << Describe();
    for (const auto& [address, epoch] : DecisionEpochs(*clients_[s])) {
      EXPECT_EQ(epoch, decided) << clients_[s]->address() << " " << address << "\n" << Describe();
    }
  }
  // One alert per instance, from the one leader; the default budget (30 a minute) holds them all.
  ASSERT_TRUE(PollUntil([&] { return hook.received("odown").size() >= kInstances; }, 10s))
      << hook.received("odown").size() << " odown alerts";
  EXPECT_TRUE(HoldsFor([&] { return hook.received("odown").size() == kInstances; }, 1000ms));
  std::set<std::string> leaders;
  for (const json::value& e : hook.received("odown")) {
    leaders.insert(std::string(e.at("sentinel").as_string()));
    EXPECT_EQ(e.at("epoch").as_int64(), before[0] + 1) << json::serialize(e);
  }
  EXPECT_EQ(leaders.size(), 1u);
  ExpectEachOnce(ToldFor(hook.received("odown"), {}, "odown"), host.addresses);
  EXPECT_TRUE(hook.received("alerts_dropped").empty());

  // The host comes back on the same ports: every instance up everywhere, each told once (an alert of its own, or
  // named in a summary: the leader of the way back may have spent its budget on the way down).
  const auto restarted = Clock::now();
  HealthHost again = RestartHealthHost(host.addresses);
  ASSERT_EQ(again.addresses, host.addresses);
  ASSERT_TRUE(PollUntil([&] { return AllIn("up"); }, 15s)) << Describe();
  std::cout << "[ measure  ] back up on every sentinel " << Since(restarted).count() << " ms after the restart, in "
            << clients_[0]->Epoch() - before[0] - 1 << " election(s)\n";
  for (auto& c : clients_) {
    for (const auto& [address, epoch] : DecisionEpochs(*c)) EXPECT_GT(epoch, before[0] + 1) << address;
  }
  auto up_told = [&] { return ToldFor(hook.received("up"), hook.received("alerts_dropped"), "up"); };
  ASSERT_TRUE(PollUntil([&] { return up_told().size() >= kInstances; }, 10s)) << up_told().size() << " up told";
  EXPECT_TRUE(HoldsFor([&] { return up_told().size() == kInstances; }, 1000ms));
  ExpectEachOnce(up_told(), host.addresses);
  EXPECT_EQ(hook.received("odown").size(), kInstances) << "no second odown alert";
}

TEST_F(SentinelMassFailure, AlertsBeyondTheBudgetAreSummedUpInOneAlertThatNamesThem) {
  TempDir dir;
  const std::string alerts = dir.File("alerts.jsonl");
  std::vector<SentinelProcess> group;
  group.push_back(StartSentinel({.data_dir = dir.path(),
                                 .down_after_ms = 500,
                                 .probe_interval_ms = 100,
                                 .notify = "cat >> " + alerts,
                                 .extra_args = {"--max-alerts-per-minute", "20"}}));
  ASSERT_GT(group[0].port, 0);
  Watch(group);
  HealthHost host = StartHealthHost(kInstances);
  ASSERT_EQ(host.addresses.size(), kInstances);
  RegisterAll(host.addresses);
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(); }, 10s)) << Describe();
  host.process.Signal(SIGKILL);
  host.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return AllIn("odown"); }, 15s)) << Describe();

  // 20 alerts at once (16 --notify commands run at a time, the others wait
  // their turn), and the other 10 named in one summary, told when the
  // budget has room again (a token every 3 s) without waiting for another alert.
  std::vector<json::object> summary;
  ASSERT_TRUE(PollUntil([&] { return !(summary = EventsInFile(alerts, "alerts_dropped")).empty(); }, 10s))
      << Tail(alerts);
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "alerts_dropped").size() == 1; }, 500ms)) << Tail(alerts);
  std::vector<json::value> told;
  for (const json::object& e : EventsInFile(alerts, "odown")) told.emplace_back(e);
  EXPECT_EQ(told.size(), 20u) << Tail(alerts);
  ASSERT_EQ(summary.size(), 1u) << Tail(alerts);
  EXPECT_EQ(summary[0].at("count").to_number<int64_t>(), static_cast<int64_t>(kInstances - 20)) << Tail(alerts);
  ExpectEachOnce(ToldFor(told, {json::value(summary[0])}, "odown"), host.addresses);
}

}  // namespace
}  // namespace harpc::sentineltest
