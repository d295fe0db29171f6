// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Regression tests, each named after a complaint users made about other RPC
// frameworks' failover, run against real `harpc serve` processes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <gtest/gtest.h>

#include "ha_support.h"

namespace harpc::hatest {
namespace {

using namespace std::chrono_literals;

// "gRPC's round_robin never reconnected after every backend went down, and
// bRPC's la balancer kept failing until the channel was rebuilt": kill every
// endpoint, bring them back on the same ports, and the same Channel recovers.
TEST(HaRegression, ChannelRecoversAfterEveryEndpointWentDownAndCameBack) {
  std::vector<ServeProcess> s;
  s.reserve(3);
  for (int i = 0; i < 3; ++i) s.push_back(StartServer());
  for (const auto& p : s) ASSERT_NE(p.port, 0);
  ChannelOptions o = FastOptions();
  o.idempotent_methods = {"Echo.echo"};
  o.timeout = 500ms;
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(channel.Call("Echo.echo", params).ok());

  for (auto& p : s) {
    p.process.Signal(SIGKILL);
    ASSERT_TRUE(p.process.Wait(5s).has_value());
  }
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const auto& e : channel.Endpoints()) {
          if (e.state == "healthy") return false;
        }
        return true;
      },
      10s))
      << Describe(channel);
  // Calls fail meanwhile, and trip whatever passive detection there is.
  for (int i = 0; i < 40; ++i) {
    CallResult r = channel.Call("Echo.echo", params);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  }
  // Until the heartbeats have condemned every one (and started to back off).
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const auto& e : channel.Endpoints()) {
          if (e.state != "unhealthy") return false;
        }
        return true;
      },
      10s))
      << Describe(channel);

  for (auto& p : s) {
    const int port = p.port;
    p = StartServerOn(port);
    ASSERT_EQ(p.port, port);
  }
  const auto restarted_at = Clock::now();
  // The same channel answers again...
  ASSERT_TRUE(PollUntil([&] { return channel.Call("Echo.echo", params).ok(); }, 10s))
      << "the channel did not recover: " << Describe(channel);
  const auto first_ok = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted_at);
  // ...and every endpoint is back in service, serving calls.
  Load load(channel, {});
  EXPECT_TRUE(PollUntil(
      [&] {
        for (const auto& e : channel.Endpoints()) {
          if (e.state != "healthy") return false;
        }
        return true;
      },
      20s))
      << Describe(channel);
  const uint64_t before = load.done();
  ASSERT_TRUE(load.WaitForMore(300, 60s));
  load.Stop();
  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);
  std::map<std::string, uint64_t> by;
  auto records = load.Records();
  for (size_t i = before; i < records.size(); ++i) {
    if (records[i].result.ok()) ++by[records[i].result.endpoint];
  }
  for (const auto& p : s) EXPECT_GT(by[p.address], 0u) << p.address << " got no call: " << Describe(channel);
  RecordProperty("first_ok_ms", static_cast<int>(first_ok.count()));
}

