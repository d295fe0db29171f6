// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include <spdlog/fmt/fmt.h>

#include "util/hex.h"
#include "util/log.h"

namespace harpc {

namespace {

// A JSON string of `text`; bytes outside printable ASCII as \u00XX, so that
// any request target gives a valid line.
void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

// RFC 3339 in UTC with milliseconds: "2026-12-02T07:42:14.123Z". The part
// up to the second is formatted once a second per thread.
void AppendTime(std::string& out, std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  thread_local std::time_t cached_second = -1;
  thread_local char cached[32];  // "2026-12-02T07:42:14."
  thread_local size_t cached_size = 0;
  if (seconds != cached_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    cached_size = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S.", &utc);
    cached_second = seconds;
  }
  out.append(cached, cached_size);
  const int milli = static_cast<int>(ms % 1000);
  const char digits[] = {static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                         static_cast<char>('0' + milli % 10), 'Z'};
  out.append(digits, sizeof digits);
}

void AppendId(std::string& out, std::string_view name, const uint8_t* id, size_t size, bool known) {
  out += ",\"";
  out += name;
  out += "\":";
  if (!known) {
    out += "null";
    return;
  }
  out += '"';
  const size_t at = out.size();
  out.resize(at + 2 * size);
  WriteHex(id, size, out.data() + at);
  out += '"';
}

}  // namespace

void AccessLog::Format(const Call& call, std::chrono::system_clock::time_point now, std::string& out) {
  out += "{\"time\":\"";
  AppendTime(out, now);
  out += "\",\"method\":";
  if (call.method.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, call.method);
  }
  const double latency_ms = std::chrono::duration<double, std::milli>(call.latency).count();
  fmt::format_to(std::back_inserter(out),
                 ",\"status\":\"{}\",\"http_status\":{},\"latency_ms\":{:.3f},\"peer\":", StatusCodeName(call.code),
                 call.http_status, latency_ms);
  AppendJsonString(out, call.peer);
  const TraceContext* t = call.trace;
  const bool traced = t && t->valid();
  AppendId(out, "trace_id", traced ? t->trace_id().data() : nullptr, 16, traced);
  AppendId(out, "span_id", traced ? t->span_id().data() : nullptr, 8, traced);
  AppendId(out, "parent_id", traced ? t->parent_id().data() : nullptr, 8, traced && t->has_parent());
  out += "}\n";
}

Status AccessLog::Open(const std::string& path, std::unique_ptr<AccessLog>* out) {
  if (path.empty()) return InvalidArgument("access log: the path is empty (use - for stdout)");
  if (path == "-") {
    out->reset(new AccessLog(STDOUT_FILENO, false, "stdout"));
    return Status::Ok();
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return InvalidArgument("access log: cannot open " + path + ": " + std::system_category().message(errno));
  out->reset(new AccessLog(fd, true, path));
  return Status::Ok();
}

AccessLog::AccessLog(int fd, bool owns_fd, std::string path)
    : fd_(fd), owns_fd_(owns_fd), path_(std::move(path)), writer_([this] { WriteLoop(); }) {}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
  if (owns_fd_) ::close(fd_);
}

void AccessLog::Write(const Call& call) {
  // Formatted outside the lock, into a buffer each thread keeps.
  thread_local std::string line;
  line.clear();
  Format(call, std::chrono::system_clock::now(), line);
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (pending_.size() + line.size() > kMaxPendingBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_ += line;
    ++pending_lines_;
    // The writer is woken by the first line after it went idle, and when a
    // batch is full; every other line costs the loop no system call.
    const bool filled = pending_.size() >= kBatchBytes && pending_.size() - line.size() < kBatchBytes;
    wake = writer_idle_ || filled;
    writer_idle_ = false;
  }
  if (wake) wake_.notify_one();
}

void AccessLog::WriteLoop() {
  std::string batch;
  for (;;) {
    uint64_t lines = 0;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      if (pending_.empty() && !stopping_) {
        writer_idle_ = true;
        wake_.wait(lock, [this] { return stopping_ || !writer_idle_; });
      }
      // The lines of the next moment go out with this one, in one write.
      wake_.wait_for(lock, kGather, [this] { return stopping_ || pending_.size() >= kBatchBytes; });
      batch.swap(pending_);
      lines = pending_lines_;
      pending_lines_ = 0;
      stopping = stopping_;
    }
    if (!batch.empty() && !WriteAll(batch)) dropped_.fetch_add(lines, std::memory_order_relaxed);
    batch.clear();
    if (stopping) {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return;
    }
  }
}

bool AccessLog::WriteAll(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!write_failed_) {
        Log().error("access log {}: write failed ({}); lines are dropped while it fails", path_,
                    n < 0 ? std::system_category().message(errno) : "nothing written");
      }
      write_failed_ = true;
      return false;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  write_failed_ = false;
  return true;
}

}  // namespace harpc
