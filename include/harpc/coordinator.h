// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Coordinator: two-phase commit with presumed abort, the service behind
// `harpc coordinator`, embeddable in a server of your own:
//
//   harpc::Server server({.threads = 1});
//   std::unique_ptr<harpc::Coordinator> coordinator;
//   harpc::Status s = harpc::Coordinator::Open({.data_dir = "/var/lib/coord"}, &coordinator);
//   if (s.ok()) s = coordinator->Attach(server);
//   if (s.ok()) s = server.Start("127.0.0.1:7000");
//   if (s.ok()) s = coordinator->Start(server);
//   server.Wait();
//
// Its methods (docs/transactions.md has the protocol):
//   Coordinator.begin    {"timeout_ms":5000}          -> {"txid","coordinator","timeout_ms","key"}
//   Coordinator.register {"txid","call","participant","address","secret"}  (participants)
//                                                     -> {"txid","call","recorded":true}
//   Coordinator.commit   {"txid","key","votes":[{"call","participant"}]}
//                                                     -> {"txid","outcome","reason","applied"[,"unresolved"]}
//   Coordinator.abort    {"txid","key","reason"}      -> the same
//   Coordinator.status   {"txid"[,"participant"]}     -> {"txid","outcome":"committed|aborted|pending",
//                                                         "calls":[...this participant's calls to commit],
//                                                         "unresolved":[...calls phase two gave up on]}
//
// The decision is made from what the coordinator recorded, never from what a
// client says: every participant registers its yes vote (with a secret of its
// own) before it answers the client, and a commit commits exactly the votes
// registered — if the client's list of the votes it heard disagrees with
// them in any call, the transaction aborts. Only the client holding the key
// from begin may commit or abort. Phase two presents each participant the
// secret it registered, so no one else can commit or abort its calls.
//
// A transaction lives in memory from begin until it is decided; only commit
// decisions are written, durably and with group commit, before phase two
// starts. So a coordinator that crashes forgets every undecided transaction,
// and everyone who asks about one hears "aborted" — the presumption is safe
// because no participant was told "commit". A transaction not committed
// within its timeout is aborted. Phase two is retried with backoff, also
// after a restart, until every participant acknowledges or until
// phase_two_give_up after the decision; a participant that never answered by
// then is reported (log, metric, Coordinator.status "unresolved") and learns
// the outcome when it asks.
//
// With CoordinatorOptions::group, the coordinator is one member of a
// replicated group (Raft): begins, votes, decisions and phase-two progress
// are commands in the group's log, applied by every member in the same
// order and decided inside that apply, so every member knows every
// transaction and a new leader takes over where the old one stopped. Only
// the leader answers Coordinator.*; the others answer NOT_LEADER with its
// address, which harpc channels follow (docs/replication.md, "Replicated
// coordinators").
//
// All state lives on one event loop: the server must run one loop (threads = 1).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "harpc/replicated.h"
#include "harpc/server.h"
#include "harpc/status.h"

namespace harpc {

struct CoordinatorOptions {
  // Directory of the decision log (DIR/decisions.db), or of a group
  // member's Raft data (DIR/raft unless group->data_dir says). Required.
  std::string data_dir;
  // Transaction timeout when begin names none. Default 5 s.
  std::chrono::milliseconds default_timeout{5000};
  // The longest timeout a transaction may ask for. Default 60 s.
  std::chrono::milliseconds max_timeout{60000};
  // Phase-two retries back off from 50 ms up to this. Default 2 s.
  std::chrono::milliseconds max_backoff{2000};
  // Phase two stops pushing a commit to a participant that has not
  // acknowledged it this long after the decision (counted across restarts).
  // The decision stays in the log, the participant learns it when it asks,
  // and the call is reported as unresolved. Default 10 min.
  std::chrono::milliseconds phase_two_give_up{600000};
  // The most yes votes one transaction may register (each is kept in memory
  // until the decision); more are refused with RESOURCE_EXHAUSTED. Default 1000.
  size_t max_votes = 1000;
  // Aborted transactions are remembered (with their reason) this long; after
  // that they are unknown, which means aborted too. Default 1 min.
  std::chrono::milliseconds aborted_memory{60000};
  // Decisions every participant acknowledged are deleted from the log this
  // long after they were made (checked every minute). A group keeps them in
  // memory and in every snapshot instead: give it minutes (`harpc
  // coordinator --group` keeps them 5 min, with snapshots every 65536
  // commands). Default 1 h.
  std::chrono::milliseconds retain_done{3600000};
  // What the coordinator presents to participants (phase two needs a token of
  // role peer). Default: plaintext, no token. See harpc/security.h.
  ClientSecurity security;
  // This coordinator as one member of a replicated coordinator group: its
  // address (`self`, where the server listens) and every member's, numeric.
  // The Raft log and snapshots are the durable record (no decisions.db);
  // group->data_dir empty means DATA_DIR/raft. Begin names the group
  // ("coordinator":"list://A,B,C", the members sorted) so that participants
  // register votes with, and ask, whichever member leads. Give
  // group->security the peer token of `security`. Default: none, a single
  // coordinator with its decision log.
  std::optional<GroupOptions> group;
};

class Coordinator {
 public:
  static Status Open(CoordinatorOptions options, std::unique_ptr<Coordinator>* out);
  ~Coordinator();

  // Registers the Coordinator.* methods and metrics (before server.Start()).
  Status Attach(Server& server);
  // After server.Start(): resumes unfinished phase twos and starts the
  // timeout sweeper on the server's loop (single node), or starts this
  // member's Raft, after which whichever member leads does that (a group).
  // Participants reach the coordinator at server.address(), or the group.
  Status Start(Server& server);

 private:
  class Impl;
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace harpc
