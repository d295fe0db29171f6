// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn/participant_machine.h"

#include <exception>

#include <boost/json.hpp>

#include "storage/sqlite.h"
#include "util/hash.h"
#include "util/json_params.h"

namespace harpc::txn {

namespace json = boost::json;

namespace {
// Keyed answers of local methods: one row per idempotency key.
constexpr const char* kAnswerSchema =
    "CREATE TABLE IF NOT EXISTS harpc_txn_answer (key TEXT PRIMARY KEY, method TEXT NOT NULL,"
    " fingerprint INTEGER NOT NULL, answer TEXT NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS harpc_txn_answer_at ON harpc_txn_answer (at_ms);";

Status BoolField(const json::value& command, const char* name, bool* out) {
  const json::value* v = command.as_object().if_contains(name);
  if (!v || !v->is_bool()) return InvalidArgument(std::string("\"") + name + "\" must be true or false");
  *out = v->as_bool();
  return Status::Ok();
}

// The member `name`, null when absent.
json::value Member(const json::value& command, const char* name) {
  const json::value* v = command.as_object().if_contains(name);
  return v ? *v : json::value();
}

int64_t Fingerprint(const json::value& params) { return static_cast<int64_t>(StableHash(json::serialize(params))); }
}  // namespace

std::string ParticipantLibrarySchema() { return std::string(kParticipantSchema) + kAnswerSchema; }

json::value PrepareCommand(const PrepareRequest& r) {
  return {{"op", "prepare"},
          {"txid", r.txid},
          {"call", r.call},
          {"coordinator", r.coordinator},
          {"method", r.method},
          {"params", r.params},
          {"secret", r.secret},
          {"at_ms", r.prepared_ms},
          {"max_prepared", r.max_prepared_per_coordinator}};
}

json::value ApplyCommand(const std::string& txid, const Decision& d) {
  json::object command{{"op", "apply"}, {"txid", txid}, {"commit", d.commit}, {"at_ms", d.at_ms}};
  json::array calls;
  for (const std::string& call : d.calls) calls.emplace_back(call);
  command["calls"] = std::move(calls);
  if (d.secrets) {
    json::object secrets;
    for (const auto& [call, secret] : *d.secrets) secrets[call] = secret;
    command["secrets"] = std::move(secrets);
  }
  return command;
}

json::value LocalCommand(const std::string& method, const json::value& params, const std::string& key, int64_t at_ms) {
  json::object command{{"op", "local"}, {"method", method}, {"params", params}, {"at_ms", at_ms}};
  if (!key.empty()) command["key"] = key;
  return command;
}

json::value ForgetCommand(int64_t before_ms) { return {{"op", "forget"}, {"before_ms", before_ms}}; }

ParticipantMachine::ParticipantMachine(const ParticipantLog* log, LocalLookup locals)
    : log_(log), locals_(std::move(locals)) {}

Result ParticipantMachine::Execute(Database db, const json::value& command) const {
  if (!command.is_object()) return InvalidArgument("a participant command must be a JSON object");
  std::string op;
  if (Status s = StringField(command, "op", true, &op); !s.ok()) return s;
  // A handler reading params of the wrong shape throws (Boost.JSON): the
  // same answer on every member, never an exception out of a log's apply.
  try {
    if (op == "prepare") return Prepare(db, command.as_object());
    if (op == "apply") return Apply(db, command.as_object());
    if (op == "local") return Local(db, command.as_object());
    if (op == "forget") return Forget(db, command.as_object());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("command \"") + op + "\" failed: " + e.what());
  }
  return InvalidArgument("unknown participant command \"" + op + "\"");
}

Result ParticipantMachine::Prepare(Database db, const json::object& c) const {
  const json::value command(c);
  PrepareRequest r;
  for (auto [name, field] :
       {std::pair{"txid", &r.txid}, std::pair{"call", &r.call}, std::pair{"coordinator", &r.coordinator},
        std::pair{"method", &r.method}, std::pair{"secret", &r.secret}}) {
    if (Status s = StringField(command, name, true, field); !s.ok()) return s;
  }
  if (Status s = IntField(command, "at_ms", true, &r.prepared_ms); !s.ok()) return s;
  if (Status s = IntField(command, "max_prepared", true, &r.max_prepared_per_coordinator); !s.ok()) return s;
  r.params = Member(command, "params");
  Prepared prepared;
  Result answer = log_->Prepare(db, r, &prepared);
  if (!answer.ok()) return answer;
  return json::value{{"answer", answer.value()},
                     {"prepared",
                      {{"recorded", prepared.recorded},
                       {"state", prepared.state},
                       {"coordinator", prepared.coordinator},
                       {"secret", prepared.secret}}}};
}

