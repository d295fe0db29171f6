// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// How a Status travels on the wire: JSON-RPC error codes and HTTP statuses.
//
// JSON-RPC's own codes keep their meaning (-32700 parse error, -32600 invalid
// request, -32601 method not found, -32602 invalid params, -32603 internal).
// Every other status code travels as -32000 - code, inside the range JSON-RPC
// reserves for implementations, so that no information is lost:
//   DEADLINE_EXCEEDED -32004, RESOURCE_EXHAUSTED (overloaded) -32008,
//   FAILED_PRECONDITION (idempotency key reused with other params) -32009,
//   UNAVAILABLE (draining) -32014.
// Except the codes callers test for. docs/security.md's two: UNAUTHENTICATED
// (no or unknown token) is -32001 and PERMISSION_DENIED (role too low) is
// -32003; CANCELLED takes the slot UNAUTHENTICATED left, -32016. And the
// replicated groups' NOT_LEADER (docs/protocol.md) is -32010, with the
// leader in the error's data ({"leader":"H:P"}); ABORTED (idempotency
// conflict) takes the slot NOT_LEADER left, -32017.
#pragma once

#include <boost/json/object.hpp>

#include "harpc/status.h"

namespace harpc::wire {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kImplementationBase = -32000;
inline constexpr int kUnauthenticated = -32001;
inline constexpr int kPermissionDenied = -32003;
inline constexpr int kNotLeader = -32010;
inline constexpr int kAborted = -32017;

int JsonRpcCode(const Status& status);
StatusCode CodeFromJsonRpc(int jsonrpc_code);

// The error object of an answer: {"code":N,"message":"..."}, and for
// NOT_LEADER "data":{"leader":"H:P"} (the leader null when unknown).
boost::json::object ErrorObject(const Status& status);
// The Status an error object stands for, the leader read back from its data;
// false (and `out` untouched) when it has no integer "code".
bool StatusFromErrorObject(const boost::json::object& error, Status* out);

// The HTTP status a plain (non-JSON-RPC) error answer carries.
int HttpStatus(StatusCode code);
// What a caller should make of an HTTP status that came without a JSON error body.
StatusCode CodeFromHttpStatus(int http_status);

}  // namespace harpc::wire
