// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn/decision_log.h"

#include <sqlite3.h>

#include <boost/json.hpp>

#include "storage/sqlite.h"
#include "txn/participant_log.h"

namespace harpc::txn {

namespace json = boost::json;

const char* const kDecisionSchema =
    "CREATE TABLE IF NOT EXISTS decisions (txid TEXT PRIMARY KEY, calls TEXT NOT NULL,"
    " decided_ms INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS decisions_unfinished ON decisions (done);";

json::array CallsToJson(const std::vector<EnlistedCall>& calls) {
  json::array a;
  for (const EnlistedCall& c : calls) {
    a.push_back({{"call", c.call}, {"participant", c.participant}, {"address", c.address}, {"secret", c.secret}});
  }
  return a;
}

Status CallsFromJson(const json::value& v, std::vector<EnlistedCall>* calls) {
  if (!v.is_array()) return InvalidArgument("calls must be an array");
  for (const json::value& c : v.as_array()) {
    const json::object* o = c.if_object();
    if (!o) return InvalidArgument("every call must be an object");
    const json::value* secret = o->if_contains("secret");  // absent in decisions of harpc before issue 10
    EnlistedCall call;
    for (auto [name, out] : {std::pair{"call", &call.call}, std::pair{"participant", &call.participant},
                             std::pair{"address", &call.address}}) {
      const json::value* field = o->if_contains(name);
      if (!field || !field->is_string()) return InvalidArgument(std::string("a call without \"") + name + "\"");
      *out = std::string(field->as_string());
    }
    if (secret && secret->is_string()) call.secret = std::string(secret->as_string());
    calls->push_back(std::move(call));
  }
  return Status::Ok();
}

namespace {
std::vector<EnlistedCall> ParseCalls(const std::string& text) {
  std::vector<EnlistedCall> calls;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec) CallsFromJson(v, &calls);
  return calls;
}
}  // namespace

Status DecisionLog::RecordCommit(Database db, const CommitRecord& r) {
  return Statement(db, "INSERT OR IGNORE INTO decisions (txid, calls, decided_ms, done) VALUES (?, ?, ?, 0)")
      .Bind(1, r.txid)
      .Bind(2, json::serialize(CallsToJson(r.calls)))
      .Bind(3, r.decided_ms ? r.decided_ms : WallClockNowMs())
      .Run();
}

Status DecisionLog::MarkDone(Database db, const std::vector<std::string>& txids) {
  Statement update(db, "UPDATE decisions SET done = 1 WHERE txid = ?");
  for (const std::string& txid : txids) {
    update.Bind(1, txid);
    if (update.Step() != Statement::kDone) return Internal(std::string("decision log: ") + db.error());
    update.Reset();
  }
  return Status::Ok();
}

Status DecisionLog::ForgetDone(Database db, int64_t decided_before_ms) {
  return Statement(db, "DELETE FROM decisions WHERE done = 1 AND decided_ms < ?").Bind(1, decided_before_ms).Run();
}

bool DecisionLog::Find(Database db, const std::string& txid, CommitRecord* record) {
  Statement select(db, "SELECT calls, done, decided_ms FROM decisions WHERE txid = ?");
  select.Bind(1, txid);
  if (select.Step() != Statement::kRow) return false;
  *record = {
      .txid = txid, .calls = ParseCalls(select.Text(0)), .done = select.Int(1) != 0, .decided_ms = select.Int(2)};
  return true;
}

std::vector<CommitRecord> DecisionLog::Unfinished(Database db) {
  std::vector<CommitRecord> records;
  Statement select(db, "SELECT txid, calls, decided_ms FROM decisions WHERE done = 0 ORDER BY decided_ms");
  while (select.Step() == Statement::kRow) {
    records.push_back(
        {.txid = select.Text(0), .calls = ParseCalls(select.Text(1)), .done = false, .decided_ms = select.Int(2)});
  }
  return records;
}

}  // namespace harpc::txn
