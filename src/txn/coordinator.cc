// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/coordinator.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "harpc/channel.h"
#include "harpc/replicated.h"
#include "naming/peer_channels.h"
#include "storage/group_commit.h"
#include "storage/sqlite.h"
#include "txn/coordinator_state.h"
#include "txn/decision_log.h"
#include "txn/participant_log.h"
#include "util/address.h"
#include "util/json_params.h"
#include "util/log.h"
#include "util/random_id.h"

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
const std::string kAllParticipants;  // (a named empty string: see the GCC 12 note at SendCommit)

json::value Answer(const std::string& txid, std::string_view outcome, std::string_view reason, bool applied) {
  return json::value{{"txid", txid}, {"outcome", outcome}, {"reason", reason}, {"applied", applied}};
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

json::array CallsOf(const std::vector<EnlistedCall>& calls, const std::string& participant) {
  json::array list;
  for (const EnlistedCall& c : calls) {
    if (participant.empty() || c.participant == participant) list.push_back(json::value(c.call));
  }
  return list;
}

// Phase two of one committed transaction, driven by the leader (volatile:
// a new leader starts it again from the replicated decision).
struct PhaseTwo {
  std::vector<EnlistedCall> calls;
  int unacknowledged = 0;                // participants phase two still waits for
  bool acknowledged = false;             // every participant acknowledged
  Clock::time_point give_up_at;          // phase two stops pushing then
  std::vector<EnlistedCall> unresolved;  // calls whose participant never acknowledged before give_up_at
  bool settled() const { return acknowledged || (unacknowledged == 0 && !unresolved.empty()); }
};
}  // namespace

// The coordinator is the group's state machine: Apply runs on the server's
// loop, the loop of everything else here.
class Coordinator::Impl : public StateMachine {
 public:
  CoordinatorOptions options;
  // What is decided: applied by Propose, on this loop only.
  txn::CoordinatorState state;
  // Single node: the decision log, which answers for decisions phase two finished.
  std::unique_ptr<GroupCommitDb> db;
  std::vector<std::string> done_unflushed;  // done marks not yet written to the decision log
  Clock::time_point next_log_housekeeping = Clock::now() + std::chrono::minutes(1);

  // Leader-only, volatile. `epoch` changes with every change of leadership:
  // work started under an older one stops.
  bool leading = false;
  uint64_t epoch = 0;
  std::unordered_map<std::string, std::shared_ptr<PhaseTwo>> phase_two;
  std::vector<std::string> acknowledged;  // phase two finished: a "done" to propose
  std::unordered_map<std::string, std::vector<std::shared_ptr<asio::steady_timer>>> waiters;  // woken on every change

  // Set in Attach, before the server serves: its handlers read them.
  // Channels to participants on the server's loop, by address.
  std::optional<PeerChannels> participants;
  asio::any_io_executor executor;
  const Server* server = nullptr;
  std::string group_address;  // "list://A,B,C": participants register with, and ask, the group

  // Where participants reach the coordinator: the group, or this server
  // (whose address is known once it listens).
  std::string Address() const { return group ? group_address : server->address(); }
  uint64_t phase_two_retries = 0, phase_two_abandoned = 0;
  // A group member: commands go through the Raft log (last: destroyed first,
  // as it applies commands to the rest).
  std::unique_ptr<ReplicatedGroup> group;

  explicit Impl(CoordinatorOptions o)
      : options(std::move(o)), state(options.max_votes, /*keep_done=*/options.group.has_value()) {
    state.Observe([this](const std::string& txid, txn::TxnEvent event, const std::vector<EnlistedCall>& voters) {
      OnEvent(txid, event, voters);
    });
  }

  static ChannelOptions ParticipantChannelOptions(asio::any_io_executor loop, const ClientSecurity& security) {
    ChannelOptions o;
    o.security = security;
    o.timeout = milliseconds(2000);
    o.idempotent_methods = {"Participant.commit", "Participant.abort"};
    o.executor = std::move(loop);
    return o;
  }

