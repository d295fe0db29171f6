// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// etcd as production runs it, against real etcd 3.4 processes: a cluster of
// three members whose member in use dies (kill -9) or hangs (SIGSTOP) while
// servers stay registered and channels keep resolving; https with etcd's own
// CA; users and passwords; and the message when no member can be reached.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "apps/test_pki.h"
#include "etcd/etcd_support.h"
#include "harpc/channel.h"
#include "support/test_support.h"

namespace harpc::etcdtest {
namespace {

namespace json = boost::json;
using testing::CliRun;
using testing::HoldsFor;
using testing::PollUntil;
using testing::RunHarpc;
using testing::ServeProcess;
using testing::StartServe;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Key(const std::string& address) { return "/harpc/services/echo/" + address; }

// The lease `member` holds `key` under; 0 when the key is absent or the member does not answer.
int64_t LeaseOf(const EtcdServer& member, const std::string& key) {
  std::optional<std::string> value;
  int64_t lease = 0;
  return member.Get(key, &value, &lease) && value ? lease : 0;
}

// `harpc serve` registered with a 3 s lease on `members` ("etcd://H:P,...").
ServeProcess StartRegistered(const std::string& members, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"--threads",  "1",     "--grace-ms",     "200",
                                   "--register", members, "--lease-ttl-ms", "3000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartServe(args);
}

class EtcdClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(EtcdBinary().empty()) << "etcd is not installed: run scripts/setup";
    Status s = cluster_.Start(3);
    ASSERT_TRUE(s.ok()) << s;
  }
  std::string Spec() const { return "etcd://" + cluster_.Endpoints(); }

  // A server registered on the cluster, its key stored (on lease *lease, as
  // member 1 sees it) and listed by channel_, which watches the cluster.
  ServeProcess RegisteredAndWatched(int64_t* lease) {
    ServeProcess server = StartRegistered(Spec());
    EXPECT_FALSE(server.address.empty());
    EXPECT_TRUE(
        PollUntil([&] { return (*lease = LeaseOf(cluster_.member(1), Key(server.address))) != 0; }, seconds(5)));
    channel_ = std::make_unique<Channel>(Spec() + "/echo");
    EXPECT_TRUE(channel_->status().ok()) << channel_->status();
    EXPECT_TRUE(PollUntil([&] { return Knows(*channel_, server.address); }, seconds(5)));
    return server;
  }

  EtcdCluster cluster_;
  std::unique_ptr<Channel> channel_;
};

// Member 0, listed first, is the one both the registrar and the channel use.
TEST_F(EtcdClusterTest, RegistrationAndResolutionSurviveTheMemberInUseBeingKilled) {
  int64_t lease = 0;
  ServeProcess a = RegisteredAndWatched(&lease);
  ASSERT_FALSE(HasFailure());
  Channel& channel = *channel_;
  const EtcdServer& survivor = cluster_.member(1);

  cluster_.member(0).Kill();  // kill -9
  const auto killed = Clock::now();
  // A server registering now starts on the dead member and moves on; the
  // channel's watch broke and resumes on another member.
  ServeProcess b = StartRegistered(Spec());
  ASSERT_FALSE(b.address.empty());
  EXPECT_TRUE(PollUntil([&] { return Knows(channel, b.address); }, seconds(10)))
      << "the channel did not learn of a server registered after the member died";
  std::printf("[ etcd     ] new registration seen %lld ms after member 0 was killed\n",
              static_cast<long long>(testing::Since(killed).count()));
  EXPECT_EQ(AnsweringEndpoints(channel, 2, seconds(5)), (std::set<std::string>{a.address, b.address}));

  // The lease is the cluster's: keepalives through the others keep it, so
  // the key stays on the same lease well past its 3 s TTL.
  EXPECT_TRUE(HoldsFor([&] { return LeaseOf(survivor, Key(a.address)) == lease; }, milliseconds(4000)))
      << "the registration of the server registered before the kill lapsed or changed lease";
  EXPECT_TRUE(Knows(channel, a.address));
}

