// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// ReplicatedGroup: a service's state kept by a group of 3 or 5 harpc
// processes with Raft (Canonical's C Raft, libraft), so that it survives the
// loss of any minority of them.
//
//   class Counter : public harpc::StateMachine {
//     int64_t value = 0;
//     harpc::Result Apply(const boost::json::value& command) override {
//       value += command.at("add").as_int64();
//       return boost::json::value(value);
//     }
//     std::string Snapshot() override { return std::to_string(value); }
//     harpc::Status Restore(std::string_view s) override { value = std::stoll(std::string(s)); return {}; }
//   };
//
//   harpc::Server server({.threads = 1});
//   Counter counter;
//   std::unique_ptr<harpc::ReplicatedGroup> group;
//   harpc::Status s = harpc::ReplicatedGroup::Open(
//       {.self = "127.0.0.1:7001", .members = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"},
//        .data_dir = "/var/lib/counter"}, &counter, &group);
//   if (s.ok()) s = group->Attach(server);              // before server.Start()
//   server.AddAsyncMethod("Counter.add", [&](boost::json::value p, harpc::CallContext&) {
//     return group->Propose(std::move(p));              // answered once a majority has it on disk
//   });
//   if (s.ok()) s = server.Start("127.0.0.1:7001");
//   if (s.ok()) s = group->Start(server);               // after server.Start()
//
// What the group guarantees (docs/replication.md):
// - a command proposed to the leader is applied, and its proposer answered,
//   only after a majority of the members wrote it to disk (fsync); an
//   answered command survives the loss of any minority, also by SIGKILL;
// - every member applies the same commands in the same order, so a state
//   machine whose Apply is deterministic has the same state everywhere;
// - a proposal sent to a follower fails at once with NotLeader(leader) —
//   HTTP 421, JSON-RPC -32010 "not leader" with {"leader":"H:P"} on the
//   wire — which harpc channels follow without counting a failure;
// - Read() is linearizable: it answers after the leader confirmed, through
//   the log, that it still leads and that everything committed before the
//   read began is applied;
// - the log is compacted by snapshots; a member that fell behind, or that
//   restarts with an empty data dir, catches up by installing one.
//
// Raft messages travel on the members' own listening ports (an HTTP upgrade
// on /raft, role peer), so the server's TLS and tokens protect them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/result.h"
#include "harpc/security.h"
#include "harpc/server.h"
#include "harpc/status.h"

namespace harpc {

// The replicated state of a service. Every method runs on the loop of the
// server the group is attached to (server.executor()), one at a time.
class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one committed command, on every member, in log order. Must be
  // deterministic: the same state and command give the same new state and
  // result everywhere (no clocks, no random numbers, no local files: put
  // them in the command). The result answers the proposer on the leader.
  virtual Result Apply(const boost::json::value& command) = 0;

  // The whole state, to compact the log and to catch up members.
  virtual std::string Snapshot() = 0;
  // Replaces the whole state with a snapshot's.
  virtual Status Restore(std::string_view snapshot) = 0;

  // This member became the leader (true) or stopped being it (false):
  // leader-only work (timers, phase two, ...) starts or stops here.
  virtual void OnLeadership(bool leader) {}
};

struct GroupOptions {
  // This member's numeric "host:port": the address the server listens on.
  // Required.
  std::string self;
  // Every member's numeric "host:port", self included, in any order: 3 or 5
  // for fault tolerance (1 is allowed, for tests). Every member must be
  // given the same list. Required.
  std::vector<std::string> members;
  // Where the Raft log, its metadata and the snapshots live (created if
  // missing). Required.
  std::string data_dir;

  // A follower that hears nothing from a leader for this long (randomized
  // up to twice it) starts an election. Default 300 ms.
  std::chrono::milliseconds election_timeout{300};
  // The leader's heartbeat period when idle. Default 50 ms.
  std::chrono::milliseconds heartbeat_interval{50};
  // A snapshot is taken after this many applied commands; this many more
  // are kept in the log after it, so that a follower slightly behind
  // catches up from the log rather than by a whole snapshot. Defaults 4096
  // and 1024.
  uint64_t snapshot_threshold = 4096;
  uint64_t snapshot_trailing = 1024;
  // A proposal waits at most this long to be committed (a leader cut off
  // from its majority cannot commit): then UNAVAILABLE. Default 5 s.
  std::chrono::milliseconds propose_timeout{5000};

  // The largest Raft message a member takes from a peer. A snapshot
  // travels as one message, so this also bounds the state that a lagging
  // follower can catch up on. A peer that sends a larger message, or bytes
  // that are not Raft messages, is disconnected (and logged). Default 1 GiB.
  uint64_t max_message_bytes = uint64_t{1} << 30;

  // What members present to each other (the server's peer token and
  // certificate when it asks for them). Default: plaintext, no token.
  ClientSecurity security;
};

// What GET /status shows of a member ("group").
struct GroupState {
  std::string role;                   // "leader", "follower", "candidate" or "unavailable"
  std::optional<std::string> leader;  // the leader's address, when known
  uint64_t term = 0, commit_index = 0, applied_index = 0;
  std::vector<std::string> members;
  boost::json::value ToJson() const;
};

class ReplicatedGroup {
 public:
  // Checks the options and opens the data dir. `machine` must outlive the group.
  static Status Open(GroupOptions options, StateMachine* machine, std::unique_ptr<ReplicatedGroup>* out);
  ~ReplicatedGroup();  // stops Raft (on the loop) if still running

  // Registers on `server` (before server.Start()): the Raft transport
  // (/raft upgrades), the group's part of GET /status, the same as method
  // Raft.status (role client), Raft.rejoin (role peer: a follower that
  // stalls behind the group, as one restarted with an empty data dir does,
  // asks the leader to hand over), and the metrics.
  Status Attach(Server& server);
  // Loads the log and snapshot from disk and starts Raft on the server's
  // loop. After server.Start(). Sets SIGPIPE to be ignored (libuv writes to
  // sockets whose peer may have gone).
  Status Start(Server& server);
  // Stops Raft and waits for it; proposals waiting fail with UNAVAILABLE.
  // Not from the server's loop. Idempotent; the destructor calls it. Stop
  // (or destroy) the group before the server is destroyed: it closes on the
  // server's loop while that runs, and alone once the loop stopped.
  void Stop();

  // Proposes `command` (from any loop). On the leader: the result of
  // StateMachine::Apply once a majority has it. Elsewhere: NotLeader with
  // the leader's address when known (UNAVAILABLE without a leader).
  boost::asio::awaitable<Result> Propose(boost::json::value command);
  // Waits until a read on this member is linearizable (leader only, as
  // Propose): run the read on the state machine's loop right after.
  boost::asio::awaitable<Status> Read();

  // The member's Raft state (thread-safe snapshot of it).
  GroupState state() const;
  bool is_leader() const;
  // Called (on the loop) whenever the role or the known leader changes.
  void OnChange(std::function<void(const GroupState&)> callback);

 private:
  class Impl;
  explicit ReplicatedGroup(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace harpc