// A listening socket whose accept queue is full and that never accepts: a
// connect to it hangs (the kernel drops the SYNs), like a blackholed host.
class Blackhole {
 public:
  Blackhole() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 0) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    // Fill the accept queue; connects beyond it hang.
    for (int i = 0; i < 3; ++i) fillers_.push_back(ConnectNonBlocking());
  }
  ~Blackhole() {
    for (int f : fillers_) ::close(f);
    if (fd_ >= 0) ::close(fd_);
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Whether a new connect indeed hangs for `wait`.
  bool Swallows(std::chrono::milliseconds wait) const {
    int c = ConnectNonBlocking();
    pollfd p{c, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(wait.count()));
    ::close(c);
    return n == 0;
  }

 private:
  int ConnectNonBlocking() const {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    (void)::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // in progress, and stays so
    return c;
  }

  int fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

// "A dead endpoint was never taken out because the call timeout (50 ms) was
// shorter than the connect timeout: the connect never 'failed', the call
// only timed out." Here heartbeats are off: the calls alone must condemn it.
TEST(HaRegression, DeadEndpointIsTakenOutWhenCallTimeoutIsShorterThanConnectTimeout) {
  Blackhole hole;
  ASSERT_NE(hole.port(), 0);
  if (!hole.Swallows(300ms)) GTEST_SKIP() << "this kernel completes connects to a full accept queue";
  auto good = StartServer();
  ASSERT_NE(good.port, 0);
  ChannelOptions o = FastOptions();
  o.timeout = 50ms;
  o.connect_timeout = 1000ms;
  o.health.interval = 0ms;            // no heartbeats: passive detection only
  o.outlier.base_ejection = 60000ms;  // stays out for the whole test
  o.breaker.open_duration = 60000ms;
  Channel channel("list://" + hole.address() + "," + good.address, o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  CallOptions call;
  call.idempotent = true;

  int timed_out = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        CallResult r = channel.Call("Echo.echo", params, call);
        if (!r.ok()) {
          ++timed_out;
          EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status;
        }
        return StateOf(channel, hole.address()) != "healthy";
      },
      30s))
      << "a blackholed endpoint stayed healthy: " << Describe(channel);
  EXPECT_GT(timed_out, 0);
  EXPECT_LE(timed_out, 25) << "took too many failed calls to notice";
  const uint64_t picks = PicksOf(channel, hole.address());
  // From now on a generous deadline: a stall of the loaded test machine must
  // not fail a call to the good server. Had the hole been picked again, the
  // call would show it (a 1 s connect timeout and a pick counted).
  CallOptions patient = call;
  patient.timeout = 3000ms;
  for (int i = 0; i < 200; ++i) {
    CallResult r = channel.Call("Echo.echo", params, patient);
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status << " " << Describe(channel);
    EXPECT_EQ(r.endpoint, good.address);
  }
  EXPECT_EQ(PicksOf(channel, hole.address()), picks) << Describe(channel);
  EXPECT_NE(StateOf(channel, hole.address()), "healthy");
}

// The same with the usual suspects, heartbeats on: a killed server (refused)
// and a hung one (SIGSTOP: connects succeed, answers never come).
TEST(HaRegression, KilledAndHungEndpointsAreTakenOutWithShortCallTimeout) {
  auto good = StartServer();
  auto killed = StartServer();
  auto hung = StartServer();
  ASSERT_NE(good.port, 0);
  ASSERT_NE(killed.port, 0);
  ASSERT_NE(hung.port, 0);
  ChannelOptions o = FastOptions();
  o.timeout = 50ms;
  o.connect_timeout = 1000ms;
  o.outlier.base_ejection = 60000ms;
  o.breaker.open_duration = 60000ms;
  o.outlier.max_ejection_percent = 100;
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&good, &killed, &hung}), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(channel.Call("Echo.echo", params).ok());

  killed.process.Signal(SIGKILL);
  ASSERT_TRUE(killed.process.Wait(5s).has_value());
  ASSERT_TRUE(StopServer(hung));
  ASSERT_TRUE(PollUntil(
      [&] {
        channel.Call("Echo.echo", params);  // failures allowed here: 50 ms is shorter than a hang
        return StateOf(channel, killed.address) != "healthy" && StateOf(channel, hung.address) != "healthy";
      },
      20s))
      << Describe(channel);
  const uint64_t killed_picks = PicksOf(channel, killed.address);
  const uint64_t hung_picks = PicksOf(channel, hung.address);
  CallOptions patient;  // see DeadEndpointIsTakenOut...: stalls of a loaded machine must not fail calls
  patient.timeout = 3000ms;
  for (int i = 0; i < 200; ++i) {
    CallResult r = channel.Call("Echo.echo", params, patient);
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status << " " << Describe(channel);
    EXPECT_EQ(r.endpoint, good.address);
  }
  EXPECT_EQ(PicksOf(channel, killed.address), killed_picks) << Describe(channel);
  EXPECT_EQ(PicksOf(channel, hung.address), hung_picks) << Describe(channel);
  ResumeServer(hung);
}

