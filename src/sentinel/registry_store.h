// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The registry's durable state in SQLite (--data-dir/registry.db): instances,
// the configuration epoch, the index and this sentinel's recent votes.
//
// Writes go to one writer thread with group commit (storage::GroupCommitDb):
// the sentinel's loop never waits for a disk. They commit in the order they
// were queued (WAL, fsync on commit), so that a sentinel killed with SIGKILL
// comes back with what it said: whoever must answer only once a change is
// durable awaits Flush (or RecordVote) after making it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "harpc/status.h"

namespace harpc::storage {
class GroupCommitDb;
}

namespace harpc::sentinel {

struct StoredInstance {
  std::string service, address, name, metadata_json, lease;
  int weight = 1;
  int64_t ttl_ms = 0;
  int64_t registered_at_ms = 0;
  bool odown = false;
  int64_t odown_epoch = 0;
  std::string odown_leader;
};

class RegistryStore {
 public:
  ~RegistryStore();  // commits what is queued
  // Opens (creating) DIR/registry.db.
  static Status Open(const std::string& data_dir, std::unique_ptr<RegistryStore>* out);

  // Reads everything back (blocking: at startup).
  Status LoadAll(std::vector<StoredInstance>* instances, int64_t* epoch, uint64_t* index,
                 std::map<int64_t, std::string>* votes);

  // Queued writes: each returns at once; a failure is logged.
  void Put(const StoredInstance& instance, uint64_t index);
  void Remove(const std::string& service, const std::string& address, uint64_t index);
  void SetEpoch(int64_t epoch);
  // Records the index alone, for changes that persist nothing else (SDOWN).
  void SetIndex(uint64_t index);

  // Records a vote and its epoch in one transaction, forgetting the votes of
  // epochs before `forget_before`; resumes once it is durable.
  boost::asio::awaitable<Status> RecordVote(int64_t epoch, const std::string& candidate, int64_t forget_before);
  // Resumes once every write queued so far is durable.
  boost::asio::awaitable<Status> Flush();
  // The same, blocking the calling thread.
  Status FlushSync();

 private:
  RegistryStore() = default;
  std::unique_ptr<storage::GroupCommitDb> db_;
};

}  // namespace harpc::sentinel
