// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The coordinator's replicated state machine (txn/coordinator_state.h): the
// input is a log of JSON commands, one per line (begin, register, commit,
// abort, done, forget), applied in order to a coordinator group's state;
// then its snapshot must restore to the same state, and the whole input is
// also offered to Restore as a snapshot received from a leader.
#include <boost/json.hpp>

#include "fuzz_support.h"
#include "txn/coordinator_state.h"

using namespace harpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  std::string_view input = fuzz::Bytes(data, size);

  txn::CoordinatorState restored(/*max_votes=*/4, /*keep_done=*/true);
  (void)restored.Restore(input);

  txn::CoordinatorState state(/*max_votes=*/4, /*keep_done=*/true);
  for (int commands = 0; !input.empty() && commands < 64; ++commands) {
    const size_t eol = input.find('\n');
    boost::system::error_code ec;
    boost::json::value command = boost::json::parse(input.substr(0, eol), ec);
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
    if (!ec) (void)state.Apply(command);
  }
  const std::string snapshot = state.Snapshot();
  txn::CoordinatorState copy(/*max_votes=*/4, /*keep_done=*/true);
  if (!copy.Restore(snapshot).ok() || copy.Snapshot() != snapshot) __builtin_trap();
  return 0;
}
