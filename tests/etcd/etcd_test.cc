// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// etcd naming against a real etcd 3.4: the registrar (in-process and through
// `harpc serve --register etcd://H:P`) and channels on etcd://H:P/SERVICE.
// Clusters, https with etcd's own CA, users: etcd_cluster_test.cc.
#include <signal.h>  // kill (POSIX)

#include <algorithm>
#include <cstdio>
#include <future>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "apps/test_pki.h"
#include "etcd/etcd_support.h"
#include "harpc/channel.h"
#include "naming/etcd.h"
#include "naming/registrar.h"
#include "naming/resolver.h"
#include "support/test_support.h"

namespace harpc::etcdtest {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using testing::HoldsFor;
using testing::PollUntil;
using testing::ServeProcess;
using testing::StartServe;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(EtcdBinary().empty())
        << "etcd is not installed: run scripts/setup (it installs Debian's etcd-server package)";
    Status s = etcd_.Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string Spec() const { return "etcd://" + etcd_.host_port(); }
  std::string Target(std::string_view service = "echo") const {
    return "etcd://" + etcd_.host_port() + "/" + std::string(service);
  }

  bool HasKey(const std::string& key, int64_t* lease = nullptr) const {
    std::optional<std::string> value;
    return etcd_.Get(key, &value, lease) && value.has_value();
  }
  bool KeyGone(const std::string& key) const {
    std::optional<std::string> value;
    return etcd_.Get(key, &value) && !value.has_value();
  }

  // `harpc serve` registered in this etcd with a 2 s lease.
  ServeProcess StartRegistered(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--threads",  "1",    "--grace-ms",     "200",
                                     "--register", Spec(), "--lease-ttl-ms", "2000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return StartServe(args);
  }

  EtcdServer etcd_;
};

std::set<std::string> Addresses(const Channel& channel) {
  std::set<std::string> out;
  for (const EndpointInfo& e : channel.Endpoints()) out.insert(e.address);
  return out;
}

// Milliseconds until `condition` holds, polling every millisecond; -1 after `timeout`.
double MeasureMs(const std::function<bool()>& condition, milliseconds timeout) {
  const auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    if (condition()) return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::this_thread::sleep_for(milliseconds(1));  // poll every 1 ms until the deadline: a finer PollUntil
  }
  return -1;
}

std::string Summary(std::vector<double> v) {
  if (v.empty()) return "none";
  std::sort(v.begin(), v.end());
  char buf[160];
  std::snprintf(buf, sizeof buf, "min %.1f ms, median %.1f ms, max %.1f ms (n=%zu)", v.front(), v[v.size() / 2],
                v.back(), v.size());
  return buf;
}

// An event loop of the test's own on one thread, as a server's loop.
class TestLoop {
 public:
  TestLoop() : thread_([this] { context_.run(); }) {}
  ~TestLoop() {
    work_.reset();
    context_.stop();
    thread_.join();
  }
  asio::any_io_executor executor() { return context_.get_executor(); }
  // Runs `awaitable` on the loop and waits for it.
  template <typename T>
  T Run(asio::awaitable<T> awaitable) {
    return asio::co_spawn(context_, std::move(awaitable), asio::use_future).get();
  }
  // Whether the loop runs a task posted now within `timeout` (it is not blocked).
  bool Responsive(milliseconds timeout) {
    auto ran = std::make_shared<std::promise<void>>();  // shared: the task may run after we gave up
    asio::post(context_, [ran] { ran->set_value(); });
    return ran->get_future().wait_for(timeout) == std::future_status::ready;
  }

 private:
  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(context_);
  std::thread thread_;
};

// A registrar started on a TestLoop, as `harpc serve` starts one on its
// server's loop; destroyed (no deregistration) before the loop.
struct LoopRegistrar {
  TestLoop loop;
  std::unique_ptr<Registrar> registrar;
  explicit LoopRegistrar(std::unique_ptr<Registrar> r) : registrar(std::move(r)) { registrar->Start(loop.executor()); }
  // What a server's graceful shutdown does.
  void Deregister() { loop.Run(registrar->Deregister()); }
};

