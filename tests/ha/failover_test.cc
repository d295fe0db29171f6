// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Failover under load with real `harpc serve` processes: a killed server, a
// hung (SIGSTOPped) one, a flaky one, a slow one, a draining one, hedging.
#include <csignal>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <gtest/gtest.h>

#include "ha_support.h"

namespace harpc::hatest {
namespace {

using namespace std::chrono_literals;

std::vector<ServeProcess> StartServers(int n, const std::vector<std::string>& extra = {}) {
  std::vector<ServeProcess> s;
  for (int i = 0; i < n; ++i) s.push_back(StartServer(extra));
  return s;
}

bool AllStarted(const std::vector<ServeProcess>& s) {
  for (const auto& p : s) {
    if (p.port == 0) return false;
  }
  return true;
}

// Until every endpoint has been picked at least `n` times (the load reached them all).
bool WarmedUp(const Channel& channel, uint64_t n, std::chrono::milliseconds timeout = 20s) {
  return PollUntil(
      [&] {
        for (const auto& e : channel.Endpoints()) {
          if (e.successes < n) return false;
        }
        return true;
      },
      timeout);
}

TEST(HaFailover, SigkillOneOfThreeUnderLoadLosesNoCall) {
  auto s = StartServers(3);
  ASSERT_TRUE(AllStarted(s));
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  Load load(channel, {});
  ASSERT_TRUE(WarmedUp(channel, 20)) << Describe(channel);

  const std::string victim = s[1].address;
  s[1].process.Signal(SIGKILL);
  ASSERT_TRUE(s[1].process.Wait(5s).has_value());
  const auto killed_at = Clock::now();

  ASSERT_TRUE(PollUntil([&] { return StateOf(channel, victim) != "healthy"; }, 10s)) << Describe(channel);
  const auto noticed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  const uint64_t picks = PicksOf(channel, victim);
  ASSERT_TRUE(load.WaitForMore(500, 60s)) << Describe(channel);
  EXPECT_NE(StateOf(channel, victim), "healthy") << Describe(channel);
  EXPECT_EQ(PicksOf(channel, victim), picks) << "calls still went to the killed endpoint: " << Describe(channel);
  load.Stop();

  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);
  for (const auto& r : load.Records()) {
    if (r.started > killed_at) {
      EXPECT_NE(r.result.endpoint, victim) << "an answer from a dead server?";
    }
  }
  RecordProperty("noticed_ms", static_cast<int>(noticed.count()));
}

// The same with the load as coroutines on the channel's own loop (AsyncCall
// without a thread hop), hedging on: attempts then run beside the call.
TEST(HaFailover, SigkillOneOfThreeUnderCoroutineLoadLosesNoCall) {
  auto s = StartServers(3);
  ASSERT_TRUE(AllStarted(s));
  ChannelOptions o = FastOptions();
  o.hedge.after = 50ms;
  o.retry.budget_ratio = 1.0;
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  std::atomic<uint64_t> ok{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  for (int i = 0; i < 8; ++i) {
    ++running;
    boost::asio::co_spawn(
        channel.executor(),
        [&]() -> boost::asio::awaitable<void> {
          while (!stop) {
            // Named arguments: GCC 12 mishandles temporaries in co_await expressions.
            std::string method = "Echo.echo";
            boost::json::value params = {{"coroutine", true}};
            CallOptions call;
            call.idempotent = true;
            CallResult r = co_await channel.AsyncCall(method, params, call);
            if (r.ok()) {
              ++ok;
            } else {
              ++failed;
              std::lock_guard lock(mu);
              if (first_failure.empty()) first_failure = r.status.ToString();
            }
          }
          --running;
        },
        boost::asio::detached);
  }
  ASSERT_TRUE(WarmedUp(channel, 20)) << Describe(channel);
  const std::string victim = s[0].address;
  s[0].process.Signal(SIGKILL);
  ASSERT_TRUE(s[0].process.Wait(5s).has_value());
  ASSERT_TRUE(PollUntil([&] { return StateOf(channel, victim) != "healthy"; }, 10s)) << Describe(channel);
  const uint64_t picks = PicksOf(channel, victim);
  const uint64_t target = ok + failed + 500;
  EXPECT_TRUE(PollUntil([&] { return ok + failed >= target; }, 60s)) << Describe(channel);
  EXPECT_EQ(PicksOf(channel, victim), picks) << Describe(channel);
  stop = true;
  ASSERT_TRUE(PollUntil([&] { return running == 0; }, 30s)) << "coroutines did not finish";
  EXPECT_EQ(failed, 0u) << first_failure << " " << Describe(channel);
  EXPECT_GT(ok, 0u);
}

TEST(HaFailover, SigstopOneOfThreeWithHedgingEveryCallSucceedsAndItComesBack) {
  auto s = StartServers(3);
  ASSERT_TRUE(AllStarted(s));
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  o.timeout = 1000ms;
  o.hedge.after = 20ms;
  // Under test: hedging and detection. A generous budget keeps a slow,
  // loaded test machine (where healthy calls too may pass 20 ms) from
  // running out of hedges.
  o.retry.budget_ratio = 1.0;
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  Load load(channel, {});
  ASSERT_TRUE(WarmedUp(channel, 20)) << Describe(channel);

  const std::string victim = s[2].address;
  ASSERT_TRUE(StopServer(s[2]));
  const auto stopped_at = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return StateOf(channel, victim) != "healthy"; }, 10s)) << Describe(channel);
  const auto noticed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at);
  // The first unanswered probe starts within one interval and times out
  // after one; `fall` of them condemn it: fall × interval + interval, plus
  // one interval of margin for a loaded machine.
  const auto bound = o.health.fall * o.health.interval + 2 * o.health.interval;
  EXPECT_LE(noticed, bound) << "a hung server was noticed only after " << noticed.count() << " ms";
  EXPECT_EQ(StateOf(channel, victim), "unhealthy") << Describe(channel);
  ASSERT_TRUE(load.WaitForMore(300, 60s)) << Describe(channel);

  ASSERT_TRUE(ResumeServer(s[2]));
  const auto resumed_at = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return StateOf(channel, victim) == "healthy"; }, 10s))
      << "not readmitted after SIGCONT: " << Describe(channel);
  const auto readmitted = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resumed_at);
  const uint64_t answered = InfoOf(channel, victim)->successes;
  EXPECT_TRUE(PollUntil([&] { return InfoOf(channel, victim)->successes >= answered + 10; }, 20s))
      << "readmitted but given no calls: " << Describe(channel);
  load.Stop();

  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);
  EXPECT_LE(load.max_latency(), o.timeout + 100ms);
  EXPECT_GT(channel.counters().hedges, 0u) << Describe(channel);
  RecordProperty("noticed_ms", static_cast<int>(noticed.count()));
  RecordProperty("readmitted_ms", static_cast<int>(readmitted.count()));
}

