// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "core/wire_error.h"

#include <boost/json/value.hpp>

namespace harpc::wire {

namespace json = boost::json;

int JsonRpcCode(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return kInvalidParams;
    case StatusCode::kUnimplemented:
      return kMethodNotFound;
    case StatusCode::kInternal:
    case StatusCode::kUnknown:
      return kInternalError;
    case StatusCode::kUnauthenticated:
      return kUnauthenticated;
    case StatusCode::kPermissionDenied:
      return kPermissionDenied;
    case StatusCode::kCancelled:
      return kImplementationBase - static_cast<int>(StatusCode::kUnauthenticated);
    case StatusCode::kNotLeader:
      return kNotLeader;
    case StatusCode::kAborted:
      return kAborted;
    default:
      return kImplementationBase - static_cast<int>(status.code());
  }
}

StatusCode CodeFromJsonRpc(int code) {
  switch (code) {
    case kParseError:
    case kInvalidRequest:
    case kInvalidParams:
      return StatusCode::kInvalidArgument;
    case kMethodNotFound:
      return StatusCode::kUnimplemented;
    case kInternalError:
      return StatusCode::kInternal;
    case kUnauthenticated:
      return StatusCode::kUnauthenticated;
    case kPermissionDenied:
      return StatusCode::kPermissionDenied;
    case kImplementationBase - static_cast<int>(StatusCode::kUnauthenticated):
      return StatusCode::kCancelled;
    case kNotLeader:
      return StatusCode::kNotLeader;
    case kAborted:
      return StatusCode::kAborted;
    default:
      break;
  }
  int offset = kImplementationBase - code;
  if (offset > 0 && offset <= static_cast<int>(StatusCode::kUnauthenticated)) {
    return static_cast<StatusCode>(offset);
  }
  return StatusCode::kUnknown;
}

json::object ErrorObject(const Status& status) {
  json::object error{{"code", JsonRpcCode(status)}, {"message", status.message()}};
  if (status.code() == StatusCode::kNotLeader) {
    json::value leader = nullptr;
    if (!status.leader().empty()) leader = status.leader();
    error["data"] = json::object{{"leader", std::move(leader)}};
  }
  return error;
}

bool StatusFromErrorObject(const json::object& error, Status* out) {
  const json::value* code = error.if_contains("code");
  if (!code || !code->is_int64()) return false;
  const json::value* message = error.if_contains("message");
  std::string text = message && message->is_string() ? std::string(message->as_string()) : "";
  const StatusCode status_code = CodeFromJsonRpc(static_cast<int>(code->as_int64()));
  if (status_code == StatusCode::kUnknown) {
    // A code of another server's own: keep it, the Status cannot.
    text += (text.empty() ? "" : " ") + std::string("(JSON-RPC error ") + std::to_string(code->as_int64()) + ")";
  }
  if (status_code != StatusCode::kNotLeader) {
    *out = Status(status_code, std::move(text));
    return true;
  }
  std::string leader;
  if (const json::value* data = error.if_contains("data"); data && data->is_object()) {
    if (const json::value* l = data->as_object().if_contains("leader"); l && l->is_string()) {
      leader = std::string(l->as_string());
    }
  }
  *out = NotLeader(std::move(leader));
  return true;
}

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
    case StatusCode::kUnimplemented:
      return 404;
    case StatusCode::kAborted:
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kNotLeader:
      return 421;  // Misdirected Request: this server is not the one to ask
    case StatusCode::kFailedPrecondition:
      return 422;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

StatusCode CodeFromHttpStatus(int s) {
  if (s >= 200 && s < 300) return StatusCode::kOk;
  switch (s) {
    case 400:
    case 411:
    case 413:
    case 414:
    case 415:
    case 431:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
    case 405:
      return StatusCode::kUnimplemented;
    case 408:
    case 504:
      return StatusCode::kDeadlineExceeded;
    case 409:
      return StatusCode::kAborted;
    case 421:
      return StatusCode::kNotLeader;
    case 422:
      return StatusCode::kFailedPrecondition;
    case 429:
      return StatusCode::kResourceExhausted;
    case 499:
      return StatusCode::kCancelled;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    default:
      return s >= 500 ? StatusCode::kInternal : StatusCode::kUnknown;
  }
}

}  // namespace harpc::wire