// Dubbo's duplicate writes: "a timed-out write was retried on another
// provider and applied twice". Without an idempotency key, a non-idempotent
// call that may have reached a server is never sent again, not even as a
// hedge; an idempotent call with the same setup is hedged.
TEST(HaRegression, TimedOutNonIdempotentCallIsNeverRetriedWithoutIdempotencyKey) {
  std::vector<ServeProcess> s;
  s.push_back(StartServer({"--delay-ms", "400"}));  // Echo.echo answers after 400 ms
  s.push_back(StartServer());
  ASSERT_NE(s[0].port, 0);
  ASSERT_NE(s[1].port, 0);
  ChannelOptions o = NoPassiveHealth(FastOptions());
  o.idempotency_keys = false;
  o.hedge.after = 20ms;
  o.timeout = 250ms;
  o.lb = "rr";
  o.retry.budget_ratio = 1.0;
  Channel channel(ListTarget(s), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};

  CallOptions plain;  // Echo.echo is not declared idempotent to this channel
  int timed_out = 0;
  for (int i = 0; i < 20; ++i) {
    CallResult r = channel.Call("Echo.echo", params, plain);
    EXPECT_EQ(r.attempts, 1) << r.status;
    EXPECT_FALSE(r.hedged);
    if (!r.ok()) {
      EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status;
      if (r.endpoint == s[0].address) ++timed_out;
    }
  }
  EXPECT_GE(timed_out, 5) << "calls on the slow server should time out";
  EXPECT_EQ(channel.counters().retries, 0u);
  EXPECT_EQ(channel.counters().hedges, 0u);

  CallOptions idempotent;
  idempotent.idempotent = true;
  int hedged = 0;
  for (int i = 0; i < 20; ++i) {
    CallResult r = channel.Call("Echo.echo", params, idempotent);
    ASSERT_TRUE(r.ok()) << r.status;
    if (r.hedged) {
      ++hedged;
      EXPECT_EQ(r.attempts, 2);
      EXPECT_EQ(r.endpoint, s[1].address);
    }
  }
  EXPECT_GE(hedged, 5);
}

// The same complaint with a real write: Counter.increment on a hung server.
// Every increment runs at most once in total, whichever server ran it.
TEST(HaRegression, TimedOutIncrementIsNeverAppliedTwiceWithoutIdempotencyKey) {
  auto hung = StartServer();
  auto fine = StartServer();
  ASSERT_NE(hung.port, 0);
  ASSERT_NE(fine.port, 0);
  ChannelOptions o = NoPassiveHealth(FastOptions());
  o.idempotency_keys = false;
  o.hedge.after = 20ms;
  o.timeout = 300ms;
  o.lb = "rr";
  o.health.interval = 60000ms;  // keep the hung one in rotation for this test
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&hung, &fine}), o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  ASSERT_TRUE(StopServer(hung));
  const boost::json::value by_one = {{"by", 1}};
  constexpr int kCalls = 20;
  int ok = 0, failed_on_hung = 0, failed_on_fine = 0;
  for (int i = 0; i < kCalls; ++i) {
    CallResult r = channel.Call("Counter.increment", by_one);
    EXPECT_EQ(r.attempts, 1) << r.status;
    EXPECT_FALSE(r.hedged);
    if (r.ok()) {
      ++ok;
      EXPECT_EQ(r.endpoint, fine.address);
      continue;
    }
    EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status;
    // (A stall of a loaded machine may time out a call on the fine server too.)
    (r.endpoint == hung.address ? failed_on_hung : failed_on_fine)++;
  }
  EXPECT_GT(failed_on_hung, 0);
  ASSERT_TRUE(ResumeServer(hung));
  // The hung server may still run the increments it received: wait until it
  // has (or give up after a while), then count.
  PollUntil([&] { return CounterOf(hung) >= failed_on_hung; }, 5s);
  const int64_t on_hung = CounterOf(hung), on_fine = CounterOf(fine);
  EXPECT_GE(on_fine, ok);
  EXPECT_LE(on_fine, ok + failed_on_fine) << "the fine server ran an increment sent elsewhere";
  EXPECT_LE(on_hung, failed_on_hung);
  EXPECT_LE(on_hung + on_fine, kCalls) << "an increment ran twice";
}

