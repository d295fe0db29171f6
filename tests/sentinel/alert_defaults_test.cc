// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Alerts that fire by default: a server registered with default flags and
// killed with SIGKILL raises SDOWN → ODOWN and its alert (--notify and
// --webhook) before its lease expires; a server whose lease runs out first
// (a TTL shorter than the detection) raises "lease-expired", told once by the
// group; contradictory sentinel flags are refused with one line.
#include <signal.h>  // kill (POSIX)

#include <algorithm>
#include <cstdint>

#include <gtest/gtest.h>

#include "sentinel/registry.h"
#include "sentinel_support.h"

namespace harpc::sentineltest {
namespace {

class SentinelAlerts : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const std::string& log : logs_) std::cerr << "--- " << log << ":\n" << Tail(log, 60);
    }
  }
  std::vector<SentinelProcess> Group(const SentinelConfig& base) {
    std::vector<SentinelProcess> group = StartGroup(3, base, dirs_);
    for (const SentinelProcess& s : group) {
      logs_.push_back(s.log_path());
      clients_.push_back(std::make_unique<RegistryClient>(s.address));
    }
    return group;
  }
  // `harpc serve` registered with every sentinel of the group, with `extra`
  // flags; its log goes to serve_log().
  ServeProcess ServeRegistered(const std::vector<SentinelProcess>& group, std::vector<std::string> extra = {}) {
    std::string spec = "sentinel://";
    for (size_t i = 0; i < group.size(); ++i) spec += (i ? "," : "") + group[i].address;
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--threads", "1", "--register", spec};
    args.insert(args.end(), extra.begin(), extra.end());
    ServeProcess serve;
    serve.address = testing::StartDaemon(args, &serve.process, 10s, serve_log());
    if (!serve.address.empty()) serve.port = testing::PortOf(serve.address);
    logs_.push_back(serve_log());
    return serve;
  }
  std::string serve_log() const { return dir_.File("serve.log"); }
  // The clients of the sentinels that are not frozen (SIGSTOP, Freeze).
  std::vector<RegistryClient*> Live() {
    std::vector<RegistryClient*> out;
    for (size_t i = 0; i < clients_.size(); ++i) {
      if (i != frozen_) out.push_back(clients_[i].get());
    }
    return out;
  }
  void Freeze(std::vector<SentinelProcess>& group, size_t which) {
    group[which].process.Signal(SIGSTOP);
    frozen_ = which;
  }
  // Every live sentinel lists the instance up and has probed it.
  bool AllProbedUp(const std::string& address) {
    return std::ranges::all_of(Live(), [&](RegistryClient* c) {
      auto i = c->Instance("echo", address);
      return i && i->at("state") == json::value("up") && i->at("probe_latency_ms").to_number<double>() >= 0;
    });
  }
  bool NoneLists(const std::string& address) {
    return std::ranges::all_of(Live(), [&](RegistryClient* c) { return c->State("echo", address) == "absent"; });
  }
  // SIGKILLs the server; the wall-clock time just before.
  static int64_t KillHard(ServeProcess& serve) {
    const int64_t killed_ms = sentinel::WallClockMs();
    serve.process.Signal(SIGKILL);
    serve.process.Wait(5s);
    return killed_ms;
  }
  // Both --notify (the `alerts` file) and the webhook got `event`.
  static bool BothGot(const std::string& alerts, const HookReceiver& hook, const std::string& event) {
    return !EventsInFile(alerts, event).empty() && !hook.received(event).empty();
  }
  std::string Describe(const std::string& address) {
    std::string out;
    for (RegistryClient* c : Live()) {
      auto i = c->Instance("echo", address);
      out += c->address() + "=" + (i ? json::serialize(*i) : std::string("(none)")) + "\n";
    }
    return out;
  }

  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::unique_ptr<RegistryClient>> clients_;
  std::vector<std::string> logs_;
  TempDir dir_;
  size_t frozen_ = SIZE_MAX;  // the index of the frozen sentinel, if any
  void CrashWithDefaultsAlertsBeforeTheLeaseExpires(bool freeze_one);
};

