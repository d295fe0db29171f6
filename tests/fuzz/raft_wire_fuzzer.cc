// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The check a member runs on every byte a peer sends over its Raft
// connection (replication/raft_wire_check.h): whatever the bytes, it ends
// without fault, and its verdict does not depend on how the stream was cut
// into reads. The first input byte picks the read size.
#include <cstdlib>

#include "fuzz_support.h"
#include "replication/raft_wire_check.h"

using harpc::replication::RaftWireCheck;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harpc::fuzz::Setup();
  if (size == 0) return 0;
  const size_t cut = data[0] % 32 + 1;
  const std::string_view stream = harpc::fuzz::Bytes(data + 1, size - 1);
  // Small enough that the fuzzer meets the size limit too.
  constexpr uint64_t kMax = 4096;

  RaftWireCheck whole(kMax);
  const bool whole_ok = whole.Feed(stream);
  RaftWireCheck pieces(kMax);
  bool pieces_ok = true;
  for (size_t at = 0; at < stream.size() && pieces_ok; at += cut) pieces_ok = pieces.Feed(stream.substr(at, cut));
  if (whole_ok != pieces_ok || whole.error() != pieces.error() || whole.messages() != pieces.messages()) abort();
  return 0;
}
