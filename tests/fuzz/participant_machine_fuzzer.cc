// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The participant's replicated state machine (txn/participant_machine.h):
// the input is a log of JSON commands, one per line (prepare, apply, local,
// forget), each run in a transaction of its own on an in-memory database
// (committed when it succeeds, rolled back when it fails), as a participant
// group's members run their log. The application's methods are a counter:
// Counter.add (local) and Counter.hold (transactional: prepare holds, commit
// adds what was held, abort releases it). No counter may end up holding
// less than nothing.
#include <sqlite3.h>

#include <map>

#include <boost/json.hpp>

#include "fuzz_support.h"
#include "storage/sqlite.h"
#include "txn/counter_table.h"
#include "txn/participant_log.h"
#include "txn/participant_machine.h"
#include "util/json_params.h"

namespace json = boost::json;
using namespace harpc;

namespace {

// {"name": N, "n": 1..1000}
Status Params(const json::value& p, std::string* name, int64_t* n) {
  if (Status s = StringField(p, "name", true, name); !s.ok()) return s;
  if (Status s = IntField(p, "n", true, n); !s.ok()) return s;
  if (*n < 1 || *n > 1000) return InvalidArgument("\"n\" must be 1..1000");
  return Status::Ok();
}

struct Machine {
  std::map<std::string, TxnMethod, std::less<>> txn;
  std::map<std::string, Participant::LocalHandler, std::less<>> local;
  txn::ParticipantLog log{"p", [this](std::string_view name) -> const TxnMethod* {
                            auto it = txn.find(name);
                            return it == txn.end() ? nullptr : &it->second;
                          }};
  txn::ParticipantMachine machine{&log, [this](std::string_view name) -> const Participant::LocalHandler* {
                                    auto it = local.find(name);
                                    return it == local.end() ? nullptr : &it->second;
                                  }};
  Machine() {
    local["Counter.add"] = [](Database db, const json::value& p) -> Result {
      std::string name;
      int64_t n = 0;
      if (Status s = Params(p, &name, &n); !s.ok()) return s;
      if (Status s = AddToCounter(db, name, n, 0); !s.ok()) return s;
      return json::value{{"name", name}};
    };
    txn["Counter.hold"] = {.prepare = [](Database db, const json::value& p) -> Result {
                             std::string name;
                             int64_t n = 0;
                             if (Status s = Params(p, &name, &n); !s.ok()) return s;
                             if (Status s = AddToCounter(db, name, 0, n); !s.ok()) return s;
                             return json::value{{"held", n}};
                           },
                           .commit = [](Database db, const json::value& p) -> Status {
                             std::string name;
                             int64_t n = 0;
                             if (Status s = Params(p, &name, &n); !s.ok()) return s;
                             return AddToCounter(db, name, n, -n);
                           },
                           .abort = [](Database db, const json::value& p) -> Status {
                             std::string name;
                             int64_t n = 0;
                             if (Status s = Params(p, &name, &n); !s.ok()) return s;
                             return AddToCounter(db, name, 0, -n);
                           }};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static const Machine machine;
  sqlite3* raw = nullptr;
  if (sqlite3_open(":memory:", &raw) != SQLITE_OK) __builtin_trap();
  Database db = sql::Access::Wrap(raw);
  if (!db.Exec(txn::ParticipantLibrarySchema() + kCounterSchema).ok()) __builtin_trap();

  std::string_view input = fuzz::Bytes(data, size);
  for (int commands = 0; !input.empty() && commands < 64; ++commands) {
    const size_t eol = input.find('\n');
    boost::system::error_code ec;
    json::value command = json::parse(input.substr(0, eol), ec);
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
    if (ec) continue;
    if (!db.Exec("BEGIN").ok()) __builtin_trap();
    const bool ok = machine.machine.Execute(db, command).ok();
    if (!db.Exec(ok ? "COMMIT" : "ROLLBACK").ok()) __builtin_trap();
  }
  {
    // Prepares hold, and each decision releases what its prepare held, once.
    Statement held(db, "SELECT COALESCE(MIN(held), 0) FROM counter");
    if (held.Step() != Statement::kRow || held.Int(0) < 0) __builtin_trap();
  }
  sqlite3_close(raw);
  return 0;
}