Result ParticipantMachine::Apply(Database db, const json::object& c) const {
  const json::value command(c);
  std::string txid;
  Decision d;
  if (Status s = StringField(command, "txid", true, &txid); !s.ok()) return s;
  if (Status s = BoolField(command, "commit", &d.commit); !s.ok()) return s;
  if (Status s = IntField(command, "at_ms", true, &d.at_ms); !s.ok()) return s;
  const json::value* calls = c.if_contains("calls");
  if (!calls || !calls->is_array()) return InvalidArgument("\"calls\" must be an array of strings");
  for (const json::value& call : calls->as_array()) {
    if (!call.is_string()) return InvalidArgument("\"calls\" must be an array of strings");
    d.calls.emplace_back(call.as_string());
  }
  if (const json::value* secrets = c.if_contains("secrets")) {
    if (!secrets->is_object()) return InvalidArgument("\"secrets\" must be an object of strings");
    d.secrets.emplace();
    for (const auto& [call, secret] : secrets->as_object()) {
      if (!secret.is_string()) return InvalidArgument("\"secrets\" must be an object of strings");
      d.secrets->emplace(std::string(call), std::string(secret.as_string()));
    }
  }
  return log_->Apply(db, txid, d);
}

Result ParticipantMachine::Local(Database db, const json::object& c) const {
  const json::value command(c);
  std::string method, key;
  int64_t at_ms = 0;
  if (Status s = StringField(command, "method", true, &method); !s.ok()) return s;
  if (Status s = StringField(command, "key", false, &key); !s.ok()) return s;
  if (Status s = IntField(command, "at_ms", true, &at_ms); !s.ok()) return s;
  const Participant::LocalHandler* handler = locals_(method);
  if (!handler) return Unimplemented("no local method " + method);
  const json::value params = Member(command, "params");
  const int64_t fingerprint = Fingerprint(params);
  if (!key.empty()) {
    Statement recorded(db, "SELECT method, fingerprint, answer FROM harpc_txn_answer WHERE key = ?");
    recorded.Bind(1, key);
    if (recorded.Step() == Statement::kRow) {
      if (recorded.Text(0) != method || recorded.Int(1) != fingerprint) {
        return FailedPrecondition("idempotency key '" + key + "' was used with other params");
      }
      boost::system::error_code ec;
      json::value answer = json::parse(recorded.Text(2), ec);
      if (ec) return Internal("the recorded answer of idempotency key '" + key + "' is not JSON");
      return answer;
    }
  }
  Result answer = (*handler)(db, params);
  if (!answer.ok() || key.empty()) return answer;
  Status s = Statement(db,
                       "INSERT INTO harpc_txn_answer (key, method, fingerprint, answer, at_ms)"
                       " VALUES (?, ?, ?, ?, ?)")
                 .Bind(1, key)
                 .Bind(2, method)
                 .Bind(3, fingerprint)
                 .Bind(4, json::serialize(answer.value()))
                 .Bind(5, at_ms)
                 .Run();
  if (!s.ok()) return s;
  return answer;
}

Result ParticipantMachine::Forget(Database db, const json::object& c) {
  const json::value command(c);
  int64_t before_ms = 0;
  if (Status s = IntField(command, "before_ms", true, &before_ms); !s.ok()) return s;
  if (Status s = ParticipantLog::ForgetDecided(db, before_ms); !s.ok()) return s;
  Status s = Statement(db, "DELETE FROM harpc_txn_answer WHERE at_ms < ?").Bind(1, before_ms).Run();
  if (!s.ok()) return s;
  return ParticipantLog::CountByState(db);
}

}  // namespace harpc::txn
