// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn/participant_log.h"

#include <sqlite3.h>

#include <chrono>
#include <set>

#include <boost/json.hpp>

#include "storage/sqlite.h"
#include "util/random_id.h"

namespace harpc::txn {

namespace json = boost::json;

const char* const kParticipantSchema =
    "CREATE TABLE IF NOT EXISTS harpc_txn_call (txid TEXT NOT NULL, call TEXT NOT NULL, method TEXT NOT NULL,"
    " params TEXT NOT NULL, result TEXT NOT NULL, state TEXT NOT NULL, coordinator TEXT NOT NULL,"
    " prepared_ms INTEGER NOT NULL, secret TEXT NOT NULL DEFAULT '', PRIMARY KEY (txid, call));"
    "CREATE INDEX IF NOT EXISTS harpc_txn_call_state ON harpc_txn_call (state, prepared_ms);"
    "CREATE INDEX IF NOT EXISTS harpc_txn_call_coordinator ON harpc_txn_call (coordinator, state);"
    "CREATE TABLE IF NOT EXISTS harpc_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

namespace {
constexpr std::string_view kTombstone = "*";

json::value ParseStored(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

Status SetState(Database db, const std::string& txid, const std::string& call, std::string_view state) {
  return Statement(db, "UPDATE harpc_txn_call SET state = ? WHERE txid = ? AND call = ?")
      .Bind(1, state)
      .Bind(2, txid)
      .Bind(3, call)
      .Run();
}
}  // namespace

int64_t WallClockNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ParticipantLog::ParticipantLog(std::string participant_id, MethodLookup methods)
    : id_(std::move(participant_id)), methods_(std::move(methods)) {}

Result ParticipantLog::Prepare(Database db, const PrepareRequest& r, Prepared* out) const {
  *out = Prepared{};
  const TxnMethod* method = methods_(r.method);
  if (!method) return Unimplemented("no transactional method " + r.method);
  auto yes = [this](json::value result) {
    return json::value{{"vote", "yes"}, {"participant", id_}, {"result", std::move(result)}};
  };
  {
    Statement same(db,
                   "SELECT state, result, method, coordinator, secret FROM harpc_txn_call WHERE txid = ? AND call = ?");
    same.Bind(1, r.txid).Bind(2, r.call);
    if (same.Step() == Statement::kRow) {
      if (same.Text(0) == "aborted") return Status(StatusCode::kAborted, "transaction " + r.txid + " was aborted");
      if (same.Text(2) != r.method) {
        return Status(StatusCode::kFailedPrecondition,
                      "call " + r.call + " of transaction " + r.txid + " was prepared as " + same.Text(2));
      }
      *out = {.recorded = false, .state = same.Text(0), .coordinator = same.Text(3), .secret = same.Text(4)};
      return yes(ParseStored(same.Text(1)));  // a repeat: the first answer
    }
  }
  {
    // A decided call first, if there is one.
    Statement others(db,
                     "SELECT state, coordinator FROM harpc_txn_call WHERE txid = ?"
                     " ORDER BY state = 'prepared' LIMIT 1");
    others.Bind(1, r.txid);
    if (others.Step() == Statement::kRow) {
      if (others.Text(0) != "prepared") {
        return Status(StatusCode::kAborted, "transaction " + r.txid + " is already " + others.Text(0) + " here");
      }
      // One coordinator per transaction: the one asked about its calls
      // decides them all, so a call naming another one could be decided by it.
      if (others.Text(1) != r.coordinator) {
        return FailedPrecondition("transaction " + r.txid + " is coordinated by " + others.Text(1) + " here, not " +
                                  r.coordinator);
      }
    }
  }
  {
    Statement held(db,
                   "SELECT COUNT(*) FROM (SELECT 1 FROM harpc_txn_call WHERE coordinator = ?"
                   " AND state = 'prepared' LIMIT ?)");
    held.Bind(1, r.coordinator).Bind(2, r.max_prepared_per_coordinator);
    if (held.Step() == Statement::kRow && held.Int(0) >= r.max_prepared_per_coordinator) {
      return ResourceExhausted(std::to_string(held.Int(0)) + " calls naming coordinator " + r.coordinator +
                               " are prepared here already, the most allowed; try again when they are decided");
    }
  }
  if (r.secret.empty()) return InvalidArgument("a new prepared call needs the secret made by its proposer");
  Result prepared = method->prepare(db, r.params);
  if (!prepared.ok()) return prepared;  // votes no; the savepoint undoes its changes
  Status s = Statement(db,
                       "INSERT INTO harpc_txn_call (txid, call, method, params, result, state, coordinator,"
                       " prepared_ms, secret) VALUES (?, ?, ?, ?, ?, 'prepared', ?, ?, ?)")
                 .Bind(1, r.txid)
                 .Bind(2, r.call)
                 .Bind(3, r.method)
                 .Bind(4, json::serialize(r.params))
                 .Bind(5, json::serialize(prepared.value()))
                 .Bind(6, r.coordinator)
                 .Bind(7, r.prepared_ms)
                 .Bind(8, r.secret)
                 .Run();
  if (!s.ok()) return s;
  *out = {.recorded = true, .state = "prepared", .coordinator = r.coordinator, .secret = r.secret};
  return yes(prepared.value());
}

Result ParticipantLog::Apply(Database db, const std::string& txid, const Decision& d) const {
  struct Row {
    std::string call, method, params, state, secret;
  };
  std::vector<Row> rows;
  {
    Statement select(db, "SELECT call, method, params, state, secret FROM harpc_txn_call WHERE txid = ?");
    select.Bind(1, txid);
    while (select.Step() == Statement::kRow) {
      rows.push_back({select.Text(0), select.Text(1), select.Text(2), select.Text(3), select.Text(4)});
    }
  }
  const std::set<std::string> listed(d.calls.begin(), d.calls.end());
  if (d.secrets) {
    // Sent to us: only the coordinator the calls registered with knows
    // their secrets. Every secret presented must match its call's.
    size_t matched = 0;
    for (const auto& [call, secret] : *d.secrets) {
      // (Named for the lambda: clang 14 cannot capture a structured binding.)
      auto row = std::find_if(rows.begin(), rows.end(), [&name = call](const Row& x) { return x.call == name; });
      if (row == rows.end()) continue;  // never prepared here: a commit says so below
      if (!SameSecret(row->secret, secret)) {
        return PermissionDenied("call " + call + " of " + txid +
                                ": wrong secret (phase two is taken only from the "
                                "coordinator the vote was registered with)");
      }
      ++matched;
    }
    for (const std::string& call : listed) {
      if (!d.secrets->contains(call)) return PermissionDenied("call " + call + " of " + txid + ": no secret presented");
    }
    if (!d.commit && matched == 0) {
      // Nothing here the sender has proved it may decide: nothing to
      // release, and no tombstone left by a stranger.
      return json::value{{"txid", txid}, {"committed", 0}, {"aborted", 0}};
    }
  }
  if (d.commit) {
    // A commit must find every call it names prepared or committed here;
    // anything else means the decision and this database disagree.
    for (const std::string& call : listed) {
      // (Named for the lambda: clang 14 cannot capture a structured binding.)
      auto row = std::find_if(rows.begin(), rows.end(), [&name = call](const Row& x) { return x.call == name; });
      if (row == rows.end()) {
        return Status(StatusCode::kFailedPrecondition, "call " + call + " of " + txid + " was never prepared here");
      }
      if (row->state == "aborted") {
        return Status(StatusCode::kFailedPrecondition, "call " + call + " of " + txid + " was aborted here");
      }
    }
  } else {
    for (const Row& row : rows) {
      if (row.state == "committed") {
        return Status(StatusCode::kFailedPrecondition, "transaction " + txid + " is committed here");
      }
    }
  }
  int committed = 0, aborted = 0;
  for (const Row& row : rows) {
    if (row.state != "prepared") continue;
    const TxnMethod* method = methods_(row.method);
    if (!method) return Internal("prepared call " + row.call + " of " + txid + " names unknown method " + row.method);
    const json::value params = ParseStored(row.params);
    const bool commit = d.commit && listed.count(row.call);
    Status s = commit ? method->commit(db, params) : method->abort(db, params);
    if (!s.ok()) return Status(s.code(), row.method + (commit ? " commit: " : " abort: ") + s.message());
    if (s = SetState(db, txid, row.call, commit ? "committed" : "aborted"); !s.ok()) return s;
    ++(commit ? committed : aborted);
  }
  if (!d.commit && rows.empty()) {
    // Aborted before any prepare arrived: a late prepare must not succeed.
    Status s = Statement(db,
                         "INSERT OR IGNORE INTO harpc_txn_call (txid, call, method, params, result, state,"
                         " coordinator, prepared_ms) VALUES (?, ?, '', 'null', 'null', 'aborted', '', ?)")
                   .Bind(1, txid)
                   .Bind(2, kTombstone)
                   .Bind(3, d.at_ms)
                   .Run();
    if (!s.ok()) return s;
  }
  return json::value{{"txid", txid}, {"committed", committed}, {"aborted", aborted}};
}

std::vector<InDoubt> ParticipantLog::FindInDoubt(Database db, int64_t prepared_before_ms, int64_t per_coordinator) {
  std::vector<InDoubt> found;
  Statement select(db,
                   "SELECT txid, coordinator FROM ("
                   "  SELECT txid, coordinator, MIN(prepared_ms) AS first,"
                   "         ROW_NUMBER() OVER (PARTITION BY coordinator ORDER BY MIN(prepared_ms)) AS n"
                   "  FROM harpc_txn_call WHERE state = 'prepared' AND prepared_ms <= ? GROUP BY txid, coordinator)"
                   " WHERE n <= ? ORDER BY first");
  select.Bind(1, prepared_before_ms).Bind(2, per_coordinator);
  while (select.Step() == Statement::kRow) found.push_back({select.Text(0), select.Text(1)});
  return found;
}

Status ParticipantLog::Upgrade(Database db) {
  Statement columns(db, "SELECT 1 FROM pragma_table_info('harpc_txn_call') WHERE name = 'secret'");
  if (columns.Step() == Statement::kRow) return Status::Ok();
  // Calls prepared before phase two needed a secret keep an empty one, which
  // nothing matches: only a decision learnt by asking applies to them.
  return db.Exec("ALTER TABLE harpc_txn_call ADD COLUMN secret TEXT NOT NULL DEFAULT ''");
}

json::object CallCounts::ToJson() const {
  return {{"prepared", prepared}, {"committed", committed}, {"aborted", aborted}};
}

CallCounts ParticipantLog::Counts(Database db) {
  CallCounts counts;
  Statement select(db, "SELECT state, COUNT(*) FROM harpc_txn_call WHERE call != '*' GROUP BY state");
  while (select.Step() == Statement::kRow) {
    const std::string state = select.Text(0);
    if (state == "prepared") counts.prepared = select.Int(1);
    if (state == "committed") counts.committed = select.Int(1);
    if (state == "aborted") counts.aborted = select.Int(1);
  }
  return counts;
}

json::value ParticipantLog::Describe(Database db, const std::string& txid) {
  json::array calls;
  Statement select(db, "SELECT call, method, state FROM harpc_txn_call WHERE txid = ? ORDER BY call");
  select.Bind(1, txid);
  while (select.Step() == Statement::kRow) {
    calls.push_back({{"call", select.Text(0)}, {"method", select.Text(1)}, {"state", select.Text(2)}});
  }
  return calls;
}

Status ParticipantLog::ForgetDecided(Database db, int64_t decided_before_ms) {
  return Statement(db, "DELETE FROM harpc_txn_call WHERE state != 'prepared' AND prepared_ms < ?")
      .Bind(1, decided_before_ms)
      .Run();
}

Status ParticipantLog::LoadOrCreateId(Database db, std::string* id) {
  Statement select(db, "SELECT value FROM harpc_meta WHERE key = 'participant_id'");
  if (select.Step() == Statement::kRow) {
    *id = select.Text(0);
    return Status::Ok();
  }
  *id = RandomId();
  return Statement(db, "INSERT INTO harpc_meta (key, value) VALUES ('participant_id', ?)").Bind(1, *id).Run();
}

}  // namespace harpc::txn
