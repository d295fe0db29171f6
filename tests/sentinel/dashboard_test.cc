// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's dashboard (GET /) in headless Chromium: the DOM after the
// page's scripts ran lists the registered instances with their states,
// follows an instance going ODOWN, and still shows it after its lease
// expired, with when it went down and its timeline. scripts/setup installs
// chromium; without it this test fails (it does not skip).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sentinel/registry.h"
#include "sentinel_support.h"

namespace harpc::sentineltest {
namespace {

TEST(SentinelDashboard, HeadlessChromiumShowsInstancesAndOdown) {
  ASSERT_EQ(::access(kChromium, X_OK), 0)
      << kChromium << " is not installed: run scripts/setup (it installs the Debian package chromium), "
      << "or apt-get install -y chromium";

  TempDir dir;
  SentinelProcess s = StartSentinel({.data_dir = dir.path(), .down_after_ms = 500, .probe_interval_ms = 100});
  ASSERT_GT(s.port, 0);
  ServeProcess a = StartServeOn(0), b = StartServeOn(0);
  ASSERT_GT(a.port, 0);
  ASSERT_GT(b.port, 0);
  RegistryClient client(s.address);
  std::string lease, lease_a;
  // A's lease is renewed until A dies, then expires (3 s): the dashboard must keep it.
  ASSERT_TRUE(client.Register("echo", a.address, 5, 3000, &lease_a, "alpha").ok());
  RegistryClient renewer(s.address);
  Heartbeater renewing({&renewer}, {lease_a}, 500ms);
  ASSERT_TRUE(client.Register("echo", b.address, 1, 600000, &lease, "beta").ok());
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const std::string& address : {a.address, b.address}) {
          auto i = client.Instance("echo", address);
          if (!i || i->at("state") != json::value("up") || i->at("probe_latency_ms").to_number<double>() < 0)
            return false;
        }
        return true;
      },
      5s));
  const std::string url = "http://" + s.address + "/";

  std::string diagnostics;
  auto started = Clock::now();
  std::string dom = DumpDom(url, &diagnostics);
  std::cout << "[ measure  ] chromium --dump-dom took " << Since(started).count() << " ms\n";
  ASSERT_TRUE(diagnostics.empty()) << diagnostics;
  ASSERT_NE(dom.find("data-refreshes"), std::string::npos) << "the page's script never ran:\n" << dom;

  std::string row_a = RowOf(dom, a.address), row_b = RowOf(dom, b.address);
  ASSERT_FALSE(row_a.empty()) << "no row for " << a.address << " in:\n" << dom;
  ASSERT_FALSE(row_b.empty()) << "no row for " << b.address << " in:\n" << dom;
  EXPECT_EQ(AttributeOf(row_a, "data-state"), "up") << row_a;
  EXPECT_EQ(AttributeOf(row_b, "data-state"), "up") << row_b;
  EXPECT_EQ(AttributeOf(row_a, "data-service"), "echo") << row_a;
  EXPECT_NE(row_a.find(">alpha<"), std::string::npos) << row_a;
  EXPECT_NE(row_a.find("class=\"weight\">5<"), std::string::npos) << row_a;
  EXPECT_NE(row_a.find("state-up"), std::string::npos) << row_a;
  EXPECT_NE(row_a.find(" ms<"), std::string::npos) << "probe latency: " << row_a;
  EXPECT_NE(dom.find("id=\"epoch\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-event=\"registered\""), std::string::npos) << "recent events:\n" << dom;

  // A dies; once the registry says ODOWN, so does the page.
  a.process.Signal(SIGKILL);
  a.process.Wait(5s);
  ASSERT_TRUE(PollUntil([&] { return client.State("echo", a.address) == "odown"; }, 10s));
  dom = DumpDom(url, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics;
  row_a = RowOf(dom, a.address);
  row_b = RowOf(dom, b.address);
  ASSERT_FALSE(row_a.empty()) << dom;
  EXPECT_EQ(AttributeOf(row_a, "data-state"), "odown") << row_a;
  EXPECT_NE(row_a.find("state-odown"), std::string::npos) << row_a;
  EXPECT_EQ(AttributeOf(row_b, "data-state"), "up") << row_b;
  EXPECT_NE(dom.find("data-event=\"odown\""), std::string::npos) << "recent events:\n" << dom;
  const std::string epoch = std::to_string(client.Epoch());
  EXPECT_NE(dom.find("id=\"epoch\">" + epoch + "<"), std::string::npos) << "epoch " << epoch << " in:\n" << dom;

  // A's server stops renewing: its lease expires and it leaves the registry, not the page.
  const int64_t stopped_ms = sentinel::WallClockMs();
  renewing.Stop();
  ASSERT_TRUE(PollUntil([&] { return client.State("echo", a.address) == "absent"; }, 10s));
  dom = DumpDom(url, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics;
  row_a = RowOf(dom, a.address);
  ASSERT_FALSE(row_a.empty()) << "the dead instance left the page with its lease:\n" << dom;
  EXPECT_EQ(AttributeOf(row_a, "data-state"), "expired") << row_a;
  EXPECT_NE(row_a.find("class=\"instance departed\""), std::string::npos) << row_a;
  EXPECT_NE(row_a.find("state-expired"), std::string::npos) << row_a;
  EXPECT_NE(row_a.find(">alpha<"), std::string::npos) << row_a;
  // Down since its SDOWN, before its heartbeats stopped; for as long as the page says.
  const size_t since_at = row_a.find("class=\"down-since\"");
  ASSERT_NE(since_at, std::string::npos) << row_a;
  const std::string down_since = AttributeOf(row_a.substr(since_at - 4), "data-ms");
  ASSERT_FALSE(down_since.empty()) << row_a;
  EXPECT_LT(std::stoll(down_since), stopped_ms) << row_a;
  EXPECT_GT(std::stoll(down_since), stopped_ms - 60000) << row_a;
  EXPECT_NE(row_a.find("class=\"down-for\">"), std::string::npos) << row_a;
  EXPECT_EQ(row_a.find("class=\"down-for\">-<"), std::string::npos) << row_a;
  // Its timeline: up, sdown, odown, expired, in that order.
  size_t at = 0;
  for (const char* state : {"up", "sdown", "odown", "expired"}) {
    at = row_a.find("class=\"segment state-" + std::string(state) + "\"", at);
    ASSERT_NE(at, std::string::npos) << state << " missing or out of order in the timeline:\n" << row_a;
  }
  // B is untouched, and the page says one instance is gone.
  EXPECT_EQ(AttributeOf(RowOf(dom, b.address), "data-state"), "up") << dom;
  EXPECT_NE(dom.find("1 gone"), std::string::npos) << dom;
}

// What the dashboard reads: Sentinel.history keeps a deregistered instance
// with its timeline for --history-retention-ms, then forgets it.
TEST(SentinelDashboard, HistoryKeepsDepartedInstancesForTheRetention) {
  TempDir dir;
  SentinelProcess s = StartSentinel({.data_dir = dir.path(),
                                     .down_after_ms = 500,
                                     .probe_interval_ms = 100,
                                     .extra_args = {"--history-retention-ms", "1500"}});
  ASSERT_GT(s.port, 0);
  RegistryClient client(s.address);
  std::string lease;
  ASSERT_TRUE(client.Register("echo", "127.0.0.1:1", 1, 600000, &lease).ok());
  auto history_of = [&](const std::string& address) -> std::optional<json::object> {
    CallResult r = client.Call("Sentinel.history", json::object{});
    if (!r.ok()) return std::nullopt;
    for (const json::value& h : r.value.at("instances").as_array()) {
      if (h.at("address") == json::value(address)) return h.as_object();
    }
    return std::nullopt;
  };
  // Nothing listens on port 1: SDOWN, then ODOWN (a group of one).
  ASSERT_TRUE(PollUntil([&] { return client.State("echo", "127.0.0.1:1") == "odown"; }, 5s));
  ASSERT_TRUE(client.Deregister(lease).ok());
  std::optional<json::object> h = history_of("127.0.0.1:1");
  ASSERT_TRUE(h) << "forgotten at once";
  EXPECT_EQ(h->at("state"), json::value("deregistered"));
  EXPECT_GT(h->at("departed_ms").as_int64(), 0);
  EXPECT_GT(h->at("down_since_ms").as_int64(), 0);
  std::vector<std::string> states;
  for (const json::value& c : h->at("timeline").as_array()) states.emplace_back(c.at("state").as_string());
  EXPECT_EQ(states, (std::vector<std::string>{"up", "sdown", "odown", "deregistered"}));
  ASSERT_TRUE(PollUntil([&] { return !history_of("127.0.0.1:1"); }, 5s)) << "kept beyond the retention";
}

}  // namespace
}  // namespace harpc::sentineltest
