// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's registry against a real `harpc sentinel`: leases and their
// renewal, the long-poll watch, durability across SIGKILL, `harpc status
// --json`, and clear errors for malformed requests.
#include <signal.h>

#include <algorithm>
#include <future>
#include <set>

#include <gtest/gtest.h>

#include "sentinel_support.h"

namespace harpc::sentineltest {
namespace {

using testing::BodyOf;
using testing::StatusOf;

class SentinelRegistry : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const std::string& log : logs_) std::cerr << "--- " << log << ":\n" << Tail(log);
    }
  }
  SentinelProcess Start(const SentinelConfig& c, int port = 0) {
    SentinelProcess s = StartSentinel(c, port);
    logs_.push_back(s.log_path());
    return s;
  }
  // A data dir that outlives the test body, so that TearDown can show the logs.
  const TempDir& NewDir() { return *dirs_.emplace_back(std::make_unique<TempDir>()); }
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::string> logs_;
};

TEST_F(SentinelRegistry, LeaseRenewedByHeartbeatsExpiresWithoutThemAndDeregisterIsImmediate) {
  const TempDir& dir = NewDir();
  SentinelProcess s = Start({.data_dir = dir.path()});
  ASSERT_GT(s.port, 0);
  ServeProcess serve = StartServeOn(0);
  ASSERT_GT(serve.port, 0);
  RegistryClient client(s.address);

  std::string lease;
  ASSERT_TRUE(client.Register("echo", serve.address, 1, 500, &lease).ok());
  ASSERT_TRUE(client.Instance("echo", serve.address).has_value());

  // Renewed every 100 ms, the 500 ms lease holds for 3 TTLs and more.
  auto heartbeats =
      std::make_unique<Heartbeater>(std::vector<RegistryClient*>{&client}, std::vector<std::string>{lease}, 100ms);
  EXPECT_TRUE(HoldsFor([&] { return client.Instance("echo", serve.address).has_value(); }, 1500ms))
      << "a renewed lease expired";
  EXPECT_EQ(client.State("echo", serve.address), "up");
  heartbeats->Stop();
  EXPECT_EQ(heartbeats->failures(), 0u);
  EXPECT_GE(heartbeats->rounds(), 10u);
  const Clock::time_point last_heartbeat = heartbeats->last_sent();

  // Without heartbeats it goes within the TTL and a bounded slack, not before.
  ASSERT_TRUE(PollUntil([&] { return client.State("echo", serve.address) == "absent"; }, 5s))
      << "the lease never expired";
  const auto gone_after = Since(last_heartbeat);
  std::cout << "[ measure  ] lease ttl 500 ms: instance gone " << gone_after.count()
            << " ms after the last heartbeat was sent\n";
  EXPECT_GE(gone_after, 495ms) << "expired before its TTL";
  EXPECT_LE(gone_after, 500ms + 1500ms) << "expired too late";
  // The expiry is an event (the dashboard's recent events).
  bool expired_event = false;
  for (const json::value& e : client.Events()) {
    expired_event |= e.at("event") == json::value("expired") && e.at("address") == json::value(serve.address);
  }
  EXPECT_TRUE(expired_event) << json::serialize(client.Events());

  // A heartbeat on the expired lease, or on a lease never given: NOT_FOUND (404), register again.
  Status st = client.Heartbeat(lease);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st;
  EXPECT_NE(st.message().find("register again"), std::string::npos) << st;
  std::string r = HttpRequest(s.port, "POST", "/rpc/Registry.heartbeat", R"({"lease":"0123456789abcdef"})");
  EXPECT_EQ(StatusOf(r), 404) << r;
  EXPECT_NE(BodyOf(r).find("register again"), std::string::npos) << r;

  // Deregistration removes it at once (no polling), and the lease is gone.
  ASSERT_TRUE(client.Register("echo", serve.address, 1, 500, &lease).ok());
  ASSERT_TRUE(client.Instance("echo", serve.address).has_value());
  ASSERT_TRUE(client.Deregister(lease).ok());
  EXPECT_EQ(client.State("echo", serve.address), "absent");
  EXPECT_EQ(client.Deregister(lease).code(), StatusCode::kNotFound);
  EXPECT_EQ(client.Heartbeat(lease).code(), StatusCode::kNotFound);
}

