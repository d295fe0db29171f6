// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/status.h"
#include "core/wire_error.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace harpc {
namespace {

namespace json = boost::json;

TEST(Status, OkByDefaultAndPrintsCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = Unavailable("server is draining");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "UNAVAILABLE: server is draining");
}

TEST(Status, EveryCodeHasAShorthand) {
  const std::pair<Status, StatusCode> cases[] = {
      {Cancelled("m"), StatusCode::kCancelled},
      {Unknown("m"), StatusCode::kUnknown},
      {InvalidArgument("m"), StatusCode::kInvalidArgument},
      {DeadlineExceeded("m"), StatusCode::kDeadlineExceeded},
      {NotFound("m"), StatusCode::kNotFound},
      {AlreadyExists("m"), StatusCode::kAlreadyExists},
      {PermissionDenied("m"), StatusCode::kPermissionDenied},
      {ResourceExhausted("m"), StatusCode::kResourceExhausted},
      {FailedPrecondition("m"), StatusCode::kFailedPrecondition},
      {Aborted("m"), StatusCode::kAborted},
      {OutOfRange("m"), StatusCode::kOutOfRange},
      {Unimplemented("m"), StatusCode::kUnimplemented},
      {Internal("m"), StatusCode::kInternal},
      {Unavailable("m"), StatusCode::kUnavailable},
      {DataLoss("m"), StatusCode::kDataLoss},
      {Unauthenticated("m"), StatusCode::kUnauthenticated},
  };
  ASSERT_EQ(std::size(cases), static_cast<size_t>(StatusCode::kUnauthenticated));
  for (const auto& [status, code] : cases) {
    EXPECT_EQ(status.code(), code) << StatusCodeName(code);
    EXPECT_EQ(status.message(), "m");
  }
}

TEST(Status, NotLeaderNamesTheLeader) {
  Status s = NotLeader("127.0.0.1:7002");
  EXPECT_EQ(s.code(), StatusCode::kNotLeader);
  EXPECT_EQ(s.message(), "not leader");
  EXPECT_EQ(s.leader(), "127.0.0.1:7002");
  EXPECT_EQ(s.ToString(), "NOT_LEADER: not leader (leader is 127.0.0.1:7002)");
  EXPECT_EQ(NotLeader("").leader(), "");
  EXPECT_EQ(NotLeader("").ToString(), "NOT_LEADER: not leader (no leader known)");
  EXPECT_EQ(Internal("x").leader(), "");
}

TEST(WireError, EveryCodeSurvivesTheJsonRpcRoundTrip) {
  for (int c = 1; c <= static_cast<int>(StatusCode::kNotLeader); ++c) {
    auto code = static_cast<StatusCode>(c);
    if (code == StatusCode::kUnknown) continue;  // travels as -32603 (internal)
    EXPECT_EQ(wire::CodeFromJsonRpc(wire::JsonRpcCode(Status(code, "x"))), code) << StatusCodeName(code);
  }
}

TEST(WireError, CredentialCodesFollowTheDesign) {
  // DESIGN §7: no or unknown token -32001 (HTTP 401), role too low -32003 (403).
  EXPECT_EQ(wire::JsonRpcCode(Unauthenticated("x")), -32001);
  EXPECT_EQ(wire::JsonRpcCode(PermissionDenied("x")), -32003);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(wire::CodeFromJsonRpc(-32001), StatusCode::kUnauthenticated);
  EXPECT_EQ(wire::CodeFromJsonRpc(-32003), StatusCode::kPermissionDenied);
}

TEST(WireError, NotLeaderIs32010AndAbortedMovedTo32017) {
  // DESIGN §8: a follower's answer is -32010, HTTP 421 (Misdirected Request).
  EXPECT_EQ(wire::JsonRpcCode(NotLeader("127.0.0.1:7002")), -32010);
  EXPECT_EQ(wire::CodeFromJsonRpc(-32010), StatusCode::kNotLeader);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kNotLeader), 421);
  EXPECT_EQ(wire::CodeFromHttpStatus(421), StatusCode::kNotLeader);
  // ABORTED took the slot NOT_LEADER left and keeps HTTP 409.
  EXPECT_EQ(wire::JsonRpcCode(Aborted("x")), -32017);
  EXPECT_EQ(wire::CodeFromJsonRpc(-32017), StatusCode::kAborted);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kAborted), 409);
}

TEST(WireError, ErrorObjectCarriesTheLeader) {
  EXPECT_EQ(wire::ErrorObject(NotLeader("127.0.0.1:7002")),
            (json::object{{"code", -32010}, {"message", "not leader"}, {"data", {{"leader", "127.0.0.1:7002"}}}}));
  EXPECT_EQ(wire::ErrorObject(NotLeader("")),
            (json::object{{"code", -32010}, {"message", "not leader"}, {"data", {{"leader", nullptr}}}}));
  // Other errors have no data.
  EXPECT_EQ(wire::ErrorObject(Unavailable("draining")), (json::object{{"code", -32014}, {"message", "draining"}}));
}

TEST(WireError, ErrorObjectsReadBack) {
  for (const Status& sent : {NotLeader("127.0.0.1:7002"), NotLeader(""), Aborted("still running"),
                             Unavailable("draining"), InvalidArgument("bad")}) {
    Status read;
    ASSERT_TRUE(wire::StatusFromErrorObject(wire::ErrorObject(sent), &read)) << sent;
    EXPECT_EQ(read, sent);
    EXPECT_EQ(read.leader(), sent.leader());
  }
  // The leader is optional: no data, data without leader, a leader of the wrong type.
  for (const char* text :
       {R"({"code":-32010,"message":"not leader"})", R"({"code":-32010,"message":"not leader","data":{}})",
        R"({"code":-32010,"message":"not leader","data":{"leader":7002}})",
        R"({"code":-32010,"message":"not leader","data":"127.0.0.1:7002"})"}) {
    Status read;
    ASSERT_TRUE(wire::StatusFromErrorObject(json::parse(text).as_object(), &read)) << text;
    EXPECT_EQ(read.code(), StatusCode::kNotLeader) << text;
    EXPECT_EQ(read.leader(), "") << text;
  }
  Status untouched = Internal("before");
  EXPECT_FALSE(wire::StatusFromErrorObject(json::object{{"message", "no code"}}, &untouched));
  EXPECT_FALSE(wire::StatusFromErrorObject(json::object{{"code", "-32010"}}, &untouched));
  EXPECT_EQ(untouched, Internal("before"));
}

TEST(WireError, HttpStatusesFollowTheDesign) {
  EXPECT_EQ(wire::HttpStatus(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kUnimplemented), 404);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kAborted), 409);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kNotLeader), 421);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kFailedPrecondition), 422);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kInternal), 500);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kUnavailable), 503);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kDeadlineExceeded), 504);
}

}  // namespace
}  // namespace harpc