int64_t Member(const json::value& event, const char* key) {
  const json::value* v = event.is_object() ? event.as_object().if_contains(key) : nullptr;
  return v && v->is_int64() ? v->as_int64() : -1;
}

// The issue: with --down-after-ms 3000 and a 3000 ms lease, the lease expired
// first and no alert ever came. With every default, the ODOWN alert reaches
// --notify and --webhook while every sentinel still holds the lease.
void SentinelAlerts::CrashWithDefaultsAlertsBeforeTheLeaseExpires(bool freeze_one) {
  HookReceiver hook;
  const std::string alerts = dir_.File("alerts.jsonl");
  std::vector<SentinelProcess> group =
      Group({.down_after_ms = 0, .probe_interval_ms = 0, .notify = "cat >> " + alerts, .webhook = hook.url()});
  ASSERT_EQ(group.size(), 3u);
  ServeProcess serve = ServeRegistered(group);
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(address); }, 10s)) << Describe(address);
  for (auto& c : clients_) {
    EXPECT_EQ(c->Instance("echo", address)->at("ttl_ms"), json::value(10000)) << "the default lease TTL";
  }
  if (freeze_one) Freeze(group, 2);
  EXPECT_EQ(Tail(serve_log(), 1000).find("says:"), std::string::npos) << "the defaults fit:\n" << Tail(serve_log());

  // The worst moment: just before the next renewal (every TTL/3, 3333 ms), so
  // that the leases outlive the kill by 2/3 of their TTL only.
  ASSERT_TRUE(PollUntil(
      [&] {
        return std::ranges::all_of(Live(), [&](RegistryClient* c) {
          auto i = c->Instance("echo", address);
          return i && sentinel::WallClockMs() - i->at("last_heartbeat_ms").as_int64() >= 3150;
        });
      },
      10s))
      << Describe(address);
  const int64_t killed_ms = KillHard(serve);
  // The alert, on both channels, within down-after + the decision (before the leases' 6.7 s).
  ASSERT_TRUE(PollUntil([&] { return BothGot(alerts, hook, "odown"); }, 9s)) << Describe(address) << Tail(alerts);
  // No heartbeat came since the kill: each sentinel's lease ends at its last heartbeat + TTL.
  int64_t first_expiry_ms = std::numeric_limits<int64_t>::max();
  for (RegistryClient* c : Live()) {
    auto i = c->Instance("echo", address);
    ASSERT_TRUE(i) << c->address() << " dropped the instance before the alert:\n" << Describe(address);
    first_expiry_ms = std::min(first_expiry_ms, i->at("last_heartbeat_ms").as_int64() + i->at("ttl_ms").as_int64());
  }
  const json::object told = EventsInFile(alerts, "odown").at(0);
  const int64_t alerted_ms = Member(told, "time");
  const int64_t hooked_ms = Member(hook.received("odown").at(0), "time");
  std::cout << "[ measure  ] defaults (down-after 3000, probe 500, TTL 10000, 3 sentinels"
            << (freeze_one ? ", one frozen" : "") << "): odown alert " << alerted_ms - killed_ms
            << " ms after kill -9; the first lease would expire " << first_expiry_ms - killed_ms << " ms after it\n";
  EXPECT_EQ(told.at("address"), json::value(address));
  EXPECT_LT(alerted_ms, first_expiry_ms);
  EXPECT_LT(hooked_ms, first_expiry_ms);
  EXPECT_GE(alerted_ms - killed_ms, 2500) << "ODOWN before down-after (3000 ms, less one probe interval)";

  // The leases then expire; the instance had its alert, so no lease-expired one.
  ASSERT_TRUE(PollUntil([&] { return NoneLists(address); }, 15s)) << Describe(address);
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "lease-expired").empty(); }, 1000ms)) << Tail(alerts);
  EXPECT_EQ(EventsInFile(alerts, "odown").size(), 1u) << Tail(alerts);
  EXPECT_TRUE(hook.received("lease-expired").empty());
}

