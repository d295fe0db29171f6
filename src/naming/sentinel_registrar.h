// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// `harpc serve --register sentinel://H:P[,H:P]`: keeps a server registered
// with every listed sentinel, each on its own and none waiting for another.
//
// Per sentinel, one coroutine on the server's loop, calling that sentinel on
// its own channel (on the same loop: no thread):
//
//   no lease ──Registry.register ok──> leased ──Registry.heartbeat every ttl/3──┐
//      ^   └─ failed: retry after a backoff (100 ms doubling, at most           │
//      │      min(ttl/3, 2 s))                                                  │
//      └──────────── NOT_FOUND: the sentinel forgot the lease (it restarted     │
//                    without its data, or the lease expired): register again ───┘
//   A heartbeat that fails otherwise (timeout, sentinel down) keeps the lease
//   and is retried after the backoff; the sentinel answers NOT_FOUND once it
//   is back if the lease expired meanwhile.
//
// Sentinels are independent registries (they agree on down verdicts, not on
// leases), so a server registers with each. Deregister() deregisters from
// every sentinel that holds a lease, in parallel; a sentinel that cannot be
// reached then lets the lease expire after its TTL.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "naming/registrar.h"

namespace harpc {

class Channel;

// Parses "H:P[,H:P]" (the part of a sentinel target after "sentinel://" and
// before any "/SERVICE"): at least one address, each valid, none twice.
Status ParseSentinelList(std::string_view list, std::vector<std::string>* out);

class SentinelRegistrar final : public Registrar {
 public:
  // `sentinels`: "host:port" of each sentinel, already checked (ParseSentinelList).
  // `security`: presented to the sentinels (registering needs role service).
  SentinelRegistrar(std::vector<std::string> sentinels, Registration registration, ClientSecurity security);
  ~SentinelRegistrar() override;

  void Start(boost::asio::any_io_executor loop) override;
  boost::asio::awaitable<void> Deregister() override;

  struct Link;  // one sentinel (private to sentinel_registrar.cc)

 private:
  std::vector<std::string> sentinels_;
  Registration registration_;
  ClientSecurity security_;
  boost::asio::any_io_executor loop_;
  // Made by Start, then used on the loop only; shared with the coroutines.
  std::shared_ptr<std::vector<std::shared_ptr<Link>>> links_;
};

}  // namespace harpc
