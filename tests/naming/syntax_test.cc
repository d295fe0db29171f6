// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// MakeResolver / MakeRegistrar syntax, the sentinel answer filter, and what a
// channel does before its resolver produced a membership.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "naming/registrar.h"
#include "naming/resolver.h"
#include "naming/sentinel_resolver.h"
#include "naming_support.h"

namespace harpc::namingtest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Status Resolve(std::string_view target) {
  std::unique_ptr<Resolver> r;
  return MakeResolver(target, {}, &r);
}

Status MakeReg(std::string_view spec) {
  std::unique_ptr<Registrar> r;
  Registration reg{.service = "echo", .address = "127.0.0.1:8001"};
  return MakeRegistrar(spec, std::move(reg), {}, &r);
}

TEST(NamingResolverSyntax, SentinelTargets) {
  EXPECT_TRUE(Resolve("sentinel://127.0.0.1:26379/echo").ok());
  EXPECT_TRUE(Resolve("sentinel://127.0.0.1:26379,localhost:26380/echo").ok());
  EXPECT_TRUE(Resolve("sentinel://[::1]:26379/echo").ok());

  struct Bad {
    const char* target;
    const char* says;
  };
  for (const Bad& b :
       {Bad{"sentinel://", "names no service"}, Bad{"sentinel://127.0.0.1:26379", "names no service"},
        Bad{"sentinel://127.0.0.1:26379/", "names no service"}, Bad{"sentinel:///echo", "no sentinel address"},
        Bad{"sentinel://127.0.0.1/echo", "no port"}, Bad{"sentinel://127.0.0.1:0/echo", "port 0"},
        Bad{"sentinel://127.0.0.1:99999/echo", "port must be"},
        Bad{"sentinel://127.0.0.1:1,/echo", "empty sentinel address"},
        Bad{"sentinel://127.0.0.1:1,127.0.0.1:1/echo", "listed twice"},
        Bad{"sentinel://127.0.0.1:1/echo/x", "bad service name"}}) {
    Status s = Resolve(b.target);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << b.target;
    EXPECT_THAT(s.message(), HasSubstr(b.says)) << b.target;
    EXPECT_THAT(s.message(), HasSubstr("sentinel://H:P[,H:P]/SERVICE")) << b.target;
  }
}

TEST(NamingResolverSyntax, EtcdAndOtherTargets) {
  for (const char* target : {"etcd://", "etcd://127.0.0.1:2379", "etcd://127.0.0.1:2379/", "etcd:///echo",
                             "etcd://nohost/echo", "etcd://127.0.0.1:2379/a/b"}) {
    Status s = Resolve(target);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << target;
    EXPECT_THAT(s.message(), HasSubstr("etcd://H:P[,H:P]/SERVICE")) << target;
  }
  EXPECT_EQ(Resolve("zk://127.0.0.1:2181/echo").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Resolve("file://relative.json").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Resolve("file:///tmp/eps.json").ok());
  EXPECT_TRUE(Resolve("list://127.0.0.1:1=2,127.0.0.1:2").ok());
}

TEST(NamingRegistrarSyntax, Specs) {
  EXPECT_TRUE(MakeReg("sentinel://127.0.0.1:26379").ok());
  EXPECT_TRUE(MakeReg("sentinel://127.0.0.1:26379,localhost:26380").ok());
  struct Bad {
    const char* spec;
    const char* says;
  };
  for (const Bad& b : {Bad{"", "unsupported register target"}, Bad{"127.0.0.1:26379", "unsupported register target"},
                       Bad{"list://127.0.0.1:26379", "expected sentinel://H:P[,H:P] or etcd://H:P"},
                       Bad{"sentinel://", "no sentinel address"}, Bad{"sentinel://127.0.0.1", "no port"},
                       Bad{"sentinel://127.0.0.1:1,", "empty sentinel address"},
                       Bad{"sentinel://127.0.0.1:1,127.0.0.1:1", "listed twice"},
                       Bad{"sentinel://127.0.0.1:1/echo", "must not name a service"},
                       Bad{"etcd://", "expected etcd://H:P"}, Bad{"etcd://127.0.0.1", "expected etcd://H:P"}}) {
    Status s = MakeReg(b.spec);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << b.spec;
    EXPECT_THAT(s.message(), HasSubstr(b.says)) << b.spec;
  }
  std::unique_ptr<Registrar> r;
  Registration no_service{.address = "127.0.0.1:8001"};
  EXPECT_EQ(MakeRegistrar("sentinel://127.0.0.1:1", no_service, {}, &r).code(), StatusCode::kInvalidArgument);
  Registration short_ttl{.service = "echo", .address = "127.0.0.1:8001", .ttl = std::chrono::milliseconds(10)};
  EXPECT_EQ(MakeRegistrar("sentinel://127.0.0.1:1", short_ttl, {}, &r).code(), StatusCode::kInvalidArgument);
}

TEST(NamingSentinelResolver, CallableEndpointsSkipOdownAndDraining) {
  json::object answer = json::parse(R"({"service":"echo","index":7,"epoch":1,"instances":[
      {"address":"127.0.0.1:8001","weight":5,"state":"up"},
      {"address":"127.0.0.1:8002","weight":1,"state":"sdown"},
      {"address":"127.0.0.1:8003","weight":1,"state":"odown"},
      {"address":"127.0.0.1:8004","weight":1,"state":"draining"},
      {"address":"not an address","weight":1,"state":"up"},
      {"address":"127.0.0.1:8005","state":"up"}]})")
                            .as_object();
  EXPECT_THAT(SentinelResolver::CallableEndpoints(answer),
              ElementsAre(EndpointSpec{"127.0.0.1:8001", 5}, EndpointSpec{"127.0.0.1:8002", 1},
                          EndpointSpec{"127.0.0.1:8005", 1}));
  EXPECT_TRUE(SentinelResolver::CallableEndpoints(json::object{}).empty());
}

// A channel whose resolver has not answered yet waits for it until the
// call's deadline, then fails with UNAVAILABLE "no endpoint known yet".
TEST(NamingSentinelResolver, CallWaitsForFirstMembershipUntilDeadline) {
  Sentinel gone;  // a port where nobody listens any more
  ASSERT_FALSE(gone.address().empty());
  gone.Kill();
  ChannelOptions o = EchoOptions();
  o.timeout = 300ms;
  Channel channel("sentinel://" + gone.address() + "/echo", o);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  const auto start = Clock::now();
  CallResult r = channel.Call("Echo.echo", json::object{});
  const auto took = Since(start);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
  EXPECT_THAT(r.status.message(), HasSubstr("no endpoint known yet for sentinel://"));
  EXPECT_GE(took, 250ms) << "the call must wait for a membership, not fail at once";
  EXPECT_LT(took, 2000ms);
}

}  // namespace
}  // namespace harpc::namingtest