TEST_F(SentinelAlerts, DefaultFlagsCrashAlertsOdownBeforeTheLeaseExpires) {
  CrashWithDefaultsAlertsBeforeTheLeaseExpires(false);
}

// The same with one sentinel of the three frozen: every call to it waits for its timeout.
TEST_F(SentinelAlerts, DefaultFlagsCrashAlertsOdownBeforeTheLeaseExpiresWithOneSentinelFrozen) {
  CrashWithDefaultsAlertsBeforeTheLeaseExpires(true);
}

// A TTL shorter than the detection (600 ms against down-after 3000): the
// lease runs out before SDOWN. Its expiry is the alert, told once by the group.
TEST_F(SentinelAlerts, ALeaseThatRunsOutBeforeTheDetectionRaisesLeaseExpiredOnce) {
  HookReceiver hook;
  const std::string alerts = dir_.File("alerts.jsonl");
  std::vector<SentinelProcess> group =
      Group({.down_after_ms = 0, .probe_interval_ms = 0, .notify = "cat >> " + alerts, .webhook = hook.url()});
  ASSERT_EQ(group.size(), 3u);

  // The sentinel accepts such a registration, and says what it means.
  CallResult short_ttl =
      clients_[0]->Call("Registry.register", {{"service", "short"}, {"address", "127.0.0.1:1"}, {"ttl_ms", 600}});
  ASSERT_TRUE(short_ttl.ok()) << short_ttl.status;
  ASSERT_TRUE(short_ttl.value.as_object().contains("warning")) << json::serialize(short_ttl.value);
  EXPECT_NE(std::string(short_ttl.value.at("warning").as_string()).find("lease-expired"), std::string::npos);
  ASSERT_TRUE(clients_[0]->Deregister(std::string(short_ttl.value.at("lease").as_string())).ok());

  ServeProcess serve = ServeRegistered(group, {"--lease-ttl-ms", "600"});
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(address); }, 10s)) << Describe(address);
  // The server logs what each sentinel said of its TTL.
  ASSERT_TRUE(PollUntil(
      [&] {
        const std::vector<std::string> lines = ReadLines(serve_log());
        return std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
                 return line.find("says: a lease TTL of 600 ms can expire 400 ms after a crash") != std::string::npos;
               }) == 3;
      },
      5s))
      << Tail(serve_log());

  const int64_t killed_ms = KillHard(serve);
  ASSERT_TRUE(PollUntil([&] { return BothGot(alerts, hook, "lease-expired"); }, 5s))
      << Describe(address) << Tail(alerts);
  const json::object told = EventsInFile(alerts, "lease-expired").at(0);
  std::cout << "[ measure  ] TTL 600 ms: lease-expired alert " << Member(told, "time") - killed_ms
            << " ms after kill -9\n";
  EXPECT_EQ(told.at("service"), json::value("echo"));
  EXPECT_EQ(told.at("address"), json::value(address));
  EXPECT_EQ(told.at("ttl_ms"), json::value(600));
  EXPECT_LE(Member(told, "last_heartbeat"), killed_ms);
  EXPECT_GE(Member(told, "time"), killed_ms);
  EXPECT_TRUE(std::any_of(group.begin(), group.end(),
                          [&](const SentinelProcess& s) { return told.at("sentinel") == json::value(s.address); }));
  // Every sentinel saw its lease expire; one of them told it, once, and nothing was decided.
  ASSERT_TRUE(PollUntil([&] { return NoneLists(address); }, 5s)) << Describe(address);
  EXPECT_TRUE(HoldsFor(
      [&] { return EventsInFile(alerts, "lease-expired").size() == 1 && hook.received("lease-expired").size() == 1; },
      1500ms))
      << Tail(alerts);
  EXPECT_TRUE(EventsInFile(alerts, "odown").empty()) << Tail(alerts);
  for (auto& c : clients_) {
    json::array events = c->Events();
    EXPECT_TRUE(std::any_of(events.begin(), events.end(),
                            [&](const json::value& e) {
                              return e.at("event") == json::value("expired") && e.at("address") == json::value(address);
                            }))
        << c->address() << ": " << json::serialize(events);
  }
}

