// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// ParticipantMachine: every change to a participant's database, as a JSON
// command run by one deterministic function.
//
// The participant proposes a command and runs it through GroupCommitDb (one
// process) or through its replicated group's log (every member runs it, in
// log order, on its own copy of the database). Execute reads no clock, makes
// no random number and touches nothing but the database: whatever varies is
// in the command, made by its proposer. So the same commands in the same
// order give the same database on every member.
//
//   {"op":"prepare","txid":T,"call":C,"coordinator":A,"method":M,"params":P,
//    "secret":S,"at_ms":N,"max_prepared":K}
//       -> {"answer":{"vote":"yes","participant":ID,"result":R},
//           "prepared":{"recorded":B,"state":"prepared|committed","coordinator":A,"secret":S}}
//          (ParticipantLog::Prepare; "answer" is for the client, "prepared"
//          for the vote's registration)
//   {"op":"apply","txid":T,"commit":B,"calls":[C,...],"secrets":{C:S,...},"at_ms":N}
//       -> {"txid":T,"committed":N,"aborted":M}      (ParticipantLog::Apply;
//          "secrets" absent: a decision learnt by asking the coordinator)
//   {"op":"local","method":M,"params":P,"key":K,"at_ms":N}
//       -> the local handler's answer. With an idempotency key K (optional),
//          the answer is recorded in harpc_txn_answer with the method and a
//          fingerprint of the params: a repeat answers the recorded one
//          without running again (FAILED_PRECONDITION with other params or
//          another method), so a call retried after a failover applies once.
//          An error answer is not recorded (its changes are rolled back).
//   {"op":"forget","before_ms":N}
//       -> {"prepared":N,"committed":N,"aborted":N} after forgetting calls
//          decided, and keyed answers recorded, before N
//
// A malformed command is INVALID_ARGUMENT, the same on every member.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "harpc/txn.h"
#include "txn/participant_log.h"

namespace harpc::txn {

// The library's tables: the calls (kParticipantSchema) and the keyed answers.
std::string ParticipantLibrarySchema();

// The commands, as their proposers make them.
boost::json::value PrepareCommand(const PrepareRequest& request);
boost::json::value ApplyCommand(const std::string& txid, const Decision& decision);
boost::json::value LocalCommand(const std::string& method, const boost::json::value& params,
                                const std::string& idempotency_key, int64_t at_ms);
boost::json::value ForgetCommand(int64_t before_ms);

class ParticipantMachine {
 public:
  using LocalLookup = std::function<const Participant::LocalHandler*(std::string_view name)>;
  // `log` (the transactional methods) and the local methods' lookup must
  // outlive the machine.
  ParticipantMachine(const ParticipantLog* log, LocalLookup locals);

  // Runs one command inside the caller's transaction: an error result means
  // the caller rolls back what it changed.
  Result Execute(Database db, const boost::json::value& command) const;

 private:
  Result Prepare(Database db, const boost::json::object& command) const;
  Result Apply(Database db, const boost::json::object& command) const;
  Result Local(Database db, const boost::json::object& command) const;
  static Result Forget(Database db, const boost::json::object& command);

  const ParticipantLog* log_;
  LocalLookup locals_;
};

}  // namespace harpc::txn