// "A retry went back to the endpoint that had just failed although another
// was available." Over many calls and every policy: a retried call's answer
// comes from another endpoint than the failing one.
class RetryElsewhereTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RetryElsewhereTest, RetryNeverLandsOnTheEndpointThatJustFailed) {
  auto bad = StartServer({"--fail-rate", "1.0"});
  auto good = StartServer();
  ASSERT_NE(bad.port, 0);
  ASSERT_NE(good.port, 0);
  ChannelOptions o = NoPassiveHealth(FastOptions());  // keep the failing one in rotation
  o.lb = GetParam();
  o.idempotent_methods = {"Echo.echo"};
  o.retry.max_retries = 1;  // one retry: it must be the other endpoint
  o.retry.budget_ratio = 1.0;
  o.retry.budget_min_per_second = 100;
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&bad, &good}), o);
  if (!channel.status().ok() && channel.status().message().find(GetParam()) != std::string::npos) {
    GTEST_SKIP() << "lb \"" << GetParam() << "\" is not registered: " << channel.status();
  }
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  int retried = 0;
  for (int i = 0; i < 300; ++i) {
    CallOptions call;
    call.hash_key = "key-" + std::to_string(i);
    CallResult r = channel.Call("Echo.echo", params, call);
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status << " attempts " << r.attempts << " " << Describe(channel);
    EXPECT_EQ(r.endpoint, good.address);
    if (r.attempts >= 2) ++retried;
  }
  EXPECT_GT(retried, 0) << "the failing endpoint was never tried first: " << Describe(channel);
  RecordProperty("retried", retried);
}

TEST_P(RetryElsewhereTest, RetriesVisitDistinctEndpoints) {
  // Two failing endpoints and one good one, two retries: every call succeeds
  // only if no attempt of a call repeats an endpoint.
  auto bad1 = StartServer({"--fail-rate", "1.0"});
  auto bad2 = StartServer({"--fail-rate", "1.0"});
  auto good = StartServer();
  ASSERT_NE(bad1.port, 0);
  ASSERT_NE(bad2.port, 0);
  ASSERT_NE(good.port, 0);
  ChannelOptions o = NoPassiveHealth(FastOptions());
  o.lb = GetParam();
  o.idempotent_methods = {"Echo.echo"};
  o.retry.max_retries = 2;
  o.retry.budget_ratio = 2.0;
  o.retry.budget_min_per_second = 100;
  Channel channel(ListTarget(std::vector<const ServeProcess*>{&bad1, &bad2, &good}), o);
  if (!channel.status().ok() && channel.status().message().find(GetParam()) != std::string::npos) {
    GTEST_SKIP() << "lb \"" << GetParam() << "\" is not registered: " << channel.status();
  }
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const boost::json::value params = {{"x", 1}};
  int third = 0;
  for (int i = 0; i < 200; ++i) {
    CallOptions call;
    call.hash_key = "key-" + std::to_string(i);
    CallResult r = channel.Call("Echo.echo", params, call);
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status << " attempts " << r.attempts << " " << Describe(channel);
    EXPECT_EQ(r.endpoint, good.address);
    if (r.attempts == 3) ++third;
  }
  RecordProperty("three_attempts", third);
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, RetryElsewhereTest,
                         ::testing::Values("wrr", "rr", "least_time", "p2c", "random", "hash"),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace harpc::hatest
