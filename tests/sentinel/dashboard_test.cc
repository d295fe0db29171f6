// The sentinel's dashboard (GET /) in headless Chromium: the DOM after the
// page's scripts ran lists the registered instances with their states, and
// follows an instance going ODOWN. scripts/setup installs chromium; without
// it this test fails (it does not skip).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

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
  std::string lease;
  ASSERT_TRUE(client.Register("echo", a.address, 5, 600000, &lease, "alpha").ok());
  ASSERT_TRUE(client.Register("echo", b.address, 1, 600000, &lease, "beta").ok());
  ASSERT_TRUE(PollUntil([&] {
    for (const std::string& address : {a.address, b.address}) {
      auto i = client.Instance("echo", address);
      if (!i || i->at("state") != json::value("up") || i->at("probe_latency_ms").to_number<double>() < 0) return false;
    }
    return true;
  }, 5s));
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
}

}  // namespace
}  // namespace harpc::sentineltest