// A hung member accepts connections and answers nothing: the watch's probe
// and the registrar's per-member timeout leave it within a few seconds.
TEST_F(EtcdClusterTest, AStoppedMemberIsLeftWithinADeadline) {
  int64_t lease = 0;
  ServeProcess a = RegisteredAndWatched(&lease);
  ServeProcess c = StartServe({"--threads", "1"});  // its key is put by the test
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(c.address.empty());
  Channel& channel = *channel_;
  const EtcdServer& other = cluster_.member(1);

  cluster_.member(0).Signal(SIGSTOP);
  const auto stopped = Clock::now();
  // Committed by the two others (after an election when member 0 led).
  ASSERT_TRUE(
      PollUntil([&] { return other.Put(Key(c.address), R"({"address":")" + c.address + R"("})"); }, seconds(15)))
      << "the two other members did not take a write";
  const auto committed = Clock::now();
  const bool seen = PollUntil([&] { return Knows(channel, c.address); }, seconds(10));
  // The channel leaves member 0 about 3 s after it stopped (a probe every 2 s,
  // 1 s to answer), then ranges on the next member: it sees the change soon
  // after both the commit and that. The bound has room for a loaded machine
  // (twice the plan); a channel stuck on the stopped member never sees it.
  EXPECT_TRUE(seen) << "the channel still watches the stopped member";
  const auto seen_after = testing::Since(stopped);
  const auto after_commit = testing::Since(committed);
  EXPECT_LT(
      seen_after.count(),
      testing::Scaled(milliseconds(std::max<long long>(6500, (committed - stopped) / milliseconds(1) + 3000))).count());
  std::printf("[ etcd     ] member 0 stopped: the change was committed after %lld ms, in the channel after %lld ms\n",
              static_cast<long long>((committed - stopped) / milliseconds(1)),
              static_cast<long long>(seen_after.count()));
  RecordProperty("stopped_member_left_ms", static_cast<int>(seen_after.count()));
  RecordProperty("seen_after_commit_ms", static_cast<int>(after_commit.count()));
  EXPECT_TRUE(HoldsFor([&] { return LeaseOf(other, Key(a.address)) == lease; }, milliseconds(3500)))
      << "the registration lapsed while member 0 was stopped";
  CallResult r = channel.Call("Echo.echo", json::parse("{}"));
  EXPECT_TRUE(r.ok()) << r.status;
  cluster_.member(0).Signal(SIGCONT);
}

// No member answers: the call says which were tried and why, instead of
// "no endpoint known yet".
TEST(EtcdUnreachableTest, CallNamesEveryMemberAndTheReason) {
  const std::string one = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string two = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string target = "etcd://" + one + "," + two + "/echo";
  CliRun run = RunHarpc({"call", target, "Echo.echo", "{}"});
  ASSERT_TRUE(run.exit_code.has_value());
  EXPECT_EQ(*run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("etcd unreachable at " + one + ", " + two + ": connection refused"), std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("no endpoint known yet"), std::string::npos) << run.err;

  Channel channel(target);
  CallResult r = channel.Call("Echo.echo", json::parse("{}"));
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_EQ(r.status.message(), "etcd unreachable at " + one + ", " + two + ": connection refused");
}

// https with etcd's own CA (--etcd-ca) while the harpc servers speak plain
// HTTP, through a member list whose first member is down; a CA that did not
// sign etcd's certificate: the call says so.
TEST(EtcdHttpsTest, EtcdOwnCaAndAWrongOne) {
  HttpsEtcd https;
  Status started = https.Start();
  ASSERT_TRUE(started.ok()) << started;
  const TestPki& pki = https.pki();
  EtcdServer& etcd = https.etcd();
  const std::string closed = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string members = "etcd://" + closed + "," + etcd.host_port();

  ServeProcess a = StartRegistered(members, {"--etcd-ca", pki.ca_cert});
  ASSERT_FALSE(a.address.empty());
  ChannelOptions options;
  options.security.etcd.tls.ca_file = pki.ca_cert;
  Channel channel(members + "/echo", options);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  CallResult r = CallUntilAnswered(channel, json::parse(R"({"etcd":"https"})"), seconds(10));
  EXPECT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.endpoint, a.address);  // called over plain HTTP: only etcd speaks https

  CliRun good = RunHarpc({"call", members + "/echo", "Echo.echo", R"({"b":2})", "--etcd-ca", pki.ca_cert});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(good.Stdout(), "{\"b\":2}\n");

  CliRun wrong =
      RunHarpc({"call", "etcd://" + etcd.host_port() + "/echo", "Echo.echo", "{}", "--etcd-ca", pki.other_ca_cert});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  EXPECT_NE(wrong.err.find("etcd unreachable at " + etcd.host_port() + ": "), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("TLS certificate refused: unable to get local issuer certificate"), std::string::npos)
      << wrong.err;

  // Plain HTTP to an https member: refused too, and said so.
  CliRun plain = RunHarpc({"call", "etcd://" + etcd.host_port() + "/echo", "Echo.echo", "{}"});
  EXPECT_EQ(plain.exit_code, 1) << plain.err;
  EXPECT_NE(plain.err.find("etcd unreachable at " + etcd.host_port()), std::string::npos) << plain.err;
}