  // StateMachine, for the group.
  Result Apply(const json::value& command) override { return state.Apply(command); }
  std::string Snapshot() override { return state.Snapshot(); }
  Status Restore(std::string_view snapshot) override {
    Status s = state.Restore(snapshot);
    for (auto& [txid, timers] : waiters) {
      for (auto& t : timers) t->cancel();
    }
    waiters.clear();
    return s;
  }
  void OnLeadership(bool leader) override {
    if (leader) {
      Lead();
    } else {
      Follow();
    }
  }

  // Runs a command through the state machine. A group: through the Raft
  // log, on the leader only (NOT_LEADER elsewhere). Single node: at once,
  // except that a commit decision is written to the decision log (group
  // commit, fsync) before it is applied — the commit point.
  asio::awaitable<Result> Propose(json::value command) {
    if (group) co_return co_await group->Propose(std::move(command));
    const std::string op(command.at("op").as_string());
    if (op == "commit") {
      std::vector<EnlistedCall> calls;
      if (state.WouldCommit(command, &calls)) {
        const std::string txid(command.at("txid").as_string());
        const int64_t decided_ms = command.at("decided_ms").as_int64();
        state.Hold(txid);  // no vote and no abort may slip in while the decision is written
        CommitRecord decision{.txid = txid, .calls = std::move(calls), .decided_ms = decided_ms};
        Status written = co_await WriteDecision(std::move(decision));
        state.Release(txid);
        if (!written.ok()) {
          Log().error("transaction {}: commit decision not written ({}); aborting", txid, written.ToString());
          command = txn::CoordinatorState::InternalAbortCommand(
              txid, "the commit decision could not be written: " + written.ToString(), decided_ms);
        }
      }
    } else if (op == "done") {
      for (const json::value& t : command.at("txids").as_array()) done_unflushed.emplace_back(t.as_string());
    }
    co_return state.Apply(command);
  }

  // Marks of finished phase twos ride along with the decision: no fsync of their own.
  asio::awaitable<Status> WriteDecision(CommitRecord record) {
    std::vector<std::string> done = std::exchange(done_unflushed, {});
    GroupCommitDb::Work work = [record, done](Database database) -> Result {
      Status s = DecisionLog::RecordCommit(database, record);
      if (s.ok() && !done.empty()) s = DecisionLog::MarkDone(database, done);
      return s.ok() ? Result(json::value()) : Result(s);
    };
    Result written = co_await db->Run(std::move(work));
    if (!written.ok()) done_unflushed.insert(done_unflushed.end(), done.begin(), done.end());
    co_return written.status();
  }

  // What every member does as commands are applied; the leader also starts
  // phase two of a commit and tells the voters of an abort, so that they
  // release their holds now (one that misses it learns it when it asks).
  void OnEvent(const std::string& txid, txn::TxnEvent event, const std::vector<EnlistedCall>& voters) {
    Wake(txid);
    if (!leading) return;
    if (event == txn::TxnEvent::kCommitted) {
      StartPhaseTwo(txid, *state.Find(txid));
    } else if (event == txn::TxnEvent::kAborted) {
      for (auto& [who, request] : PhaseTwoRequests(txid, voters)) {
        asio::co_spawn(executor, TellAbort(who.second, std::move(request)), asio::detached);
      }
    }
  }

  void Wake(const std::string& txid) {
    auto it = waiters.find(txid);
    if (it == waiters.end()) return;
    for (auto& w : it->second) w->cancel();
    waiters.erase(it);
  }

  // This member leads from now on (single node: at Start): resumes phase
  // two of every decision not done and starts the timeout sweeper.
  void Lead() {
    ++epoch;
    leading = true;
    size_t resumed = 0;
    for (const auto& [txid, record] : state.transactions()) {
      if (record.phase == txn::TxnPhase::kCommitted && !record.done && !phase_two.contains(txid)) {
        StartPhaseTwo(txid, record);
        ++resumed;
      }
    }
    if (resumed > 0) Log().info("resuming phase two of {} committed transactions", resumed);
    asio::co_spawn(executor, Sweep(epoch), asio::detached);
  }

