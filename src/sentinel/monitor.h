// The sentinel's monitor, after Redis Sentinel:
//
// * Every registered instance is probed with GET /health every probe interval.
//   No valid answer for down_after → subjectively down (SDOWN), this
//   sentinel's own opinion.
// * For an instance it holds SDOWN, the sentinel asks its peers for theirs
//   (Sentinel.opinion). When `quorum` sentinels (itself included) agree, the
//   instance is objectively down (ODOWN) — but one sentinel alone, partitioned
//   or frozen, can never take an instance out.
// * The decision is made once per group: the sentinel that saw the quorum asks
//   its peers to elect it leader for a new configuration epoch
//   (Sentinel.vote; one vote per sentinel per epoch; a majority of the group
//   wins). The leader records ODOWN with that epoch, tells its peers
//   (Sentinel.decide) and raises the alert. A sentinel that missed the decision
//   learns it from its peers' opinions, which carry their ODOWN state and epoch.
// * When fewer than `quorum` sentinels still hold the instance SDOWN, the same
//   election brings it back up ("up" alert).
//
// What a peer says is checked, never believed (docs/sentinel.md, "The peer protocol"):
// * Epochs move one election at a time. A vote is granted only for an epoch
//   no lower than this sentinel's and at most one above it, once per epoch,
//   for a candidate of the group, and recorded durably before the answer.
// * A decision (Sentinel.decide, or one a peer's opinion reports) is adopted
//   only once proven: its leader holds it (same state, epoch and leader) and
//   a majority of the group (and a quorum) answer, each for itself
//   (Sentinel.voted), that they voted for that leader in that epoch. Honest
//   sentinels vote at most one epoch ahead, so no caller can invent an epoch.
//
// A lease that expires while its instance is neither ODOWN nor draining
// (its server stopped renewing it before the group could decide: a TTL
// shorter than the detection) is an alert of its own, "lease-expired",
// told by one sentinel of the group (TellLeaseExpiries).
//
// Members of replicated groups (registered with metadata "group") are also
// read with GET /status after each good probe, on the probe's connection;
// their groups' leader changes and losses of quorum are alerts of this
// sentinel's own (GroupAlerts, group_view.h): Raft already agreed on them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "harpc/result.h"
#include "sentinel/group_view.h"
#include "sentinel/notifier.h"
#include "sentinel/registry.h"
#include "util/stop_signal.h"

namespace harpc::sentinel {

struct MonitorOptions {
  std::string self;                    // this sentinel's address, "host:port"
  std::vector<std::string> peers;      // the other sentinels
  int quorum = 1;                      // sentinels that must agree on ODOWN
  std::chrono::milliseconds down_after{3000};
  std::chrono::milliseconds probe_interval{500};
  // Presented to the peers whole; the instance probes get its TLS only: an
  // instance's address comes from whoever registered it (a service token),
  // and GET /health needs no token, so the peer token never goes there.
  ClientSecurity security;
};

class Monitor {
 public:
  using Clock = std::chrono::steady_clock;

  Monitor(Registry& registry, Notifier& notifier, MonitorOptions options);
  // Cancels the probes and the quorum rounds: on the loop, or with the loop
  // stopped (and still alive: the peer channels post their stop to it).
  ~Monitor();

  // Starts probing and the quorum rounds on `executor`, the sentinel's one
  // loop, with channels to the peers on the same loop.
  void Start(boost::asio::any_io_executor executor);

  // A decision of the group on one instance: its state from `epoch` on,
  // decided by `leader`, the sentinel elected in that epoch.
  struct Decision {
    std::string service, address;
    bool odown = false;
    int64_t epoch = 0;
    std::string leader;
  };

  // Peer API.
  // {known, sdown, odown, epoch, leader, expiry_told}: this sentinel's view
  // and the decision it holds; expiry_told: the instance left its registry
  // with its lease expired and alerted (it was ODOWN, or this sentinel told
  // its "lease-expired").
  boost::json::object Opinion(const std::string& service, const std::string& address);
  // {granted, epoch, reason?}; UNAVAILABLE when the vote could not be recorded.
  boost::asio::awaitable<Result> Vote(int64_t epoch, const std::string& candidate);
  // {epoch, candidate}: whom this sentinel voted for in `epoch` ("" for nobody).
  boost::json::object Voted(int64_t epoch) const;
  // Adopts a decision once proven: {adopted}; FAILED_PRECONDITION when not
  // proven; RESOURCE_EXHAUSTED when kMaxProofsInFlight are being checked.
  boost::asio::awaitable<Result> Decide(const Decision& decision);

  // The replicated groups as this sentinel judges them.
  const GroupAlerts& groups() const { return groups_; }

  // Decisions being proven at once (each asks up to every peer).
  static constexpr int kMaxProofsInFlight = 4;

 private:
  struct Watch;  // probing state of one instance
  // The position of `address` in the group: kSelf, a peer's index, or kNotMember.
  static constexpr int kSelf = -1;
  static constexpr int kNotMember = -2;
  int MemberIndex(const std::string& address) const;
  bool ElectionWon(int votes) const { return votes >= GroupSize() / 2 + 1 && votes >= options_.quorum; }
  boost::asio::awaitable<bool> Proven(const Decision& decision);
  // Records a proven (or own) decision; false when it is stale.
  bool Adopt(const Decision& decision, bool alert);
  boost::asio::awaitable<void> ProbeLoop(std::string service, std::string address, std::shared_ptr<Watch> watch);
  boost::asio::awaitable<void> QuorumLoop();
  boost::asio::awaitable<void> CheckInstance(std::string service, std::string address);
  boost::asio::awaitable<int> GatherOpinions(const std::string& service, const std::string& address);
  // Raises "lease-expired" for the instances among `expired` (just removed
  // from the registry) that stopped renewing their lease with no decision
  // told: neither ODOWN nor draining. One sentinel tells it: a sentinel
  // leaves it to a peer before it in address order that still holds the
  // lease (it expires there soon) or told it already.
  boost::asio::awaitable<void> TellLeaseExpiries(std::vector<Instance> expired);
  boost::asio::awaitable<bool> WinElection(int64_t epoch);
  void Reconcile();
  int GroupSize() const { return static_cast<int>(options_.peers.size()) + 1; }

  boost::asio::any_io_executor executor_;
  Registry& registry_;
  Notifier& notifier_;
  MonitorOptions options_;
  ClientSecurity probe_security_;  // options_.security without its token
  std::vector<std::unique_ptr<Channel>> peers_;  // made by Start
  std::map<std::string, std::shared_ptr<Watch>> watches_;  // "service\naddress"
  uint64_t reconciled_index_ = 0;  // the registry index the watches were last matched to
  int proofs_in_flight_ = 0;
  // After voting for another candidate, this sentinel stands for no election
  // until then: that leader gets the time to decide and tell (after Redis's
  // failover_start_time), instead of a second leader deciding the same again.
  Clock::time_point candidacy_after_{};
  StopSignal quorum_rounds_;
  GroupAlerts groups_;
};

}  // namespace harpc::sentinel
