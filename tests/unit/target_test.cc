// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Target parsing: ParseListTarget (naming/target.h) and ParseHostPort (util/address.h).
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "naming/target.h"
#include "util/address.h"

namespace harpc {

void PrintTo(const EndpointSpec& spec, std::ostream* os) { *os << spec.address << "=" << spec.weight; }

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<EndpointSpec> Parse(std::string_view target) {
  std::vector<EndpointSpec> out;
  Status s = ParseListTarget(target, &out);
  EXPECT_TRUE(s.ok()) << target << ": " << s;
  return out;
}

// The error a bad target gets; the output is left untouched.
Status ParseError(std::string_view target) {
  std::vector<EndpointSpec> out = {{"sentinel:1", 7}};
  Status s = ParseListTarget(target, &out);
  EXPECT_FALSE(s.ok()) << "'" << target << "' was accepted";
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(out, ElementsAre(EndpointSpec{"sentinel:1", 7})) << "output changed on error";
  return s;
}

// ---- ParseListTarget ----

TEST(ParseListTarget, WeightsAndDefaults) {
  EXPECT_THAT(Parse("list://127.0.0.1:8001=5,127.0.0.1:8002"),
              ElementsAre(EndpointSpec{"127.0.0.1:8001", 5}, EndpointSpec{"127.0.0.1:8002", 1}));
  EXPECT_THAT(Parse("list://127.0.0.1:8001=1000000"), ElementsAre(EndpointSpec{"127.0.0.1:8001", 1000000}));
  EXPECT_THAT(Parse("list://127.0.0.1:8001=1"), ElementsAre(EndpointSpec{"127.0.0.1:8001", 1}));
}

TEST(ParseListTarget, BareFormWithoutScheme) {
  EXPECT_THAT(Parse("127.0.0.1:8001"), ElementsAre(EndpointSpec{"127.0.0.1:8001", 1}));
  EXPECT_THAT(Parse("localhost:8001,127.0.0.1:8002=3"),
              ElementsAre(EndpointSpec{"localhost:8001", 1}, EndpointSpec{"127.0.0.1:8002", 3}));
}

TEST(ParseListTarget, KeepsTheOrderAndAddressAsWritten) {
  EXPECT_THAT(Parse("list://[::1]:9000=2,host-b:1,host-a:2"),
              ElementsAre(EndpointSpec{"[::1]:9000", 2}, EndpointSpec{"host-b:1", 1}, EndpointSpec{"host-a:2", 1}));
}

TEST(ParseListTarget, DuplicatesAreRefused) {
  Status s = ParseError("list://127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8001=3");
  EXPECT_THAT(s.message(), HasSubstr("127.0.0.1:8001"));
  EXPECT_THAT(s.message(), HasSubstr("listed twice"));
}

TEST(ParseListTarget, BadWeights) {
  for (const char* w : {"0", "-1", "abc", "1000001", "", "1.5", "5x", " 5", "99999999999999999999"}) {
    std::string target = std::string("list://127.0.0.1:8001=") + w;
    Status s = ParseError(target);
    EXPECT_THAT(s.message(), HasSubstr("bad weight '" + std::string(w) + "'")) << target;
    EXPECT_THAT(s.message(), HasSubstr("1 to 1000000")) << target;
    EXPECT_THAT(s.message(), HasSubstr("127.0.0.1:8001")) << target;
  }
}

TEST(ParseListTarget, MissingPort) {
  Status s = ParseError("list://127.0.0.1");
  EXPECT_THAT(s.message(), HasSubstr("'127.0.0.1'"));
  EXPECT_THAT(s.message(), HasSubstr("no port"));
  s = ParseError("list://127.0.0.1:8001,localhost=2");
  EXPECT_THAT(s.message(), HasSubstr("'localhost'"));
  EXPECT_THAT(s.message(), HasSubstr("no port"));
  s = ParseError("list://127.0.0.1:");
  EXPECT_THAT(s.message(), HasSubstr("port must be a number"));
}

TEST(ParseListTarget, PortZeroAndOutOfRangePorts) {
  EXPECT_THAT(ParseError("list://127.0.0.1:0").message(), HasSubstr("port 0"));
  EXPECT_THAT(ParseError("list://127.0.0.1:65536").message(), HasSubstr("0 to 65535"));
  EXPECT_THAT(ParseError("list://127.0.0.1:http").message(), HasSubstr("port must be a number"));
}

TEST(ParseListTarget, Ipv6NeedsBrackets) {
  EXPECT_THAT(Parse("list://[::1]:8001=4"), ElementsAre(EndpointSpec{"[::1]:8001", 4}));
  EXPECT_THAT(ParseError("list://::1:8001").message(), HasSubstr("[brackets]"));
  EXPECT_THAT(ParseError("list://[::1:8001").message(), HasSubstr("[ipv6]"));
}

TEST(ParseListTarget, TrailingAndEmptyItems) {
  EXPECT_THAT(ParseError("list://127.0.0.1:8001,").message(), HasSubstr("ends with a comma"));
  EXPECT_THAT(ParseError("127.0.0.1:8001,127.0.0.1:8002,").message(), HasSubstr("ends with a comma"));
  EXPECT_THAT(ParseError("list://127.0.0.1:8001,,127.0.0.1:8002").message(), HasSubstr("bad address ''"));
  EXPECT_THAT(ParseError("list://,127.0.0.1:8001").message(), HasSubstr("bad address ''"));
}

TEST(ParseListTarget, EmptyTargets) {
  EXPECT_THAT(ParseError("").message(), HasSubstr("names no endpoint"));
  EXPECT_THAT(ParseError("list://").message(), HasSubstr("names no endpoint"));
}

TEST(ParseListTarget, UnknownScheme) {
  for (const char* t : {"http://127.0.0.1:8001", "dns://example.com:80", "zk://h:1/svc"}) {
    Status s = ParseError(t);
    EXPECT_THAT(s.message(), HasSubstr("unsupported target '" + std::string(t) + "'"));
    EXPECT_THAT(s.message(), HasSubstr("list://"));
  }
}

// ---- ParseHostPort ----

HostPort ParseHp(std::string_view text, bool allow_zero = false) {
  HostPort hp;
  Status s = ParseHostPort(text, &hp, allow_zero);
  EXPECT_TRUE(s.ok()) << text << ": " << s;
  return hp;
}

std::string HostPortError(std::string_view text, bool allow_zero = false) {
  HostPort hp{"untouched", 7};
  Status s = ParseHostPort(text, &hp, allow_zero);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << text << "': " << s;
  EXPECT_EQ(hp.host, "untouched");
  EXPECT_EQ(hp.port, 7);
  // Every message names the input and the expected form.
  EXPECT_THAT(s.message(), HasSubstr("'" + std::string(text) + "'"));
  EXPECT_THAT(s.message(), HasSubstr("expected host:port"));
  return s.message();
}

TEST(ParseHostPort, Ipv4NamesAndIpv6) {
  HostPort hp = ParseHp("127.0.0.1:8001");
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 8001);
  EXPECT_EQ(hp.ToString(), "127.0.0.1:8001");