Registration TestRegistration(std::string address) {
  Registration r;
  r.service = "echo";
  r.address = std::move(address);
  r.name = "a1";
  r.weight = 7;
  r.metadata["zone"] = "z1";
  r.ttl = milliseconds(2000);
  return r;
}

TEST(EtcdFactoryTest, RejectsBadArguments) {
  std::unique_ptr<Resolver> resolver;
  EXPECT_FALSE(MakeEtcdResolver("etcd://127.0.0.1:2379/a/b", {}, &resolver).ok());
  EXPECT_FALSE(MakeEtcdResolver("etcd://127.0.0.1/echo", {}, &resolver).ok());
  EXPECT_FALSE(MakeResolver("etcd://127.0.0.1:2379", {}, &resolver).ok());  // no service
  EXPECT_TRUE(MakeResolver("etcd://127.0.0.1:2379,127.0.0.1:2380/echo", {}, &resolver).ok());
  Status twice = MakeResolver("etcd://127.0.0.1:2379,127.0.0.1:2379/echo", {}, &resolver);
  EXPECT_EQ(twice.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(twice.message().find("etcd 127.0.0.1:2379 is listed twice"), std::string::npos) << twice;
  EXPECT_NE(twice.message().find("expected etcd://H:P[,H:P]/SERVICE"), std::string::npos) << twice;
  ClientSecurity password_only;
  password_only.etcd.password = "pw";
  EXPECT_FALSE(MakeResolver("etcd://127.0.0.1:2379/echo", password_only, &resolver).ok());
  std::unique_ptr<Registrar> registrar;
  EXPECT_FALSE(MakeEtcdRegistrar("etcd://127.0.0.1:2379", TestRegistration("nohost"), {}, &registrar).ok());
  EXPECT_TRUE(MakeEtcdRegistrar("etcd://127.0.0.1:2379", TestRegistration("127.0.0.1:1"), {}, &registrar).ok());
  EXPECT_TRUE(
      MakeRegistrar("etcd://127.0.0.1:2379,127.0.0.1:2380", TestRegistration("127.0.0.1:1"), {}, &registrar).ok());
  Status named = MakeRegistrar("etcd://127.0.0.1:2379/echo", TestRegistration("127.0.0.1:1"), {}, &registrar);
  EXPECT_NE(named.message().find("must not name a service"), std::string::npos) << named;
  EXPECT_EQ(EtcdInstanceKey("echo", "127.0.0.1:8001"), "/harpc/services/echo/127.0.0.1:8001");
}

TEST_F(EtcdTest, RegistrarPutsTheKeyWithALeaseAndKeepsItAlivePastThreeTtls) {
  std::unique_ptr<Registrar> made;
  ASSERT_TRUE(MakeRegistrar(Spec(), TestRegistration("127.0.0.1:45001"), {}, &made).ok());
  LoopRegistrar registrar(std::move(made));
  const std::string key = "/harpc/services/echo/127.0.0.1:45001";
  ASSERT_TRUE(PollUntil([&] { return HasKey(key); }, seconds(5))) << etcd_.LogTail();

  std::optional<std::string> value;
  int64_t lease = 0;
  ASSERT_TRUE(etcd_.Get(key, &value, &lease));
  ASSERT_TRUE(value.has_value());
  json::value doc = json::parse(*value);
  EXPECT_EQ(doc.at("address"), "127.0.0.1:45001");
  EXPECT_EQ(doc.at("name"), "a1");
  EXPECT_EQ(doc.at("weight"), 7);
  EXPECT_EQ(doc.at("metadata").at("zone"), "z1");
  ASSERT_NE(lease, 0);
  int64_t granted = 0;
  ASSERT_TRUE(etcd_.LeaseTtl(lease, &granted).has_value());
  EXPECT_EQ(granted, 2);  // ceil(2000 ms / 1 s)

  // 3 × TTL = 6 s: the key stays, on the same lease, which keepalives renew.
  EXPECT_TRUE(HoldsFor(
      [&] {
        int64_t now_lease = 0;
        return HasKey(key, &now_lease) && now_lease == lease;
      },
      milliseconds(6500)))
      << "the key vanished or changed lease within 3 × TTL";
  auto ttl = etcd_.LeaseTtl(lease);
  ASSERT_TRUE(ttl.has_value());
  EXPECT_GE(*ttl, 1);  // renewed within the last TTL/3
  registrar.Deregister();
}

TEST_F(EtcdTest, DeregisterRevokesTheLeaseAndTheKeyGoesAtOnce) {
  std::unique_ptr<Registrar> made;
  ASSERT_TRUE(MakeRegistrar(Spec(), TestRegistration("127.0.0.1:45002"), {}, &made).ok());
  LoopRegistrar registrar(std::move(made));
  const std::string key = "/harpc/services/echo/127.0.0.1:45002";
  int64_t lease = 0;
  ASSERT_TRUE(PollUntil([&] { return HasKey(key, &lease); }, seconds(5)));
  registrar.Deregister();
  EXPECT_TRUE(KeyGone(key));  // no waiting for the TTL
  EXPECT_EQ(etcd_.LeaseTtl(lease), -1);
  registrar.Deregister();  // idempotent
}

// A hard stop (no graceful shutdown) leaves the key to its lease.
TEST_F(EtcdTest, DestroyedWithoutDeregisterTheKeyGoesWithItsLease) {
  std::unique_ptr<Registrar> made;
  ASSERT_TRUE(MakeRegistrar(Spec(), TestRegistration("127.0.0.1:45005"), {}, &made).ok());
  const std::string key = "/harpc/services/echo/127.0.0.1:45005";
  {
    LoopRegistrar registrar(std::move(made));
    ASSERT_TRUE(PollUntil([&] { return HasKey(key); }, seconds(5)));
  }
  EXPECT_TRUE(HasKey(key)) << "revoked without a graceful shutdown";
  EXPECT_TRUE(PollUntil([&] { return KeyGone(key); }, seconds(5))) << "the lease (2 s) did not expire";
}

TEST_F(EtcdTest, RegistrarRegistersAgainWhenItsLeaseIsGone) {
  std::unique_ptr<Registrar> made;
  ASSERT_TRUE(MakeRegistrar(Spec(), TestRegistration("127.0.0.1:45003"), {}, &made).ok());
  LoopRegistrar registrar(std::move(made));
  const std::string key = "/harpc/services/echo/127.0.0.1:45003";
  int64_t lease = 0;
  ASSERT_TRUE(PollUntil([&] { return HasKey(key, &lease); }, seconds(5)));
  ASSERT_TRUE(etcd_.Revoke(lease));  // as if it had expired
  ASSERT_TRUE(KeyGone(key));
  int64_t again = 0;
  // The next keepalive (within TTL/3) finds the lease gone; a new grant and put follow.
  EXPECT_TRUE(PollUntil([&] { return HasKey(key, &again); }, seconds(4)));
  EXPECT_NE(again, lease);
  registrar.Deregister();
  EXPECT_TRUE(KeyGone(key));
}

TEST_F(EtcdTest, RegistrarWaitsForAnEtcdThatIsDown) {
  etcd_.Kill();
  std::unique_ptr<Registrar> made;
  ASSERT_TRUE(MakeRegistrar(Spec(), TestRegistration("127.0.0.1:45004"), {}, &made).ok());
  LoopRegistrar registrar(std::move(made));
  std::this_thread::sleep_for(milliseconds(1200));  // etcd stays down meanwhile: the behaviour under test
  Status s = etcd_.Restart();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(PollUntil([&] { return HasKey("/harpc/services/echo/127.0.0.1:45004"); }, seconds(5)));
  registrar.Deregister();
  EXPECT_TRUE(KeyGone("/harpc/services/echo/127.0.0.1:45004"));
}

TEST_F(EtcdTest, ServeKeyExpiresAfterTheTtlWhileTheProcessIsStopped) {
  ServeProcess server = StartRegistered();
  ASSERT_FALSE(server.address.empty());
  const std::string key = "/harpc/services/echo/" + server.address;
  int64_t lease = 0;
  ASSERT_TRUE(PollUntil([&] { return HasKey(key, &lease); }, seconds(5)));

  server.process.Signal(SIGSTOP);
  const auto stopped = Clock::now();
  // The last keepalive was at most TTL/3 ago: the key lives 1.3 to 2 s more
  // (plus etcd's expiry check), then goes.
  ASSERT_TRUE(PollUntil([&] { return KeyGone(key); }, seconds(8)));
  const auto gone_after = std::chrono::duration_cast<milliseconds>(Clock::now() - stopped);
  EXPECT_GE(gone_after.count(), 1000);
  std::printf("[ etcd     ] key of a SIGSTOPped server gone after %lld ms (TTL 2 s)\n",
              static_cast<long long>(gone_after.count()));
  RecordProperty("expired_after_ms", static_cast<int>(gone_after.count()));

  // Resumed, it finds its lease gone and registers again.
  server.process.Signal(SIGCONT);
  int64_t again = 0;
  EXPECT_TRUE(PollUntil([&] { return HasKey(key, &again); }, seconds(5)));
  EXPECT_NE(again, lease);

  // SIGTERM: a graceful stop deregisters.
  server.process.Signal(SIGTERM);
  ASSERT_TRUE(server.process.Wait(seconds(10)).has_value());
  EXPECT_TRUE(KeyGone(key));
}

TEST_F(EtcdTest, ChannelCallsRegisteredServersAndFollowsJoinsAndLeaves) {
  ServeProcess a = StartRegistered();
  ASSERT_FALSE(a.address.empty());
  ASSERT_TRUE(PollUntil([&] { return HasKey("/harpc/services/echo/" + a.address); }, seconds(5)));

  Channel channel(Target());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  // The first call waits for the resolver's first range.
  CallResult r = channel.Call("Echo.echo", json::parse(R"({"x":1})"));
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.endpoint, a.address);
  EXPECT_EQ(r.value, json::parse(R"({"x":1})"));
  EXPECT_TRUE(PollUntil([&] { return Addresses(channel) == std::set<std::string>{a.address}; }, seconds(5)))
      << Addresses(channel).size();

  // A new registration joins.
  ServeProcess b = StartRegistered();  // returns when it printed its address, before it registers
  ASSERT_FALSE(b.address.empty());
  const double join_ms = MeasureMs([&] { return Knows(channel, b.address); }, seconds(5));
  ASSERT_GE(join_ms, 0) << "the channel never listed " << b.address;
  std::printf("[ etcd     ] new server in the channel %.1f ms after it started listening\n", join_ms);
  EXPECT_EQ(AnsweringEndpoints(channel, 2, seconds(10)), (std::set<std::string>{a.address, b.address}));

  // A graceful stop deregisters: the channel drops it.
  b.process.Signal(SIGTERM);
  ASSERT_TRUE(b.process.Wait(seconds(10)).has_value());
  const double left_ms = MeasureMs([&] { return !Knows(channel, b.address); }, seconds(5));
  EXPECT_GE(left_ms, 0) << "the channel still lists " << b.address;
  std::printf("[ etcd     ] SIGTERMed server left the channel %.1f ms after it exited\n", left_ms);
  EXPECT_EQ(Addresses(channel), std::set<std::string>{a.address});
  for (int i = 0; i < 10; ++i) {
    CallResult c = channel.Call("Echo.echo", json::parse("{}"));
    EXPECT_TRUE(c.ok()) << c.status;
    EXPECT_EQ(c.endpoint, a.address);
  }
}

