// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Small helpers over SQLite's C API, shared by every durable store of harpc
// (sentinel registry, idempotency log, transaction logs, participant databases).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harpc/database.h"
#include "harpc/status.h"

namespace harpc::sql {

// Opens (creating) `path` for durable writes: WAL journal, synchronous=FULL
// (each commit is fsynced before it returns), a busy timeout, and a VFS that
// counts fsyncs (FsyncCount). `what` names the store in error messages.
Status OpenDurable(const std::string& path, std::string_view what, sqlite3** db);

// Runs one or more statements without results.
Status Exec(sqlite3* db, std::string_view sql, std::string_view what);

// fsync/fdatasync calls made by SQLite files opened with OpenDurable in this
// process, since it started (harpc_txn_fsyncs_total in /metrics).
uint64_t FsyncCount();
// The same as a Prometheus counter family, harpc_txn_fsyncs_total.
std::string FsyncMetricText();

// harpc's own stores hold raw connections; handlers and logs get Databases.
struct Access {
  static Database Wrap(sqlite3* db) { return Database(db); }
};
using harpc::Statement;

}  // namespace harpc::sql
