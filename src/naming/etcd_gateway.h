// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What etcd's JSON gateway sends back, decoded: unary answers, range answers
// and the messages of a watch stream (the exchanges are listed in
// etcd_gateway.cc; the registrar and resolver of etcd.h do the talking).
// Pure functions of the bytes received, so that hostile or broken answers can
// be tested (and fuzzed) without an etcd.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/endpoint_spec.h"
#include "harpc/status.h"

namespace harpc {

// Base64 (RFC 4648, with padding), as protobuf's JSON mapping spells bytes.
std::string Base64Encode(std::string_view in);
// Also accepts the URL-safe alphabet and missing padding; false on any other character.
bool Base64Decode(std::string_view in, std::string* out);

// An int64 member of a JSON object: a JSON string (protobuf's mapping of
// 64-bit integers) or a number; 0 when missing or malformed.
int64_t EtcdInt(const boost::json::value& object, std::string_view name);

// The JSON value of a unary answer (HTTP `http_status`, `body`), a stream's
// {"result": ...} unwrapped. An error of etcd's keeps its gRPC code (NOT_FOUND
// for a lease that is gone, UNAUTHENTICATED for a token etcd refuses,
// UNAVAILABLE for "no leader", ...; UNAVAILABLE when it has none); a status
// other than 200 or a body that is not a JSON object is UNAVAILABLE. `what`
// ("etcd H:P /v3/...") begins every message.
Status ParseEtcdAnswer(int http_status, std::string_view body, const std::string& what, boost::json::value* out);

// The instances of one service, by etcd key.
using EtcdMembers = std::map<std::string, EndpointSpec>;

// The members under `prefix` ("/harpc/services/<SERVICE>/") of a /v3/kv/range
// answer, and the answer's revision (UNAVAILABLE when it has none). Entries
// that name no usable address are left out (and logged).
Status ParseEtcdRange(const boost::json::value& answer, std::string_view prefix, const std::string& what,
                      EtcdMembers* members, int64_t* revision);

// What one watch message did.
struct EtcdWatchUpdate {
  bool created = false;  // the watch is established
  bool events = false;   // it carried puts or deletes (applied to the members)
  int64_t revision = 0;  // its header's revision when it carried events; 0 otherwise
};

// Applies one message of a /v3/watch stream to `members`. UNAVAILABLE when
// the message is not JSON, is an error, or says that etcd canceled the
// watch (the history was compacted): the caller then ranges again.
Status ApplyEtcdWatchMessage(std::string_view message, std::string_view prefix, const std::string& what,
                             EtcdMembers* members, EtcdWatchUpdate* update);

// The watch stream's framing: one JSON message per line. Hands `each` every
// complete non-blank line at the start of `text` and removes them; when the
// stream `ended`, what is left is a last message. Stops at the first error of
// `each`.
Status ConsumeEtcdWatchLines(std::string& text, bool ended, const std::function<Status(std::string_view)>& each);

}  // namespace harpc