  hp = ParseHp("localhost:65535");
  EXPECT_EQ(hp.host, "localhost");
  EXPECT_EQ(hp.port, 65535);

  hp = ParseHp("[::1]:8001");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 8001);
  EXPECT_EQ(hp.ToString(), "[::1]:8001");

  hp = ParseHp("[fe80::1:2]:1");
  EXPECT_EQ(hp.host, "fe80::1:2");
}

TEST(ParseHostPort, PortZeroOnlyForListening) {
  EXPECT_THAT(HostPortError("127.0.0.1:0"), HasSubstr("port 0"));
  HostPort hp = ParseHp("127.0.0.1:0", /*allow_zero=*/true);
  EXPECT_EQ(hp.port, 0);
}

TEST(ParseHostPort, Errors) {
  EXPECT_THAT(HostPortError("127.0.0.1"), HasSubstr("no port"));
  EXPECT_THAT(HostPortError(""), HasSubstr("no port"));
  EXPECT_THAT(HostPortError(":8001"), HasSubstr("empty host"));
  EXPECT_THAT(HostPortError("127.0.0.1:"), HasSubstr("port must be a number"));
  EXPECT_THAT(HostPortError("127.0.0.1:-1"), HasSubstr("port must be a number"));
  EXPECT_THAT(HostPortError("127.0.0.1:80x"), HasSubstr("port must be a number"));
  EXPECT_THAT(HostPortError("127.0.0.1:65536"), HasSubstr("0 to 65535"));
  EXPECT_THAT(HostPortError("127.0.0.1:99999999999"), HasSubstr("0 to 65535"));
  EXPECT_THAT(HostPortError("::1:8001"), HasSubstr("[brackets]"));
  EXPECT_THAT(HostPortError("[::1:8001"), HasSubstr("unterminated [ipv6]"));
  EXPECT_THAT(HostPortError("[::1]8001"), HasSubstr("expected ':' after ']'"));
  EXPECT_THAT(HostPortError("[]:8001"), HasSubstr("empty host"));
}