// etcd over TLS: a server registers through https, a channel with --tls-ca
// resolves through it and calls the servers over TLS too.
TEST(EtcdTlsTest, RegistrationAndResolutionOverTls) {
  HttpsEtcd https;
  Status started = https.Start();
  ASSERT_TRUE(started.ok()) << started;
  const TestPki& pki = https.pki();
  EtcdServer& etcd = https.etcd();
  ServeProcess a =
      StartServe({"--threads", "1", "--grace-ms", "200", "--register", "etcd://" + etcd.host_port(), "--lease-ttl-ms",
                  "2000", "--tls-cert", pki.cert, "--tls-key", pki.key, "--tls-ca", pki.ca_cert});
  ASSERT_FALSE(a.address.empty());

  ChannelOptions options;
  options.security.tls.ca_file = pki.ca_cert;
  Channel channel("etcd://" + etcd.host_port() + "/echo", options);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  CallResult r = CallUntilAnswered(channel, json::parse(R"({"over":"tls"})"), seconds(10));
  EXPECT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.endpoint, a.address);

  // Without the CA, etcd's certificate is refused: no membership, no call.
  ChannelOptions untrusting;
  untrusting.security.tls.ca_file = pki.other_ca_cert;
  untrusting.timeout = milliseconds(500);
  Channel refused("etcd://" + etcd.host_port() + "/echo", untrusting);
  EXPECT_FALSE(refused.Call("Echo.echo", json::parse("{}")).ok());
}

