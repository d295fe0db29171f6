// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// 10,000 concurrent idle keep-alive connections to one `harpc serve`: all
// accepted, counted, and a fresh call is still answered at once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <gtest/gtest.h>

#include "it_support.h"

namespace harpc::testing::it {
namespace {

constexpr int kConnections = 10000;

// Client sockets closed with a reset so that 10,000 ports are not left in
// TIME_WAIT for the next run.
class SocketSet {
 public:
  ~SocketSet() { CloseAll(); }
  bool Open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = std::system_category().message(errno);
      ::close(fd);
      return false;
    }
    fds_.push_back(fd);
    return true;
  }
  void CloseAll() {
    for (int fd : fds_) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(fd);
    }
    fds_.clear();
  }
  size_t size() const { return fds_.size(); }
  const std::string& error() const { return error_; }

 private:
  std::vector<int> fds_;
  std::string error_;
};

TEST(ItManyConnections, TenThousandIdleConnectionsAndAFreshCallStillServed) {
  // Room for 10,000 sockets here and in the server child, which inherits the
  // limit: raise the soft limit to the hard one before spawning it.
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t needed = kConnections + 200;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max << " is below " << needed;
  }
  const rlimit saved = lim;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed * 2 : lim.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0) << std::system_category().message(errno);

  ServeProcess serve = StartServe({"--threads", "2"});
  ASSERT_GT(serve.port, 0);

  SocketSet sockets;
  const auto start = Clock::now();
  for (int i = 0; i < kConnections && Since(start) < 120s; ++i) {
    ASSERT_TRUE(sockets.Open(serve.port)) << "connection " << i << ": " << sockets.error();
  }
  ASSERT_EQ(sockets.size(), static_cast<size_t>(kConnections)) << "took too long";

  // The server sees them all (it may take a moment to accept the backlog).
  int64_t seen = -1;
  EXPECT_TRUE(PollUntil(
      [&] {
        seen = StatusField(serve.port, "connections");
        return seen >= kConnections;
      },
      60s))
      << "server reports " << seen << " connections";
  std::string m = Scrape(serve.port);
  EXPECT_GE(MetricValue(m, "harpc_server_connections").value_or(-1), kConnections) << m;
  EXPECT_EQ(MetricValue(m, "harpc_server_connections_rejected_total").value_or(-1), 0);

  // A call on a fresh connection is answered promptly.
  EXPECT_TRUE(HealthyCallServed(serve.port, 1000ms));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(HealthyCallServed(serve.port, 1000ms)) << "call " << i;

  sockets.CloseAll();
  EXPECT_TRUE(PollUntil([&] { return StatusField(serve.port, "connections") == 1; }, 30s))
      << "server still reports " << StatusField(serve.port, "connections") << " connections";
  EXPECT_TRUE(HealthyCallServed(serve.port));

  serve.process.Signal(SIGKILL);
  serve.process.Wait(5s);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

// With --max-connections above what the open-file limit allows (here a hard
// limit of 300 set by prlimit), the server lowers it to what fits: a client
// past it gets the 503 at once instead of an accept() that never comes.
TEST(ItManyConnections, MaxConnectionsAboveTheFileLimitStillAnswers503) {
  Subprocess serve;
  Status spawned = Subprocess::Spawn({"/usr/bin/prlimit", "--nofile=300:300", HARPC_BINARY, "serve", "--listen",
                                      "127.0.0.1:0", "--threads", "1", "--max-connections", "100000"},
                                     &serve, "/dev/null");
  ASSERT_TRUE(spawned.ok()) << spawned;
  std::string line;
  ASSERT_TRUE(serve.ReadLine(10s, &line).ok());
  ASSERT_EQ(line.rfind("listening on ", 0), 0u) << line;
  const int port = PortOf(line.substr(13));

  // 300 descriptors, 64 kept back: 236 connections, then 503s.
  constexpr int kFits = 236;
  std::vector<std::unique_ptr<RawSocket>> open;
  int first_refused = -1;
  for (int i = 0; i < kFits + 5 && first_refused < 0; ++i) {
    auto socket = std::make_unique<RawSocket>(port);
    ASSERT_TRUE(socket->connected()) << "connection " << i;
    ASSERT_TRUE(socket->Send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")) << "connection " << i;
    const std::string answer = socket->ReadResponse(2s);
    if (StatusOf(answer) == 503) {
      first_refused = i;
    } else {
      ASSERT_EQ(StatusOf(answer), 200) << "connection " << i << ": '" << answer << "'";
    }
    open.push_back(std::move(socket));  // kept open: it holds its place
  }
  EXPECT_EQ(first_refused, kFits);
  open.clear();
  serve.Signal(SIGKILL);
  serve.Wait(5s);
}

}  // namespace
}  // namespace harpc::testing::it
