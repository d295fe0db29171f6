#include "harpc/coordinator.h"

#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "harpc/channel.h"
#include "naming/peer_channels.h"
#include "txn/decision_log.h"
#include "storage/group_commit.h"
#include "txn/participant_log.h"
#include "util/json_params.h"
#include "util/log.h"
#include "util/address.h"
#include "util/random_id.h"
#include "storage/sqlite.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using storage::GroupCommitDb;
using txn::CommitRecord;
using txn::DecisionLog;
using txn::EnlistedCall;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

enum class TxnState { kActive, kDeciding, kCommitted, kAborted };

struct TxnEntry {
  TxnState state = TxnState::kActive;
  Clock::time_point deadline;    // while active: aborted after this
  Clock::time_point decided_at;  // when aborted: forgotten aborted_memory after this
  milliseconds timeout{0};
  std::string key;               // given to the client at begin: only it may commit or abort
  std::string reason;            // why aborted
  // While active: the yes votes participants registered. From the decision
  // on: the calls committed (a subset: orphans of failovers are left out).
  std::vector<EnlistedCall> calls;
  bool applied = false;          // every participant acknowledged phase two
  int unacknowledged = 0;        // participants phase two still waits for
  Clock::time_point give_up_at;  // phase two stops pushing then
  std::vector<EnlistedCall> unresolved;  // calls whose participant never acknowledged before give_up_at
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // woken on every change

  void Wake() {
    for (auto& w : waiters) w->cancel();
    waiters.clear();
  }
};

json::value Answer(const std::string& txid, std::string_view outcome, std::string_view reason, bool applied) {
  return json::value{{"txid", txid}, {"outcome", outcome}, {"reason", reason}, {"applied", applied}};
}

// The yes votes the client heard: "votes":[{"call","participant"}].
Status ParseVotes(const json::value& p, std::vector<EnlistedCall>* votes) {
  const json::value* list = p.as_object().if_contains("votes");
  if (!list) return Status::Ok();
  if (!list->is_array()) return InvalidArgument("\"votes\" must be an array");
  for (const json::value& c : list->as_array()) {
    EnlistedCall vote;
    if (Status s = StringField(c, "call", true, &vote.call); !s.ok()) return s;
    if (Status s = StringField(c, "participant", true, &vote.participant); !s.ok()) return s;
    if (vote.call.empty() || vote.participant.empty()) {
      return InvalidArgument("every vote needs a non-empty \"call\" and \"participant\"");
    }
    for (const EnlistedCall& other : *votes) {
      if (other.call == vote.call) return InvalidArgument("call " + vote.call + " listed twice");
    }
    votes->push_back(std::move(vote));
  }
  return Status::Ok();
}

const EnlistedCall* FindVote(const std::vector<EnlistedCall>& votes, const std::string& call,
                             const std::string& participant) {
  for (const EnlistedCall& v : votes) {
    if (v.call == call && v.participant == participant) return &v;
  }
  return nullptr;
}

// What a commit decides, from the votes recorded and the votes the client
// heard: every call number recorded must be listed, and every listed vote
// recorded — otherwise the transaction aborts, and `why` says which call
// disagrees. A call recorded from two participants (a prepare that failed
// over) commits where the client heard the yes; the other one is an orphan,
// aborted when its participant asks.
std::vector<EnlistedCall> Decision(const std::vector<EnlistedCall>& recorded, const std::vector<EnlistedCall>& heard,
                                   std::string* why) {
  std::vector<EnlistedCall> chosen;
  for (const EnlistedCall& h : heard) {
    const EnlistedCall* vote = FindVote(recorded, h.call, h.participant);
    if (!vote) {
      *why = "call " + h.call + " at participant " + h.participant + " has no yes vote registered here";
      return {};
    }
    chosen.push_back(*vote);
  }
  for (const EnlistedCall& r : recorded) {
    auto listed = std::find_if(heard.begin(), heard.end(), [&](const EnlistedCall& h) { return h.call == r.call; });
    if (listed == heard.end()) {
      *why = "call " + r.call + " voted yes at participant " + r.participant + " but the commit does not list it";
      return {};
    }
  }
  return chosen;
}