// A channel on a shared loop while etcd does not answer: its first range runs
// in the background, the loop serves other work meanwhile, and a call made
// before the first membership waits for it (within its deadline).
TEST_F(EtcdTest, ResolverDoesNotBlockTheLoopItStartsOn) {
  ServeProcess a = StartRegistered();
  ASSERT_FALSE(a.address.empty());
  ASSERT_TRUE(PollUntil([&] { return HasKey("/harpc/services/echo/" + a.address); }, seconds(5)));

  TestLoop loop;
  etcd_.Signal(SIGSTOP);  // connections are accepted, nothing answers
  ChannelOptions options;
  options.executor = loop.executor();
  const auto start = Clock::now();
  Channel channel(Target(), options);  // starts its resolver on the loop, and waits for that
  const auto made_in = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  const bool responsive = loop.Responsive(milliseconds(200));
  etcd_.Signal(SIGCONT);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  EXPECT_LT(made_in.count(), 200) << "making the channel blocked its loop";
  EXPECT_TRUE(responsive) << "the loop was blocked while etcd did not answer";
  std::printf("[ etcd     ] channel made on a shared loop in %lld ms while etcd was stopped\n",
              static_cast<long long>(made_in.count()));

  CallOptions call;
  call.timeout = seconds(5);
  CallResult r = channel.Call("Echo.echo", json::parse(R"({"z":3})"), call);
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.endpoint, a.address);
}

