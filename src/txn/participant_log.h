// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The participant's state machine, kept in its own SQLite database next to
// the application's tables (table harpc_txn_call), one row per prepared call:
//
//   (no row) --prepare: handler ok--> prepared --commit--> committed
//                                         \------abort---> aborted
//   (no row) --abort--> aborted tombstone (call "*"): later prepares are refused
//
// Every function runs inside one local transaction (a GroupCommitDb batch's
// savepoint, or a replicated group's command), so the row and the handler's
// business change commit together or not at all. Commit and abort are
// idempotent; a call that is already decided answers as decided. Nothing
// here reads a clock or makes a random number (the request and the decision
// carry them), so the same calls give the same database everywhere.
//
// Each prepared call keeps the coordinator its prepare named (one per
// transaction here) and a secret made at prepare, which the participant
// gives that coordinator only, with its vote: phase two sent over the wire
// must present it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/result.h"
#include "harpc/txn.h"

namespace harpc::txn {

// The library's tables, created with the application's schema.
extern const char* const kParticipantSchema;

struct PrepareRequest {
  std::string txid;         // the coordinator's transaction id
  std::string call;         // the call's number within the transaction ("0", "1", ...)
  std::string coordinator;  // "host:port" the vote is registered with and the outcome asked of
  std::string method;
  boost::json::value params;
  // A new call is refused (RESOURCE_EXHAUSTED, before its handler runs) when
  // this many calls naming the same coordinator are prepared here already.
  int64_t max_prepared_per_coordinator = INT64_MAX;
  // Made by whoever proposes the prepare, never by Prepare itself, so that
  // every replica of a participant group records the same call: the secret
  // a new call is recorded with (a RandomId, required) and the time it is
  // recorded as prepared at (wall-clock milliseconds).
  std::string secret;
  int64_t prepared_ms = 0;
};

// The call's row after a prepare: what the vote registration needs.
struct Prepared {
  bool recorded = false;    // prepared now (false for a repeat or a "no")
  std::string state;        // "prepared" or "committed" (a repeat after the commit)
  std::string coordinator;  // as recorded by the first prepare
  std::string secret;
};

// What the coordinator decided for this participant: commit `calls` (and
// abort any other call of the transaction prepared here), or abort them all.
struct Decision {
  bool commit = false;
  std::vector<std::string> calls;
  // Phase two sent to us: each named call's secret, all of which must match
  // (for an abort, those of the calls prepared here). Empty (nullopt) when
  // the participant learnt the decision by asking the coordinator itself.
  std::optional<std::map<std::string, std::string>> secrets;
  // When the decision is applied (wall-clock milliseconds, made by whoever
  // proposes it): the time of the tombstone an abort before any prepare
  // leaves.
  int64_t at_ms = 0;
};

struct InDoubt {
  std::string txid, coordinator;
};

// The participant's calls by state.
struct CallCounts {
  int64_t prepared = 0, committed = 0, aborted = 0;
  // {"prepared":N,"committed":N,"aborted":N}, as Participant.status answers it.
  boost::json::object ToJson() const;
};

class ParticipantLog {
 public:
  using MethodLookup = std::function<const TxnMethod*(std::string_view name)>;
  ParticipantLog(std::string participant_id, MethodLookup methods);

  // Phase one. A new call runs the method's prepare handler and records the
  // "yes" with a new secret; a repeat answers the recorded yes; a call of a
  // transaction already aborted (or decided without it) is refused with
  // ABORTED, one naming another coordinator than the transaction's other
  // calls here with FAILED_PRECONDITION.
  // Answer: {"vote":"yes","participant":ID,"result":R}; `*prepared` the row.
  Result Prepare(Database db, const PrepareRequest& request, Prepared* prepared) const;

  // Phase two: applies `decision` to every call of `txid` prepared here.
  // Answer: {"txid":T,"committed":N,"aborted":M} (calls changed now).
  Result Apply(Database db, const std::string& txid, const Decision& decision) const;

  // Transactions with a call prepared at or before `prepared_before_ms`,
  // oldest first, at most `per_coordinator` per coordinator address (so that
  // a flood naming one address does not hide the others' calls).
  static std::vector<InDoubt> FindInDoubt(Database db, int64_t prepared_before_ms, int64_t per_coordinator = 1000);
  // Adds the columns of later versions to a database made by an earlier one.
  static Status Upgrade(Database db);
  // Calls by state.
  static CallCounts Counts(Database db);
  // The same as JSON: {"prepared":N,"committed":N,"aborted":N}.
  static boost::json::value CountByState(Database db) { return Counts(db).ToJson(); }
  // The calls of one transaction: [{"call":C,"method":M,"state":S},...].
  static boost::json::value Describe(Database db, const std::string& txid);
  // Forgets calls decided before `decided_before_ms` (by their prepare
  // time); a prepare of theirs cannot arrive any more.
  static Status ForgetDecided(Database db, int64_t decided_before_ms);
  // The database's participant id, made on first use.
  static Status LoadOrCreateId(Database db, std::string* id);

  const std::string& id() const { return id_; }

 private:
  std::string id_;
  MethodLookup methods_;
};

int64_t WallClockNowMs();

}  // namespace harpc::txn
