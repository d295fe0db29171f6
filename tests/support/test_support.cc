// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>  // mkdtemp (POSIX)
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "util/free_port.h"

namespace harpc::testing {

using Clock = std::chrono::steady_clock;

std::string StartDaemon(const std::vector<std::string>& args, Subprocess* process, std::chrono::milliseconds timeout,
                        const std::string& log, std::string* why) {
  std::vector<std::string> argv = {HARPC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string prefix = "listening on ";
  const auto give_up = Clock::now() + Scaled(timeout);
  std::string reason;
  for (;;) {
    Status st = Subprocess::Spawn(argv, process, log);
    std::string line;
    if (st.ok()) st = process->ReadLine(Scaled(std::chrono::seconds(10)), &line);
    if (st.ok() && line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    reason = st.ok() ? "first line '" + line + "'" : st.ToString();
    *process = Subprocess();  // kill and reap
    // Most likely "address in use" on a restart: retry until the port is free or give_up.
    if (Clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll pace of that retry
  }
  if (why) *why = reason;
  return {};
}

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

int ThreadCount(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return -1;
  int n = 0;
  for (auto it = tasks; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) ++n;
  return ec ? -1 : n;
}

int FreePort() { return FreeListenPort(); }

ServeProcess StartServe(const std::vector<std::string>& extra_args) {
  ServeProcess s;
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::string why;
  s.address = StartDaemon(args, &s.process, std::chrono::seconds(10), "/dev/null", &why);
  if (s.address.empty()) {
    ADD_FAILURE() << "harpc serve did not report its address: " << why;
    return s;
  }
  s.port = PortOf(s.address);
  return s;
}

double TimeScale() {
  static const double scale = [] {
    // Read once, before the tests start threads; nothing sets the environment.
    const char* value = std::getenv("HARPC_TEST_TIME_SCALE");  // NOLINT(concurrency-mt-unsafe)
    const double parsed = value ? std::atof(value) : 1.0;
    return parsed >= 1.0 ? parsed : 1.0;
  }();
  return scale;
}

std::chrono::milliseconds Scaled(std::chrono::milliseconds deadline) {
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(deadline.count()) * TimeScale()));
}

namespace {
// Polls `condition` until it holds or `timeout` passes.
bool PollFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
  }
}
}  // namespace

bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  return PollFor(condition, Scaled(timeout));
}

bool HoldsFor(const std::function<bool()>& condition, std::chrono::milliseconds duration) {
  return !PollFor([&] { return !condition(); }, duration);
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RawSocket::RawSocket(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {
// Length of one complete response at the start of `data`, or 0 if incomplete.
size_t CompleteResponseLength(const std::string& data) {
  auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  size_t body = 0;
  std::string head = data.substr(0, head_end);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto cl = head.find("content-length:"); cl != std::string::npos) {
    body = std::stoul(head.substr(cl + 15));
  }
  size_t total = head_end + 4 + body;
  return data.size() >= total ? total : 0;
}
}  // namespace

std::string RawSocket::ReadResponse(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (size_t n = CompleteResponseLength(pending_)) {
      std::string out = pending_.substr(0, n);
      pending_.erase(0, n);
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || fd_ < 0) break;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending_.append(buf, static_cast<size_t>(n));
  }
  return std::exchange(pending_, {});
}

bool RawSocket::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

std::string BodyOf(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

std::string CliRun::Stdout() const {
  std::string all;
  for (const std::string& line : out) all += line + "\n";
  return all;
}

// Runs `harpc <args>` and collects its output; the child is killed if it is
// still running after `timeout`.
CliRun RunHarpc(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {HARPC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, timeout);
}

CliRun RunProgram(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  using namespace std::chrono_literals;
  CliRun run;
  char path[] = "/tmp/harpc-it-stderr-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return run;
  }
  ::close(fd);
  Subprocess p;
  Status s = Subprocess::Spawn(argv, &p, path);
  if (!s.ok()) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": " << s;
    ::unlink(path);
    return run;
  }
  const auto deadline = Clock::now() + Scaled(timeout);
  for (int lines = 0; lines < 10000; ++lines) {  // until end of output
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    std::string line;
    Status st = p.ReadLine(left, &line);
    if (!st.ok()) break;
    run.out.push_back(line);
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  run.exit_code = p.Wait(std::max(left, 100ms));
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  run.err = ss.str();
  ::unlink(path);
  return run;
}

}  // namespace harpc::testing
