#include "sentinel/monitor.h"

#include <limits>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
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
  Clock::time_point last_ok = Clock::now();   // registration counts as a sign of life
  bool answered = false;                      // a probe of this sentinel got a valid answer
  Clock::time_point next_election{};          // backoff after a lost election
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
}  // namespace

Monitor::Monitor(Registry& registry, Notifier& notifier, MonitorOptions options)
    : registry_(registry),
      notifier_(notifier),
      options_(std::move(options)),
      probe_security_{.tls = options_.security.tls},
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

asio::awaitable<void> Monitor::ProbeLoop(std::string service, std::string address, std::shared_ptr<Watch> watch) {
  HostPort hp;
  asio::ip::tcp::endpoint endpoint;
  if (!ParseHostPort(address, &hp).ok() || !ResolveEndpoint(hp, &endpoint).ok()) {
    spdlog::warn("sentinel: cannot probe {} {}: bad address", service, address);
    co_return;
  }
  std::unique_ptr<ClientConnection> connection;
  auto next = Clock::now();
  for (;;) {
    const auto started = Clock::now();
    ProbeResult result = co_await ProbeHealth(connection, endpoint, options_.probe_interval, probe_security_);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    Instance* i = registry_.Find(service, address);
    if (!i) break;
    const auto now = Clock::now();
    if (result == ProbeResult::kServing || result == ProbeResult::kDraining) {
      watch->last_ok = now;
      watch->answered = true;
      registry_.SetProbeLatency(*i, std::chrono::duration<double, std::milli>(now - started).count());
      registry_.SetDraining(*i, result == ProbeResult::kDraining);
      if (IsGroupMember(i->metadata)) {
        // On the probe's connection, within the rest of the probe interval.
        const std::chrono::milliseconds left = std::max(
            std::chrono::ceil<std::chrono::milliseconds>(started + options_.probe_interval - Clock::now()),
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
      }
    } else if (!i->sdown && now - watch->last_ok >= options_.down_after) {
      registry_.SetSdown(*i, true);
      notifier_.Publish({"sdown", service, address, registry_.epoch(), WallClockMs(), options_.self}, false);
    }
    next = std::max(next + options_.probe_interval, Clock::now());
    asio::steady_timer t(executor_, next);
    co_await t.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
  }
}

json::object Monitor::Opinion(const std::string& service, const std::string& address) {
  const Instance* i = registry_.Find(service, address);
  if (!i) {
    return {{"known", false}, {"sdown", false}, {"odown", false}, {"epoch", 0}, {"leader", ""},
            {"expiry_told", registry_.history().ExpiryTold(service, address)}};
  }
  return {{"known", true}, {"sdown", i->sdown}, {"odown", i->odown}, {"epoch", i->odown_epoch},
          {"leader", i->odown_leader}, {"expiry_told", false}};
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
    if (Status s = co_await registry_.Durable(); !s.ok()) co_return Unavailable("cannot record the vote: " + s.message());
    co_return json::value{{"granted", true}, {"epoch", registry_.epoch()}};
  }
  if (epoch < current) {
    co_return refused("epoch " + std::to_string(epoch) + " is over: this sentinel is at " + std::to_string(current));
  }
  if (Status s = co_await registry_.RecordVote(epoch, candidate); !s.ok()) {
    co_return Unavailable("cannot record the vote: " + s.message());
  }
  if (candidate != options_.self) {
    // Long enough for the candidate to ask every peer and then tell every peer.
    const auto call_timeout = std::max(options_.probe_interval, std::chrono::milliseconds(200));
    candidacy_after_ = Clock::now() + 2 * static_cast<int>(peers_.size()) * call_timeout + options_.probe_interval;
  }
  co_return json::value{{"granted", true}, {"epoch", registry_.epoch()}};
}

json::object Monitor::Voted(int64_t epoch) const {
  return {{"epoch", epoch}, {"candidate", registry_.VotedFor(epoch)}};
}

