// The registry's durable state in SQLite (--data-dir/registry.db): instances,
// the configuration epoch, the index and this sentinel's recent votes. Writes are synchronous (WAL, fsync on
// commit), so that a sentinel killed with SIGKILL comes back with what it said.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harpc/status.h"

struct sqlite3;

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
  ~RegistryStore();
  // Opens (creating) DIR/registry.db.
  static Status Open(const std::string& data_dir, std::unique_ptr<RegistryStore>* out);

  Status LoadAll(std::vector<StoredInstance>* instances, int64_t* epoch, uint64_t* index,
                 std::map<int64_t, std::string>* votes);
  Status Put(const StoredInstance& instance, uint64_t index);
  Status Remove(const std::string& service, const std::string& address, uint64_t index);
  Status SetEpoch(int64_t epoch);
  // Records a vote and its epoch in one transaction, forgetting the votes of
  // epochs before `forget_before`.
  Status RecordVote(int64_t epoch, const std::string& candidate, int64_t forget_before);
  // Records the index alone, for changes that persist nothing else (SDOWN).
  Status SetIndex(uint64_t index);

 private:
  RegistryStore() = default;
  // Runs `change` in one SQLite transaction: committed, or rolled back with its error.
  Status InTransaction(const std::function<Status()>& change);
  Status SetMeta(const char* key, int64_t value);
  sqlite3* db_ = nullptr;
};

}  // namespace harpc::sentinel