// Registry.watch from a thread of its own; returns the answer and when it came.
struct WatchAnswer {
  CallResult result;
  Clock::time_point at;
};
std::future<WatchAnswer> WatchAsync(RegistryClient& client, const std::string& service, int64_t index,
                                    int64_t timeout_ms) {
  return std::async(std::launch::async, [&client, service, index, timeout_ms] {
    json::object p{{"service", service}, {"index", index}, {"timeout_ms", timeout_ms}};
    CallResult r = client.Call("Registry.watch", p, std::chrono::milliseconds(timeout_ms) + 3s);
    return WatchAnswer{std::move(r), Clock::now()};
  });
}

int64_t IndexOf(const json::value& v) { return v.at("index").to_number<int64_t>(); }

std::vector<std::string> AddressesOf(const json::value& snapshot) {
  std::vector<std::string> out;
  for (const json::value& i : snapshot.at("instances").as_array()) out.emplace_back(i.at("address").as_string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(SentinelRegistry, WatchAnswersStaleIndexAtOnceAndBlocksUntilTheNextChange) {
  const TempDir& dir = NewDir();
  // Probes never declare these made-up addresses down during the test: the
  // index moves only with the test's own changes.
  SentinelProcess s =
      Start({.data_dir = dir.path(), .down_after_ms = 600000, .probe_interval_ms = 1000, .lease_ttl_ms = 3600000});
  ASSERT_GT(s.port, 0);
  RegistryClient client(s.address);
  std::string lease;
  ASSERT_TRUE(client.Register("watched", "127.0.0.1:1", 1, 60000, &lease).ok());
  auto list = client.List();
  ASSERT_TRUE(list);
  const int64_t index = list->at("index").to_number<int64_t>();
  ASSERT_GT(index, 0);

  // A stale index (or none) is answered at once with the current state.
  for (int64_t known : {int64_t{0}, index - 1, int64_t{-1}}) {
    const auto start = Clock::now();
    json::object p{{"service", "watched"}, {"timeout_ms", 10000}};
    if (known >= 0) p["index"] = known;
    CallResult r = client.Call("Registry.watch", p, 15s);
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_LT(Since(start), 1000ms) << "a watch with a stale index waited";
    EXPECT_EQ(IndexOf(r.value), index);
    EXPECT_EQ(AddressesOf(r.value), std::vector<std::string>{"127.0.0.1:1"});
    EXPECT_EQ(r.value.at("service"), json::value("watched"));
    EXPECT_TRUE(r.value.as_object().contains("epoch"));
  }

  // The current index with no change: the watch blocks for its timeout.
  {
    const auto start = Clock::now();
    CallResult r =
        client.Call("Registry.watch", json::object{{"service", "watched"}, {"index", index}, {"timeout_ms", 400}}, 5s);
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_GE(Since(start), 390ms) << "the watch did not wait";
    EXPECT_LT(Since(start), 3000ms);
    EXPECT_EQ(IndexOf(r.value), index);
  }

  // The current index: the answer comes with the next change, promptly.
  RegistryClient writer(s.address);
  std::vector<int64_t> latencies_ms;
  int64_t known = index;
  for (int round = 0; round < 5; ++round) {
    std::future<WatchAnswer> watch = WatchAsync(client, "watched", known, 20000);
    // Wait until the sentinel holds the watch (one call in flight), so that
    // the change below really wakes a waiting watcher.
    ASSERT_TRUE(PollUntil([&] { return InFlight(s.port) == 1; }, 5s)) << "the watch never reached the sentinel";
    ASSERT_NE(watch.wait_for(0ms), std::future_status::ready) << "the watch answered without a change";
    const std::string address = "127.0.0.1:" + std::to_string(100 + round);
    const auto changed = Clock::now();
    std::string l;
    ASSERT_TRUE(writer.Register("watched", address, 1, 60000, &l).ok());
    ASSERT_EQ(watch.wait_for(5s), std::future_status::ready) << "the watch did not answer the change";
    WatchAnswer a = watch.get();
    ASSERT_TRUE(a.result.ok()) << a.result.status;
    latencies_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(a.at - changed).count());
    EXPECT_LT(a.at - changed, 1000ms) << "round " << round;
    EXPECT_GT(IndexOf(a.result.value), known);
    auto addresses = AddressesOf(a.result.value);
    EXPECT_TRUE(std::find(addresses.begin(), addresses.end(), address) != addresses.end()) << round;
    known = IndexOf(a.result.value);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::cout << "[ measure  ] watch latency from the start of Registry.register to the watch answer: median "
            << latencies_ms[latencies_ms.size() / 2] << " ms, max " << latencies_ms.back() << " ms\n";
}

TEST_F(SentinelRegistry, WatchDeliversChangesInOrder) {
  const TempDir& dir = NewDir();
  SentinelProcess s =
      Start({.data_dir = dir.path(), .down_after_ms = 600000, .probe_interval_ms = 1000, .lease_ttl_ms = 3600000});
  ASSERT_GT(s.port, 0);
  RegistryClient client(s.address);
  RegistryClient writer(s.address);
  constexpr int kCount = 12;
  std::vector<std::string> addresses;
  for (int i = 0; i < kCount; ++i) addresses.push_back("127.0.0.1:" + std::to_string(2000 + i));  // sorted

  // The writer registers every address in order, then deregisters them in order.
  std::atomic<bool> writer_failed{false};
  std::thread writer_thread([&] {
    std::vector<std::string> leases(kCount);
    for (int i = 0; i < kCount; ++i) {
      if (!writer.Register("ordered", addresses[i], 1, 60000, &leases[i]).ok()) writer_failed = true;
    }
    for (int i = 0; i < kCount; ++i) {
      if (!writer.Deregister(leases[i]).ok()) writer_failed = true;
    }
  });

  // Every snapshot the watcher sees must be a window [first, last) of the
  // order, both ends moving forward only, the index strictly increasing.
  int64_t known = 0;
  int first = 0, last = 0, snapshots = 0;
  bool saw_all = false;
  const auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    CallResult r =
        client.Call("Registry.watch", json::object{{"service", "ordered"}, {"index", known}, {"timeout_ms", 2000}}, 5s);
    ASSERT_TRUE(r.ok()) << r.status;
    const int64_t index = IndexOf(r.value);
    if (index == known) continue;  // timed out without a change
    ASSERT_GT(index, known) << "the index went backwards";
    known = index;
    ++snapshots;
    std::vector<std::string> seen = AddressesOf(r.value);
    if (!seen.empty()) {
      auto lo = std::find(addresses.begin(), addresses.end(), seen.front()) - addresses.begin();
      auto hi = lo + static_cast<long>(seen.size());
      ASSERT_LE(hi, kCount);
      ASSERT_TRUE(std::equal(seen.begin(), seen.end(), addresses.begin() + lo))
          << "a snapshot is not a window of the registration order";
      ASSERT_GE(lo, first) << "a deregistered instance came back";
      ASSERT_GE(hi, last) << "a registered instance vanished";
      first = static_cast<int>(lo);
      last = static_cast<int>(hi);
      if (last == kCount) saw_all = true;
    } else if (saw_all || last > 0) {
      first = last = kCount;  // all gone: the end
      break;
    }
  }
  writer_thread.join();
  EXPECT_FALSE(writer_failed.load());
  EXPECT_EQ(first, kCount) << "the watcher never saw the end";
  EXPECT_GE(snapshots, 2);
  std::cout << "[ measure  ] " << 2 * kCount << " changes seen through " << snapshots << " watch answers\n";
}

// The opinion of a sentinel on one instance (Sentinel.opinion).
json::object OpinionOf(RegistryClient& c, const std::string& service, const std::string& address) {
  CallResult r = c.Call("Sentinel.opinion", json::object{{"service", service}, {"address", address}});
  return r.ok() && r.value.is_object() ? r.value.as_object() : json::object{};
}

// `harpc status TARGET --json`: the line it printed and its exit code.
std::pair<std::string, std::optional<int>> RunStatusJson(const std::string& target) {
  Subprocess p;
  if (!Subprocess::Spawn({HARPC_BINARY, "status", target, "--json"}, &p, "/dev/null").ok()) return {"", -1};
  std::string line;
  p.ReadLine(20s, &line);
  return {line, p.Wait(10s)};
}

TEST_F(SentinelRegistry, SigkillAndRestartKeepsRegistryEpochAndIndex) {
  const TempDir& dir = NewDir();
  SentinelProcess s = Start({.data_dir = dir.path()});
  ASSERT_GT(s.port, 0);
  ServeProcess alive = StartServeOn(0);
  ASSERT_GT(alive.port, 0);
  RefusingPort dead;  // an instance that never answers: SDOWN, then ODOWN (group of one)

  auto client = std::make_unique<RegistryClient>(s.address);
  std::string alive_lease, dead_lease, other_lease;
  ASSERT_TRUE(client->Register("echo", alive.address, 7, 1000, &alive_lease, "alpha").ok());
  ASSERT_TRUE(client->Register("echo", dead.address(), 3, 600000, &dead_lease, "beta").ok());
  ASSERT_TRUE(client->Register("other", alive.address, 2, 600000, &other_lease).ok());
  // The live instance keeps heartbeating through the restarts.
  RegistryClient heartbeat_client(s.address);
  Heartbeater heartbeats({&heartbeat_client}, {alive_lease}, 150ms);

  ASSERT_TRUE(PollUntil([&] { return client->State("echo", dead.address()) == "odown"; }, 5s))
      << client->State("echo", dead.address());
  const int64_t epoch = client->Epoch();
  ASSERT_GE(epoch, 1);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("restart " + std::to_string(round + 1));
    // This sentinel holds the dead one SDOWN again (after a restart, its own view is rebuilt by probes).
    ASSERT_TRUE(
        PollUntil([&] { return OpinionOf(*client, "echo", dead.address())["sdown"] == json::value(true); }, 5s));
    auto before = client->List();
    ASSERT_TRUE(before);
    const int64_t index_before = before->at("index").to_number<int64_t>();

    RestartSentinel(s);
    ASSERT_GT(s.port, 0);
    client = std::make_unique<RegistryClient>(s.address);
    auto after = client->List();
    ASSERT_TRUE(after);
    EXPECT_GE(after->at("index").to_number<int64_t>(), index_before) << "the index went backwards";
    EXPECT_EQ(after->at("epoch").to_number<int64_t>(), epoch);

    auto a = client->Instance("echo", alive.address);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->at("weight").to_number<int64_t>(), 7);
    EXPECT_EQ(a->at("name"), json::value("alpha"));
    EXPECT_EQ(a->at("state"), json::value("up"));
    auto d = client->Instance("echo", dead.address());
    ASSERT_TRUE(d);
    EXPECT_EQ(d->at("weight").to_number<int64_t>(), 3);
    EXPECT_EQ(d->at("name"), json::value("beta"));
    EXPECT_EQ(d->at("state"), json::value("odown"));
    EXPECT_EQ(d->at("epoch").to_number<int64_t>(), epoch);
    auto o = client->Instance("other", alive.address);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->at("weight").to_number<int64_t>(), 2);

    // The live instance kept heartbeating its restored lease: still there, still up,
    // for longer than its 1 s TTL.
    EXPECT_TRUE(HoldsFor([&] { return client->State("echo", alive.address) == "up"; }, 1500ms))
        << client->State("echo", alive.address);
    EXPECT_TRUE(heartbeat_client.Heartbeat(alive_lease).ok());
  }

  // `harpc status --json` (docs/cli.md).
  auto [line, code] = RunStatusJson("sentinel://" + s.address);
  ASSERT_EQ(code, 0) << line;
  json::value status = ParseJson(line);
  ASSERT_TRUE(status.is_object()) << line;
  ASSERT_EQ(status.as_object().size(), 1u) << "only \"services\" at the top: " << line;
  const json::object& services = status.at("services").as_object();
  ASSERT_EQ(services.size(), 2u) << line;
  ASSERT_EQ(services.at("echo").as_array().size(), 2u) << line;
  ASSERT_EQ(services.at("other").as_array().size(), 1u) << line;
  for (const auto& [name, instances] : services) {
    for (const json::value& v : instances.as_array()) {
      ASSERT_TRUE(v.is_object()) << line;
      const json::object& i = v.as_object();
      for (const char* key : {"address", "name", "state"}) {
        ASSERT_TRUE(i.contains(key) && i.at(key).is_string()) << key << " in " << line;
      }
      for (const char* key : {"weight", "epoch", "last_heartbeat_ms"}) {
        ASSERT_TRUE(i.contains(key) && i.at(key).is_int64()) << key << " in " << line;
      }
      const std::set<std::string> states{"up", "sdown", "odown", "draining"};
      EXPECT_TRUE(states.contains(std::string(i.at("state").as_string()))) << line;
      EXPECT_GT(i.at("last_heartbeat_ms").as_int64(), 1600000000000) << "wall-clock milliseconds: " << line;
    }
  }
  const json::array& echo = services.at("echo").as_array();
  auto find = [&](const std::string& address) -> const json::object* {
    for (const json::value& v : echo) {
      if (v.at("address") == json::value(address)) return &v.as_object();
    }
    return nullptr;
  };
  ASSERT_TRUE(find(alive.address) && find(dead.address())) << line;
  EXPECT_EQ(find(alive.address)->at("state"), json::value("up"));
  EXPECT_EQ(find(alive.address)->at("weight"), json::value(7));
  EXPECT_EQ(find(dead.address())->at("state"), json::value("odown"));
  EXPECT_EQ(find(dead.address())->at("epoch"), json::value(epoch));
}

