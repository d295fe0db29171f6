// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The token table: constant-time lookup that accepts the exact token only,
// the parsing of auth files (every malformed line named), the Authorization
// header, and Server::Start / ReloadCredentials with an auth file.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "server/credentials.h"
#include "support/test_support.h"

namespace harpc {
namespace {

using ::testing::HasSubstr;

TokenTable Parsed(std::string_view text) {
  TokenTable table;
  Status s = TokenTable::Parse(text, "auth file 'test'", &table);
  EXPECT_TRUE(s.ok()) << s;
  return table;
}

Status ParseError(std::string_view text) {
  TokenTable table;
  return TokenTable::Parse(text, "auth file 'test'", &table);
}

TEST(TokenTable, AcceptsTheExactTokenOnly) {
  TokenTable t = Parsed("client s3cret-token\n");
  EXPECT_EQ(t.Find("s3cret-token"), Role::kClient);
  EXPECT_EQ(t.Find("s3cret-toke"), std::nullopt);                      // a prefix
  EXPECT_EQ(t.Find("s3cret-token2"), std::nullopt);                    // longer
  EXPECT_EQ(t.Find("s3cret-tokeN"), std::nullopt);                     // one byte differs
  EXPECT_EQ(t.Find("S3CRET-TOKEN"), std::nullopt);                     // case matters
  EXPECT_EQ(t.Find(""), std::nullopt);                                 // empty
  EXPECT_EQ(t.Find(std::string("s3cret-token\0", 13)), std::nullopt);  // a trailing NUL
}

TEST(TokenTable, EachTokenGrantsItsRole) {
  TokenTable t = Parsed("client c1\nservice s1\npeer p1\nclient c2\n");
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.Find("c1"), Role::kClient);
  EXPECT_EQ(t.Find("c2"), Role::kClient);
  EXPECT_EQ(t.Find("s1"), Role::kService);
  EXPECT_EQ(t.Find("p1"), Role::kPeer);
  EXPECT_EQ(t.Find("p2"), std::nullopt);
  EXPECT_EQ(t.Find("peer"), std::nullopt);  // a role name is not a token
}

TEST(TokenTable, EmptyTableAcceptsNothing) {
  TokenTable t = Parsed("");
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find(""), std::nullopt);
  EXPECT_EQ(t.Find("anything"), std::nullopt);
}

TEST(TokenTable, CommentsBlankLinesAndBlanksAroundAreIgnored) {
  TokenTable t = Parsed("# operators\n\n   \npeer   tok-1  \r\n\t# indented comment\nclient\ttok-2");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Find("tok-1"), Role::kPeer);
  EXPECT_EQ(t.Find("tok-2"), Role::kClient);
}

TEST(TokenTable, MalformedLinesAreNamed) {
  Status s = ParseError("client ok\n\nadmin tok\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("auth file 'test' line 3"));
  EXPECT_THAT(s.message(), HasSubstr("unknown role 'admin'"));

  s = ParseError("# c\nclient\n");
  EXPECT_THAT(s.message(), HasSubstr("line 2"));
  EXPECT_THAT(s.message(), HasSubstr("ROLE TOKEN"));

  s = ParseError("client two words\n");
  EXPECT_THAT(s.message(), HasSubstr("line 1"));
  EXPECT_THAT(s.message(), HasSubstr("one word"));

  s = ParseError(
      "client a\xff"
      "b\n");
  EXPECT_THAT(s.message(), HasSubstr("visible ASCII"));

  s = ParseError("client same\npeer same\n");
  EXPECT_THAT(s.message(), HasSubstr("line 2"));
  EXPECT_THAT(s.message(), HasSubstr("listed already"));

  s = ParseError("Client tok\n");  // role names are lower case, as documented
  EXPECT_THAT(s.message(), HasSubstr("unknown role 'Client'"));
}

TEST(BearerToken, ParsesTheAuthorizationHeader) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER  abc "), "abc");
  EXPECT_EQ(BearerToken("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(ServerAuth, StartFailsOnAMalformedAuthFileNamingTheLine) {
  testing::TempDir dir;
  const std::string path = dir.File("auth");
  std::ofstream(path) << "client ok\nroot tok\n";
  Server server(ServerOptions{.threads = 1, .handle_signals = false, .auth = {.auth_file = path}});
  Status s = server.Start("127.0.0.1:0");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("line 2"));
}

TEST(ServerAuth, StartFailsOnAMissingOrEmptyAuthFile) {
  testing::TempDir dir;
  Server missing(ServerOptions{.threads = 1, .handle_signals = false, .auth = {.auth_file = dir.File("none")}});
  Status s = missing.Start("127.0.0.1:0");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("cannot read"));

  std::ofstream(dir.File("empty")) << "# nobody yet\n";
  Server empty(ServerOptions{.threads = 1, .handle_signals = false, .auth = {.auth_file = dir.File("empty")}});
  s = empty.Start("127.0.0.1:0");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("lists no token"));
}

// An Echo.echo call on `address` with `token`: the status code of the answer.
StatusCode CallWith(const std::string& address, const std::string& token) {
  ChannelOptions o;
  o.security.bearer_token = token;
  o.retry.max_retries = 0;
  Channel channel(address, o);
  return channel.Call("Echo.echo", boost::json::value{{"k", 1}}).status.code();
}

TEST(ServerAuth, ReloadCredentialsTakesTheNewFileAndKeepsTheOldOneOnAnError) {
  testing::TempDir dir;
  const std::string path = dir.File("auth");
  std::ofstream(path) << "client old\n";
  Server server(ServerOptions{.threads = 1, .handle_signals = false, .auth = {.auth_file = path}});
  ASSERT_TRUE(server.AddMethod("Echo.echo", [](const boost::json::value& p, CallContext&) { return Result(p); }).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(CallWith(server.address(), "old"), StatusCode::kOk);
  EXPECT_EQ(CallWith(server.address(), "new"), StatusCode::kUnauthenticated);

  std::ofstream(path) << "client new\n";
  ASSERT_TRUE(server.ReloadCredentials().ok());
  EXPECT_EQ(CallWith(server.address(), "new"), StatusCode::kOk);
  EXPECT_EQ(CallWith(server.address(), "old"), StatusCode::kUnauthenticated);

  std::ofstream(path) << "superuser newer\n";
  EXPECT_EQ(server.ReloadCredentials().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CallWith(server.address(), "new"), StatusCode::kOk);  // kept
  server.Shutdown();
  server.Wait();
}

TEST(ServerAuth, HandlersSeeTheCallersRole) {
  testing::TempDir dir;
  const std::string path = dir.File("auth");
  std::ofstream(path) << "service svc\n";
  Server server(ServerOptions{.threads = 1, .handle_signals = false, .auth = {.auth_file = path}});
  ASSERT_TRUE(
      server
          .AddMethod("Who.am_i", [](const boost::json::value&,
                                    CallContext& ctx) { return Result(boost::json::value(RoleName(ctx.role()))); })
          .ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ChannelOptions o;
  o.security.bearer_token = "svc";
  Channel channel(server.address(), o);
  CallResult r = channel.Call("Who.am_i", nullptr);
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.value, "service");
  server.Shutdown();
  server.Wait();
}

}  // namespace
}  // namespace harpc