// Phase-two requests, one per (participant, address): {"txid","participant","calls":[{"call","secret"}]}.
std::map<std::pair<std::string, std::string>, json::value> PhaseTwoRequests(const std::string& txid,
                                                                            const std::vector<EnlistedCall>& calls) {
  std::map<std::pair<std::string, std::string>, json::value> requests;
  for (const EnlistedCall& c : calls) {
    json::value& r = requests[{c.participant, c.address}];
    if (r.is_null()) r = json::value{{"txid", txid}, {"participant", c.participant}, {"calls", json::array{}}};
    r.as_object()["calls"].as_array().push_back(json::object{{"call", c.call}, {"secret", c.secret}});
  }
  return requests;
}

json::array Described(const std::vector<EnlistedCall>& calls) {
  json::array list;
  for (const EnlistedCall& c : calls) {
    list.push_back(json::object{{"call", c.call}, {"participant", c.participant}, {"address", c.address}});
  }
  return list;
}
}  // namespace

class Coordinator::Impl {
 public:
  CoordinatorOptions options;
  std::unique_ptr<GroupCommitDb> db;
  std::unordered_map<std::string, std::shared_ptr<TxnEntry>> txns;
  std::vector<CommitRecord> unfinished_at_open;
  std::vector<std::string> done_unflushed;  // applied commits whose `done` is not yet written
  // Channels to participants on the server's loop, by address (made in Start).
  std::optional<PeerChannels> participants;
  std::string address;
  asio::any_io_executor executor;
  uint64_t begun = 0, committed = 0, aborted = 0, phase_two_retries = 0, phase_two_abandoned = 0;

  static ChannelOptions ParticipantChannelOptions(asio::any_io_executor loop, const ClientSecurity& security) {
    ChannelOptions o;
    o.security = security;
    o.timeout = milliseconds(2000);
    o.idempotent_methods = {"Participant.commit", "Participant.abort"};
    o.executor = std::move(loop);
    return o;
  }

  // Aborts an active transaction and tells the participants whose votes are
  // recorded, so that they release their holds now; one that misses it
  // learns the outcome when it asks.
  void MarkAborted(const std::string& txid, TxnEntry& entry, std::string reason) {
    entry.state = TxnState::kAborted;
    entry.reason = std::move(reason);
    entry.decided_at = Clock::now();
    ++aborted;
    entry.Wake();
    for (auto& [who, request] : PhaseTwoRequests(txid, entry.calls)) {
      asio::co_spawn(executor, TellAbort(who.second, std::move(request)), asio::detached);
    }
    entry.calls.clear();
  }

  static std::string TimedOut(const TxnEntry& entry) {
    return "timed out: not committed within " + std::to_string(entry.timeout.count()) + " ms";
  }

  // Waits until `entry` is decided and, once committed, applied — or until
  // `deadline`; then answers what is known.
  asio::awaitable<Result> AnswerWhenSettled(std::string txid, std::shared_ptr<TxnEntry> entry,
                                            Clock::time_point deadline) {
    for (;;) {
      const bool settled = entry->state == TxnState::kAborted ||
                           (entry->state == TxnState::kCommitted && (entry->applied || !entry->unresolved.empty()));
      if (settled || Clock::now() >= deadline) break;
      auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
      entry->waiters.push_back(timer);
      co_await timer->async_wait(kNoThrow);
    }
    switch (entry->state) {
      case TxnState::kCommitted: co_return Committed(txid, *entry, {});
      case TxnState::kAborted: co_return Answer(txid, "aborted", entry->reason, false);
      default:
        co_return DeadlineExceeded("transaction " + txid + " is still being decided; ask again");
    }
  }

  // Where a caller's answer must be ready: a little before its deadline.
  static Clock::time_point AnswerBy(const CallContext& ctx) {
    if (!ctx.has_deadline()) return Clock::now() + milliseconds(2000);
    // The margin covers the way back on a loaded machine (20 ms was too little).
    return ctx.deadline() - std::min<Clock::duration>(milliseconds(100), (ctx.deadline() - Clock::now()) / 10);
  }

  // Only the client that began a transaction decides it: it alone was given
  // the key. Others may ask (Coordinator.status), not decide.
  static Status CheckKey(const std::string& txid, const TxnEntry& entry, const json::value& p) {
    std::string key;
    if (Status s = StringField(p, "key", false, &key); !s.ok()) return s;
    if (!SameSecret(entry.key, key)) {
      return PermissionDenied("transaction " + txid + ": \"key\" is not the one Coordinator.begin gave");
    }
    return Status::Ok();
  }