// The sentinel first in address order, which the others would leave the
// alert to, is frozen: a live one tells it (twice at most, as documented).
TEST_F(SentinelAlerts, LeaseExpiredIsToldWhileTheFirstSentinelIsFrozen) {
  const std::string alerts = dir_.File("alerts.jsonl");
  std::vector<SentinelProcess> group =
      Group({.down_after_ms = 0, .probe_interval_ms = 0, .notify = "cat >> " + alerts});
  ASSERT_EQ(group.size(), 3u);
  ServeProcess serve = ServeRegistered(group, {"--lease-ttl-ms", "600"});
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(address); }, 10s)) << Describe(address);

  auto by_address = [](const SentinelProcess& a, const SentinelProcess& b) { return a.address < b.address; };
  auto first = std::min_element(group.begin(), group.end(), by_address);
  Freeze(group, first - group.begin());
  KillHard(serve);
  ASSERT_TRUE(PollUntil([&] { return !EventsInFile(alerts, "lease-expired").empty(); }, 5s)) << Tail(alerts);
  EXPECT_NE(EventsInFile(alerts, "lease-expired").at(0).at("sentinel"), json::value(first->address));
  EXPECT_TRUE(HoldsFor([&] { return EventsInFile(alerts, "lease-expired").size() <= 2; }, 1500ms)) << Tail(alerts);
}

// A deregistration is no failure: no alert.
TEST_F(SentinelAlerts, AGracefulShutdownRaisesNoAlert) {
  const std::string alerts = dir_.File("alerts.jsonl");
  std::vector<SentinelProcess> group =
      Group({.down_after_ms = 0, .probe_interval_ms = 0, .notify = "cat >> " + alerts});
  ASSERT_EQ(group.size(), 3u);
  ServeProcess serve = ServeRegistered(group, {"--lease-ttl-ms", "600", "--grace-ms", "200"});
  ASSERT_GT(serve.port, 0);
  const std::string address = serve.address;
  ASSERT_TRUE(PollUntil([&] { return AllProbedUp(address); }, 10s)) << Describe(address);
  serve.process.Signal(SIGTERM);
  ASSERT_TRUE(serve.process.Wait(10s).has_value());
  ASSERT_TRUE(PollUntil([&] { return NoneLists(address); }, 5s)) << Describe(address);
  EXPECT_TRUE(HoldsFor([&] { return ReadLines(alerts).empty(); }, 1500ms)) << Tail(alerts);
}

// Settings that cannot work together are refused at startup: exit 2, one line.
TEST_F(SentinelAlerts, ContradictoryFlagsExitTwoWithOneClearLine) {
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--down-after-ms", "9000"}, "--lease-ttl-ms 10000 can expire 6667 ms after a crash"},
      {{"--lease-ttl-ms", "3000"}, "use --lease-ttl-ms 7501 or more, or a lower --down-after-ms"},
      {{"--probe-interval-ms", "3000"}, "--probe-interval-ms 3000 must be below --down-after-ms 3000"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"sentinel", "--listen", "127.0.0.1:0", "--data-dir", dir_.File("never")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    testing::CliRun run = testing::RunHarpc(args, 10s);
    ASSERT_TRUE(run.exit_code.has_value()) << "still running with " << c.flags[0];
    EXPECT_EQ(*run.exit_code, 2) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_EQ(run.err.rfind("harpc sentinel: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
  }
  // The same values made to fit start.
  TempDir fits_dir;
  SentinelProcess fits = StartSentinel(
      {.data_dir = fits_dir.path(), .down_after_ms = 9000, .probe_interval_ms = 500, .lease_ttl_ms = 20000});
  EXPECT_GT(fits.port, 0);
}

}  // namespace
}  // namespace harpc::sentineltest
