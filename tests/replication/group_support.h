// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Replicated-group members in process for the tests: each a Server on its
// own loop with a ReplicatedGroup and a small state machine (a list of
// numbers, in the order the group applied them).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/replicated.h"
#include "harpc/server.h"

namespace harpc::testing {

// Appends {"v":N} to a list, once per N; answers the list's length.
class NumberList : public StateMachine {
 public:
  Result Apply(const boost::json::value& command) override;
  std::string Snapshot() override;
  Status Restore(std::string_view snapshot) override;
  void OnLeadership(bool leader) override { leading = leader; }

  std::vector<int64_t> values() const;
  std::atomic<bool> leading{false};

 private:
  mutable std::mutex mutex_;  // the loop writes, the test thread reads
  std::vector<int64_t> values_;
};

struct GroupMember {
  std::string address;
  std::string data_dir;
  std::unique_ptr<NumberList> machine =
      std::make_unique<NumberList>();  // a fresh one at each Start, as in a new process
  std::unique_ptr<Server> server;
  std::unique_ptr<ReplicatedGroup> group;

  // Starts the server on `address` and its group member (`options` gives
  // the members and timings; self and data_dir are filled in).
  Status Start(GroupOptions options, ServerOptions server_options = {});
  // A crash: the server's loop stops at once, then the group closes.
  void Stop();
  bool running() const { return server != nullptr; }

  // Proposes {"v":value} here, waiting for the answer.
  Result Propose(int64_t value);
  Status Read();
};

// Members on free loopback ports, with their data dirs under `root`.
std::vector<std::unique_ptr<GroupMember>> MakeMembers(int count, const std::string& root);
GroupOptions OptionsFor(const std::vector<std::unique_ptr<GroupMember>>& members);
// Proposes {"v":value} to whichever member leads, again after a lost
// leadership or an election, until one answers OK or `timeout` passes.
Result ProposeToLeader(const std::vector<std::unique_ptr<GroupMember>>& members, int64_t value,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The member every running member names as leader, once they all agree; null on timeout.
GroupMember* WaitForLeader(const std::vector<std::unique_ptr<GroupMember>>& members, std::chrono::milliseconds timeout);

}  // namespace harpc::testing
