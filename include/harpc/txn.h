// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Participant: the server side of harpc's distributed transactions.
//
// A service that takes part in two-phase commit registers transactional
// methods with three handlers — prepare (try), commit (confirm) and abort
// (cancel) — and plain local methods, all running against its own SQLite
// database:
//
//   harpc::ParticipantOptions options{.db_path = "bank.db", .coordinator = "127.0.0.1:7000"};
//   std::unique_ptr<harpc::Participant> participant;
//   harpc::Status s = harpc::Participant::Open(options, "CREATE TABLE IF NOT EXISTS ...", &participant);
//   participant->AddTxnMethod("Bank.debit", {
//       .prepare = [](harpc::Database db, const json::value& p) -> harpc::Result { /* check, hold funds */ },
//       .commit  = [](harpc::Database db, const json::value& p) -> harpc::Status { /* spend the hold */ },
//       .abort   = [](harpc::Database db, const json::value& p) -> harpc::Status { /* release it */ }});
//   participant->Attach(server);   // before server.Start()
//
// What the library guarantees (docs/transactions.md has the protocol):
// - prepare runs in the same local SQLite transaction that records the vote,
//   and that transaction is fsynced before the "yes" is sent: a yes survives a
//   crash, and so do the reservations it made;
// - the yes is registered with the coordinator the prepare names (with a
//   secret made for that call) before it is sent; the coordinator decides
//   from the votes registered, and Participant.commit / Participant.abort
//   must present the call's secret, which only that coordinator was given;
// - commit and abort are idempotent and run each call's handler exactly once;
//   a repeated prepare gets the first answer; a prepare after an abort is refused;
// - a call still prepared after `in_doubt_after` (and every prepared call after
//   a restart) is resolved by asking the coordinator, so nothing stays in doubt
//   once both are back; under presumed abort, a transaction the coordinator
//   does not know is aborted. Each coordinator address is asked by a worker
//   of its own, which backs off when it does not answer: a silent address
//   (or a flood of prepares naming one) never delays the others' calls. A
//   call whose coordinator never answers stays prepared (its hold kept: it
//   may have been committed) and costs one question per max_ask_backoff;
// - every database change goes through one writer thread with group commit:
//   concurrent calls share fsyncs;
// - with ParticipantOptions::group, the participant is one member of a
//   replicated group (harpc/replicated.h): prepares, decisions and the
//   application's changes are commands of the group's log, applied by every
//   member, so the death of the leader loses no prepared or committed call
//   and the next leader answers for them (docs/transactions.md, "Participant
//   groups").
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/database.h"
#include "harpc/replicated.h"
#include "harpc/result.h"
#include "harpc/server.h"
#include "harpc/status.h"

namespace harpc {

struct ParticipantOptions {
  // The participant's SQLite database: the application's tables and the
  // library's (harpc_txn_*). Required, unless `group` is set.
  std::string db_path;

  // Makes this participant one member of a replicated group (its self,
  // members and data_dir are required; see harpc/replicated.h). Every change
  // (prepare, commit, abort, a local method, the forgetting of old calls)
  // is then a command of the group's Raft log, applied by every member to a
  // database held in memory and rebuilt at start from the snapshots and log
  // in group->data_dir; db_path is not used. Only the leader answers
  // (followers answer NOT_LEADER with its address, which harpc channels
  // follow) and only the leader resolves calls in doubt. Every member has
  // the same participant id, made from the sorted member list, and votes
  // are registered with the group's address, "list://" and the sorted
  // members, so that phase two reaches whichever member leads. Default
  // unset: one process with its database on disk.
  std::optional<GroupOptions> group;

  // Numeric "host:port" of the coordinator a prepare that names none
  // registers its vote with (and asks about its outcome). Default empty: a
  // prepare must name its coordinator.
  std::string coordinator;

  // The coordinators prepares may name (numeric "host:port"). A prepare
  // naming another is refused with PERMISSION_DENIED before its handler
  // runs. Set it wherever clients are not trusted: a client free to name
  // any coordinator can name one of its own, which would then decide (and
  // commit) what it prepared. Default empty: any coordinator (`harpc serve
  // --coordinator H:P` allows H:P only).
  std::vector<std::string> allowed_coordinators;

