// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Failover over mutual TLS: the same guarantees as in plaintext (a SIGKILLed
// or SIGSTOPped server costs no call), with every connection, health probes
// included, authenticated both ways.
#include <csignal>

#include <gtest/gtest.h>

#include "apps/test_pki.h"
#include "ha_support.h"
#include "support/test_support.h"

namespace harpc::hatest {
namespace {

using namespace std::chrono_literals;

class TlsFailover : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeTestPki(dir_.path(), &pki_).ok()); }

  std::vector<std::string> ServerFlags() const {
    return {"--tls-cert", pki_.cert, "--tls-key", pki_.key, "--tls-client-ca", pki_.ca_cert};
  }
  ChannelOptions Options() const {
    ChannelOptions o = FastOptions();
    o.idempotent_methods = {"Echo.echo"};
    o.security.tls = {.cert_file = pki_.cert, .key_file = pki_.key, .ca_file = pki_.ca_cert};
    return o;
  }

  testing::TempDir dir_{"harpc-tls-ha"};
  TestPki pki_;
};

TEST_F(TlsFailover, SigkillOneOfThreeUnderLoadLosesNoCall) {
  std::vector<ServeProcess> s;
  s.reserve(3);
  for (int i = 0; i < 3; ++i) s.push_back(StartServer(ServerFlags()));
  for (const auto& p : s) ASSERT_NE(p.port, 0);
  Channel channel(ListTarget(s), Options());
  ASSERT_TRUE(channel.status().ok()) << channel.status();

  Load load(channel, {});
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const auto& e : channel.Endpoints()) {
          if (e.successes < 20 || e.state != "healthy") return false;
        }
        return true;
      },
      20s))
      << Describe(channel);

  const std::string victim = s[1].address;
  s[1].process.Signal(SIGKILL);
  ASSERT_TRUE(s[1].process.Wait(5s).has_value());
  ASSERT_TRUE(PollUntil([&] { return StateOf(channel, victim) != "healthy"; }, 10s)) << Describe(channel);
  ASSERT_TRUE(load.WaitForMore(500, 60s)) << Describe(channel);
  load.Stop();
  EXPECT_EQ(load.failed(), 0u) << load.FailureSummary() << Describe(channel);

  // The survivors stayed healthy: their heartbeats pass the TLS handshake too.
  for (int i : {0, 2}) EXPECT_EQ(StateOf(channel, s[i].address), "healthy") << Describe(channel);
}

TEST_F(TlsFailover, AChannelWithoutAClientCertificateGetsNoAnswer) {
  ServeProcess server = StartServer(ServerFlags());
  ASSERT_NE(server.port, 0);
  ChannelOptions o = Options();
  o.security.tls.cert_file.clear();
  o.security.tls.key_file.clear();
  Channel channel(server.address, o);
  CallResult r = channel.Call("Echo.echo", boost::json::value{{"a", 1}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
}

}  // namespace
}  // namespace harpc::hatest
