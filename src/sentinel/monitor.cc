// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/monitor.h"

#include <algorithm>
#include <limits>
#include <random>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "health/health_checker.h"
#include "util/address.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

struct Monitor::Watch {
  StopSignal probes;
  Clock::time_point last_ok = Clock::now();  // the round of the last valid answer; registration counts as one
  bool answered = false;                     // a probe of this sentinel got a valid answer
  bool failing = false;                      // the last probe got none
  Clock::time_point next_election{};         // backoff after a lost election
};

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string Key(const std::string& service, const std::string& address) { return service + "\n" + address; }

// The peer methods, as named strings: GCC 12 destroys a temporary argument
// of a co_await expression twice, so none is built inside one.
const std::string kOpinion = "Sentinel.opinion";
const std::string kVote = "Sentinel.vote";
const std::string kVoted = "Sentinel.voted";
const std::string kDecide = "Sentinel.decide";

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kNoThrow);
}

// AskPeers's `enough` that waits for every answer. (No default argument: GCC
// 12 destroys a default argument of a coroutine in a co_await expression twice.)
constexpr auto kAll = [](const auto&) { return false; };

std::mt19937& Rng() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

bool IsTrue(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// Whether an opinion holds the decision: this state, decided at `epoch` by `leader`.
bool Holds(const json::object& opinion, bool odown, int64_t epoch, const std::string& leader) {
  const json::value* state = opinion.if_contains("odown");
  const json::value* at = opinion.if_contains("epoch");
  const json::value* by = opinion.if_contains("leader");
  return state && *state == json::value(odown) && at && at->is_int64() && at->as_int64() == epoch && by &&
         by->is_string() && by->as_string() == leader;
}
}  // namespace

Monitor::Monitor(Registry& registry, Notifier& notifier, MonitorOptions options)
    : registry_(registry),
      notifier_(notifier),
      options_(std::move(options)),
      probe_security_{.tls = options_.security.tls},
      round_phase_(std::uniform_int_distribution<Clock::rep>(
          0, std::chrono::duration_cast<Clock::duration>(options_.probe_interval).count())(Rng())),
      groups_(notifier_, options_.self, options_.down_after) {}

Monitor::~Monitor() {
  quorum_rounds_.Stop();
  for (auto& [key, watch] : watches_) watch->probes.Stop();
}

void Monitor::Start(asio::any_io_executor executor) {
  executor_ = std::move(executor);
  for (const std::string& peer : options_.peers) {
    ChannelOptions o;
    o.timeout = std::max(options_.probe_interval, std::chrono::milliseconds(200));
    o.retry.max_retries = 0;
    o.health.interval = std::chrono::milliseconds(0);  // the peers' liveness shows in their answers
    o.breaker.failure_ratio = 0;
    o.outlier.consecutive_failures = 0;
    o.outlier.failure_ratio = 0;
    o.executor = executor_;
    o.security = options_.security;
    peers_.push_back(std::make_unique<Channel>(peer, o));
  }
  quorum_rounds_.Spawn(executor_, QuorumLoop());
}

void Monitor::Reconcile() {
  std::map<std::string, std::shared_ptr<Watch>> next;
  for (Instance* i : registry_.All()) {
    const std::string key = Key(i->service, i->address);
    auto it = watches_.find(key);
    if (it != watches_.end()) {
      next[key] = it->second;
      continue;
    }
    auto watch = std::make_shared<Watch>();
    next[key] = watch;
    watch->probes.Spawn(executor_, ProbeLoop(i->service, i->address, watch));
  }
  for (auto& [key, watch] : watches_) {
    if (!next.contains(key)) watch->probes.Stop();
  }
  watches_ = std::move(next);
}

std::chrono::milliseconds Monitor::Tick() const {
  return std::min(options_.probe_interval, std::chrono::milliseconds(100));
}

Monitor::Clock::time_point Monitor::NextRound(Clock::time_point now) const {
  const auto period = std::max<Clock::duration>(options_.probe_interval, std::chrono::milliseconds(1));
  return Clock::time_point(((now.time_since_epoch() - round_phase_) / period + 1) * period + round_phase_);
}