asio::awaitable<bool> Monitor::Proven(const Decision& d) {
  const int leader = MemberIndex(d.leader);
  if (leader == kNotMember || d.epoch <= 0) co_return false;
  // The leader holds the decision it is said to have made.
  if (leader == kSelf) {
    const Instance* i = registry_.Find(d.service, d.address);
    if (!i || i->odown != d.odown || i->odown_epoch != d.epoch || i->odown_leader != d.leader) co_return false;
  } else {
    json::value params = {{"service", d.service}, {"address", d.address}};
    Channel& channel = *peers_[leader];
    CallResult r = co_await channel.AsyncCall(kOpinion, std::move(params));
    const json::object* o = r.ok() ? r.value.if_object() : nullptr;
    if (!o) co_return false;
    const json::value* odown = o->if_contains("odown");
    const json::value* epoch = o->if_contains("epoch");
    const json::value* by = o->if_contains("leader");
    if (!odown || *odown != json::value(d.odown) || !epoch || !epoch->is_int64() || epoch->as_int64() != d.epoch ||
        !by || !by->is_string() || by->as_string() != d.leader) {
      co_return false;
    }
  }
  // A majority voted for it in that epoch, each sentinel answering for itself.
  int votes = registry_.VotedFor(d.epoch) == d.leader ? 1 : 0;
  for (size_t p = 0; p < peers_.size() && !ElectionWon(votes); ++p) {
    json::value params = {{"epoch", d.epoch}};
    Channel& channel = *peers_[p];
    CallResult r = co_await channel.AsyncCall(kVoted, std::move(params));
    const json::object* o = r.ok() ? r.value.if_object() : nullptr;
    const json::value* candidate = o ? o->if_contains("candidate") : nullptr;
    if (candidate && candidate->is_string() && candidate->as_string() == d.leader) ++votes;
  }
  co_return ElectionWon(votes);
}

bool Monitor::Adopt(const Decision& d, bool alert) {
  Instance* i = registry_.Find(d.service, d.address);
  if (!i || d.epoch <= i->odown_epoch) return false;  // gone, or a stale decision
  const bool changed = i->odown != d.odown;
  registry_.SetOdown(*i, d.odown, d.epoch, d.leader);
  if (changed || alert) {
    // An instance this sentinel never saw healthy (a bogus registration?) alerts from a budget of its own.
    auto watch = watches_.find(Key(d.service, d.address));
    const bool seen_healthy = watch != watches_.end() && watch->second->answered;
    notifier_.Publish({d.odown ? "odown" : "up", d.service, d.address, d.epoch, WallClockMs(), d.leader}, alert,
                      seen_healthy);
  }
  return true;
}

asio::awaitable<Result> Monitor::Decide(const Decision& d) {
  const Instance* i = registry_.Find(d.service, d.address);
  if (!i) co_return NotFound("no instance " + d.address + " in service " + d.service + " on this sentinel");
  if (d.epoch <= i->odown_epoch) co_return json::value{{"adopted", false}, {"epoch", i->odown_epoch}};  // stale
  if (MemberIndex(d.leader) == kNotMember) {
    co_return InvalidArgument("leader " + d.leader + " is not a sentinel of this group");
  }
  if (proofs_in_flight_ >= kMaxProofsInFlight) {
    co_return ResourceExhausted("this sentinel is checking " + std::to_string(proofs_in_flight_) +
                                " decisions already: retry later");
  }
  ++proofs_in_flight_;
  const bool proven = co_await Proven(d);
  --proofs_in_flight_;
  if (!proven) {
    spdlog::warn("sentinel: refused decision {} {} {} at epoch {} by {}: not proven", d.service, d.address,
                 d.odown ? "odown" : "up", d.epoch, d.leader);
    co_return FailedPrecondition("decision not proven: " + d.leader + " does not hold it at epoch " +
                                 std::to_string(d.epoch) + ", or no majority of the group voted for it then");
  }
  co_return json::value{{"adopted", Adopt(d, false)}};
}

asio::awaitable<bool> Monitor::WinElection(int64_t epoch) {
  if (Status s = co_await registry_.RecordVote(epoch, options_.self); !s.ok()) {
    spdlog::error("sentinel: cannot record its own vote in epoch {}: {}", epoch, s.ToString());
    co_return false;
  }
  int votes = 1;
  for (auto& peer : peers_) {
    json::value params = {{"epoch", epoch}, {"candidate", options_.self}};
    CallResult r = co_await peer->AsyncCall(kVote, params);
    if (!r.ok() || !r.value.is_object()) continue;
    const json::object& o = r.value.as_object();
    if (const json::value* g = o.if_contains("granted"); g && g->is_bool() && g->as_bool()) ++votes;
    // A voter further on: stand one epoch higher next time (never more than one at a time).
    if (const json::value* e = o.if_contains("epoch"); e && e->is_int64() && e->as_int64() > epoch) {
      registry_.ObserveEpoch(epoch + 1);
    }
  }
  // A sentinel that voted for a newer candidate meanwhile leaves the decision to it.
  co_return ElectionWon(votes) && registry_.voted_epoch() == epoch;
}

