#include "core/wire_error.h"
#include "harpc/status.h"

#include <gtest/gtest.h>

namespace harpc {
namespace {

TEST(Status, OkByDefaultAndPrintsCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = Unavailable("server is draining");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "UNAVAILABLE: server is draining");
}

TEST(Status, EveryCodeHasAShorthand) {
  const std::pair<Status, StatusCode> cases[] = {
      {Cancelled("m"), StatusCode::kCancelled},           {Unknown("m"), StatusCode::kUnknown},
      {InvalidArgument("m"), StatusCode::kInvalidArgument}, {DeadlineExceeded("m"), StatusCode::kDeadlineExceeded},
      {NotFound("m"), StatusCode::kNotFound},             {AlreadyExists("m"), StatusCode::kAlreadyExists},
      {PermissionDenied("m"), StatusCode::kPermissionDenied},
      {ResourceExhausted("m"), StatusCode::kResourceExhausted},
      {FailedPrecondition("m"), StatusCode::kFailedPrecondition}, {Aborted("m"), StatusCode::kAborted},
      {OutOfRange("m"), StatusCode::kOutOfRange},         {Unimplemented("m"), StatusCode::kUnimplemented},
      {Internal("m"), StatusCode::kInternal},             {Unavailable("m"), StatusCode::kUnavailable},
      {DataLoss("m"), StatusCode::kDataLoss},             {Unauthenticated("m"), StatusCode::kUnauthenticated},
  };
  ASSERT_EQ(std::size(cases), static_cast<size_t>(StatusCode::kUnauthenticated));
  for (const auto& [status, code] : cases) {
    EXPECT_EQ(status.code(), code) << StatusCodeName(code);
    EXPECT_EQ(status.message(), "m");
  }
}

TEST(WireError, EveryCodeSurvivesTheJsonRpcRoundTrip) {
  for (int c = 1; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
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

TEST(WireError, HttpStatusesFollowTheDesign) {
  EXPECT_EQ(wire::HttpStatus(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kUnimplemented), 404);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kAborted), 409);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kFailedPrecondition), 422);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kInternal), 500);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kUnavailable), 503);
  EXPECT_EQ(wire::HttpStatus(StatusCode::kDeadlineExceeded), 504);
}

}  // namespace
}  // namespace harpc
