// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the tests share: starting `harpc serve` on a free loopback port, raw
// sockets for bad-input tests, and polling for a condition with a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/subprocess.h"

namespace harpc::testing {

// Whether a process's RSS measures what the code uses: not under
// AddressSanitizer (`make test-asan`), whose allocator pads every block and
// keeps freed ones in quarantine, nor under ThreadSanitizer (`make
// test-tsan`), whose allocator and shadow memory add to every block. Tests
// that weigh memory skip that part there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kRssIsMeaningful = false;
#else
inline constexpr bool kRssIsMeaningful = true;
#endif
#else
inline constexpr bool kRssIsMeaningful = true;
#endif

// A `harpc serve` child on 127.0.0.1 with a free port; killed (SIGKILL) and
// reaped when destroyed.
struct ServeProcess {
  Subprocess process;
  std::string address;  // "127.0.0.1:PORT"
  int port = 0;
};

// Starts `harpc ARGS...` (serve, sentinel: daemons whose first stdout line is
// "listening on H:P") and returns that address. A fixed port still taken by a
// process that just died is tried again until Scaled(`timeout`). stderr goes to `log`.
// On failure: "" and the reason in *why (if given); the child is reaped.
std::string StartDaemon(const std::vector<std::string>& args, Subprocess* process,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        const std::string& log = "/dev/null", std::string* why = nullptr);
// The port of "host:port".
int PortOf(const std::string& address);
// A loopback port free right now, below the kernel's ephemeral range
// (util/free_port.h): for a daemon that must know its port before it
// starts, or for an address nobody listens on.
int FreePort();

// The number of threads of process `pid` (/proc/PID/task); -1 when it is gone.
int ThreadCount(pid_t pid);

// Starts build/harpc serve --listen 127.0.0.1:0 <extra args> and waits for its
// "listening on" line. Fails the current test (ADD_FAILURE) on error.
ServeProcess StartServe(const std::vector<std::string>& extra_args = {});

// What `harpc ARGS...` did: its exit status (none if it was still running at
// the timeout and had to be killed), its stdout lines and all of its stderr.
struct CliRun {
  std::optional<int> exit_code;
  std::vector<std::string> out;  // stdout lines
  std::string err;               // all of stderr
  // stdout as one string, a newline after each line.
  std::string Stdout() const;
};
// Runs build/harpc with `args` to its end; killed after Scaled(`timeout`).
CliRun RunHarpc(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(20));
// The same for any program: argv[0] is its path.
CliRun RunProgram(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// How many times longer than usual the code under test may take to do
// something: HARPC_TEST_TIME_SCALE (the sanitizer builds set it, their code
// being 2-10x slower), 1 when unset.
double TimeScale();
// `deadline` stretched by TimeScale(): how long to wait for something to happen.
std::chrono::milliseconds Scaled(std::chrono::milliseconds deadline);

// Polls `condition` every few milliseconds until it holds or Scaled(`timeout`)
// passes.
bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// True when `condition` held at every poll for the whole of `duration`
// (returns false at its first failure). Not scaled: it is how long something
// must hold, not a deadline.
bool HoldsFor(const std::function<bool()>& condition, std::chrono::milliseconds duration);

inline std::chrono::milliseconds Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

// A fresh directory under /tmp (mkdtemp), removed with its contents when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "harpc-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A blocking TCP client socket to 127.0.0.1:port for hand-written bytes.
class RawSocket {
 public:
  explicit RawSocket(int port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Sends all bytes; false if the peer closed or reset.
  bool Send(std::string_view bytes);
  // Reads until the peer closes, `timeout` passes, or one full HTTP response
  // (head + Content-Length body) has arrived; returns what was read.
  std::string ReadResponse(std::chrono::milliseconds timeout);
  // Reads until the peer closes or `timeout`; true if it closed.
  bool WaitClosed(std::chrono::milliseconds timeout);
  void Close();

 private:
  int fd_ = -1;
  std::string pending_;
};

// The status code of a raw HTTP response ("HTTP/1.1 404 ..." → 404), or 0.
int StatusOf(const std::string& response);
// The body of a raw HTTP response (after the blank line).
std::string BodyOf(const std::string& response);

}  // namespace harpc::testing