// A server shutting down gracefully answers its probes 503 NOT_SERVING while
// its calls drain: the sentinel lists it as "draining" (which clients skip).
TEST_F(SentinelRegistry, AGracefulShutdownIsListedAsDraining) {
  const TempDir& dir = NewDir();
  SentinelProcess s = Start({.data_dir = dir.path()});
  ASSERT_GT(s.port, 0);
  ServeProcess serve = testing::StartServe({"--threads", "1", "--delay-ms", "3000", "--grace-ms", "5000"});
  ASSERT_GT(serve.port, 0);
  RegistryClient client(s.address);
  std::string lease;
  ASSERT_TRUE(client.Register("echo", serve.address, 1, 60000, &lease).ok());
  ASSERT_TRUE(PollUntil([&] { return client.State("echo", serve.address) == "up"; }, 3s));

  // One call in flight (it takes 3 s), then SIGTERM: the server drains it.
  testing::RawSocket call(serve.port);
  ASSERT_TRUE(call.Send("POST /rpc/Echo.echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"));
  ASSERT_TRUE(PollUntil(
      [&] {
        RegistryClient direct(serve.address);
        return direct.Call("Echo.echo", json::object{}, 100ms).status.code() == StatusCode::kDeadlineExceeded;
      },
      3s))
      << "the server is not busy with the slow call";
  serve.process.Signal(SIGTERM);
  EXPECT_TRUE(PollUntil([&] { return client.State("echo", serve.address) == "draining"; }, 2500ms))
      << "state " << client.State("echo", serve.address);
}