  asio::awaitable<Result> Commit(json::value p, CallContext& ctx) {
    std::string txid;
    std::vector<EnlistedCall> heard;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = ParseVotes(p, &heard); !s.ok()) co_return s;
    auto it = txns.find(txid);
    const std::string nobody;
    if (it == txns.end()) co_return co_await AnswerFromLog(txid, nobody);
    std::shared_ptr<TxnEntry> entry = it->second;
    if (entry->state == TxnState::kActive) {
      if (Status s = CheckKey(txid, *entry, p); !s.ok()) co_return s;
      std::string why;
      std::vector<EnlistedCall> chosen = Decision(entry->calls, heard, &why);
      if (Clock::now() > entry->deadline) {
        MarkAborted(txid, *entry, TimedOut(*entry));
      } else if (!why.empty()) {
        Log().warn("transaction {}: aborted at commit: {}", txid, why);
        MarkAborted(txid, *entry, why);
      } else {
        co_await Decide(txid, entry, std::move(chosen));
      }
    }
    co_return co_await AnswerWhenSettled(txid, entry, AnswerBy(ctx));
  }

  // A participant's yes vote, registered before it answers the client: the
  // decision is made from these, never from the client's list. The secret
  // is what phase two must present to that participant.
  asio::awaitable<Result> Register(json::value p, CallContext&) {
    std::string txid;
    EnlistedCall vote;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    for (auto [name, out] : {std::pair{"call", &vote.call}, std::pair{"participant", &vote.participant},
                             std::pair{"address", &vote.address}, std::pair{"secret", &vote.secret}}) {
      if (Status s = StringField(p, name, true, out); !s.ok()) co_return s;
      if (out->empty()) co_return InvalidArgument(std::string("\"") + name + "\" must not be empty");
    }
    // Phase two dials it: a numeric address, or a participant group's
    // list://, no name lookup on the loop.
    if (Status s = CanonicalPeerTarget(vote.address, &vote.address); !s.ok()) {
      co_return InvalidArgument("\"address\": " + s.message());
    }
    const json::value recorded{{"txid", txid}, {"call", vote.call}, {"recorded", true}};
    auto it = txns.find(txid);
    if (it == txns.end()) {
      // Decided and applied (the log answers for it), or unknown: aborted.
      auto found = co_await FindInLog(txid);
      if (!found.ok()) co_return found.status;
      const EnlistedCall* mine = FindVote(found.value.record.calls, vote.call, vote.participant);
      if (found.value.known && mine && SameSecret(mine->secret, vote.secret)) co_return recorded;
      co_return Aborted("transaction " + txid + (found.value.known ? " was committed without call " + vote.call
                                                                   : " is unknown here (presumed abort)"));
    }
    TxnEntry& entry = *it->second;
    if (entry.state == TxnState::kActive && Clock::now() > entry.deadline) MarkAborted(txid, entry, TimedOut(entry));
    if (entry.state == TxnState::kAborted) co_return Aborted("transaction " + txid + " is aborted: " + entry.reason);
    const EnlistedCall* same = FindVote(entry.calls, vote.call, vote.participant);
    if (same) {
      if (SameSecret(same->secret, vote.secret)) co_return recorded;  // a repeat
      co_return FailedPrecondition("call " + vote.call + " of " + txid + " is registered by participant " +
                                   vote.participant + " with another secret");
    }
    if (entry.state != TxnState::kActive) co_return Aborted("transaction " + txid + " was decided without call " + vote.call);
    if (entry.calls.size() >= options.max_votes) {
      co_return ResourceExhausted("transaction " + txid + " has " + std::to_string(entry.calls.size()) +
                                  " votes, the most one may have");
    }
    entry.calls.push_back(std::move(vote));
    co_return recorded;
  }

  // Writes the commit decision (the commit point), then starts phase two.
  asio::awaitable<void> Decide(std::string txid, std::shared_ptr<TxnEntry> entry, std::vector<EnlistedCall> calls) {
    entry->state = TxnState::kDeciding;
    std::vector<EnlistedCall> recorded = std::exchange(entry->calls, std::move(calls));
    CommitRecord record{.txid = txid, .calls = entry->calls, .decided_ms = txn::WallClockNowMs()};
    std::vector<std::string> done = std::move(done_unflushed);
    done_unflushed.clear();
    // Marks of finished phase twos ride along with the decision: no fsync of their own.
    GroupCommitDb::Work work = [record, done](Database db) -> Result {
      Status s = DecisionLog::RecordCommit(db, record);
      if (s.ok() && !done.empty()) s = DecisionLog::MarkDone(db, done);
      return s.ok() ? Result(json::value()) : Result(s);
    };
    Result written = co_await db->Run(std::move(work));
    if (!written.ok()) {
      done_unflushed.insert(done_unflushed.end(), done.begin(), done.end());
      Log().error("transaction {}: commit decision not written ({}); aborting", txid, written.status().ToString());
      entry->calls = std::move(recorded);  // every voter hears the abort
      MarkAborted(txid, *entry, "the commit decision could not be written: " + written.status().message());
      co_return;
    }
    entry->state = TxnState::kCommitted;
    entry->decided_at = Clock::now();
    entry->give_up_at = entry->decided_at + options.phase_two_give_up;
    ++committed;
    entry->Wake();
    StartPhaseTwo(co_await asio::this_coro::executor, txid, entry);
  }

  void StartPhaseTwo(asio::any_io_executor ex, const std::string& txid, const std::shared_ptr<TxnEntry>& entry) {
    auto requests = PhaseTwoRequests(txid, entry->calls);
    entry->unacknowledged = static_cast<int>(requests.size());
    if (requests.empty()) Applied(txid, *entry);
    for (auto& [who, request] : requests) {
      asio::co_spawn(ex, SendCommit(txid, entry, who.second, std::move(request)), asio::detached);
    }
  }

  // Phase two for one participant: until it acknowledges, or until the
  // transaction's give_up_at. A participant that never answers costs a
  // bounded time, not retries forever: after a restart, a decision past
  // its time gets one attempt per participant (whose acknowledgments were
  // not written), then is reported.
  asio::awaitable<void> SendCommit(std::string txid, std::shared_ptr<TxnEntry> entry, std::string at,
                                   json::value request) {
    milliseconds backoff(50);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    bool acknowledged = false;
    Status last;
    for (int attempt = 1; attempt == 1 || Clock::now() < entry->give_up_at; ++attempt) {
      // Named, not a temporary of the co_await: GCC 12 mishandles those.
      const std::shared_ptr<Channel> participant = participants->Get(at);
      CallResult r = co_await participant->AsyncCall("Participant.commit", request);
      if (r.ok()) {
        acknowledged = true;
        break;
      }
      last = r.status;
      ++phase_two_retries;
      if (attempt == 1 || attempt % 20 == 0) {
        Log().warn("transaction {}: participant {} has not acknowledged commit ({} attempts): {}", txid, at, attempt,
                   r.status.ToString());
      }
      if (Clock::now() >= entry->give_up_at) break;
      timer.expires_at(std::min(Clock::now() + backoff, entry->give_up_at));
      co_await timer.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    if (!acknowledged) {
      ++phase_two_abandoned;
      const std::string participant(request.at("participant").as_string());
      for (const json::value& c : request.at("calls").as_array()) {
        const EnlistedCall* call = FindVote(entry->calls, std::string(c.at("call").as_string()), participant);
        if (call) entry->unresolved.push_back(*call);
      }
      Log().error("transaction {}: committed, but participant {} at {} did not acknowledge phase two within {} ms of "
                  "the decision ({}); no more attempts: it learns the outcome when it asks (Coordinator.status "
                  "lists it as unresolved)",
                  txid, participant, at, options.phase_two_give_up.count(), last.ToString());
    }
    if (--entry->unacknowledged == 0) {
      if (entry->unresolved.empty()) {
        Applied(txid, *entry);
      } else {
        entry->Wake();  // answers waiting for phase two: it ends here
      }
    }
  }

  void Applied(const std::string& txid, TxnEntry& entry) {
    entry.applied = true;
    entry.Wake();
    done_unflushed.push_back(txid);
    txns.erase(txid);  // from now on the log answers for it
  }

  // The decision row of a transaction, if there is one.
  struct Logged {
    bool known = false;
    CommitRecord record;
  };
  asio::awaitable<GroupCommitDb::Typed<Logged>> FindInLog(std::string txid) {
    GroupCommitDb::TypedWork<Logged> find = [txid](Database db, Logged& f) {
      f.known = DecisionLog::Find(db, txid, &f.record);
      return Status::Ok();
    };
    co_return co_await db->Run<Logged>(std::move(find));
  }

  // For transactions not in memory: committed if the log says so, else aborted.
  asio::awaitable<Result> AnswerFromLog(std::string txid, std::string participant) {
    auto found = co_await FindInLog(txid);
    if (!found.ok()) co_return found.status;
    const CommitRecord* record = &found.value.record;
    if (!found.value.known) {
      co_return Answer(txid, "aborted", "unknown transaction: never begun here, forgotten after its abort, or "
                                        "begun before a coordinator restart (presumed abort)", false);
    }
    // Applied() forgets the entry before its `done` mark is written (it rides
    // along with a later write): the mark still waiting counts as done.
    const bool done = record->done ||
                      std::find(done_unflushed.begin(), done_unflushed.end(), txid) != done_unflushed.end();
    json::value answer = Answer(txid, "committed", "", done);
    answer.as_object()["calls"] = CallsOf(record->calls, participant);
    co_return answer;
  }

  // A committed transaction in memory: the calls of `participant` (all when
  // empty) and the calls whose participant phase two gave up on, if any.
  static json::value Committed(const std::string& txid, const TxnEntry& entry, const std::string& participant) {
    json::value answer = Answer(txid, "committed", "", entry.applied);
    answer.as_object()["calls"] = CallsOf(entry.calls, participant);
    if (!entry.unresolved.empty()) answer.as_object()["unresolved"] = Described(entry.unresolved);
    return answer;
  }

  static json::array CallsOf(const std::vector<EnlistedCall>& calls, const std::string& participant) {
    json::array list;
    for (const EnlistedCall& c : calls) {
      if (participant.empty() || c.participant == participant) list.push_back(json::value(c.call));
    }
    return list;
  }

  asio::awaitable<Result> Abort(json::value p, CallContext& ctx) {
    std::string txid, reason;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = StringField(p, "reason", false, &reason); !s.ok()) co_return s;
    auto it = txns.find(txid);
    if (it == txns.end()) {
      const std::string nobody;
      co_return co_await AnswerFromLog(txid, nobody);
    }
    std::shared_ptr<TxnEntry> entry = it->second;
    if (entry->state == TxnState::kActive) {
      if (Status s = CheckKey(txid, *entry, p); !s.ok()) co_return s;
      MarkAborted(txid, *entry, reason.empty() ? "aborted by the client" : reason);
    }
    co_return co_await AnswerWhenSettled(txid, entry, AnswerBy(ctx));
  }

  asio::awaitable<void> TellAbort(std::string at, json::value request) {
    const std::shared_ptr<Channel> participant = participants->Get(at);
    CallResult r = co_await participant->AsyncCall("Participant.abort", request);
    if (!r.ok()) {
      Log().info("abort of {} not delivered to {} (it learns it when it asks): {}", request.at("txid").as_string(), at,
                 r.status.ToString());
    }
  }

  asio::awaitable<Result> StatusOf(json::value p, CallContext&) {
    std::string txid, participant;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = StringField(p, "participant", false, &participant); !s.ok()) co_return s;
    auto it = txns.find(txid);
    if (it == txns.end()) co_return co_await AnswerFromLog(txid, participant);
    const TxnEntry& entry = *it->second;
    switch (entry.state) {
      case TxnState::kActive:
      case TxnState::kDeciding: co_return Answer(txid, "pending", "", false);
      case TxnState::kAborted: co_return Answer(txid, "aborted", entry.reason, false);
      case TxnState::kCommitted: co_return Committed(txid, entry, participant);
    }
    co_return Internal("unreachable");
  }

  Result Begin(const json::value& p) {
    int64_t timeout_ms = options.default_timeout.count();
    if (!p.is_null()) {
      if (Status s = IntField(p, "timeout_ms", false, &timeout_ms); !s.ok()) return s;
    }
    if (timeout_ms <= 0 || timeout_ms > options.max_timeout.count()) {
      return InvalidArgument("\"timeout_ms\" must be in 1.." + std::to_string(options.max_timeout.count()));
    }
    auto entry = std::make_shared<TxnEntry>();
    entry->timeout = milliseconds(timeout_ms);
    entry->deadline = Clock::now() + entry->timeout;
    entry->key = RandomId();
    std::string txid = RandomId();
    txns.emplace(txid, entry);
    ++begun;
    return json::value{{"txid", txid}, {"coordinator", address}, {"timeout_ms", timeout_ms}, {"key", entry->key}};
  }

  // Aborts transactions past their timeout and forgets old aborts.
  asio::awaitable<void> Sweep() {
    asio::steady_timer timer(executor);
    Clock::time_point next_forget = Clock::now() + std::chrono::minutes(1);
    for (;;) {
      timer.expires_after(milliseconds(100));
      co_await timer.async_wait(kNoThrow);
      const auto now = Clock::now();
      for (auto it = txns.begin(); it != txns.end();) {
        TxnEntry& entry = *it->second;
        if (entry.state == TxnState::kActive && now > entry.deadline) MarkAborted(it->first, entry, TimedOut(entry));
        if (entry.state == TxnState::kAborted && now - entry.decided_at > options.aborted_memory) {
          it = txns.erase(it);
        } else {
          ++it;
        }
      }
      if (!done_unflushed.empty() && (done_unflushed.size() >= 64 || now >= next_forget)) FlushDone();
      if (now >= next_forget) {
        next_forget = now + std::chrono::minutes(1);
        const int64_t before = txn::WallClockNowMs() - options.retain_done.count();
        GroupCommitDb::Work forget = [before](Database db) -> Result {
          Status s = DecisionLog::ForgetDone(db, before);
          return s.ok() ? Result(json::value()) : Result(s);
        };
        asio::co_spawn(executor, WriteDone(std::move(forget)), asio::detached);
      }
    }
  }

  void FlushDone() {
    std::vector<std::string> done = std::move(done_unflushed);
    done_unflushed.clear();
    GroupCommitDb::Work work = [done](Database db) -> Result {
      Status s = DecisionLog::MarkDone(db, done);
      return s.ok() ? Result(json::value()) : Result(s);
    };
    asio::co_spawn(executor, WriteDone(std::move(work)), asio::detached);
  }

  // Housekeeping writes (done marks, forgetting): logged, never waited for.
  asio::awaitable<void> WriteDone(GroupCommitDb::Work work) {
    Result r = co_await db->Run(std::move(work));
    if (!r.ok()) Log().warn("decision log housekeeping failed: {}", r.status().ToString());
  }

  std::string Metrics() const {
    size_t active = 0, pending = 0, unresolved = 0;
    for (const auto& [txid, entry] : txns) {
      if (entry->state == TxnState::kActive || entry->state == TxnState::kDeciding) ++active;
      if (entry->state == TxnState::kCommitted && !entry->applied) ++pending;
      if (!entry->unresolved.empty()) ++unresolved;
    }
    std::string t = sql::FsyncMetricText();
    t += "# HELP harpc_txn_begun_total Transactions begun at this coordinator.\n# TYPE harpc_txn_begun_total counter\n";
    t += "harpc_txn_begun_total " + std::to_string(begun) + "\n";
    t += "# HELP harpc_txn_outcomes_total Transactions decided, by outcome.\n# TYPE harpc_txn_outcomes_total counter\n";
    t += "harpc_txn_outcomes_total{outcome=\"committed\"} " + std::to_string(committed) + "\n";
    t += "harpc_txn_outcomes_total{outcome=\"aborted\"} " + std::to_string(aborted) + "\n";
    t += "# HELP harpc_txn_active Transactions begun and not yet decided.\n# TYPE harpc_txn_active gauge\n";
    t += "harpc_txn_active " + std::to_string(active) + "\n";
    t += "# HELP harpc_txn_phase_two_pending Committed transactions some participant has not acknowledged.\n";
    t += "# TYPE harpc_txn_phase_two_pending gauge\nharpc_txn_phase_two_pending " + std::to_string(pending) + "\n";
    t += "# HELP harpc_txn_phase_two_retries_total Phase-two messages sent again.\n";
    t += "# TYPE harpc_txn_phase_two_retries_total counter\n";
    t += "harpc_txn_phase_two_retries_total " + std::to_string(phase_two_retries) + "\n";
    t += "# HELP harpc_txn_phase_two_abandoned_total Participants phase two gave up on (no acknowledgment in time).\n";
    t += "# TYPE harpc_txn_phase_two_abandoned_total counter\n";
    t += "harpc_txn_phase_two_abandoned_total " + std::to_string(phase_two_abandoned) + "\n";
    t += "# HELP harpc_txn_phase_two_unresolved Committed transactions with a participant phase two gave up on.\n";
    t += "# TYPE harpc_txn_phase_two_unresolved gauge\nharpc_txn_phase_two_unresolved " + std::to_string(unresolved) + "\n";
    t += "# HELP harpc_txn_decision_batches_total Group commits of the decision log.\n";
    t += "# TYPE harpc_txn_decision_batches_total counter\n";
    t += "harpc_txn_decision_batches_total " + std::to_string(db->batches()) + "\n";
    return t;
  }
};

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() = default;