TEST(ParseHostPort, BracketsWithoutAPort) {
  EXPECT_THAT(HostPortError("[::1]"), HasSubstr("no port"));
  EXPECT_THAT(HostPortError("[::1]:"), HasSubstr("port must be a number"));
}

TEST(ResolveEndpoint, NumericAddressesNeedNoLookup) {
  boost::asio::ip::tcp::endpoint ep;
  ASSERT_TRUE(ResolveEndpoint(HostPort{"127.0.0.1", 8001}, &ep).ok());
  EXPECT_EQ(ToString(ep), "127.0.0.1:8001");
  ASSERT_TRUE(ResolveEndpoint(HostPort{"::1", 9}, &ep).ok());
  EXPECT_EQ(ToString(ep), "[::1]:9");
}

// ---- CanonicalPeerTarget: where a peer (one process or a group) is reached ----

TEST(CanonicalPeerTarget, OneAddressOrASortedGroup) {
  std::string out;
  ASSERT_TRUE(CanonicalPeerTarget("[0:0:0:0:0:0:0:1]:80", &out).ok());
  EXPECT_EQ(out, "[::1]:80");
  ASSERT_TRUE(CanonicalPeerTarget("list://127.0.0.1:9003,127.0.0.1:9001,127.0.0.1:9002", &out).ok());
  EXPECT_EQ(out, "list://127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003");
  ASSERT_TRUE(CanonicalPeerTarget("list://[0::1]:9", &out).ok());
  EXPECT_EQ(out, "list://[::1]:9");
}

TEST(CanonicalPeerTarget, NamesRepeatsAndEmptyMembersAreRefused) {
  std::string out = "untouched";
  EXPECT_FALSE(CanonicalPeerTarget("localhost:80", &out).ok());
  EXPECT_FALSE(CanonicalPeerTarget("list://127.0.0.1:1,localhost:2", &out).ok());
  EXPECT_FALSE(CanonicalPeerTarget("list://127.0.0.1:1,127.0.0.1:1", &out).ok());
  EXPECT_FALSE(CanonicalPeerTarget("list://127.0.0.1:1,,127.0.0.1:2", &out).ok());
  EXPECT_FALSE(CanonicalPeerTarget("list://", &out).ok());
  EXPECT_FALSE(CanonicalPeerTarget("sentinel://127.0.0.1:1/bank", &out).ok());
  EXPECT_EQ(out, "untouched");
}

}  // namespace
}  // namespace harpc
