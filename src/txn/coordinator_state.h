// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What a coordinator knows and decides, as a deterministic state machine
// driven by JSON commands. The same commands applied in the same order give
// the same state and the same answers on every member of a coordinator
// group, so every decision — the key check, the votes recorded against the
// votes the client heard, the timeout — is made here, inside Apply, from
// the command alone: a command carries its own time (made by the proposer),
// and nothing here reads a clock or draws a random number.
//
// Commands ({"op":...}):
//   begin    {txid, key, timeout_ms, begun_ms}
//   register {txid, call, participant, address, secret, at_ms}
//   commit   {txid, key, votes:[{call, participant}], decided_ms}
//   abort    {txid, key | "internal":true, reason, at_ms}
//   done     {txids:[...]}       every participant acknowledged phase two
//   forget   {done_before_ms, aborted_before_ms}
//
// Leader-only work (answers waiting, phase two, the timeout sweeper) lives
// outside, in the Coordinator, and learns what changed through the observer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/result.h"
#include "harpc/status.h"
#include "txn/decision_log.h"

namespace harpc::txn {

enum class TxnPhase {
  kActive,
  // Single node only: a commit decision is being written to the decision
  // log; the transaction takes no vote and no abort meanwhile (Hold).
  kDeciding,
  kCommitted,
  kAborted,
};

struct TxnRecord {
  TxnPhase phase = TxnPhase::kActive;
  std::string key;  // given to the client at begin: only it may commit or abort
  int64_t timeout_ms = 0;
  int64_t deadline_ms = 0;  // begun_ms + timeout_ms: an active transaction is aborted after this
  int64_t decided_ms = 0;   // when committed or aborted (the command's time)
  std::string reason;       // why aborted
  // While active: the yes votes registered. From the commit on: the calls
  // committed (a subset: orphans of failovers are left out). Empty once aborted.
  std::vector<EnlistedCall> calls;
  bool done = false;  // committed, and every participant acknowledged phase two
};

// What an applied command changed, for the leader's volatile work.
enum class TxnEvent { kChanged, kCommitted, kAborted, kForgotten };

class CoordinatorState {
 public:
  // `max_votes`: the most yes votes one transaction may register.
  // `keep_done`: keep decisions whose phase two is done until `forget`
  // (a group: memory is the only record); false when a decision log on
  // disk answers for them (single node), so memory holds only the rest.
  CoordinatorState(size_t max_votes, bool keep_done);

  // Applies one command. The result answers its proposer: "begin" gives
  // {"txid","timeout_ms","key"}, "register" {"txid","call","recorded":true}
  // or why the vote is refused; the others null, or PERMISSION_DENIED for a
  // commit or abort without the transaction's key. A malformed command
  // changes nothing and gives INVALID_ARGUMENT.
  Result Apply(const boost::json::value& command);

  // The whole state as JSON text, and back (a group's snapshots).
  std::string Snapshot() const;
  Status Restore(std::string_view snapshot);

  // Called inside Apply for each transaction it changed: `voters` are, for
  // an abort, the yes votes it had (to be told); else empty.
  using Observer = std::function<void(const std::string& txid, TxnEvent, const std::vector<EnlistedCall>& voters)>;
  void Observe(Observer observer) { observer_ = std::move(observer); }

  const TxnRecord* Find(const std::string& txid) const;
  const std::map<std::string, TxnRecord>& transactions() const { return txns_; }

  // What a "commit" command would decide now, without changing anything:
  // the calls to commit, or (empty) why it aborts. False when the command
  // would decide nothing (unknown, already decided, or a wrong key).
  bool WouldCommit(const boost::json::value& commit, std::vector<EnlistedCall>* calls) const;
  // Single node: freezes an active transaction while its commit decision is
  // being written (kDeciding), and thaws it if the write failed.
  void Hold(const std::string& txid);
  void Release(const std::string& txid);
  // Single node: a commit decision read back from the decision log at start.
  void Load(const CommitRecord& record);

  // Active transactions whose deadline is before `now_ms`.
  std::vector<std::string> Expired(int64_t now_ms) const;
  // Whether a "forget" with these times would forget anything.
  bool Forgettable(int64_t done_before_ms, int64_t aborted_before_ms) const;

  // Counted on every member as commands are applied.
  uint64_t begun() const { return begun_; }
  uint64_t committed() const { return committed_; }
  uint64_t aborted() const { return aborted_; }

  // Commands, as a proposer makes them.
  static boost::json::value BeginCommand(const std::string& txid, const std::string& key, int64_t timeout_ms,
                                         int64_t begun_ms);
  static boost::json::value RegisterCommand(const std::string& txid, const EnlistedCall& vote, int64_t at_ms);
  static boost::json::value CommitCommand(const std::string& txid, const std::string& key,
                                          const std::vector<EnlistedCall>& heard, int64_t decided_ms);
  static boost::json::value AbortCommand(const std::string& txid, const std::string& key, const std::string& reason,
                                         int64_t at_ms);
  // An abort the coordinator itself decides (a timeout, a decision that
  // could not be written): it needs no key.
  static boost::json::value InternalAbortCommand(const std::string& txid, const std::string& reason, int64_t at_ms);
  static boost::json::value DoneCommand(const std::vector<std::string>& txids);
  static boost::json::value ForgetCommand(int64_t done_before_ms, int64_t aborted_before_ms);

 private:
  Result Begin(const boost::json::value& c);
  Result Register(const boost::json::value& c);
  Result Commit(const boost::json::value& c);
  Result Abort(const boost::json::value& c);
  Result Done(const boost::json::value& c);
  Result Forget(const boost::json::value& c);
  void MarkAborted(const std::string& txid, TxnRecord& record, std::string reason, int64_t at_ms);
  void MarkCommitted(const std::string& txid, TxnRecord& record, std::vector<EnlistedCall> calls, int64_t at_ms);
  void Erase(std::map<std::string, TxnRecord>::iterator it);
  void Index(const std::string& txid, const TxnRecord& record);
  void Notify(const std::string& txid, TxnEvent event, const std::vector<EnlistedCall>& voters = {});

  size_t max_votes_;
  bool keep_done_;
  std::map<std::string, TxnRecord> txns_;
  // Derived indexes (rebuilt by Restore): active by deadline, aborted and
  // done by decision time, so that sweeps do not scan every transaction.
  std::set<std::pair<int64_t, std::string>> active_, aborted_by_time_, done_by_time_;
  uint64_t begun_ = 0, committed_ = 0, aborted_ = 0;
  Observer observer_;
};

// Why a transaction past its deadline aborts.
std::string TimedOutReason(const TxnRecord& record);

// The yes votes the client heard: "votes":[{"call","participant"}].
Status ParseVotes(const boost::json::value& params, std::vector<EnlistedCall>* votes);

const EnlistedCall* FindVote(const std::vector<EnlistedCall>& votes, const std::string& call,
                             const std::string& participant);

}  // namespace harpc::txn
