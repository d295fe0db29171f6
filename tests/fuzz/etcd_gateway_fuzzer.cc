// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// etcd's JSON gateway as the registrar and resolver read it
// (naming/etcd_gateway.h): the input is the body of a unary answer (lease
// grant, keepalive, revoke, put, range), decoded with each HTTP status the
// gateway sends, and then as a range answer of one service; and the base64
// of keys and values, which must round-trip.
#include <boost/json.hpp>

#include "fuzz_support.h"
#include "naming/etcd.h"
#include "naming/etcd_gateway.h"

using namespace harpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  const std::string_view input = fuzz::Bytes(data, size);
  const std::string what = "etcd 127.0.0.1:2379 /v3/kv/range";
  for (int status : {200, 404, 503}) {
    boost::json::value answer;
    if (!ParseEtcdAnswer(status, input, what, &answer).ok()) continue;
    (void)EtcdInt(answer, "ID");
    (void)EtcdInt(answer, "TTL");
    EtcdMembers members;
    int64_t revision = 0;
    (void)ParseEtcdRange(answer, EtcdInstanceKey("svc", ""), what, &members, &revision);
  }
  // Keys and values travel in base64: what is encoded decodes to itself.
  std::string decoded;
  if (!Base64Decode(Base64Encode(input), &decoded) || decoded != input) __builtin_trap();
  return 0;
}