// Asks every peer its opinion of the instance; adopts (once proven) any
// decision this sentinel missed. Returns how many peers hold it SDOWN.
asio::awaitable<int> Monitor::GatherOpinions(const std::string& service, const std::string& address) {
  int sdown_votes = 0;
  for (auto& peer : peers_) {
    json::value params = {{"service", service}, {"address", address}};
    CallResult r = co_await peer->AsyncCall(kOpinion, params);
    if (!r.ok() || !r.value.is_object()) continue;
    const json::object& o = r.value.as_object();
    const json::value* sd = o.if_contains("sdown");
    if (sd && sd->is_bool() && sd->as_bool()) ++sdown_votes;
    const json::value* od = o.if_contains("odown");
    const json::value* ep = o.if_contains("epoch");
    const json::value* by = o.if_contains("leader");
    Instance* i = registry_.Find(service, address);
    if (!i) co_return sdown_votes;
    if (od && od->is_bool() && ep && ep->is_int64() && ep->as_int64() > i->odown_epoch && by && by->is_string() &&
        !by->as_string().empty()) {
      // A decision this sentinel missed: adopted once proven, like a Sentinel.decide.
      Decision d{service, address, od->as_bool(), ep->as_int64(), std::string(by->as_string())};
      if (co_await Proven(d)) Adopt(d, false);
    }
  }
  co_return sdown_votes;
}

asio::awaitable<void> Monitor::CheckInstance(std::string service, std::string address) {
  Instance* i = registry_.Find(service, address);
  if (!i) co_return;
  const bool self_sdown = i->sdown;
  int sdown_votes = self_sdown ? 1 : 0;
  sdown_votes += co_await GatherOpinions(service, address);
  i = registry_.Find(service, address);
  if (!i) co_return;
  const bool want_odown = sdown_votes >= options_.quorum;
  if (want_odown == i->odown) co_return;
  if (want_odown && !self_sdown) co_return;  // only a sentinel that sees it down proposes ODOWN
  if (!want_odown && self_sdown) co_return;  // only one that sees it up proposes it back

  auto watch = watches_.find(Key(service, address));
  if (watch == watches_.end() || Clock::now() < watch->second->next_election) co_return;
  if (Clock::now() < candidacy_after_) co_return;  // another leader is deciding
  // Not being SDOWN is no evidence before this sentinel's own probe got an
  // answer (e.g. an ODOWN instance restored from disk after a restart).
  if (!want_odown && !watch->second->answered) co_return;
  // A random pause before standing (after Redis's SENTINEL_MAX_DESYNC): sentinels
  // whose rounds run in step would otherwise stand at the same moment for the
  // same epoch and split the vote round after round. Whoever hears a candidate
  // during the pause votes for it and stands down.
  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto desync = std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(0, options_.probe_interval.count())(rng));
  if (!peers_.empty()) co_await Sleep(desync);  // a group of one has nobody to split the vote with
  i = registry_.Find(service, address);
  if (!i || i->odown == want_odown || Clock::now() < candidacy_after_) co_return;
  if (registry_.epoch() == std::numeric_limits<int64_t>::max()) {
    spdlog::error("sentinel: epoch {} is the last one: no election possible", registry_.epoch());
    co_return;
  }
  const int64_t epoch = registry_.epoch() + 1;
  const bool leader = co_await WinElection(epoch);
  // Another leader may have decided the same change while this election ran
  // (its Sentinel.decide not here yet): ask again, so that one change makes
  // one decision and one alert.
  if (leader) co_await GatherOpinions(service, address);
  i = registry_.Find(service, address);
  if (!i) co_return;
  if (!leader || i->odown_epoch >= epoch || i->odown == want_odown) {
    // Lost (or someone decided meanwhile, at any epoch): wait 1-3 probe intervals before trying again.
    auto backoff = options_.probe_interval * std::uniform_int_distribution<int>(1, 3)(rng);
    if (watch = watches_.find(Key(service, address)); watch != watches_.end()) {
      watch->second->next_election = Clock::now() + backoff;
    }
    co_return;
  }
  Adopt({service, address, want_odown, epoch, options_.self}, true);
  for (auto& peer : peers_) {
    json::value params = {{"service", service}, {"address", address}, {"odown", want_odown}, {"epoch", epoch},
                          {"leader", options_.self}};
    co_await peer->AsyncCall(kDecide, params);
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
    json::object details{{"last_heartbeat", i.last_heartbeat_ms}, {"ttl_ms", i.ttl.count()},
                         {"sdown", i.sdown}};
    notifier_.Publish({.event = "lease-expired", .service = i.service, .address = i.address,
                       .epoch = registry_.epoch(), .time_ms = WallClockMs(), .sentinel = options_.self,
                       .details = std::move(details)},
                      /*alert=*/true, seen_healthy);
  }
}

asio::awaitable<void> Monitor::QuorumLoop() {
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
    std::vector<std::pair<std::string, std::string>> suspicious;
    for (Instance* i : registry_.All()) {
      if (i->sdown || i->odown) suspicious.emplace_back(i->service, i->address);
    }
    for (auto& [service, address] : suspicious) co_await CheckInstance(service, address);
    groups_.Check(registry_.services(), registry_.epoch(), Clock::now());
    co_await Sleep(std::min(options_.probe_interval, std::chrono::milliseconds(100)));
  }
}

}  // namespace harpc::sentinel
