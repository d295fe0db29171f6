// `harpc serve --register sentinel://H:P[,H:P]`: keeps a server registered
// with every listed sentinel, each on its own and none waiting for another.
//
// Per sentinel, one loop on that sentinel's own channel (its event loop):
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
// leases), so a server registers with each. Stop() deregisters from every
// sentinel that holds a lease, in parallel, within its timeout; a sentinel
// that cannot be reached then lets the lease expire after its TTL.
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
  SentinelRegistrar(std::vector<std::string> sentinels, Registration registration);
  ~SentinelRegistrar() override;  // Stop(0): no deregistration wait

  void Start() override;
  void Stop(std::chrono::milliseconds timeout) override;

  // Sentinels that hold a lease for this server right now (for tests and logs).
  size_t registered_count() const;

  struct Link;  // one sentinel (private to sentinel_registrar.cc)

 private:
  Registration registration_;
  std::vector<std::unique_ptr<Link>> links_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace harpc
