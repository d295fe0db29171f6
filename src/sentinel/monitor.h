// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The sentinel's monitor, after Redis Sentinel:
//
// * Every registered instance is probed with GET /health every probe
//   interval, all of them in the same rounds, so that instances that die
//   together miss the same round. No valid answer for down_after (counted
//   from the round of the last valid answer) → subjectively down (SDOWN),
//   this sentinel's own opinion. The rounds start at a random phase of each
//   sentinel's own: sentinels (on one host or not) do not all see a failure
//   at the same instant and stand for the same election together.
// * Each round of the quorum loop (every probe interval, at most 100 ms, and
//   at once when an instance goes SDOWN or answers again), the sentinel asks
//   its peers their opinions (Sentinel.opinion, one JSON-RPC batch per peer)
//   of every instance it holds SDOWN, or will within a probe interval, or the
//   group decided ODOWN (once a second only of those both SDOWN and ODOWN).
//   When `quorum` sentinels (itself included) hold an instance SDOWN, it is
//   objectively down (ODOWN) — but one sentinel alone, partitioned or
//   frozen, can never take an instance out.
// * The decision is made once per group, for every instance whose state
//   changes at once: the sentinel that saw the quorum asks its peers to
//   elect it leader for a new configuration epoch (Sentinel.vote; one vote
//   per sentinel per epoch; a majority of the group wins). The leader
//   records each change with that epoch, tells its peers in one
//   Sentinel.decide that lists them all, and raises one alert per instance.
//   A sentinel that missed the decision learns it from its peers' opinions,
//   which carry their ODOWN state and epoch.
// * Instances that went down in the same probe round are decided in one
//   election: a candidate that still misses votes which its peers announce
//   (an opinion's sdown_soon: SDOWN within a probe interval) waits for them,
//   one probe interval at most, then stands for every instance with its quorum.
// * When fewer than `quorum` sentinels still hold the instance SDOWN, an
//   election the same way brings it back up ("up" alert).
//
// What a peer says is checked, never believed (docs/sentinel.md, "The peer protocol"):
// * Epochs move one election at a time. A vote is granted only for an epoch
//   no lower than this sentinel's and at most one above it, once per epoch,
//   for a candidate of the group, and recorded durably before the answer.
// * A decision (Sentinel.decide, or one a peer's opinion reports) is adopted
//   only once proven, each of its changes on its own: its leader holds the
//   change (same state, epoch and leader) and a majority of the group (and a
//   quorum) answer, each for itself (Sentinel.voted), that they voted for
//   that leader in that epoch. Honest sentinels vote at most one epoch ahead,
//   so no caller can invent an epoch.
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
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "harpc/result.h"
#include "sentinel/group_view.h"
#include "sentinel/notifier.h"
#include "sentinel/registry.h"
#include "util/stop_signal.h"

namespace harpc::sentinel {

struct MonitorOptions {
  std::string self;                // this sentinel's address, "host:port"
  std::vector<std::string> peers;  // the other sentinels
  int quorum = 1;                  // sentinels that must agree on ODOWN
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

  // A decision of the group: each listed instance's state from `epoch` on,
  // decided by `leader`, the sentinel elected in that epoch.
  struct Decision {
    struct Change {
      std::string service, address;
      bool odown = false;
      auto operator<=>(const Change&) const = default;
    };
    std::vector<Change> changes;
    int64_t epoch = 0;
    std::string leader;
  };

  // Peer API.
  // {known, sdown, sdown_soon, odown, epoch, leader, expiry_told}: this
  // sentinel's view (sdown_soon: its probes fail and it will be SDOWN within
  // a probe interval) and the decision it holds; expiry_told: the instance
  // left its registry with its lease expired and alerted (it was ODOWN, or
  // this sentinel told its "lease-expired").
  boost::json::object Opinion(const std::string& service, const std::string& address);
  // {granted, epoch, reason?}; UNAVAILABLE when the vote could not be recorded.
  boost::asio::awaitable<Result> Vote(int64_t epoch, const std::string& candidate);
  // {epoch, candidate}: whom this sentinel voted for in `epoch` ("" for nobody).
  boost::json::object Voted(int64_t epoch) const;
  // Adopts the changes of a decision that are proven, and newer than what
  // this sentinel holds: {adopted, stale, unknown} (counts of changes);
  // NOT_FOUND when it holds none of the instances; FAILED_PRECONDITION when
  // no change is proven; RESOURCE_EXHAUSTED when kMaxProofsInFlight are
  // being checked.
  boost::asio::awaitable<Result> Decide(const Decision& decision);

  // The replicated groups as this sentinel judges them.
  const GroupAlerts& groups() const { return groups_; }

  // Decisions being proven at once (each asks up to every peer).
  static constexpr int kMaxProofsInFlight = 4;
  // Instances named in one call to a peer (a batch of opinions, a
  // Sentinel.decide) at most: the server's JSON-RPC batch limit
  // (ServerOptions::max_batch_requests). A larger decision is told in parts.
  static constexpr size_t kInstancesPerCall = 1000;