// Sentinel.decide's params listing `n` changes (of instances 127.0.0.1:1..n).
std::string DecideListing(int n) {
  json::array instances;
  for (int i = 1; i <= n; ++i) {
    instances.push_back({{"service", "echo"}, {"address", "127.0.0.1:" + std::to_string(i)}, {"odown", true}});
  }
  return json::serialize(json::object{{"epoch", 1}, {"leader", "127.0.0.1:9"}, {"instances", std::move(instances)}});
}

TEST_F(SentinelRegistry, MalformedRequestsGetClearErrors) {
  const TempDir& dir = NewDir();
  SentinelProcess s =
      Start({.data_dir = dir.path(), .down_after_ms = 600000, .probe_interval_ms = 1000, .lease_ttl_ms = 3600000});
  ASSERT_GT(s.port, 0);

  struct Case {
    std::string method, body, mentions;
  };
  const std::vector<Case> cases = {
      {"Registry.register", R"({"address":"127.0.0.1:1"})", "service"},
      {"Registry.register", R"({"service":"echo"})", "address"},
      {"Registry.register", R"({"service":"","address":"127.0.0.1:1"})", "service"},
      {"Registry.register", R"({"service":"echo","address":""})", "address"},
      {"Registry.register", R"({"service":5,"address":"127.0.0.1:1"})", "service"},
      {"Registry.register", R"({"service":")" + std::string(256, 's') + R"(","address":"127.0.0.1:1"})", "255 bytes"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","name":")" + std::string(256, 'n') + R"("})",
       "name"},
      {"Registry.register",
       R"({"service":"echo","address":"127.0.0.1:1","metadata":{"x":")" + std::string(5000, 'm') + R"("}})",
       "metadata"},
      {"Registry.register", R"({"service":"echo","address":["127.0.0.1:1"]})", "address"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","weight":0})", "weight"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","weight":-3})", "weight"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","weight":"5"})", "weight"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","weight":2.5})", "weight"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","weight":1000000000000})", "weight"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","ttl_ms":5})", "ttl_ms"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","ttl_ms":-1})", "ttl_ms"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","ttl_ms":"1000"})", "ttl_ms"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","ttl_ms":99999999999})", "ttl_ms"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","name":7})", "name"},
      {"Registry.register", R"({"service":"echo","address":"127.0.0.1:1","metadata":"x"})", "metadata"},
      {"Registry.register", R"(["echo","127.0.0.1:1"])", "object"},
      {"Registry.register", R"("echo")", "object"},
      {"Registry.register", R"(42)", "object"},
      {"Registry.register", "", "object"},
      {"Registry.register", R"({"service":"echo",)", "JSON"},
      {"Registry.register", "garbage", "JSON"},
      {"Registry.heartbeat", R"({})", "lease"},
      {"Registry.heartbeat", R"({"lease":5})", "lease"},
      {"Registry.heartbeat", R"(null)", "object"},
      {"Registry.deregister", R"({"lease":true})", "lease"},
      {"Registry.watch", R"({})", "service"},
      {"Registry.watch", R"({"service":"echo","index":"3"})", "index"},
      {"Registry.watch", R"({"service":"echo","timeout_ms":"3"})", "timeout_ms"},
      {"Sentinel.opinion", R"({"address":"127.0.0.1:1"})", "service"},
      {"Sentinel.vote", R"({"epoch":"1","candidate":"127.0.0.1:9"})", "epoch"},
      {"Sentinel.vote", R"({"epoch":1.5,"candidate":"127.0.0.1:9"})", "epoch"},
      {"Sentinel.vote", R"({"epoch":0,"candidate":"127.0.0.1:9"})", "epoch"},
      {"Sentinel.vote", R"({"epoch":-4,"candidate":"127.0.0.1:9"})", "epoch"},
      {"Sentinel.vote", R"({"candidate":"127.0.0.1:9"})", "epoch"},
      {"Sentinel.vote", R"({"epoch":1,"candidate":9})", "candidate"},
      {"Sentinel.vote", R"({"epoch":1})", "candidate"},
      {"Sentinel.vote", R"([1,"127.0.0.1:9"])", "object"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","odown":"yes","epoch":1})", "odown"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","epoch":1})", "odown"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","odown":true,"epoch":"1"})", "epoch"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","odown":true})", "epoch"},
      {"Sentinel.decide", R"({"address":"127.0.0.1:1","odown":true,"epoch":1})", "service"},
      {"Sentinel.decide", R"({"service":"echo","address":5,"odown":true,"epoch":1})", "address"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","odown":true,"epoch":1,"leader":3})", "leader"},
      {"Sentinel.decide", R"({"service":"echo","address":"127.0.0.1:1","odown":true,"epoch":1})", "leader"},
      {"Sentinel.voted", R"({"epoch":"1"})", "epoch"},
      {"Sentinel.voted", R"({})", "epoch"},
      {"Sentinel.decide", R"("decide")", "object"},
      // A decision that lists its changes.
      {"Sentinel.decide", R"({"epoch":1,"leader":"127.0.0.1:9","instances":[]})", "instances"},
      {"Sentinel.decide", R"({"epoch":1,"leader":"127.0.0.1:9","instances":{"service":"echo"}})", "instances"},
      {"Sentinel.decide", R"({"epoch":1,"leader":"127.0.0.1:9","instances":[5]})",
       "\"instances\"[0] must be an object"},
      {"Sentinel.decide",
       R"({"epoch":1,"leader":"127.0.0.1:9","instances":[{"service":"echo","address":"127.0.0.1:1","odown":true},)"
       R"({"service":"echo","address":"127.0.0.1:2","odown":"yes"}]})",
       "\"instances\"[1]: \"odown\""},
      {"Sentinel.decide", R"({"epoch":1,"leader":"127.0.0.1:9","instances":[{"address":"127.0.0.1:1","odown":true}]})",
       "\"instances\"[0]: missing \"service\""},
      {"Sentinel.decide",
       R"({"leader":"127.0.0.1:9","instances":[{"service":"echo","address":"127.0.0.1:1","odown":true}]})", "epoch"},
      {"Sentinel.decide", DecideListing(1001), "more than 1000"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.body);
    ErrorAnswer a = PostRaw(s.port, c.method, c.body);
    EXPECT_EQ(a.http, 400) << a.raw;
    EXPECT_NE(a.code, 0) << "no {\"error\":{\"code\"}}: " << a.raw;
    EXPECT_NE(a.message.find(c.mentions), std::string::npos)
        << "the message does not name '" << c.mentions << "': " << a.raw;
  }
  // Invalid params are -32602 (the JSON-RPC code for INVALID_ARGUMENT), unparsable bodies -32700.
  EXPECT_EQ(PostRaw(s.port, "Registry.register", R"({"service":"echo"})").code, -32602);
  EXPECT_EQ(PostRaw(s.port, "Registry.register", "garbage").code, -32700);
  // A number beyond the double range would be stored as infinity and listed
  // as "Infinity" (not JSON), making the service unreadable for everyone.
  ErrorAnswer infinite = PostRaw(s.port, "Registry.register",
                                 R"({"service":"echo","address":"127.0.0.1:1","ttl_ms":1000,"metadata":{"x":1e400}})");
  EXPECT_EQ(infinite.http, 400) << infinite.raw;
  EXPECT_EQ(infinite.code, -32700) << infinite.raw;
  EXPECT_NE(infinite.message.find("out of range"), std::string::npos) << infinite.raw;

  // Nothing bad got in, no epoch moved, and the sentinel still serves.
  RegistryClient client(s.address);
  auto list = client.List();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->at("services").as_object().empty()) << json::serialize(*list);
  EXPECT_EQ(list->at("epoch").to_number<int64_t>(), 0);
  std::string lease;
  EXPECT_TRUE(client.Register("echo", "127.0.0.1:1", 5, 1000, &lease).ok());
}