// One flaky endpoint (half its answers UNAVAILABLE) among three good ones,
// under load. `mechanism` picks what may take it out: "outlier", "breaker"
// or "both" (the defaults). Calls keep succeeding through retries.
void FlakyEndpointIsTakenOut(const std::string& mechanism) {
  auto s = StartServers(3);
  s.push_back(StartServer({"--fail-rate", "0.5"}));
  ASSERT_TRUE(AllStarted(s));
  const std::string flaky = s[3].address;
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  if (mechanism == "outlier") o.breaker.failure_ratio = 0;
  if (mechanism == "breaker") {
    o.outlier.consecutive_failures = 0;
    o.outlier.failure_ratio = 0;
  }
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  Load load(channel, {});
  std::string seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto info = InfoOf(channel, flaky);
        if (info->state == "ejected" || info->state == "open") seen = info->state;
        if (mechanism == "outlier") return seen == "ejected" && info->ejections > 0;
        if (mechanism == "breaker") return seen == "open";
        return !seen.empty();
      },
      30s))
      << "never taken out: " << Describe(channel);
  ASSERT_TRUE(load.WaitForMore(300, 60s));
  load.Stop();

  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);
  EXPECT_GT(channel.counters().retries, 0u);
  const auto flaky_info = InfoOf(channel, flaky);
  for (int i = 0; i < 3; ++i) {
    const auto good = InfoOf(channel, s[i].address);
    EXPECT_EQ(good->ejections, 0u) << "a good endpoint was ejected: " << Describe(channel);
    EXPECT_LT(flaky_info->picks, good->picks)
        << "the flaky endpoint got as many calls as a good one: " << Describe(channel);
  }
  if (mechanism == "breaker") {
    EXPECT_EQ(flaky_info->ejections, 0u);
  }
  ::testing::Test::RecordProperty("seen_state", seen);
}

TEST(HaFailover, FlakyEndpointIsEjectedWhileCallsKeepSucceeding) { FlakyEndpointIsTakenOut("outlier"); }

TEST(HaFailover, FlakyEndpointTripsItsCircuitBreakerWhileCallsKeepSucceeding) { FlakyEndpointIsTakenOut("breaker"); }

// With the defaults both mechanisms watch it; whichever acts first takes it out.
TEST(HaFailover, FlakyEndpointIsTakenOutWithDefaultOptions) { FlakyEndpointIsTakenOut("both"); }

