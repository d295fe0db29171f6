// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "storage/sqlite.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace harpc::sql {

namespace {
// A VFS that forwards to the default one and counts xSync calls, so that
// benchmarks and /metrics can report fsyncs per transaction honestly.
std::atomic<uint64_t> fsyncs{0};
sqlite3_vfs counting_vfs;
sqlite3_io_methods counting_io_v1, counting_io_v2, counting_io_v3;
constexpr const char* kVfsName = "harpc-counting";

struct CountingFile {
  sqlite3_file base;   // must be first: SQLite sees this struct as an sqlite3_file
  sqlite3_file* real;  // the default VFS's file, allocated right after this struct
};

int CountingSync(sqlite3_file* f, int flags) {
  fsyncs.fetch_add(1, std::memory_order_relaxed);
  sqlite3_file* real = reinterpret_cast<CountingFile*>(f)->real;
  return real->pMethods->xSync(real, flags);
}

// Every other method forwards to the real file.
// `name` is a member of the method table: it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define HARPC_FORWARD(name, ...) \
  reinterpret_cast<CountingFile*>(f)->real->pMethods->name(reinterpret_cast<CountingFile*>(f)->real, ##__VA_ARGS__)
// NOLINTEND(bugprone-macro-parentheses)
int Close(sqlite3_file* f) { return HARPC_FORWARD(xClose); }
int Read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return HARPC_FORWARD(xRead, b, n, o); }
int Write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) { return HARPC_FORWARD(xWrite, b, n, o); }
int Truncate(sqlite3_file* f, sqlite3_int64 s) { return HARPC_FORWARD(xTruncate, s); }
int FileSize(sqlite3_file* f, sqlite3_int64* s) { return HARPC_FORWARD(xFileSize, s); }
int Lock(sqlite3_file* f, int l) { return HARPC_FORWARD(xLock, l); }
int Unlock(sqlite3_file* f, int l) { return HARPC_FORWARD(xUnlock, l); }
int CheckReservedLock(sqlite3_file* f, int* r) { return HARPC_FORWARD(xCheckReservedLock, r); }
int FileControl(sqlite3_file* f, int op, void* a) { return HARPC_FORWARD(xFileControl, op, a); }
int SectorSize(sqlite3_file* f) { return HARPC_FORWARD(xSectorSize); }
int DeviceCharacteristics(sqlite3_file* f) { return HARPC_FORWARD(xDeviceCharacteristics); }
int ShmMap(sqlite3_file* f, int i, int s, int e, void volatile** p) { return HARPC_FORWARD(xShmMap, i, s, e, p); }
int ShmLock(sqlite3_file* f, int o, int n, int fl) { return HARPC_FORWARD(xShmLock, o, n, fl); }
void ShmBarrier(sqlite3_file* f) { HARPC_FORWARD(xShmBarrier); }
int ShmUnmap(sqlite3_file* f, int d) { return HARPC_FORWARD(xShmUnmap, d); }
int Fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return HARPC_FORWARD(xFetch, o, n, p); }
int Unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) { return HARPC_FORWARD(xUnfetch, o, p); }
#undef HARPC_FORWARD

int CountingOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* real_vfs = static_cast<sqlite3_vfs*>(vfs->pAppData);
  auto* file = reinterpret_cast<CountingFile*>(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  const int rc = real_vfs->xOpen(real_vfs, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK || file->real->pMethods == nullptr) {
    file->base.pMethods = nullptr;
    return rc;
  }
  const int version = file->real->pMethods->iVersion;
  file->base.pMethods = version >= 3 ? &counting_io_v3 : version == 2 ? &counting_io_v2 : &counting_io_v1;
  return rc;
}

void RegisterCountingVfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    counting_vfs = *real;
    counting_vfs.zName = kVfsName;
    counting_vfs.pAppData = real;
    counting_vfs.szOsFile = static_cast<int>(sizeof(CountingFile)) + real->szOsFile;
    counting_vfs.xOpen = CountingOpen;
    sqlite3_io_methods io{};
    io.xClose = Close;
    io.xRead = Read;
    io.xWrite = Write;
    io.xTruncate = Truncate;
    io.xSync = CountingSync;
    io.xFileSize = FileSize;
    io.xLock = Lock;
    io.xUnlock = Unlock;
    io.xCheckReservedLock = CheckReservedLock;
    io.xFileControl = FileControl;
    io.xSectorSize = SectorSize;
    io.xDeviceCharacteristics = DeviceCharacteristics;
    io.iVersion = 1;
    counting_io_v1 = io;
    io.xShmMap = ShmMap;
    io.xShmLock = ShmLock;
    io.xShmBarrier = ShmBarrier;
    io.xShmUnmap = ShmUnmap;
    io.iVersion = 2;
    counting_io_v2 = io;
    io.xFetch = Fetch;
    io.xUnfetch = Unfetch;
    io.iVersion = 3;
    counting_io_v3 = io;
    sqlite3_vfs_register(&counting_vfs, /*makeDflt=*/0);
  });
}
}  // namespace

uint64_t FsyncCount() { return fsyncs.load(std::memory_order_relaxed); }

std::string FsyncMetricText() {
  return "# HELP harpc_txn_fsyncs_total fsyncs of harpc's SQLite databases in this process.\n"
         "# TYPE harpc_txn_fsyncs_total counter\n"
         "harpc_txn_fsyncs_total " +
         std::to_string(FsyncCount()) + "\n";
}

Status Exec(sqlite3* db, std::string_view sql, std::string_view what) {
  char* error = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return Internal(std::string(what) + ": " + message);
  }
  return Status::Ok();
}

Status OpenDurable(const std::string& path, std::string_view what, sqlite3** db) {
  RegisterCountingVfs();
  *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, kVfsName) !=
      SQLITE_OK) {
    Status s = Internal("cannot open " + std::string(what) + " " + path + ": " +
                        (*db ? sqlite3_errmsg(*db) : "out of memory"));
    sqlite3_close(*db);
    *db = nullptr;
    return s;
  }
  sqlite3_busy_timeout(*db, 2000);
  Status s = Exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", what);
  if (!s.ok()) {
    sqlite3_close(*db);
    *db = nullptr;
  }
  return s;
}

}  // namespace harpc::sql

namespace harpc {

static_assert(Statement::kRow == SQLITE_ROW && Statement::kDone == SQLITE_DONE);

Status Database::Exec(std::string_view sql) { return sql::Exec(db_, sql, "sqlite"); }
int64_t Database::changes() const { return sqlite3_changes(db_); }
std::string Database::error() const { return sqlite3_errmsg(db_); }

Statement::Statement(Database db, std::string_view sql) : db_(db.db_) {
  sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, int64_t number) {
  sqlite3_bind_int64(stmt_, index, number);
  return *this;
}

int Statement::Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }

Status Statement::Run() {
  if (!stmt_) return Internal(std::string("sqlite: ") + sqlite3_errmsg(db_));
  int rc;
  while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return Internal(std::string("sqlite: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const unsigned char* t = sqlite3_column_text(stmt_, column);
  return t ? reinterpret_cast<const char*>(t) : "";
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

}  // namespace harpc