 private:
  struct Watch;                                            // probing state of one instance
  using InstanceId = std::pair<std::string, std::string>;  // (service, address)
  // What the peers answered of one instance: how many hold it SDOWN, and how
  // many more will within a probe interval.
  struct Tally {
    int sdown = 0;
    int soon = 0;
  };
  // The position of `address` in the group: kSelf, a peer's index, or kNotMember.
  static constexpr int kSelf = -1;
  static constexpr int kNotMember = -2;
  int MemberIndex(const std::string& address) const;
  bool ElectionWon(int votes) const { return votes >= GroupSize() / 2 + 1 && votes >= options_.quorum; }
  int GroupSize() const { return static_cast<int>(options_.peers.size()) + 1; }
  // The quorum loop's period: the probe interval, at most 100 ms.
  std::chrono::milliseconds Tick() const;
  // The first probe round after `now`.
  Clock::time_point NextRound(Clock::time_point now) const;
  bool SdownSoon(const Instance& instance) const;

  // Runs `ask(p)` for every peer p at once (but those `skip` marks) until
  // all answered, or `enough` (given each answer as it comes) says so: the
  // calls still running are then cancelled. The answers in peer order,
  // Answer{} for those not asked or cancelled. Peers that do not answer cost
  // one call timeout, however many, and none once it is enough.
  template <typename Answer, typename Ask, typename Enough>
  boost::asio::awaitable<std::vector<Answer>> AskPeers(Ask ask, const std::vector<bool>* skip, Enough enough);
  // One peer's opinions of `ids` (an empty object where it gave none), in
  // batches of kInstancesPerCall.
  boost::asio::awaitable<std::vector<boost::json::object>> OpinionsOf(Channel& peer,
                                                                      const std::vector<InstanceId>& ids);
  // Which changes of `decision` are proven (its leader holds them, a majority voted for it).
  boost::asio::awaitable<std::vector<bool>> Proven(const Decision& decision);
  // Records one change of a proven (or own) decision; false when it is stale or the instance is gone.
  bool Adopt(const Decision::Change& change, int64_t epoch, const std::string& leader, bool alert);
  boost::asio::awaitable<void> ProbeLoop(std::string service, std::string address, std::shared_ptr<Watch> watch);
  boost::asio::awaitable<void> QuorumLoop();
  // Asks the quorum loop for a round now (an instance went SDOWN or answered again).
  void WakeQuorumLoop();
  // One round: gathers the peers' opinions, and stands for election for the
  // changes this sentinel may propose.
  boost::asio::awaitable<void> DecideRound();
  // Asks every peer its opinions of `ids`; adopts (once proven) the
  // decisions this sentinel missed. Returns the peers' votes for each, and
  // in `silent` (if given) the peers that did not answer.
  boost::asio::awaitable<std::vector<Tally>> GatherOpinions(const std::vector<InstanceId>& ids,
                                                            std::vector<bool>* silent = nullptr);
  // Stands for election for `changes` and, elected, decides them and tells
  // the peers (but those in `silent`: they learn it from opinions).
  boost::asio::awaitable<void> Stand(std::vector<Decision::Change> changes, const std::vector<bool>& silent);
  boost::asio::awaitable<bool> WinElection(int64_t epoch, const std::vector<bool>& silent);
  boost::asio::awaitable<void> TellDecision(const Decision& decision, const std::vector<bool>& silent);
  // Raises "lease-expired" for the instances among `expired` (just removed
  // from the registry) that stopped renewing their lease with no decision
  // told: neither ODOWN nor draining. One sentinel tells it: a sentinel
  // leaves it to a peer before it in address order that still holds the
  // lease (it expires there soon) or told it already.
  boost::asio::awaitable<void> TellLeaseExpiries(std::vector<Instance> expired);
  void Reconcile();

  boost::asio::any_io_executor executor_;
  Registry& registry_;
  Notifier& notifier_;
  MonitorOptions options_;
  ClientSecurity probe_security_;                // options_.security without its token
  Clock::duration round_phase_;                  // where this sentinel's probe rounds start, within a probe interval
  std::vector<std::unique_ptr<Channel>> peers_;  // made by Start
  std::map<std::string, std::shared_ptr<Watch>> watches_;  // "service\naddress"
  uint64_t reconciled_index_ = 0;                          // the registry index the watches were last matched to
  int proofs_in_flight_ = 0;
  // After voting for another candidate, this sentinel stands for no election
  // until then: that leader gets the time to decide and tell (after Redis's
  // failover_start_time), instead of a second leader deciding the same again.
  Clock::time_point candidacy_after_{};
  // When this sentinel first found changes to propose and has not stood for
  // them since ({} when none): it waits for votes announced (sdown_soon) for
  // at most one probe interval from then.
  Clock::time_point gathering_since_{};
  Clock::time_point settled_asked_at_{};              // when the peers were last asked of instances SDOWN and ODOWN
  bool round_wanted_ = false;                         // WakeQuorumLoop came during a round
  boost::asio::steady_timer* quorum_wait_ = nullptr;  // the quorum loop's pause between rounds, while it waits
  StopSignal quorum_rounds_;
  GroupAlerts groups_;
};

}  // namespace harpc::sentinel
