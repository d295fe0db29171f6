// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn/coordinator_state.h"

#include <algorithm>

#include <boost/json.hpp>

#include "util/json_params.h"
#include "util/random_id.h"

namespace harpc::txn {

namespace json = boost::json;

namespace {
json::value Recorded(const std::string& txid, const std::string& call) {
  return json::value{{"txid", txid}, {"call", call}, {"recorded", true}};
}

// Only the client that began a transaction decides it: it alone was given
// the key. Others may ask (Coordinator.status), not decide.
Status CheckKey(const std::string& txid, const TxnRecord& record, const json::value& command) {
  std::string key;
  if (Status s = StringField(command, "key", false, &key); !s.ok()) return s;
  if (!SameSecret(record.key, key)) {
    return PermissionDenied("transaction " + txid + ": \"key\" is not the one Coordinator.begin gave");
  }
  return Status::Ok();
}

// What a commit decides, from the votes recorded and the votes the client
// heard: every call number recorded must be listed, and every listed vote
// recorded — otherwise the transaction aborts, and `why` says which call
// disagrees. A call recorded from two participants (a prepare that failed
// over) commits where the client heard the yes; the other one is an orphan,
// aborted when its participant asks.
std::vector<EnlistedCall> Decision(const std::vector<EnlistedCall>& recorded, const std::vector<EnlistedCall>& heard,
                                   std::string* why) {
  std::vector<EnlistedCall> chosen;
  for (const EnlistedCall& h : heard) {
    const EnlistedCall* vote = FindVote(recorded, h.call, h.participant);
    if (!vote) {
      *why = "call " + h.call + " at participant " + h.participant + " has no yes vote registered here";
      return {};
    }
    chosen.push_back(*vote);
  }
  for (const EnlistedCall& r : recorded) {
    auto listed = std::find_if(heard.begin(), heard.end(), [&](const EnlistedCall& h) { return h.call == r.call; });
    if (listed == heard.end()) {
      *why = "call " + r.call + " voted yes at participant " + r.participant + " but the commit does not list it";
      return {};
    }
  }
  return chosen;
}

// The verdict of a commit command on an undecided transaction: the calls to
// commit, or why it aborts.
struct Verdict {
  std::vector<EnlistedCall> calls;
  std::string abort_reason;
};
Status Judge(const std::string& txid, const TxnRecord& record, const json::value& command, Verdict* verdict) {
  std::vector<EnlistedCall> heard;
  int64_t decided_ms = 0;
  if (Status s = ParseVotes(command, &heard); !s.ok()) return s;
  if (Status s = IntField(command, "decided_ms", true, &decided_ms); !s.ok()) return s;
  if (Status s = CheckKey(txid, record, command); !s.ok()) return s;
  if (decided_ms > record.deadline_ms) {
    verdict->abort_reason = TimedOutReason(record);
    return Status::Ok();
  }
  verdict->calls = Decision(record.calls, heard, &verdict->abort_reason);
  return Status::Ok();
}

const char* PhaseName(TxnPhase phase) {
  switch (phase) {
    case TxnPhase::kActive:
      return "active";
    case TxnPhase::kDeciding:
      return "deciding";
    case TxnPhase::kCommitted:
      return "committed";
    case TxnPhase::kAborted:
      return "aborted";
  }
  return "active";
}

bool PhaseFromName(std::string_view name, TxnPhase* phase) {
  for (TxnPhase p : {TxnPhase::kActive, TxnPhase::kDeciding, TxnPhase::kCommitted, TxnPhase::kAborted}) {
    if (name == PhaseName(p)) {
      *phase = p;
      return true;
    }
  }
  return false;
}
}  // namespace

std::string TimedOutReason(const TxnRecord& record) {
  return "timed out: not committed within " + std::to_string(record.timeout_ms) + " ms";
}

Status ParseVotes(const json::value& p, std::vector<EnlistedCall>* votes) {
  const json::value* list = p.is_object() ? p.as_object().if_contains("votes") : nullptr;
  if (!list) return Status::Ok();
  if (!list->is_array()) return InvalidArgument("\"votes\" must be an array");
  for (const json::value& c : list->as_array()) {
    EnlistedCall vote;
    if (Status s = StringField(c, "call", true, &vote.call); !s.ok()) return s;
    if (Status s = StringField(c, "participant", true, &vote.participant); !s.ok()) return s;
    if (vote.call.empty() || vote.participant.empty()) {
      return InvalidArgument("every vote needs a non-empty \"call\" and \"participant\"");
    }
    for (const EnlistedCall& other : *votes) {
      if (other.call == vote.call) return InvalidArgument("call " + vote.call + " listed twice");
    }
    votes->push_back(std::move(vote));
  }
  return Status::Ok();
}

const EnlistedCall* FindVote(const std::vector<EnlistedCall>& votes, const std::string& call,
                             const std::string& participant) {
  for (const EnlistedCall& v : votes) {
    if (v.call == call && v.participant == participant) return &v;
  }
  return nullptr;
}

CoordinatorState::CoordinatorState(size_t max_votes, bool keep_done) : max_votes_(max_votes), keep_done_(keep_done) {}

json::value CoordinatorState::BeginCommand(const std::string& txid, const std::string& key, int64_t timeout_ms,
                                           int64_t begun_ms) {
  return {{"op", "begin"}, {"txid", txid}, {"key", key}, {"timeout_ms", timeout_ms}, {"begun_ms", begun_ms}};
}

json::value CoordinatorState::RegisterCommand(const std::string& txid, const EnlistedCall& vote, int64_t at_ms) {
  return {{"op", "register"},        {"txid", txid},          {"call", vote.call}, {"participant", vote.participant},
          {"address", vote.address}, {"secret", vote.secret}, {"at_ms", at_ms}};
}

json::value CoordinatorState::CommitCommand(const std::string& txid, const std::string& key,
                                            const std::vector<EnlistedCall>& heard, int64_t decided_ms) {
  json::array votes;
  for (const EnlistedCall& v : heard) votes.push_back(json::object{{"call", v.call}, {"participant", v.participant}});
  return {{"op", "commit"}, {"txid", txid}, {"key", key}, {"votes", std::move(votes)}, {"decided_ms", decided_ms}};
}

json::value CoordinatorState::AbortCommand(const std::string& txid, const std::string& key, const std::string& reason,
                                           int64_t at_ms) {
  return {{"op", "abort"}, {"txid", txid}, {"key", key}, {"reason", reason}, {"at_ms", at_ms}};
}

json::value CoordinatorState::InternalAbortCommand(const std::string& txid, const std::string& reason, int64_t at_ms) {
  return {{"op", "abort"}, {"txid", txid}, {"internal", true}, {"reason", reason}, {"at_ms", at_ms}};
}

json::value CoordinatorState::DoneCommand(const std::vector<std::string>& txids) {
  json::array list(txids.begin(), txids.end());
  return {{"op", "done"}, {"txids", std::move(list)}};
}

json::value CoordinatorState::ForgetCommand(int64_t done_before_ms, int64_t aborted_before_ms) {
  return {{"op", "forget"}, {"done_before_ms", done_before_ms}, {"aborted_before_ms", aborted_before_ms}};
}

Result CoordinatorState::Apply(const json::value& command) {
  std::string op;
  if (!command.is_object()) return InvalidArgument("a coordinator command must be an object");
  if (Status s = StringField(command, "op", true, &op); !s.ok()) return s;
  if (op == "begin") return Begin(command);
  if (op == "register") return Register(command);
  if (op == "commit") return Commit(command);
  if (op == "abort") return Abort(command);
  if (op == "done") return Done(command);
  if (op == "forget") return Forget(command);
  return InvalidArgument("unknown coordinator command \"" + op + "\"");
}

Result CoordinatorState::Begin(const json::value& c) {
  std::string txid, key;
  int64_t timeout_ms = 0, begun_ms = 0;
  if (Status s = StringField(c, "txid", true, &txid); !s.ok()) return s;
  if (Status s = StringField(c, "key", true, &key); !s.ok()) return s;
  if (Status s = IntField(c, "timeout_ms", true, &timeout_ms); !s.ok()) return s;
  if (Status s = IntField(c, "begun_ms", true, &begun_ms); !s.ok()) return s;
  if (txid.empty() || key.empty()) return InvalidArgument("begin needs a txid and a key");
  if (txns_.contains(txid)) return Status(StatusCode::kAlreadyExists, "transaction " + txid + " exists");
  TxnRecord record{.key = key, .timeout_ms = timeout_ms, .deadline_ms = begun_ms + timeout_ms};
  auto [it, inserted] = txns_.emplace(txid, std::move(record));
  Index(txid, it->second);
  ++begun_;
  Notify(txid, TxnEvent::kChanged);
  return json::value{{"txid", txid}, {"timeout_ms", timeout_ms}, {"key", key}};
}

// A participant's yes vote, registered before it answers the client: the
// decision is made from these, never from the client's list. The secret is
// what phase two must present to that participant.
Result CoordinatorState::Register(const json::value& c) {
  std::string txid;
  EnlistedCall vote;
  int64_t at_ms = 0;
  if (Status s = StringField(c, "txid", true, &txid); !s.ok()) return s;
  for (auto [name, out] : {std::pair{"call", &vote.call}, std::pair{"participant", &vote.participant},
                           std::pair{"address", &vote.address}, std::pair{"secret", &vote.secret}}) {
    if (Status s = StringField(c, name, true, out); !s.ok()) return s;
    if (out->empty()) return InvalidArgument(std::string("\"") + name + "\" must not be empty");
  }
  if (Status s = IntField(c, "at_ms", true, &at_ms); !s.ok()) return s;
  auto it = txns_.find(txid);
  if (it == txns_.end()) return Aborted("transaction " + txid + " is unknown here (presumed abort)");
  TxnRecord& record = it->second;
  if (record.phase == TxnPhase::kActive && at_ms > record.deadline_ms) {
    MarkAborted(txid, record, TimedOutReason(record), at_ms);
  }
  if (record.phase == TxnPhase::kAborted) return Aborted("transaction " + txid + " is aborted: " + record.reason);
  const EnlistedCall* same = FindVote(record.calls, vote.call, vote.participant);
  if (same) {
    if (SameSecret(same->secret, vote.secret)) return Recorded(txid, vote.call);  // a repeat
    return FailedPrecondition("call " + vote.call + " of " + txid + " is registered by participant " +
                              vote.participant + " with another secret");
  }
  if (record.phase != TxnPhase::kActive) {
    return Aborted("transaction " + txid + " was " + (record.phase == TxnPhase::kDeciding ? "decided" : "committed") +
                   " without call " + vote.call);
  }
  if (record.calls.size() >= max_votes_) {
    return ResourceExhausted("transaction " + txid + " has " + std::to_string(record.calls.size()) +
                             " votes, the most one may have");
  }
  record.calls.push_back(std::move(vote));
  Notify(txid, TxnEvent::kChanged);
  return Recorded(txid, record.calls.back().call);
}

Result CoordinatorState::Commit(const json::value& c) {
  std::string txid;
  if (Status s = StringField(c, "txid", true, &txid); !s.ok()) return s;
  auto it = txns_.find(txid);
  // Unknown, or decided already: the outcome stands, the key decides nothing.
  if (it == txns_.end()) return json::value();
  TxnRecord& record = it->second;
  // (A commit while its decision is being written waits for that one.)
  if (record.phase != TxnPhase::kActive) return json::value();
  Verdict verdict;
  if (Status s = Judge(txid, record, c, &verdict); !s.ok()) return s;
  const int64_t decided_ms = c.at("decided_ms").as_int64();
  if (verdict.abort_reason.empty()) {
    MarkCommitted(txid, record, std::move(verdict.calls), decided_ms);
  } else {
    MarkAborted(txid, record, std::move(verdict.abort_reason), decided_ms);
  }
  return json::value();
}

bool CoordinatorState::WouldCommit(const json::value& commit, std::vector<EnlistedCall>* calls) const {
  std::string txid;
  if (!StringField(commit, "txid", true, &txid).ok()) return false;
  const TxnRecord* record = Find(txid);
  if (!record || record->phase != TxnPhase::kActive) return false;
  Verdict verdict;
  if (!Judge(txid, *record, commit, &verdict).ok() || !verdict.abort_reason.empty()) return false;
  *calls = std::move(verdict.calls);
  return true;
}

Result CoordinatorState::Abort(const json::value& c) {
  std::string txid, reason;
  int64_t at_ms = 0;
  if (Status s = StringField(c, "txid", true, &txid); !s.ok()) return s;
  if (Status s = StringField(c, "reason", false, &reason); !s.ok()) return s;
  if (Status s = IntField(c, "at_ms", true, &at_ms); !s.ok()) return s;
  const json::value* internal = c.as_object().if_contains("internal");
  auto it = txns_.find(txid);
  if (it == txns_.end() || it->second.phase != TxnPhase::kActive) return json::value();
  if (!(internal && internal->is_bool() && internal->as_bool())) {
    if (Status s = CheckKey(txid, it->second, c); !s.ok()) return s;
  }
  MarkAborted(txid, it->second, reason.empty() ? "aborted by the client" : reason, at_ms);
  return json::value();
}

Result CoordinatorState::Done(const json::value& c) {
  const json::value* list = c.as_object().if_contains("txids");
  if (!list || !list->is_array()) return InvalidArgument("done needs \"txids\"");
  for (const json::value& t : list->as_array()) {
    if (!t.is_string()) return InvalidArgument("\"txids\" must be strings");
  }
  for (const json::value& t : list->as_array()) {
    const std::string txid(t.as_string());
    auto it = txns_.find(txid);
    if (it == txns_.end() || it->second.phase != TxnPhase::kCommitted || it->second.done) continue;
    it->second.done = true;
    if (keep_done_) {
      Index(txid, it->second);
      Notify(txid, TxnEvent::kChanged);
    } else {
      Erase(it);  // the decision log answers for it from now on
      Notify(txid, TxnEvent::kForgotten);
    }
  }
  return json::value();
}

Result CoordinatorState::Forget(const json::value& c) {
  int64_t done_before = 0, aborted_before = 0;
  if (Status s = IntField(c, "done_before_ms", true, &done_before); !s.ok()) return s;
  if (Status s = IntField(c, "aborted_before_ms", true, &aborted_before); !s.ok()) return s;
  for (auto [index, before] : {std::pair{&done_by_time_, done_before}, std::pair{&aborted_by_time_, aborted_before}}) {
    while (!index->empty() && index->begin()->first < before) {
      const std::string txid = index->begin()->second;
      Erase(txns_.find(txid));
      Notify(txid, TxnEvent::kForgotten);
    }
  }
  return json::value();
}

void CoordinatorState::MarkAborted(const std::string& txid, TxnRecord& record, std::string reason, int64_t at_ms) {
  active_.erase({record.deadline_ms, txid});
  record.phase = TxnPhase::kAborted;
  record.reason = std::move(reason);
  record.decided_ms = at_ms;
  std::vector<EnlistedCall> voters = std::exchange(record.calls, {});
  Index(txid, record);
  ++aborted_;
  Notify(txid, TxnEvent::kAborted, voters);
}

void CoordinatorState::MarkCommitted(const std::string& txid, TxnRecord& record, std::vector<EnlistedCall> calls,
                                     int64_t at_ms) {
  active_.erase({record.deadline_ms, txid});
  record.phase = TxnPhase::kCommitted;
  record.decided_ms = at_ms;
  record.calls = std::move(calls);
  ++committed_;
  Notify(txid, TxnEvent::kCommitted);
}

void CoordinatorState::Index(const std::string& txid, const TxnRecord& record) {
  switch (record.phase) {
    case TxnPhase::kActive:
      active_.emplace(record.deadline_ms, txid);
      break;
    case TxnPhase::kDeciding:
      break;
    case TxnPhase::kAborted:
      aborted_by_time_.emplace(record.decided_ms, txid);
      break;
    case TxnPhase::kCommitted:
      if (record.done && keep_done_) done_by_time_.emplace(record.decided_ms, txid);
      break;
  }
}

void CoordinatorState::Erase(std::map<std::string, TxnRecord>::iterator it) {
  const TxnRecord& r = it->second;
  active_.erase({r.deadline_ms, it->first});
  aborted_by_time_.erase({r.decided_ms, it->first});
  done_by_time_.erase({r.decided_ms, it->first});
  txns_.erase(it);
}

void CoordinatorState::Notify(const std::string& txid, TxnEvent event, const std::vector<EnlistedCall>& voters) {
  if (observer_) observer_(txid, event, voters);
}

const TxnRecord* CoordinatorState::Find(const std::string& txid) const {
  auto it = txns_.find(txid);
  return it == txns_.end() ? nullptr : &it->second;
}

void CoordinatorState::Hold(const std::string& txid) {
  auto it = txns_.find(txid);
  if (it == txns_.end() || it->second.phase != TxnPhase::kActive) return;
  active_.erase({it->second.deadline_ms, txid});
  it->second.phase = TxnPhase::kDeciding;
}

void CoordinatorState::Release(const std::string& txid) {
  auto it = txns_.find(txid);
  if (it == txns_.end() || it->second.phase != TxnPhase::kDeciding) return;
  it->second.phase = TxnPhase::kActive;
  Index(txid, it->second);
}

void CoordinatorState::Load(const CommitRecord& r) {
  TxnRecord record{.phase = TxnPhase::kCommitted, .decided_ms = r.decided_ms, .calls = r.calls, .done = r.done};
  auto [it, inserted] = txns_.insert_or_assign(r.txid, std::move(record));
  Index(r.txid, it->second);
}

std::vector<std::string> CoordinatorState::Expired(int64_t now_ms) const {
  std::vector<std::string> expired;
  for (auto it = active_.begin(); it != active_.end() && it->first < now_ms; ++it) expired.push_back(it->second);
  return expired;
}

bool CoordinatorState::Forgettable(int64_t done_before_ms, int64_t aborted_before_ms) const {
  return (!done_by_time_.empty() && done_by_time_.begin()->first < done_before_ms) ||
         (!aborted_by_time_.empty() && aborted_by_time_.begin()->first < aborted_before_ms);
}

std::string CoordinatorState::Snapshot() const {
  json::array list;
  for (const auto& [txid, r] : txns_) {
    list.push_back(json::object{{"txid", txid},
                                {"phase", PhaseName(r.phase)},
                                {"key", r.key},
                                {"timeout_ms", r.timeout_ms},
                                {"deadline_ms", r.deadline_ms},
                                {"decided_ms", r.decided_ms},
                                {"reason", r.reason},
                                {"calls", CallsToJson(r.calls)},
                                {"done", r.done}});
  }
  return json::serialize(json::object{{"transactions", std::move(list)}});
}

Status CoordinatorState::Restore(std::string_view snapshot) {
  boost::system::error_code ec;
  json::value v = json::parse(snapshot, ec);
  const json::value* list = !ec && v.is_object() ? v.as_object().if_contains("transactions") : nullptr;
  if (!list || !list->is_array()) return InvalidArgument("coordinator snapshot: not {\"transactions\":[...]}");
  std::map<std::string, TxnRecord> restored;
  for (const json::value& t : list->as_array()) {
    std::string txid, phase;
    TxnRecord r;
    Status s = StringField(t, "txid", true, &txid);
    if (s.ok()) s = StringField(t, "phase", true, &phase);
    if (s.ok() && !PhaseFromName(phase, &r.phase)) s = InvalidArgument("unknown phase \"" + phase + "\"");
    if (s.ok()) s = StringField(t, "key", true, &r.key);
    if (s.ok()) s = IntField(t, "timeout_ms", true, &r.timeout_ms);
    if (s.ok()) s = IntField(t, "deadline_ms", true, &r.deadline_ms);
    if (s.ok()) s = IntField(t, "decided_ms", true, &r.decided_ms);
    if (s.ok()) s = StringField(t, "reason", true, &r.reason);
    if (s.ok()) s = CallsFromJson(t.as_object().contains("calls") ? t.at("calls") : json::value(), &r.calls);
    const json::value* done = t.is_object() ? t.as_object().if_contains("done") : nullptr;
    if (s.ok() && !(done && done->is_bool())) s = InvalidArgument("\"done\" must be a boolean");
    if (!s.ok()) return InvalidArgument("coordinator snapshot: " + s.message());
    r.done = done->as_bool();
    restored.insert_or_assign(std::move(txid), std::move(r));
  }
  txns_ = std::move(restored);
  active_.clear();
  aborted_by_time_.clear();
  done_by_time_.clear();
  for (const auto& [txid, r] : txns_) Index(txid, r);
  return Status::Ok();
}

}  // namespace harpc::txn