bool Monitor::SdownSoon(const Instance& i) const {
  if (i.sdown) return false;
  auto watch = watches_.find(Key(i.service, i.address));
  return watch != watches_.end() && watch->second->failing &&
         Clock::now() - watch->second->last_ok >= options_.down_after - options_.probe_interval;
}

asio::awaitable<void> Monitor::ProbeLoop(std::string service, std::string address, std::shared_ptr<Watch> watch) {
  HostPort hp;
  asio::ip::tcp::endpoint endpoint;
  if (!ParseHostPort(address, &hp).ok() || !ResolveEndpoint(hp, &endpoint).ok()) {
    spdlog::warn("sentinel: cannot probe {} {}: bad address", service, address);
    co_return;
  }
  std::unique_ptr<ClientConnection> connection;
  // The first probe at once, the next ones in the rounds of every instance.
  auto round = Clock::now();
  for (;;) {
    const auto started = Clock::now();
    ProbeResult result = co_await ProbeHealth(connection, endpoint, options_.probe_interval, probe_security_);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    Instance* i = registry_.Find(service, address);
    if (!i) break;
    if (result == ProbeResult::kServing || result == ProbeResult::kDraining) {
      watch->last_ok = round;
      watch->answered = true;
      watch->failing = false;
      registry_.SetProbeLatency(*i, std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      registry_.SetDraining(*i, result == ProbeResult::kDraining);
      if (IsGroupMember(i->metadata)) {
        // On the probe's connection, within the rest of the probe interval.
        const std::chrono::milliseconds left =
            std::max(std::chrono::ceil<std::chrono::milliseconds>(started + options_.probe_interval - Clock::now()),
                     std::chrono::milliseconds(50));
        std::optional<MemberView> view = co_await ReadMemberView(connection, endpoint, left, probe_security_);
        if (Stopped(co_await asio::this_coro::cancellation_state)) break;
        i = registry_.Find(service, address);
        if (!i) break;
        if (view) registry_.SetGroupView(*i, std::move(*view));
      }
      if (i->sdown) {
        registry_.SetSdown(*i, false);
        notifier_.Publish({"sdown_cleared", service, address, registry_.epoch(), WallClockMs(), options_.self}, false);
        WakeQuorumLoop();
      }
    } else {
      watch->failing = true;
      if (!i->sdown && round - watch->last_ok >= options_.down_after) {
        registry_.SetSdown(*i, true);
        notifier_.Publish({"sdown", service, address, registry_.epoch(), WallClockMs(), options_.self}, false);
        WakeQuorumLoop();
      }
    }
    round = NextRound(Clock::now());
    asio::steady_timer t(executor_, round);
    co_await t.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
  }
}

json::object Monitor::Opinion(const std::string& service, const std::string& address) {
  const Instance* i = registry_.Find(service, address);
  if (!i) {
    return {{"known", false},
            {"sdown", false},
            {"sdown_soon", false},
            {"odown", false},
            {"epoch", 0},
            {"leader", ""},
            {"expiry_told", registry_.history().ExpiryTold(service, address)}};
  }
  return {{"known", true},           {"sdown", i->sdown},         {"sdown_soon", SdownSoon(*i)}, {"odown", i->odown},
          {"epoch", i->odown_epoch}, {"leader", i->odown_leader}, {"expiry_told", false}};
}

int Monitor::MemberIndex(const std::string& address) const {
  if (SameListener(address, options_.self)) return kSelf;
  for (size_t p = 0; p < options_.peers.size(); ++p) {
    if (SameListener(address, options_.peers[p])) return static_cast<int>(p);
  }
  return kNotMember;
}

asio::awaitable<Result> Monitor::Vote(int64_t epoch, const std::string& candidate) {
  const int64_t current = registry_.epoch();
  auto refused = [&](const std::string& reason) {
    return json::value{{"granted", false}, {"epoch", current}, {"reason", reason}};
  };
  if (MemberIndex(candidate) == kNotMember) {
    co_return InvalidArgument("candidate " + candidate + " is not a sentinel of this group");
  }
  // (epoch - current cannot overflow: both are non-negative.)
  if (epoch > current && epoch - current > 1) {
    co_return refused("epoch " + std::to_string(epoch) + " is more than one above this sentinel's epoch " +
                      std::to_string(current) + ": epochs move one election at a time");
  }
  if (epoch <= registry_.voted_epoch()) {
    // The same request again is granted again (once that vote is durable); anything else was decided already.
    if (registry_.VotedFor(epoch) != candidate) {
      co_return refused("already voted in epoch " + std::to_string(registry_.voted_epoch()));
    }
    if (Status s = co_await registry_.Durable(); !s.ok())
      co_return Unavailable("cannot record the vote: " + s.message());
    co_return json::value{{"granted", true}, {"epoch", registry_.epoch()}};
  }
  if (epoch < current) {
    co_return refused("epoch " + std::to_string(epoch) + " is over: this sentinel is at " + std::to_string(current));
  }
  if (candidate != options_.self) {
    // Long enough for the candidate to ask every peer and then tell every
    // peer. Set before the vote is written, not once it is durable: the vote
    // moves this sentinel's epoch at once, and a candidacy of its own in the
    // meantime would stand for the next epoch against the one it votes for.
    const auto call_timeout = std::max(options_.probe_interval, std::chrono::milliseconds(200));
    candidacy_after_ = Clock::now() + 2 * static_cast<int>(peers_.size()) * call_timeout + options_.probe_interval;
  }
  if (Status s = co_await registry_.RecordVote(epoch, candidate); !s.ok()) {
    co_return Unavailable("cannot record the vote: " + s.message());
  }
  co_return json::value{{"granted", true}, {"epoch", registry_.epoch()}};
}

json::object Monitor::Voted(int64_t epoch) const {
  return {{"epoch", epoch}, {"candidate", registry_.VotedFor(epoch)}};
}

template <typename Answer, typename Ask, typename Enough>
asio::awaitable<std::vector<Answer>> Monitor::AskPeers(Ask ask, const std::vector<bool>* skip, Enough enough) {
  std::vector<size_t> asked;
  for (size_t p = 0; p < peers_.size(); ++p) {
    if (!skip || p >= skip->size() || !(*skip)[p]) asked.push_back(p);
  }
  std::vector<Answer> answers(peers_.size());
  if (asked.empty()) co_return answers;
  using Call = decltype(asio::co_spawn(executor_, ask(size_t{0}), asio::deferred));
  std::vector<Call> calls;
  calls.reserve(asked.size());
  for (size_t p : asked) calls.push_back(asio::co_spawn(executor_, ask(p), asio::deferred));
  // Called with each answer as it comes; the calls still running are cancelled once it is enough.
  auto until = [&](const std::exception_ptr& failed, const Answer& answer) {
    return !failed && enough(answer) ? asio::cancellation_type::terminal : asio::cancellation_type::none;
  };
  auto [order, errors, results] =
      co_await asio::experimental::make_parallel_group(std::move(calls)).async_wait(until, asio::use_awaitable);
  for (size_t k = 0; k < asked.size(); ++k) {
    if (!errors[k]) answers[asked[k]] = std::move(results[k]);
  }
  co_return answers;
}

asio::awaitable<std::vector<json::object>> Monitor::OpinionsOf(Channel& peer, const std::vector<InstanceId>& ids) {
  std::vector<json::object> opinions(ids.size());
  for (size_t from = 0; from < ids.size(); from += kInstancesPerCall) {
    const size_t to = std::min(ids.size(), from + kInstancesPerCall);
    std::vector<BatchCall> calls;
    calls.reserve(to - from);
    for (size_t k = from; k < to; ++k) {
      calls.push_back({.method = kOpinion, .params = {{"service", ids[k].first}, {"address", ids[k].second}}});
    }
    CallOptions options;
    std::vector<CallResult> results = co_await peer.AsyncCallBatch(std::move(calls), options);
    bool answered = false;
    for (size_t k = from; k < to && k - from < results.size(); ++k) {
      const CallResult& r = results[k - from];
      if (const json::object* o = r.ok() ? r.value.if_object() : nullptr) {
        opinions[k] = *o;
        answered = true;
      }
    }
    if (!answered) break;  // unreachable, or refusing: one timeout per round is enough
  }
  co_return opinions;
}

asio::awaitable<std::vector<bool>> Monitor::Proven(const Decision& d) {
  std::vector<bool> proven(d.changes.size(), false);
  const int leader = MemberIndex(d.leader);
  if (leader == kNotMember || d.epoch <= 0) co_return proven;
  // The leader holds each change it is said to have decided.
  if (leader == kSelf) {
    for (size_t k = 0; k < d.changes.size(); ++k) {
      const Instance* i = registry_.Find(d.changes[k].service, d.changes[k].address);
      proven[k] = i && i->odown == d.changes[k].odown && i->odown_epoch == d.epoch && i->odown_leader == d.leader;
    }
  } else {
    std::vector<InstanceId> ids;
    for (const Decision::Change& c : d.changes) ids.emplace_back(c.service, c.address);
    Channel& channel = *peers_[leader];
    const std::vector<json::object> opinions = co_await OpinionsOf(channel, ids);
    for (size_t k = 0; k < d.changes.size(); ++k) proven[k] = Holds(opinions[k], d.changes[k].odown, d.epoch, d.leader);
  }
  if (std::find(proven.begin(), proven.end(), true) == proven.end()) co_return proven;
  // A majority voted for it in that epoch, each sentinel answering for itself
  // (no need to wait for a frozen one once the others make the majority).
  int votes = registry_.VotedFor(d.epoch) == d.leader ? 1 : 0;
  auto voted_for_leader = [&](const CallResult& r) {
    const json::object* o = r.ok() ? r.value.if_object() : nullptr;
    const json::value* candidate = o ? o->if_contains("candidate") : nullptr;
    return candidate && candidate->is_string() && candidate->as_string() == d.leader;
  };
  int counted = votes;
  const json::value params = {{"epoch", d.epoch}};
  const auto ask = [&](size_t p) { return peers_[p]->AsyncCall(kVoted, params); };
  const auto enough = [&](const CallResult& r) { return ElectionWon(counted += (voted_for_leader(r) ? 1 : 0)); };
  const std::vector<CallResult> answers = co_await AskPeers<CallResult>(ask, nullptr, enough);
  for (const CallResult& r : answers) votes += voted_for_leader(r) ? 1 : 0;
  if (!ElectionWon(votes)) proven.assign(proven.size(), false);
  co_return proven;
}

bool Monitor::Adopt(const Decision::Change& c, int64_t epoch, const std::string& leader, bool alert) {
  Instance* i = registry_.Find(c.service, c.address);
  if (!i || epoch <= i->odown_epoch) return false;  // gone, or a stale decision
  const bool changed = i->odown != c.odown;
  registry_.SetOdown(*i, c.odown, epoch, leader);
  if (changed || alert) {
    // An instance this sentinel never saw healthy (a bogus registration?) alerts from a budget of its own.
    auto watch = watches_.find(Key(c.service, c.address));
    const bool seen_healthy = watch != watches_.end() && watch->second->answered;
    notifier_.Publish({c.odown ? "odown" : "up", c.service, c.address, epoch, WallClockMs(), leader}, alert,
                      seen_healthy);
  }
  return true;
}

asio::awaitable<Result> Monitor::Decide(const Decision& d) {
  if (MemberIndex(d.leader) == kNotMember) {
    co_return InvalidArgument("leader " + d.leader + " is not a sentinel of this group");
  }
  // The changes of instances this sentinel holds, newer than what it holds of them.
  Decision fresh{.changes = {}, .epoch = d.epoch, .leader = d.leader};
  int64_t stale = 0, unknown = 0;
  for (const Decision::Change& c : d.changes) {
    const Instance* i = registry_.Find(c.service, c.address);
    if (!i) {
      ++unknown;
    } else if (d.epoch <= i->odown_epoch) {
      ++stale;
    } else {
      fresh.changes.push_back(c);
    }
  }
  if (unknown == static_cast<int64_t>(d.changes.size())) {
    if (d.changes.size() == 1) {
      co_return NotFound("no instance " + d.changes[0].address + " in service " + d.changes[0].service +
                         " on this sentinel");
    }
    co_return NotFound("none of the " + std::to_string(d.changes.size()) + " instances decided is on this sentinel");
  }
  auto answer = [&](int64_t adopted) {
    return json::value{{"adopted", adopted}, {"stale", stale}, {"unknown", unknown}};
  };
  if (fresh.changes.empty()) co_return answer(0);
  if (proofs_in_flight_ >= kMaxProofsInFlight) {
    co_return ResourceExhausted("this sentinel is checking " + std::to_string(proofs_in_flight_) +
                                " decisions already: retry later");
  }
  ++proofs_in_flight_;
  const std::vector<bool> proven = co_await Proven(fresh);
  --proofs_in_flight_;
  int64_t adopted = 0;
  size_t unproven = 0;
  for (size_t k = 0; k < fresh.changes.size(); ++k) {
    if (!proven[k]) {
      ++unproven;
      spdlog::warn("sentinel: refused decision {} {} {} at epoch {} by {}: not proven", fresh.changes[k].service,
                   fresh.changes[k].address, fresh.changes[k].odown ? "odown" : "up", d.epoch, d.leader);
    } else if (Adopt(fresh.changes[k], d.epoch, d.leader, false)) {
      ++adopted;
    }
  }
  if (unproven == fresh.changes.size()) {
    co_return FailedPrecondition("decision not proven: " + d.leader + " does not hold it at epoch " +
                                 std::to_string(d.epoch) + ", or no majority of the group voted for it then");
  }
  co_return answer(adopted);
}

asio::awaitable<bool> Monitor::WinElection(int64_t epoch, const std::vector<bool>& silent) {
  // Its own vote is recorded (in memory at once, then durably) while the
  // requests go out: a candidate that waited for its disk first would give
  // the others that long to stand for the same epoch and split the vote.
  const json::value params = {{"epoch", epoch}, {"candidate", options_.self}};
  const auto ask = [&](size_t p) { return peers_[p]->AsyncCall(kVote, params); };
  auto record = asio::co_spawn(executor_, registry_.RecordVote(epoch, options_.self), asio::deferred);
  auto request = asio::co_spawn(executor_, AskPeers<CallResult>(ask, &silent, kAll), asio::deferred);
  auto [order, record_failed, recorded, ask_failed, answers] =
      co_await asio::experimental::make_parallel_group(std::move(record), std::move(request))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  if (record_failed || !recorded.ok()) {
    spdlog::error("sentinel: cannot record its own vote in epoch {}: {}", epoch,
                  record_failed ? std::string("exception") : recorded.ToString());
    co_return false;
  }
  int votes = 1;
  std::string refusals;  // for the log of a lost election
  for (size_t p = 0; p < answers.size(); ++p) {
    const CallResult& r = answers[p];
    const json::object* o = r.ok() ? r.value.if_object() : nullptr;
    const json::value* granted = o ? o->if_contains("granted") : nullptr;
    if (granted && granted->is_bool() && granted->as_bool()) {
      ++votes;
    } else {
      const json::value* reason = o ? o->if_contains("reason") : nullptr;
      refusals += "; " + options_.peers[p] + ": " +
                  (p < silent.size() && silent[p]  ? std::string("not asked (no opinion this round)")
                   : reason && reason->is_string() ? std::string(reason->as_string())
                                                   : r.status.ToString());
    }
    // A voter further on: stand one epoch higher next time (never more than one at a time).
    const json::value* e = o ? o->if_contains("epoch") : nullptr;
    if (e && e->is_int64() && e->as_int64() > epoch) registry_.ObserveEpoch(epoch + 1);
  }
  // A sentinel that voted for a newer candidate meanwhile leaves the decision to it.
  const bool won = ElectionWon(votes) && registry_.voted_epoch() == epoch;
  if (!won) spdlog::info("sentinel: lost the election in epoch {} with {} vote(s){}", epoch, votes, refusals);
  co_return won;
}

asio::awaitable<std::vector<Monitor::Tally>> Monitor::GatherOpinions(const std::vector<InstanceId>& ids,
                                                                     std::vector<bool>* silent) {
  std::vector<Tally> tallies(ids.size());
  if (silent) silent->assign(peers_.size(), false);
  if (ids.empty() || peers_.empty()) co_return tallies;
  const auto ask = [&](size_t p) { return OpinionsOf(*peers_[p], ids); };
  const std::vector<std::vector<json::object>> opinions =
      co_await AskPeers<std::vector<json::object>>(ask, nullptr, kAll);
  // The decisions this sentinel missed, by epoch and leader: each adopted
  // once proven, like a Sentinel.decide.
  std::map<std::pair<int64_t, std::string>, std::set<Decision::Change>> missed;
  for (size_t p = 0; p < opinions.size(); ++p) {
    bool answered = false;
    for (size_t k = 0; k < ids.size() && k < opinions[p].size(); ++k) {
      const json::object& o = opinions[p][k];
      if (o.empty()) continue;
      answered = true;
      if (IsTrue(o, "sdown")) {
        ++tallies[k].sdown;
      } else if (IsTrue(o, "sdown_soon")) {
        ++tallies[k].soon;
      }
      const json::value* od = o.if_contains("odown");
      const json::value* ep = o.if_contains("epoch");
      const json::value* by = o.if_contains("leader");
      const Instance* i = registry_.Find(ids[k].first, ids[k].second);
      if (i && od && od->is_bool() && ep && ep->is_int64() && ep->as_int64() > i->odown_epoch && by &&
          by->is_string() && !by->as_string().empty()) {
        missed[{ep->as_int64(), std::string(by->as_string())}].insert({ids[k].first, ids[k].second, od->as_bool()});
      }
    }
    if (silent) (*silent)[p] = !answered;
  }
  for (auto& [decided, changes] : missed) {
    const Decision d{.changes = {changes.begin(), changes.end()}, .epoch = decided.first, .leader = decided.second};
    const std::vector<bool> proven = co_await Proven(d);
    for (size_t k = 0; k < proven.size(); ++k) {
      if (proven[k]) Adopt(d.changes[k], d.epoch, d.leader, false);
    }
  }
  co_return tallies;
}

asio::awaitable<void> Monitor::DecideRound() {
  // Asked of the peers: what this sentinel holds down or will within a probe
  // interval, and what the group decided down. An instance both held SDOWN
  // and decided ODOWN needs of them only a decision this sentinel missed
  // (decisions are told; opinions are the fallback): asked once a second,
  // not every round, so that many dead instances cost the peers little.
  const bool ask_settled = Clock::now() >= settled_asked_at_ + std::chrono::seconds(1);
  if (ask_settled) settled_asked_at_ = Clock::now();
  std::vector<InstanceId> ids;
  for (Instance* i : registry_.All()) {
    const bool settled = i->sdown && i->odown;
    if (settled ? ask_settled : i->sdown || i->odown || SdownSoon(*i)) ids.emplace_back(i->service, i->address);
  }
  std::vector<bool> silent;
  const std::vector<Tally> tallies = co_await GatherOpinions(ids, &silent);
  // The changes this sentinel may propose, and whether a quorum for one
  // more is announced within the round (votes sdown_soon, its own included).
  std::vector<Decision::Change> changes;
  bool announced = false;
  const auto now = Clock::now();
  for (size_t k = 0; k < ids.size(); ++k) {
    const Instance* i = registry_.Find(ids[k].first, ids[k].second);
    auto watch = watches_.find(Key(ids[k].first, ids[k].second));
    if (!i || watch == watches_.end()) continue;
    const bool soon = SdownSoon(*i);
    const int sdown = tallies[k].sdown + (i->sdown ? 1 : 0);
    const bool want_odown = sdown >= options_.quorum;
    if (!want_odown && !i->odown && (i->sdown || soon) && sdown + tallies[k].soon + (soon ? 1 : 0) >= options_.quorum) {
      announced = true;
    }
    if (want_odown == i->odown) continue;
    if (want_odown && !i->sdown) continue;  // only a sentinel that sees it down proposes ODOWN
    if (!want_odown && i->sdown) continue;  // only one that sees it up proposes it back
    // Not being SDOWN is no evidence before this sentinel's own probe got an
    // answer (e.g. an ODOWN instance restored from disk after a restart).
    if (!want_odown && !watch->second->answered) continue;
    if (now < watch->second->next_election) continue;  // an election for it was lost lately
    changes.push_back({ids[k].first, ids[k].second, want_odown});
  }
  if (changes.empty() || now < candidacy_after_) {  // nothing to propose, or another leader is deciding
    gathering_since_ = {};
    co_return;
  }
  // Instances that went down in the same round are decided together: the
  // votes announced come within a probe interval, and the next rounds gather them.
  if (gathering_since_ == Clock::time_point{}) gathering_since_ = now;
  if (announced && now < gathering_since_ + options_.probe_interval) co_return;
  gathering_since_ = {};
  // A random pause before standing (after Redis's SENTINEL_MAX_DESYNC): sentinels
  // that see the quorum in the same round would otherwise stand at the same
  // moment for the same epoch and split the vote. Whoever hears a candidate
  // during the pause votes for it and stands down. Up to one tick: a call to a
  // peer takes a millisecond or so, and each sentinel notices a quorum within
  // a tick of its forming anyway.
  if (!peers_.empty()) {  // a group of one has nobody to split the vote with
    const std::chrono::milliseconds desync(std::uniform_int_distribution<int64_t>(0, Tick().count())(Rng()));
    co_await Sleep(desync);
  }
  if (Clock::now() < candidacy_after_) co_return;  // voted for another candidate meanwhile
  std::erase_if(changes, [&](const Decision::Change& c) {
    const Instance* i = registry_.Find(c.service, c.address);
    return !i || i->odown == c.odown;  // gone, or decided meanwhile
  });
  if (!changes.empty()) co_await Stand(std::move(changes), silent);
}

asio::awaitable<void> Monitor::Stand(std::vector<Decision::Change> changes, const std::vector<bool>& silent) {
  if (registry_.epoch() == std::numeric_limits<int64_t>::max()) {
    spdlog::error("sentinel: epoch {} is the last one: no election possible", registry_.epoch());
    co_return;
  }
  const int64_t epoch = registry_.epoch() + 1;
  const bool leader = co_await WinElection(epoch, silent);
  // Another leader may have decided some of these changes while this
  // election ran (its Sentinel.decide not here yet): ask again, so that one
  // change makes one decision and one alert.
  std::vector<InstanceId> ids;
  ids.reserve(changes.size());
  for (const Decision::Change& c : changes) ids.emplace_back(c.service, c.address);
  if (leader) co_await GatherOpinions(ids);
  Decision decision{.changes = {}, .epoch = epoch, .leader = options_.self};
  const auto retry_at = Clock::now() + options_.probe_interval * std::uniform_int_distribution<int>(1, 3)(Rng());
  for (const Decision::Change& c : changes) {
    const Instance* i = registry_.Find(c.service, c.address);
    if (!i) continue;
    if (leader && i->odown_epoch < epoch && i->odown != c.odown) {
      decision.changes.push_back(c);
    } else if (auto watch = watches_.find(Key(c.service, c.address)); watch != watches_.end()) {
      // Lost (or decided meanwhile, at any epoch): 1-3 probe intervals before trying again.
      watch->second->next_election = retry_at;
    }
  }
  if (decision.changes.empty()) co_return;
  spdlog::info("sentinel: elected in epoch {}: decides {} instance(s)", epoch, decision.changes.size());
  for (const Decision::Change& c : decision.changes) Adopt(c, epoch, options_.self, true);
  co_await TellDecision(decision, silent);
}

asio::awaitable<void> Monitor::TellDecision(const Decision& d, const std::vector<bool>& silent) {
  for (size_t from = 0; from < d.changes.size(); from += kInstancesPerCall) {
    json::array instances;
    for (size_t k = from; k < std::min(d.changes.size(), from + kInstancesPerCall); ++k) {
      instances.push_back(
          {{"service", d.changes[k].service}, {"address", d.changes[k].address}, {"odown", d.changes[k].odown}});
    }
    const json::value params = {{"epoch", d.epoch}, {"leader", d.leader}, {"instances", std::move(instances)}};
    const auto ask = [&](size_t p) { return peers_[p]->AsyncCall(kDecide, params); };
    co_await AskPeers<CallResult>(ask, &silent, kAll);
  }
}

asio::awaitable<void> Monitor::TellLeaseExpiries(std::vector<Instance> expired) {
  std::vector<bool> unreachable(peers_.size());  // for this round: a frozen peer costs one timeout, not one per lease
  for (Instance& i : expired) {
    // An ODOWN instance had its alert (peers that missed the decision ask); a draining one announced its shutdown.
    if (i.odown) registry_.history().MarkExpiryTold(i.service, i.address);
    if (i.odown || i.draining) continue;
    auto watch = watches_.find(Key(i.service, i.address));
    const bool seen_healthy = watch != watches_.end() && watch->second->answered;
    std::string told_by;
    for (size_t p = 0; p < peers_.size() && told_by.empty(); ++p) {
      if (unreachable[p] || options_.peers[p] >= options_.self) continue;
      json::value params = {{"service", i.service}, {"address", i.address}};
      Channel& channel = *peers_[p];
      CallResult r = co_await channel.AsyncCall(kOpinion, std::move(params));
      const json::object* o = r.ok() ? r.value.if_object() : nullptr;
      if (!o) {
        unreachable[p] = true;
        continue;
      }
      auto is_true = [&](const char* key) {
        const json::value* v = o->if_contains(key);
        return v && v->is_bool() && v->as_bool();
      };
      // It still holds the lease (it tells when the lease expires there too), or it told already.
      if (is_true("known") || is_true("expiry_told")) told_by = options_.peers[p];
    }
    if (!told_by.empty()) {
      spdlog::info("sentinel: lease of {} {} expired: its alert is left to {}", i.service, i.address, told_by);
      continue;
    }
    registry_.history().MarkExpiryTold(i.service, i.address);
    json::object details{{"last_heartbeat", i.last_heartbeat_ms}, {"ttl_ms", i.ttl.count()}, {"sdown", i.sdown}};
    notifier_.Publish({.event = "lease-expired",
                       .service = i.service,
                       .address = i.address,
                       .epoch = registry_.epoch(),
                       .time_ms = WallClockMs(),
                       .sentinel = options_.self,
                       .details = std::move(details)},
                      /*alert=*/true, seen_healthy);
  }
}

void Monitor::WakeQuorumLoop() {
  round_wanted_ = true;
  if (quorum_wait_) quorum_wait_->cancel();
}

asio::awaitable<void> Monitor::QuorumLoop() {
  asio::steady_timer pause(executor_);
  while (!Stopped(co_await asio::this_coro::cancellation_state)) {
    std::vector<Instance> expired = registry_.ExpireLeases(Clock::now());
    for (const Instance& i : expired) {
      notifier_.Publish({"expired", i.service, i.address, registry_.epoch(), WallClockMs(), options_.self}, false);
    }
    if (!expired.empty()) co_await TellLeaseExpiries(std::move(expired));
    if (registry_.index() != reconciled_index_) {
      reconciled_index_ = registry_.index();
      Reconcile();
    }
    round_wanted_ = false;
    co_await DecideRound();
    groups_.Check(registry_.services(), registry_.epoch(), Clock::now());
    if (round_wanted_) continue;
    pause.expires_after(Tick());
    quorum_wait_ = &pause;
    co_await pause.async_wait(kNoThrow);  // or WakeQuorumLoop
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    quorum_wait_ = nullptr;
  }
}

}  // namespace harpc::sentinel