Status Coordinator::Open(CoordinatorOptions options, std::unique_ptr<Coordinator>* out) {
  if (options.data_dir.empty()) return InvalidArgument("the coordinator needs a data dir");
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Internal("cannot create data dir " + options.data_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (Status s = GroupCommitDb::Open(impl->options.data_dir + "/decisions.db", txn::kDecisionSchema, &impl->db); !s.ok()) {
    return s;
  }
  auto loaded = impl->db->RunSync<std::vector<CommitRecord>>([](Database db, std::vector<CommitRecord>& unfinished) {
    unfinished = DecisionLog::Unfinished(db);
    return Status::Ok();
  });
  if (!loaded.ok()) return loaded.status;
  impl->unfinished_at_open = std::move(loaded.value);
  for (const CommitRecord& r : impl->unfinished_at_open) {
    auto entry = std::make_shared<TxnEntry>();
    entry->state = TxnState::kCommitted;
    entry->calls = r.calls;
    entry->decided_at = Clock::now();
    // The time for phase two runs from the decision, across restarts.
    const milliseconds since_decision(std::max<int64_t>(0, txn::WallClockNowMs() - r.decided_ms));
    entry->give_up_at = entry->decided_at + (impl->options.phase_two_give_up - std::min(since_decision, impl->options.phase_two_give_up));
    impl->txns.emplace(r.txid, entry);
  }
  out->reset(new Coordinator(std::move(impl)));
  return Status::Ok();
}

Status Coordinator::Attach(Server& server) {
  Impl* impl = impl_.get();
  Status s = server.AddMethod("Coordinator.begin", [impl](const json::value& p, CallContext&) { return impl->Begin(p); });
  if (s.ok()) {
    s = server.AddAsyncMethod(
        "Coordinator.commit", [impl](json::value p, CallContext& ctx) { return impl->Commit(std::move(p), ctx); },
        {.idempotent = true});
  }
  if (s.ok()) {
    s = server.AddAsyncMethod(
        "Coordinator.abort", [impl](json::value p, CallContext& ctx) { return impl->Abort(std::move(p), ctx); },
        {.idempotent = true});
  }
  if (s.ok()) {
    s = server.AddAsyncMethod(
        "Coordinator.register", [impl](json::value p, CallContext& ctx) { return impl->Register(std::move(p), ctx); },
        {.idempotent = true, .role = Role::kPeer});  // the participants' votes, never a client's
  }
  if (s.ok()) {
    s = server.AddAsyncMethod(
        "Coordinator.status", [impl](json::value p, CallContext& ctx) { return impl->StatusOf(std::move(p), ctx); },
        {.idempotent = true});
  }
  if (s.ok()) s = server.AddMetrics([impl] { return impl->Metrics(); });
  return s;
}

void Coordinator::Start(Server& server) {
  impl_->executor = server.executor();
  impl_->address = server.address();
  impl_->participants.emplace(Impl::ParticipantChannelOptions(impl_->executor, impl_->options.security));
  // On the loop, like every other touch of the state.
  asio::post(impl_->executor, [impl = impl_.get()] {
    for (const CommitRecord& r : impl->unfinished_at_open) {
      auto it = impl->txns.find(r.txid);
      if (it != impl->txns.end()) impl->StartPhaseTwo(impl->executor, r.txid, it->second);
    }
    if (!impl->unfinished_at_open.empty()) {
      Log().info("resuming phase two of {} committed transactions", impl->unfinished_at_open.size());
    }
    impl->unfinished_at_open.clear();
    asio::co_spawn(impl->executor, impl->Sweep(), asio::detached);
  });
}

}  // namespace harpc
