// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The coordinator's durable log: one row per commit decision, with the calls
// to commit and where their participants are. Under presumed abort nothing
// else needs to be durable — a transaction without a row was never committed,
// so whoever asks about it after a crash hears "aborted". The row is written
// (and fsynced, with group commit) before any participant hears "commit";
// `done` is set once every participant acknowledged, so that a restarted
// coordinator resumes phase two only for the rest.
#pragma once

#include <string>
#include <vector>

#include <boost/json/array.hpp>

#include "harpc/database.h"
#include "harpc/status.h"

namespace harpc::txn {

// One recorded yes vote, as the participant registered it: the call's
// number, the participant's id, the address where it takes phase two, and
// the secret phase two must present to it (never shown to clients).
struct EnlistedCall {
  std::string call, participant, address, secret;
};

struct CommitRecord {
  std::string txid;
  std::vector<EnlistedCall> calls;
  bool done = false;
  int64_t decided_ms = 0;  // wall clock of the decision: phase two gives up a bounded time after it
};

// Calls as JSON [{"call","participant","address","secret"}], and back.
boost::json::array CallsToJson(const std::vector<EnlistedCall>& calls);
Status CallsFromJson(const boost::json::value& calls, std::vector<EnlistedCall>* out);

extern const char* const kDecisionSchema;

class DecisionLog {
 public:
  // All run on a GroupCommitDb's writer thread.
  static Status RecordCommit(Database db, const CommitRecord& record);
  static Status MarkDone(Database db, const std::vector<std::string>& txids);
  // The commit record of `txid`; false when there is none (never committed).
  static bool Find(Database db, const std::string& txid, CommitRecord* record);
  // Deletes done decisions made before `decided_before_ms`: every
  // participant has applied them, so nobody asks about them any more.
  static Status ForgetDone(Database db, int64_t decided_before_ms);
  // Commits whose phase two has not been acknowledged by everyone.
  static std::vector<CommitRecord> Unfinished(Database db);
};

}  // namespace harpc::txn
