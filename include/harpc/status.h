// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Status: the outcome of an operation, without exceptions across the API.
//
// The codes are gRPC's, so that people who know gRPC read harpc's errors the
// same way. A Status is cheap to copy when OK (no allocation).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

namespace harpc {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,   // bad params, malformed request
  kDeadlineExceeded = 4,  // the call's deadline passed
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,   // overloaded, too many connections, too large
  kFailedPrecondition = 9,  // e.g. same idempotency key with other params
  kAborted = 10,            // e.g. idempotency conflict: first attempt still running
  kOutOfRange = 11,
  kUnimplemented = 12,  // unknown method
  kInternal = 13,       // the handler failed
  kUnavailable = 14,    // cannot reach a server, or it is draining
  kDataLoss = 15,
  kUnauthenticated = 16,
  // harpc's own, beyond gRPC's: a member of a replicated group that is not
  // its leader got a call only the leader serves. leader() says where to go
  // (empty when no leader is known). HTTP 421, JSON-RPC -32010.
  kNotLeader = 17,
};

// "OK", "INVALID_ARGUMENT", ... as gRPC spells them.
std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // NOT_LEADER only: the leader's "host:port", empty when unknown.
  const std::string& leader() const { return leader_; }

  // "DEADLINE_EXCEEDED: call to 127.0.0.1:8001 timed out after 1000 ms".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_ && a.message_ == b.message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string leader_;
  friend Status NotLeader(std::string leader);
};

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

// Shorthands, one per code: harpc::InvalidArgument("params must be an object").
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status Unknown(std::string m) { return {StatusCode::kUnknown, std::move(m)}; }
inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
// "not leader", with where the leader is ("" when unknown).
inline Status NotLeader(std::string leader) {
  Status s(StatusCode::kNotLeader, "not leader");
  s.leader_ = std::move(leader);
  return s;
}

}  // namespace harpc