TEST(HaFailover, LeastTimeSendsLittleToASlowEndpoint) {
  auto s = StartServers(2);
  s.push_back(StartServer({"--delay-ms", "50"}));
  ASSERT_TRUE(AllStarted(s));
  ChannelOptions o = FastOptions();
  o.lb = "least_time";
  Channel channel(ListTarget(s), o);
  if (!channel.status().ok() && channel.status().message().find("least_time") != std::string::npos) {
    GTEST_SKIP() << "lb \"least_time\" is not registered in MakeLoadBalancer yet: " << channel.status();
  }
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  LoadOptions lo;
  lo.threads = 4;
  // Paced so that the 2,000 calls span several latency time constants: the
  // shares then reflect the servers' speed, not one scheduling hiccup.
  lo.pause = 2ms;
  {
    Load load(channel, lo);
    ASSERT_TRUE(PollUntil([&] { return load.done() >= 2000; }, 120s)) << Describe(channel);
    load.Stop();
    EXPECT_EQ(load.failed(), 0u) << load.FailureSummary();
    auto by = load.ByEndpoint();
    const double total = static_cast<double>(load.ok());
    const double slow = static_cast<double>(by[s[2].address]) / total;
    EXPECT_LT(slow, 0.10) << "slow endpoint share " << slow << ": " << Describe(channel);
    // The fast ones share the rest, but not evenly on a loaded machine:
    // least_time follows the latencies it measures, and a server process
    // that waits for a CPU for a while looks slower for a few time
    // constants. Under `ctest -j2` on 2 busy cores splits as uneven as
    // 16/83 % were seen (45-55 % on a quiet machine). So each fast one is
    // held to far more than the slow one, not to a third.
    for (int i = 0; i < 2; ++i) {
      const double share = static_cast<double>(by[s[i].address]) / total;
      EXPECT_GE(share, 0.10) << s[i].address << ": " << Describe(channel);
      EXPECT_GT(share, 3 * slow) << s[i].address << ": " << Describe(channel);
      RecordProperty("fast" + std::to_string(i) + "_share_permille", static_cast<int>(share * 1000));
    }
    RecordProperty("slow_share_permille", static_cast<int>(slow * 1000));
  }
}

TEST(HaFailover, GracefulDrainLosesNoCall) {
  auto s = StartServers(2);
  // In-flight calls on the draining server take a while: they must finish.
  s.push_back(StartServer({"--grace-ms", "5000", "--delay-ms", "30"}));
  ASSERT_TRUE(AllStarted(s));
  const std::string victim = s[2].address;
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  LoadOptions lo;
  lo.threads = 4;
  Load load(channel, lo);
  ASSERT_TRUE(WarmedUp(channel, 10)) << Describe(channel);
  ASSERT_TRUE(PollUntil([&] { return InfoOf(channel, victim)->in_flight > 0; }, 10s)) << "no call in flight on it";

  s[2].process.Signal(SIGTERM);
  auto exit_code = s[2].process.Wait(15s);
  ASSERT_TRUE(exit_code.has_value()) << "did not exit within its grace period";
  EXPECT_EQ(*exit_code, 0);
  EXPECT_TRUE(PollUntil([&] { return StateOf(channel, victim) != "healthy"; }, 10s)) << Describe(channel);
  ASSERT_TRUE(load.WaitForMore(300, 60s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);
}

TEST(HaFailover, HedgedCallsAreAnsweredByTheFastEndpoint) {
  std::vector<ServeProcess> s;
  s.push_back(StartServer({"--delay-ms", "1000"}));
  s.push_back(StartServer());
  ASSERT_TRUE(AllStarted(s));
  ChannelOptions o = FastOptions();
  o.hedge.after = 20ms;
  o.lb = "rr";  // alternate: every other call starts on the slow one
  o.retry.budget_ratio = 1.0;
  o.timeout = 3000ms;
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  CallOptions call;
  call.idempotent = true;
  const boost::json::value params = {{"n", 1}};
  int hedged = 0;
  for (int i = 0; i < 20; ++i) {
    const auto started = Clock::now();
    CallResult r = channel.Call("Echo.echo", params, call);
    const auto took = Clock::now() - started;
    ASSERT_TRUE(r.ok()) << r.status;
    if (r.hedged) {
      ++hedged;
      EXPECT_EQ(r.endpoint, s[1].address);
      EXPECT_EQ(r.attempts, 2);
      EXPECT_LT(took, 800ms) << "the hedge should win well before the slow answer";
    }
  }
  EXPECT_GE(hedged, 5) << Describe(channel);
  EXPECT_GE(channel.counters().hedges, static_cast<uint64_t>(hedged));
}

}  // namespace
}  // namespace harpc::hatest