  // Leadership lost: phase two and the sweeper stop (the new leader resumes
  // them), and answers waiting here are given what is known.
  void Follow() {
    ++epoch;
    leading = false;
    phase_two.clear();
    acknowledged.clear();
    for (auto& [txid, timers] : waiters) {
      for (auto& t : timers) t->cancel();
    }
    waiters.clear();
  }

  // Waits until `txid` is decided and, once committed, applied — or until
  // `deadline` or the end of this member's leadership; then answers what is
  // known (NOT_LEADER when undecided and another member leads now).
  asio::awaitable<Result> AnswerWhenSettled(std::string txid, Clock::time_point deadline) {
    std::shared_ptr<PhaseTwo> progress;
    const uint64_t asked_in = epoch;
    for (;;) {
      if (!progress) {
        auto p = phase_two.find(txid);
        if (p != phase_two.end()) progress = p->second;
      }
      const txn::TxnRecord* record = state.Find(txid);
      if (!record || record->phase == txn::TxnPhase::kAborted) break;
      if (record->phase == txn::TxnPhase::kCommitted && (record->done || (progress && progress->settled()))) break;
      if (epoch != asked_in || Clock::now() >= deadline) break;
      auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
      waiters[txid].push_back(timer);
      co_await timer->async_wait(kNoThrow);
    }
    const txn::TxnRecord* record = state.Find(txid);
    if (!record) {
      // Phase two finished and the decision log answers for it now.
      if (progress && progress->acknowledged) co_return Committed(txid, progress->calls, true, {}, "");
      co_return co_await AnswerUnknown(txid, kAllParticipants);
    }
    switch (record->phase) {
      case txn::TxnPhase::kCommitted:
        co_return Committed(txid, record->calls, record->done || (progress && progress->acknowledged),
                            progress ? progress->unresolved : std::vector<EnlistedCall>{}, "");
      case txn::TxnPhase::kAborted:
        co_return Answer(txid, "aborted", record->reason, false);
      default:
        break;
    }
    if (epoch != asked_in && group) co_return NotLeader(group->state().leader.value_or(""));
    co_return DeadlineExceeded("transaction " + txid + " is still being decided; ask again");
  }

  // Where a caller's answer must be ready: a little before its deadline.
  static Clock::time_point AnswerBy(const CallContext& ctx) {
    if (!ctx.has_deadline()) return Clock::now() + milliseconds(2000);
    // The margin covers the way back on a loaded machine (20 ms was too little).
    return ctx.deadline() - std::min<Clock::duration>(milliseconds(100), (ctx.deadline() - Clock::now()) / 10);
  }

