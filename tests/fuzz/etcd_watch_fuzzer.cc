// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The resolver's side of etcd's watch stream (naming/etcd_gateway.h): the
// input is the body of a /v3/watch answer, newline-separated JSON messages
// (created, events with puts and deletes, canceled, errors), handed over in
// pieces as the HTTP client would deliver them, and applied to a membership.
#include "fuzz_support.h"
#include "naming/etcd.h"
#include "naming/etcd_gateway.h"

using namespace harpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  if (size == 0) return 0;
  // The first byte chooses how the stream is cut into reads.
  const size_t piece = 1 + data[0] % 64;
  const std::string_view stream = fuzz::Bytes(data + 1, size - 1);
  const std::string prefix = EtcdInstanceKey("svc", "");
  EtcdMembers members;
  Status status;
  const auto apply = [&](std::string_view message) {
    EtcdWatchUpdate update;
    return ApplyEtcdWatchMessage(message, prefix, "etcd 127.0.0.1:2379 /v3/watch", &members, &update);
  };
  std::string body;
  for (size_t at = 0; status.ok() && at < stream.size(); at += piece) {
    body.append(stream.substr(at, piece));
    status = ConsumeEtcdWatchLines(body, /*ended=*/false, apply);
  }
  if (status.ok()) status = ConsumeEtcdWatchLines(body, /*ended=*/true, apply);
  for (const auto& [key, spec] : members) {
    if (!key.starts_with(prefix) || spec.address.empty()) __builtin_trap();
  }
  return 0;
}
