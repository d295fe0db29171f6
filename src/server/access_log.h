// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The access log (ServerOptions::access_log): one JSON line per call,
//
//   {"time":"2026-12-02T07:42:14.123Z","method":"Echo.echo","status":"OK",
//    "http_status":200,"latency_ms":0.084,"peer":"127.0.0.1:50312",
//    "trace_id":"4bf9...","span_id":"00f0...","parent_id":"b7ad..."}
//
// The event loops only format a line and append it to a buffer under a
// mutex; a writer thread of the log's own gathers lines for kGather (or
// until kBatchBytes) and writes them with one write(2). The loops wake it
// only for the first line after it went idle and when a batch is full, so
// under load a line costs no system call. The buffer is bounded: past
// kMaxPendingBytes, lines are dropped and counted rather than held or waited for.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "harpc/status.h"
#include "harpc/trace.h"

namespace harpc {

class AccessLog {
 public:
  static constexpr size_t kMaxPendingBytes = 8 * 1024 * 1024;
  static constexpr size_t kBatchBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kGather{20};

  struct Call {
    std::string_view method;  // empty: the request named none (written as null)
    StatusCode code = StatusCode::kOk;
    int http_status = 200;
    std::chrono::steady_clock::duration latency{};
    std::string_view peer;
    const TraceContext* trace = nullptr;  // null: written as null ids
  };

  // `path` is appended to (created when missing); "-" is stdout.
  static Status Open(const std::string& path, std::unique_ptr<AccessLog>* out);
  // Writes what is still pending, then closes the file.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // From any thread; never waits for the disk.
  void Write(const Call& call);
  // Lines dropped: the buffer was full, or the file refused a write.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // The line Write appends, for tests: `call` at wall-clock time `now`.
  static void Format(const Call& call, std::chrono::system_clock::time_point now, std::string& out);

 private:
  AccessLog(int fd, bool owns_fd, std::string path);
  void WriteLoop();
  // Writes `text` whole; false (and the error logged once) when the file refuses it.
  bool WriteAll(std::string_view text);

  const int fd_;
  const bool owns_fd_;
  const std::string path_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::string pending_;         // guarded by mu_
  uint64_t pending_lines_ = 0;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  bool writer_idle_ = false;    // guarded by mu_: the writer waits for a first line
  bool write_failed_ = false;   // the writer thread's: an error is logged once
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace harpc