// A sentinel of the group registered as an instance would have the group
// probe, and vote on, itself: refused, for its own address and its peers'.
TEST_F(SentinelRegistry, TheGroupsOwnAddressesAreNoInstances) {
  const TempDir& dir = NewDir();
  const std::string peer = "127.0.0.1:" + std::to_string(testing::FreePort());
  SentinelProcess s = Start({.data_dir = dir.path(),
                             .peers = {peer},
                             .down_after_ms = 600000,
                             .probe_interval_ms = 1000,
                             .lease_ttl_ms = 3600000});
  ASSERT_GT(s.port, 0);
  for (const std::string& address : {s.address, peer}) {
    ErrorAnswer a =
        PostRaw(s.port, "Registry.register", R"({"service":"echo","address":")" + address + R"(","ttl_ms":5000})");
    EXPECT_EQ(a.http, 400) << a.raw;
    EXPECT_NE(a.message.find("is a sentinel of this group"), std::string::npos) << a.raw;
  }
  RegistryClient client(s.address);
  auto list = client.List();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->at("services").as_object().empty()) << json::serialize(*list);
  std::string lease;
  EXPECT_TRUE(client.Register("echo", "127.0.0.1:1", 5, 1000, &lease).ok()) << "other addresses still register";
}

// Names come from whoever registers: `harpc status` must not pass their
// escape sequences or CR/LF to the terminal (a recoloured screen, forged rows).
TEST_F(SentinelRegistry, StatusPrintsControlCharactersOfNamesEscaped) {
  const TempDir& dir = NewDir();
  SentinelProcess s =
      Start({.data_dir = dir.path(), .down_after_ms = 600000, .probe_interval_ms = 1000, .lease_ttl_ms = 3600000});
  ASSERT_GT(s.port, 0);
  const std::string body =
      R"({"service":"echo","address":"127.0.0.1:1","name":"evil\u001b[31m\r\necho 127.0.0.1:2 fake up","ttl_ms":5000})";
  ErrorAnswer registered = PostRaw(s.port, "Registry.register", body);
  ASSERT_EQ(registered.http, 200) << registered.raw;

  harpc::testing::CliRun run = harpc::testing::RunHarpc({"status", "sentinel://" + s.address});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string out = run.Stdout();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "a raw ESC reached the terminal";
  EXPECT_EQ(out.find('\r'), std::string::npos) << "a raw CR reached the terminal";
  EXPECT_NE(out.find("evil\\x1b[31m\\x0d\\x0aecho"), std::string::npos) << out;
  EXPECT_EQ(run.out.size(), 3u) << "epoch line, header, one instance row:\n" << out;
}

}  // namespace
}  // namespace harpc::sentineltest
