// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A child process started by harpc (the demo's cluster, tests' servers),
// stopped and reaped by PID when its owner goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harpc/status.h"

namespace harpc {

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();  // SIGKILLs and reaps the child if it still runs
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;

  // Starts argv[0] (a path) with argv. The child's stdout comes back through a
  // pipe (ReadLine); its stderr goes to `stderr_path` ("" keeps the parent's,
  // "/dev/null" drops it).
  static Status Spawn(const std::vector<std::string>& argv, Subprocess* out, const std::string& stderr_path = "");

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }

  // The next line of the child's stdout, without its newline; DEADLINE_EXCEEDED
  // if none came within `timeout`, UNAVAILABLE at end of output.
  Status ReadLine(std::chrono::milliseconds timeout, std::string* line);

  // Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM, ...).
  void Signal(int signal) const;

  // The exit status (or 128 + signal) once the child ended within `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  void Reap(int status);
  // Kills and reaps a running child, closes the pipe, and leaves *this empty.
  void Release();
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // stdout bytes read past the last line
  std::optional<int> exit_status_;
};

// The harpc binary this process runs from (/proc/self/exe), for starting siblings.
std::string SelfExecutable();

}  // namespace harpc