// No member answers, each for its own reason: the call's error lists them by reason.
TEST_F(EtcdTest, MembersThatFailDifferentlyAreListedByReason) {
  const std::string closed = "127.0.0.1:" + std::to_string(testing::FreePort());
  etcd_.Signal(SIGSTOP);  // connections are accepted, nothing answers
  Channel channel("etcd://" + closed + "," + etcd_.host_port() + "/echo");
  CallOptions call;
  call.timeout = testing::Scaled(milliseconds(3000));  // room for the stopped member's 2 s
  CallResult r = channel.Call("Echo.echo", json::parse("{}"), call);
  etcd_.Signal(SIGCONT);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_EQ(r.status.message(), "etcd unreachable at " + closed + ": connection refused; " + etcd_.host_port() +
                                    ": /v3/kv/range timed out");
}

TEST_F(EtcdTest, PropagationDelayFromEtcdToTheChannel) {
  ServeProcess a = StartRegistered();
  ServeProcess c = StartServe({"--threads", "1"});  // not registered: the test puts and deletes its key
  ASSERT_FALSE(a.address.empty());
  ASSERT_FALSE(c.address.empty());
  ASSERT_TRUE(PollUntil([&] { return HasKey("/harpc/services/echo/" + a.address); }, seconds(5)));
  Channel channel(Target());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, a.address); }, seconds(5)));

  const std::string key = "/harpc/services/echo/" + c.address;
  const std::string value = R"({"address":")" + c.address + R"(","name":"c","weight":3,"metadata":{}})";
  // Each delay runs from just before the put (delete) request is sent to the
  // first Endpoints() that shows it; the request's own round trip is included.
  auto since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  std::vector<double> joins, leaves, requests;
  for (int round = 0; round < 20; ++round) {
    auto start = Clock::now();
    ASSERT_TRUE(etcd_.Put(key, value));  // returns once etcd committed it
    requests.push_back(since(start));
    ASSERT_GE(MeasureMs([&] { return Knows(channel, c.address); }, seconds(5)), 0) << "round " << round;
    joins.push_back(since(start));
    start = Clock::now();
    ASSERT_TRUE(etcd_.Delete(key));
    requests.push_back(since(start));
    ASSERT_GE(MeasureMs([&] { return !Knows(channel, c.address); }, seconds(5)), 0) << "round " << round;
    leaves.push_back(since(start));
  }
  // The weight travels too.
  ASSERT_TRUE(etcd_.Put(key, value));
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, c.address); }, seconds(5)));
  for (const EndpointInfo& e : channel.Endpoints()) {
    if (e.address == c.address) {
      EXPECT_EQ(e.weight, 3);
    }
  }
  std::printf("[ etcd     ] put/delete request alone: %s\n", Summary(requests).c_str());
  std::printf("[ etcd     ] put -> Endpoints(): %s\n", Summary(joins).c_str());
  std::printf("[ etcd     ] delete -> Endpoints(): %s\n", Summary(leaves).c_str());
  std::sort(joins.begin(), joins.end());
  std::sort(leaves.begin(), leaves.end());
  RecordProperty("put_median_ms", static_cast<int>(joins[joins.size() / 2]));
  RecordProperty("delete_median_ms", static_cast<int>(leaves[leaves.size() / 2]));
  EXPECT_LT(joins[joins.size() / 2], 500);
  EXPECT_LT(leaves[leaves.size() / 2], 500);
}