// An etcd that asks for client certificates: --etcd-cert and --etcd-key.
TEST(EtcdHttpsTest, ClientCertificateForAnEtcdThatAsksForOne) {
  HttpsEtcd https;
  Status started = https.Start(/*client_certificates=*/true);
  ASSERT_TRUE(started.ok()) << started;
  const TestPki& pki = https.pki();
  EtcdServer& etcd = https.etcd();
  const std::string spec = "etcd://" + etcd.host_port();
  ServeProcess a = StartRegistered(spec, {"--etcd-ca", pki.ca_cert, "--etcd-cert", pki.cert, "--etcd-key", pki.key});
  ASSERT_FALSE(a.address.empty());
  const std::vector<std::string> call = {"call",           spec + "/echo", "Echo.echo",
                                         R"({"m":"tls"})", "--etcd-ca",    pki.ca_cert};
  std::vector<std::string> with_certificate = call;
  with_certificate.insert(with_certificate.end(), {"--etcd-cert", pki.cert, "--etcd-key", pki.key});
  CliRun good;
  EXPECT_TRUE(PollUntil([&] { return (good = RunHarpc(with_certificate)).exit_code == 0; }, seconds(10))) << good.err;
  EXPECT_EQ(good.Stdout(), "{\"m\":\"tls\"}\n");

  CliRun without = RunHarpc(call);
  EXPECT_EQ(without.exit_code, 1) << without.err;
  EXPECT_NE(without.err.find("etcd unreachable at " + etcd.host_port()), std::string::npos) << without.err;

  CliRun key_only = RunHarpc({"call", spec + "/echo", "Echo.echo", "{}", "--etcd-key", pki.key});
  EXPECT_EQ(key_only.exit_code, 2) << key_only.err;
  EXPECT_NE(key_only.err.find("--etcd-key needs --etcd-cert"), std::string::npos) << key_only.err;
}

// An etcd with authentication on: the right password signs in (and signs in
// again once etcd forgot the token by restarting); a wrong one, or none, is
// a clear error.
TEST(EtcdAuthTest, UserAndPassword) {
  ASSERT_FALSE(EtcdBinary().empty()) << "etcd is not installed: run scripts/setup";
  testing::TempDir dir("harpc-etcd-auth");
  EtcdServer etcd;
  Status started = etcd.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(etcd.EnableAuth("s3cret-pw").ok());
  const std::string password_file = dir.path() + "/etcd.password";
  std::ofstream(password_file) << "s3cret-pw\n";
  const std::vector<std::string> credentials = {"--etcd-user", "root", "--etcd-password-file", password_file};
  const std::string spec = "etcd://" + etcd.host_port();

  ServeProcess a = StartRegistered(spec, credentials);
  ASSERT_FALSE(a.address.empty());
  ASSERT_TRUE(PollUntil([&] { return LeaseOf(etcd, Key(a.address)) != 0; }, seconds(5))) << etcd.LogTail();

  std::vector<std::string> call = {"call", spec + "/echo", "Echo.echo", R"({"c":3})"};
  std::vector<std::string> signed_in = call;
  signed_in.insert(signed_in.end(), credentials.begin(), credentials.end());
  CliRun good = RunHarpc(signed_in);
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(good.Stdout(), "{\"c\":3}\n");

  // The password from the environment; a wrong one.
  CliRun wrong = testing::RunProgram({"/usr/bin/env", "HARPC_ETCD_PASSWORD=not-it", HARPC_BINARY, "call",
                                      spec + "/echo", "Echo.echo", "{}", "--etcd-user", "root"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  EXPECT_NE(wrong.err.find("etcd " + etcd.host_port() + " user 'root' cannot sign in"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("authentication failed"), std::string::npos) << wrong.err;

  CliRun anonymous = RunHarpc(call);
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.err;
  EXPECT_NE(anonymous.err.find("etcd " + etcd.host_port() +
                               " /v3/kv/range: etcdserver: user name is empty (this "
                               "etcd wants a user: harpc --etcd-user)"),
            std::string::npos)
      << anonymous.err;

  CliRun no_password = RunHarpc({"call", spec + "/echo", "Echo.echo", "{}", "--etcd-user", "root"});
  EXPECT_EQ(no_password.exit_code, 2) << no_password.err;
  EXPECT_NE(no_password.err.find("--etcd-user needs a password"), std::string::npos) << no_password.err;

  // etcd restarted forgets its tokens: the registrar and a running channel sign in again.
  ChannelOptions options;
  options.security.etcd.user = "root";
  options.security.etcd.password = "s3cret-pw";
  Channel channel(spec + "/echo", options);
  ASSERT_TRUE(PollUntil([&] { return Knows(channel, a.address); }, seconds(5)));
  Status restarted = etcd.Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ServeProcess b = StartRegistered(spec, credentials);
  ASSERT_FALSE(b.address.empty());
  EXPECT_TRUE(PollUntil([&] { return Knows(channel, b.address); }, seconds(10)));
  EXPECT_TRUE(Knows(channel, a.address));
  CallResult r = channel.Call("Echo.echo", json::parse("{}"));
  EXPECT_TRUE(r.ok()) << r.status;
}

}  // namespace
}  // namespace harpc::etcdtest