  asio::awaitable<Result> Commit(json::value p, CallContext& ctx) {
    std::string txid, key;
    std::vector<EnlistedCall> heard;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = StringField(p, "key", false, &key); !s.ok()) co_return s;
    if (Status s = txn::ParseVotes(p, &heard); !s.ok()) co_return s;
    // (A group decides even that through the log: only there is the answer linearizable.)
    if (!group && !state.Find(txid)) co_return co_await AnswerUnknown(txid, kAllParticipants);
    json::value command = txn::CoordinatorState::CommitCommand(txid, key, heard, txn::WallClockNowMs());
    Result r = co_await Propose(std::move(command));
    if (!r.ok()) co_return r;
    co_return co_await AnswerWhenSettled(txid, AnswerBy(ctx));
  }

  asio::awaitable<Result> Abort(json::value p, CallContext& ctx) {
    std::string txid, key, reason;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = StringField(p, "key", false, &key); !s.ok()) co_return s;
    if (Status s = StringField(p, "reason", false, &reason); !s.ok()) co_return s;
    if (!group && !state.Find(txid)) co_return co_await AnswerUnknown(txid, kAllParticipants);
    json::value command = txn::CoordinatorState::AbortCommand(txid, key, reason, txn::WallClockNowMs());
    Result r = co_await Propose(std::move(command));
    if (!r.ok()) co_return r;
    co_return co_await AnswerWhenSettled(txid, AnswerBy(ctx));
  }

  // A participant's yes vote (the state machine records it, or says why not).
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
    if (!group && !state.Find(txid)) {
      // Decided and applied (the decision log answers for it), or unknown: aborted.
      auto found = co_await FindInLog(txid);
      if (!found.ok()) co_return found.status;
      const EnlistedCall* mine = txn::FindVote(found.value.record.calls, vote.call, vote.participant);
      if (found.value.known && mine && SameSecret(mine->secret, vote.secret)) {
        co_return json::value{{"txid", txid}, {"call", vote.call}, {"recorded", true}};
      }
      co_return Aborted(
          "transaction " + txid +
          (found.value.known ? " was committed without call " + vote.call : " is unknown here (presumed abort)"));
    }
    json::value command = txn::CoordinatorState::RegisterCommand(txid, vote, txn::WallClockNowMs());
    co_return co_await Propose(std::move(command));
  }

  void StartPhaseTwo(const std::string& txid, const txn::TxnRecord& record) {
    auto progress = std::make_shared<PhaseTwo>();
    progress->calls = record.calls;
    // The time for phase two runs from the decision, across restarts and leaders.
    const milliseconds since_decision(std::max<int64_t>(0, txn::WallClockNowMs() - record.decided_ms));
    progress->give_up_at =
        Clock::now() + (options.phase_two_give_up - std::min(since_decision, options.phase_two_give_up));
    phase_two[txid] = progress;
    auto requests = PhaseTwoRequests(txid, progress->calls);
    progress->unacknowledged = static_cast<int>(requests.size());
    if (requests.empty()) Acknowledged(txid, *progress);
    for (auto& [who, request] : requests) {
      asio::co_spawn(executor, SendCommit(txid, progress, who.second, std::move(request), epoch), asio::detached);
    }
  }

  // Phase two for one participant: until it acknowledges, or until the
  // transaction's give_up_at, or until this member stops leading. A
  // participant that never answers costs a bounded time, not retries
  // forever: after a restart, a decision past its time gets one attempt per
  // participant (whose acknowledgments were not written), then is reported.
  asio::awaitable<void> SendCommit(std::string txid, std::shared_ptr<PhaseTwo> progress, std::string at,
                                   json::value request, uint64_t started_in) {
    milliseconds backoff(50);
    asio::steady_timer timer(executor);
    bool acknowledged_here = false;
    Status last;
    for (int attempt = 1; attempt == 1 || Clock::now() < progress->give_up_at; ++attempt) {
      // Named, not a temporary of the co_await: GCC 12 mishandles those.
      const std::shared_ptr<Channel> participant = participants->Get(at);
      CallResult r = co_await participant->AsyncCall("Participant.commit", request);
      if (epoch != started_in) co_return;  // another leader drives it now
      if (r.ok()) {
        acknowledged_here = true;
        break;
      }
      last = r.status;
      ++phase_two_retries;
      if (attempt == 1 || attempt % 20 == 0) {
        Log().warn("transaction {}: participant {} has not acknowledged commit ({} attempts): {}", txid, at, attempt,
                   r.status.ToString());
      }
      if (Clock::now() >= progress->give_up_at) break;
      timer.expires_at(std::min(Clock::now() + backoff, progress->give_up_at));
      co_await timer.async_wait(kNoThrow);
      if (epoch != started_in) co_return;
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    if (!acknowledged_here) {
      ++phase_two_abandoned;
      const std::string participant(request.at("participant").as_string());
      for (const json::value& c : request.at("calls").as_array()) {
        const EnlistedCall* call = txn::FindVote(progress->calls, std::string(c.at("call").as_string()), participant);
        if (call) progress->unresolved.push_back(*call);
      }
      Log().error(
          "transaction {}: committed, but participant {} at {} did not acknowledge phase two within {} ms of "
          "the decision ({}); no more attempts: it learns the outcome when it asks (Coordinator.status "
          "lists it as unresolved)",
          txid, participant, at, options.phase_two_give_up.count(), last.ToString());
    }
    if (--progress->unacknowledged == 0) {
      if (progress->unresolved.empty()) {
        Acknowledged(txid, *progress);
      } else {
        Wake(txid);  // answers waiting for phase two: it ends here
      }
    }
  }

  // Every participant acknowledged: answers waiting say so at once, and a
  // "done" follows with the sweeper's next round.
  void Acknowledged(const std::string& txid, PhaseTwo& progress) {
    progress.acknowledged = true;
    phase_two.erase(txid);
    acknowledged.push_back(txid);
    Wake(txid);
  }

  // The decision row of a transaction, if there is one.
  struct Logged {
    bool known = false;
    CommitRecord record;
  };
  asio::awaitable<GroupCommitDb::Typed<Logged>> FindInLog(std::string txid) {
    GroupCommitDb::TypedWork<Logged> find = [txid](Database database, Logged& f) {
      f.known = DecisionLog::Find(database, txid, &f.record);
      return Status::Ok();
    };
    co_return co_await db->Run<Logged>(std::move(find));
  }

  // For transactions the state does not hold: committed if the decision log
  // says so, else aborted. A group keeps every decision it remembers in the
  // state: unknown there is aborted.
  asio::awaitable<Result> AnswerUnknown(std::string txid, std::string participant) {
    if (group) {
      co_return Answer(txid, "aborted",
                       "unknown transaction: never begun in this group, or forgotten after its "
                       "abort (presumed abort)",
                       false);
    }
    auto found = co_await FindInLog(txid);
    if (!found.ok()) co_return found.status;
    const CommitRecord* record = &found.value.record;
    if (!found.value.known) {
      co_return Answer(txid, "aborted",
                       "unknown transaction: never begun here, forgotten after its abort, or "
                       "begun before a coordinator restart (presumed abort)",
                       false);
    }
    // The `done` mark may still wait for a later write: it counts as done.
    const bool done =
        record->done || std::find(done_unflushed.begin(), done_unflushed.end(), txid) != done_unflushed.end();
    co_return Committed(txid, record->calls, done, {}, participant);
  }

  // A committed transaction: the calls of `participant` (all when empty)
  // and the calls whose participant phase two gave up on, if any.
  static json::value Committed(const std::string& txid, const std::vector<EnlistedCall>& calls, bool applied,
                               const std::vector<EnlistedCall>& unresolved, const std::string& participant) {
    json::value answer = Answer(txid, "committed", "", applied);
    answer.as_object()["calls"] = CallsOf(calls, participant);
    if (!unresolved.empty()) answer.as_object()["unresolved"] = Described(unresolved);
    return answer;
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
    if (group) {
      // Linearizable: the leader confirms it still leads and has applied all that was committed.
      if (Status s = co_await group->Read(); !s.ok()) co_return s;
    }
    const txn::TxnRecord* record = state.Find(txid);
    if (!record) co_return co_await AnswerUnknown(txid, participant);
    switch (record->phase) {
      case txn::TxnPhase::kActive:
      case txn::TxnPhase::kDeciding:
        co_return Answer(txid, "pending", "", false);
      case txn::TxnPhase::kAborted:
        co_return Answer(txid, "aborted", record->reason, false);
      case txn::TxnPhase::kCommitted: {
        auto progress = phase_two.find(txid);
        const bool unresolved = progress != phase_two.end() && !progress->second->unresolved.empty();
        co_return Committed(txid, record->calls, record->done,
                            unresolved ? progress->second->unresolved : std::vector<EnlistedCall>{}, participant);
      }
    }
    co_return Internal("unreachable");
  }

  asio::awaitable<Result> Begin(json::value p, CallContext&) {
    int64_t timeout_ms = options.default_timeout.count();
    if (!p.is_null()) {
      if (Status s = IntField(p, "timeout_ms", false, &timeout_ms); !s.ok()) co_return s;
    }
    if (timeout_ms <= 0 || timeout_ms > options.max_timeout.count()) {
      co_return InvalidArgument("\"timeout_ms\" must be in 1.." + std::to_string(options.max_timeout.count()));
    }
    json::value command =
        txn::CoordinatorState::BeginCommand(RandomId(), RandomId(), timeout_ms, txn::WallClockNowMs());
    Result r = co_await Propose(std::move(command));
    if (!r.ok()) co_return r;
    json::value answer = std::move(r).value();
    answer.as_object()["coordinator"] = Address();
    co_return answer;
  }

  // While leading: aborts transactions past their timeout (by this member's
  // clock), proposes "done" for finished phase twos and forgets old aborts.
  asio::awaitable<void> Sweep(uint64_t started_in) {
    asio::steady_timer timer(executor);
    while (epoch == started_in) {
      timer.expires_after(milliseconds(100));
      co_await timer.async_wait(kNoThrow);
      if (epoch != started_in) break;
      const int64_t now_ms = txn::WallClockNowMs();
      for (const std::string& txid : state.Expired(now_ms)) {
        const txn::TxnRecord* record = state.Find(txid);
        if (!record) continue;
        json::value abort = txn::CoordinatorState::InternalAbortCommand(txid, txn::TimedOutReason(*record), now_ms);
        Result r = co_await Propose(std::move(abort));
        if (!r.ok()) Log().warn("transaction {}: abort after its timeout not applied: {}", txid, r.status().ToString());
        if (epoch != started_in) co_return;
      }
      if (!acknowledged.empty()) {
        json::value done = txn::CoordinatorState::DoneCommand(std::exchange(acknowledged, {}));
        Result r = co_await Propose(std::move(done));
        if (!r.ok()) Log().warn("phase two's done marks not applied: {}", r.status().ToString());
      }
      const int64_t done_before = now_ms - options.retain_done.count();
      const int64_t aborted_before = now_ms - options.aborted_memory.count();
      if (state.Forgettable(done_before, aborted_before)) {
        json::value forget = txn::CoordinatorState::ForgetCommand(done_before, aborted_before);
        Result r = co_await Propose(std::move(forget));
        if (!r.ok()) Log().warn("forgetting old transactions failed: {}", r.status().ToString());
      }
      if (db) HouseKeepTheDecisionLog(done_before);
    }
  }

  // Done marks that found no decision to ride along with, and done
  // decisions old enough to be forgotten: logged, never waited for.
  void HouseKeepTheDecisionLog(int64_t done_before_ms) {
    const auto now = Clock::now();
    const bool minute = now >= next_log_housekeeping;
    if (!done_unflushed.empty() && (done_unflushed.size() >= 64 || minute)) {
      GroupCommitDb::Work work = [done = std::exchange(done_unflushed, {})](Database database) -> Result {
        Status s = DecisionLog::MarkDone(database, done);
        return s.ok() ? Result(json::value()) : Result(s);
      };
      asio::co_spawn(executor, WriteHousekeeping(std::move(work)), asio::detached);
    }
    if (minute) {
      next_log_housekeeping = now + std::chrono::minutes(1);
      GroupCommitDb::Work forget = [done_before_ms](Database database) -> Result {
        Status s = DecisionLog::ForgetDone(database, done_before_ms);
        return s.ok() ? Result(json::value()) : Result(s);
      };
      asio::co_spawn(executor, WriteHousekeeping(std::move(forget)), asio::detached);
    }
  }

  asio::awaitable<void> WriteHousekeeping(GroupCommitDb::Work work) {
    Result r = co_await db->Run(std::move(work));
    if (!r.ok()) Log().warn("decision log housekeeping failed: {}", r.status().ToString());
  }

  std::string Metrics() const {
    size_t active = 0, pending = 0, unresolved = 0;
    for (const auto& [txid, record] : state.transactions()) {
      if (record.phase == txn::TxnPhase::kActive || record.phase == txn::TxnPhase::kDeciding) ++active;
      if (record.phase == txn::TxnPhase::kCommitted && !record.done) ++pending;
    }
    for (const auto& [txid, progress] : phase_two) {
      if (!progress->unresolved.empty()) ++unresolved;
    }
    std::string t = sql::FsyncMetricText();
    t += "# HELP harpc_txn_begun_total Transactions begun at this coordinator.\n# TYPE harpc_txn_begun_total counter\n";
    t += "harpc_txn_begun_total " + std::to_string(state.begun()) + "\n";
    t += "# HELP harpc_txn_outcomes_total Transactions decided, by outcome.\n# TYPE harpc_txn_outcomes_total counter\n";
    t += "harpc_txn_outcomes_total{outcome=\"committed\"} " + std::to_string(state.committed()) + "\n";
    t += "harpc_txn_outcomes_total{outcome=\"aborted\"} " + std::to_string(state.aborted()) + "\n";
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
    t += "# TYPE harpc_txn_phase_two_unresolved gauge\nharpc_txn_phase_two_unresolved " + std::to_string(unresolved) +
         "\n";
    if (db) {
      t += "# HELP harpc_txn_decision_batches_total Group commits of the decision log.\n";
      t += "# TYPE harpc_txn_decision_batches_total counter\n";
      t += "harpc_txn_decision_batches_total " + std::to_string(db->batches()) + "\n";
    }
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
  if (options.group && options.group->data_dir.empty()) options.group->data_dir = options.data_dir + "/raft";
  auto impl = std::make_unique<Impl>(std::move(options));
  if (impl->options.group) {
    Impl* machine = impl.get();
    if (Status s = ReplicatedGroup::Open(*impl->options.group, machine, &impl->group); !s.ok()) return s;
    out->reset(new Coordinator(std::move(impl)));
    return Status::Ok();
  }
  if (Status s = GroupCommitDb::Open(impl->options.data_dir + "/decisions.db", txn::kDecisionSchema, &impl->db);
      !s.ok()) {
    return s;
  }
  auto loaded = impl->db->RunSync<std::vector<CommitRecord>>([](Database db, std::vector<CommitRecord>& unfinished) {
    unfinished = DecisionLog::Unfinished(db);
    return Status::Ok();
  });
  if (!loaded.ok()) return loaded.status;
  for (const CommitRecord& r : loaded.value) impl->state.Load(r);
  out->reset(new Coordinator(std::move(impl)));
  return Status::Ok();
}

Status Coordinator::Attach(Server& server) {
  Impl* impl = impl_.get();
  impl->executor = server.executor();
  impl->server = &server;
  impl->participants.emplace(Impl::ParticipantChannelOptions(impl->executor, impl->options.security));
  if (impl->group) {
    // Their channels find its leader.
    std::vector<std::string> members = impl->options.group->members;
    std::sort(members.begin(), members.end());
    impl->group_address = "list://";
    for (size_t i = 0; i < members.size(); ++i) impl->group_address += (i ? "," : "") + members[i];
  }
  Status s = server.AddAsyncMethod("Coordinator.begin",
                                   [impl](json::value p, CallContext& ctx) { return impl->Begin(std::move(p), ctx); });
  if (s.ok()) {
    s = server.AddAsyncMethod("Coordinator.commit",
                              [impl](json::value p, CallContext& ctx) { return impl->Commit(std::move(p), ctx); },
                              {.idempotent = true});
  }
  if (s.ok()) {
    s = server.AddAsyncMethod("Coordinator.abort",
                              [impl](json::value p, CallContext& ctx) { return impl->Abort(std::move(p), ctx); },
                              {.idempotent = true});
  }
  if (s.ok()) {
    s = server.AddAsyncMethod("Coordinator.register",
                              [impl](json::value p, CallContext& ctx) { return impl->Register(std::move(p), ctx); },
                              {.idempotent = true, .role = Role::kPeer});  // the participants' votes, never a client's
  }
  if (s.ok()) {
    s = server.AddAsyncMethod("Coordinator.status",
                              [impl](json::value p, CallContext& ctx) { return impl->StatusOf(std::move(p), ctx); },
                              {.idempotent = true});
  }
  if (s.ok()) s = server.AddMetrics([impl] { return impl->Metrics(); });
  if (s.ok() && impl->group) s = impl->group->Attach(server);
  return s;
}

Status Coordinator::Start(Server& server) {
  // Whichever member leads resumes phase two and sweeps (OnLeadership).
  if (impl_->group) return impl_->group->Start(server);
  // On the loop, like every other touch of the state.
  asio::post(impl_->executor, [impl = impl_.get()] { impl->Lead(); });
  return Status::Ok();
}

}  // namespace harpc