TEST_F(EtcdTest, ChannelKeepsItsLastMembershipWhileEtcdIsDownAndFollowsItAgainAfter) {
  ServeProcess a = StartRegistered();
  ServeProcess b = StartRegistered();
  ASSERT_FALSE(a.address.empty());
  ASSERT_FALSE(b.address.empty());
  Channel channel(Target());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  ASSERT_TRUE(PollUntil([&] { return Addresses(channel).size() == 2; }, seconds(5)));

  etcd_.Kill();
  // The watch breaks and every range fails meanwhile: the membership must hold throughout.
  EXPECT_TRUE(HoldsFor(
      [&] {
        return Addresses(channel) == std::set<std::string>{a.address, b.address};
      },
      milliseconds(1500)));
  for (int i = 0; i < 10; ++i) {
    CallResult r = channel.Call("Echo.echo", json::parse("{}"));
    EXPECT_TRUE(r.ok()) << r.status;
  }
  // A channel made while etcd is down starts empty and fills in once etcd is back.
  Channel late(Target());
  ASSERT_TRUE(late.status().ok()) << late.status();
  EXPECT_TRUE(late.Endpoints().empty());

  // Back on the same data dir: the leases are still there (etcd renews them on
  // recovery), the channels range again and watch anew.
  Status s = etcd_.Restart();
  ASSERT_TRUE(s.ok()) << s;
  ServeProcess c = StartRegistered();
  ASSERT_FALSE(c.address.empty());
  const std::set<std::string> all = {a.address, b.address, c.address};
  EXPECT_TRUE(PollUntil([&] { return Addresses(channel) == all; }, seconds(10))) << Addresses(channel).size();
  EXPECT_TRUE(PollUntil([&] { return Addresses(late) == all; }, seconds(10))) << Addresses(late).size();
  CallResult r = late.Call("Echo.echo", json::parse("{}"));
  EXPECT_TRUE(r.ok()) << r.status;
}

}  // namespace
}  // namespace harpc::etcdtest
