// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace harpc {

namespace {
// Binds 127.0.0.1:port (0: the kernel picks); the port bound, or 0.
int TryBind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}
}  // namespace

int FreeListenPort() {
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int low = 10000, high = ephemeral_low - 1;
  if (high > low) {
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 0; attempt < 100; ++attempt) {  // bounded
      const int port = low + static_cast<int>(rng() % static_cast<unsigned>(high - low + 1));
      if (TryBind(port) == port) return port;
    }
  }
  return TryBind(0);  // a range too small to search: the kernel's pick
}

}  // namespace harpc