  // A prepare is refused (RESOURCE_EXHAUSTED, before its handler runs) when
  // this many calls naming the same coordinator are already prepared here:
  // a coordinator that never answers holds at most this much. Default 1000.
  int64_t max_prepared_per_coordinator = 1000;

  // A call still prepared this long after its prepare is in doubt: the
  // coordinator is asked for its outcome. Default 2 s.
  std::chrono::milliseconds in_doubt_after{2000};

  // How often calls in doubt are looked for and resolved. Default 500 ms.
  std::chrono::milliseconds resolve_interval{500};

  // A coordinator that did not answer is asked again after a backoff that
  // doubles from resolve_interval up to this. Default 10 s.
  std::chrono::milliseconds max_ask_backoff{10000};

  // Decided calls (committed, aborted) are kept this long after their
  // prepare, so that late repeats are still answered, then deleted (checked
  // every minute). It must exceed the longest transaction timeout. Default 1 h.
  std::chrono::milliseconds retain_decided{3600000};

  // What the participant presents to coordinators when it asks about calls
  // in doubt (Coordinator.status needs role client). Default: plaintext, no
  // token. See harpc/security.h.
  ClientSecurity security;
};

// The three handlers of a transactional method. They run on the participant's
// writer thread, inside its local transaction, with the database handle; they
// must not block on anything but the database.
struct TxnMethod {
  // Phase one (try): check and reserve, e.g. hold the funds. Its result is
  // the call's answer. An error votes no, and what it changed is rolled back.
  std::function<Result(Database db, const boost::json::value& params)> prepare;
  // Phase two after a commit decision (confirm): make the reservation
  // permanent. Gets the prepare's params. Must succeed for a prepared call.
  std::function<Status(Database db, const boost::json::value& params)> commit;
  // Phase two after an abort decision (cancel): release the reservation.
  std::function<Status(Database db, const boost::json::value& params)> abort;
};

// Counts of the participant's calls by state, for dashboards and tests.
struct ParticipantStats {
  int64_t prepared = 0;  // in doubt: voted yes, outcome not yet applied
  int64_t committed = 0;
  int64_t aborted = 0;
  uint64_t resolved_by_asking = 0;  // outcomes learnt from the coordinator
};

class Participant {
 public:
  // A plain method in one local transaction (group-committed, durable
  // before the answer), e.g. Bank.deposit.
  using LocalHandler = std::function<Result(Database db, const boost::json::value& params)>;

  // Opens the database and runs `schema` (the application's idempotent DDL).
  static Status Open(ParticipantOptions options, std::string_view schema, std::unique_ptr<Participant>* out);
  ~Participant();

  Status AddTxnMethod(std::string name, TxnMethod method);
  Status AddLocalMethod(std::string name, LocalHandler handler, MethodOptions options = {});

  // Registers the methods, Participant.commit, Participant.abort and
  // Participant.status (in a group also Participant.digest, each member's
  // {"commands":N,"digest":H} of its own copy, to compare members) on
  // `server` (before server.Start()), adds the
  // participant's metrics, and starts resolving calls in doubt: coroutines
  // on server.executor() (no thread of their own) that ask their
  // coordinators. Votes are registered with server.address() as the address
  // where this participant takes phase two (the group's list:// in a group,
  // whose resolver runs only while this member leads).
  // The participant must be destroyed before the server (its destructor
  // posts the resolver's stop to that loop).
  Status Attach(Server& server);
  // In a group: starts the member (loads its snapshot and log, joins the
  // group). After server.Start(). Without a group: nothing to do.
  Status Start(Server& server);

  // This database's participant id: random, made once, kept in the database
  // (in a group: made from the sorted member list, the same on every member).
  const std::string& id() const;
  ParticipantStats stats() const;

  // Runs one local transaction now and waits for it (tools and tests). In a
  // group it changes this member's copy only, before Start: for setup that
  // every member runs alike (a schema upgrade), never for the data itself.
  Result RunLocal(const LocalHandler& handler, const boost::json::value& params);

 private:
  class Impl;
  explicit Participant(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the in-doubt resolver while it works
};

}  // namespace harpc
