#include "harpc/coordinator.h"

#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>

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
  std::string reason;            // why aborted
  std::vector<EnlistedCall> calls;
  bool applied = false;          // every participant acknowledged phase two
  int unacknowledged = 0;        // participants phase two still waits for
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // woken on every change

  void Wake() {
    for (auto& w : waiters) w->cancel();
    waiters.clear();
  }
};

json::value Answer(const std::string& txid, std::string_view outcome, std::string_view reason, bool applied) {
  return json::value{{"txid", txid}, {"outcome", outcome}, {"reason", reason}, {"applied", applied}};
}

// [{"call","participant","address"}]; `participant` may be optional (abort lists).
Status ParseCalls(const json::value& p, bool participant_required, std::vector<EnlistedCall>* calls) {
  const json::value* list = p.as_object().if_contains("participants");
  if (!list) return Status::Ok();
  if (!list->is_array()) return InvalidArgument("\"participants\" must be an array");
  for (const json::value& c : list->as_array()) {
    EnlistedCall call;
    if (Status s = StringField(c, "address", true, &call.address); !s.ok()) return s;
    if (Status s = StringField(c, "participant", participant_required, &call.participant); !s.ok()) return s;
    if (Status s = StringField(c, "call", participant_required, &call.call); !s.ok()) return s;
    if (participant_required && (call.call.empty() || call.participant.empty() || call.address.empty())) {
      return InvalidArgument("every participant needs a non-empty \"call\", \"participant\" and \"address\"");
    }
    for (const EnlistedCall& other : *calls) {
      if (participant_required && other.call == call.call) return InvalidArgument("call " + call.call + " listed twice");
    }
    calls->push_back(std::move(call));
  }
  return Status::Ok();
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
  uint64_t begun = 0, committed = 0, aborted = 0, phase_two_retries = 0;

  static ChannelOptions ParticipantChannelOptions(asio::any_io_executor loop, const ClientSecurity& security) {
    ChannelOptions o;
    o.security = security;
    o.timeout = milliseconds(2000);
    o.idempotent_methods = {"Participant.commit", "Participant.abort"};
    o.executor = std::move(loop);
    return o;
  }

  void MarkAborted(TxnEntry& entry, std::string reason) {
    entry.state = TxnState::kAborted;
    entry.reason = std::move(reason);
    entry.decided_at = Clock::now();
    ++aborted;
    entry.Wake();
  }

  // Waits until `entry` is decided and, once committed, applied — or until
  // `deadline`; then answers what is known.
  asio::awaitable<Result> AnswerWhenSettled(std::string txid, std::shared_ptr<TxnEntry> entry,
                                            Clock::time_point deadline) {
    for (;;) {
      const bool settled = entry->state == TxnState::kAborted ||
                           (entry->state == TxnState::kCommitted && entry->applied);
      if (settled || Clock::now() >= deadline) break;
      auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
      entry->waiters.push_back(timer);
      co_await timer->async_wait(kNoThrow);
    }
    switch (entry->state) {
      case TxnState::kCommitted: co_return Answer(txid, "committed", "", entry->applied);
      case TxnState::kAborted: co_return Answer(txid, "aborted", entry->reason, false);
      default:
        co_return DeadlineExceeded("transaction " + txid + " is still being decided; ask again");
    }
  }

  // Where a caller's answer must be ready: a little before its deadline.
  static Clock::time_point AnswerBy(const CallContext& ctx) {
    if (!ctx.has_deadline()) return Clock::now() + milliseconds(2000);
    return ctx.deadline() - std::min<Clock::duration>(milliseconds(20), (ctx.deadline() - Clock::now()) / 10);
  }

  asio::awaitable<Result> Commit(json::value p, CallContext& ctx) {
    std::string txid;
    std::vector<EnlistedCall> calls;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = ParseCalls(p, true, &calls); !s.ok()) co_return s;
    auto it = txns.find(txid);
    const std::string nobody;
    if (it == txns.end()) co_return co_await AnswerFromLog(txid, nobody);
    std::shared_ptr<TxnEntry> entry = it->second;
    if (entry->state == TxnState::kActive) {
      if (Clock::now() > entry->deadline) {
        MarkAborted(*entry, "timed out: not committed within " + std::to_string(entry->timeout.count()) + " ms");
      } else {
        co_await Decide(txid, entry, std::move(calls));
      }
    }
    co_return co_await AnswerWhenSettled(txid, entry, AnswerBy(ctx));
  }

  // Writes the commit decision (the commit point), then starts phase two.
  asio::awaitable<void> Decide(std::string txid, std::shared_ptr<TxnEntry> entry, std::vector<EnlistedCall> calls) {
    entry->state = TxnState::kDeciding;
    entry->calls = std::move(calls);
    CommitRecord record{.txid = txid, .calls = entry->calls};
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
      MarkAborted(*entry, "the commit decision could not be written: " + written.status().message());
      co_return;
    }
    entry->state = TxnState::kCommitted;
    entry->decided_at = Clock::now();
    ++committed;
    entry->Wake();
    StartPhaseTwo(co_await asio::this_coro::executor, txid, entry);
  }

  void StartPhaseTwo(asio::any_io_executor ex, const std::string& txid, const std::shared_ptr<TxnEntry>& entry) {
    std::map<std::pair<std::string, std::string>, json::array> by_participant;  // (participant, address) -> calls
    for (const EnlistedCall& c : entry->calls) by_participant[{c.participant, c.address}].push_back(json::value(c.call));
    entry->unacknowledged = static_cast<int>(by_participant.size());
    if (by_participant.empty()) Applied(txid, *entry);
    for (auto& [who, calls] : by_participant) {
      json::value request{{"txid", txid}, {"participant", who.first}, {"calls", std::move(calls)}};
      asio::co_spawn(ex, SendCommit(txid, entry, who.second, std::move(request)), asio::detached);
    }
  }

  // Phase two for one participant: until it acknowledges.
  asio::awaitable<void> SendCommit(std::string txid, std::shared_ptr<TxnEntry> entry, std::string at,
                                   json::value request) {
    milliseconds backoff(50);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int attempt = 1;; ++attempt) {
      // Named, not a temporary of the co_await: GCC 12 mishandles those.
      const std::shared_ptr<Channel> participant = participants->Get(at);
      CallResult r = co_await participant->AsyncCall("Participant.commit", request);
      if (r.ok()) break;
      ++phase_two_retries;
      if (attempt == 1 || attempt % 20 == 0) {
        Log().warn("transaction {}: participant {} has not acknowledged commit ({} attempts): {}", txid, at, attempt,
                   r.status.ToString());
      }
      timer.expires_after(backoff);
      co_await timer.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    if (--entry->unacknowledged == 0) Applied(txid, *entry);
  }

  void Applied(const std::string& txid, TxnEntry& entry) {
    entry.applied = true;
    entry.Wake();
    done_unflushed.push_back(txid);
    txns.erase(txid);  // from now on the log answers for it
  }

  // For transactions not in memory: committed if the log says so, else aborted.
  asio::awaitable<Result> AnswerFromLog(std::string txid, std::string participant) {
    struct Found {
      bool known = false;
      CommitRecord record;
    };
    GroupCommitDb::TypedWork<Found> find = [txid](Database db, Found& f) {
      f.known = DecisionLog::Find(db, txid, &f.record);
      return Status::Ok();
    };
    auto found = co_await db->Run<Found>(std::move(find));
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

  static json::array CallsOf(const std::vector<EnlistedCall>& calls, const std::string& participant) {
    json::array list;
    for (const EnlistedCall& c : calls) {
      if (participant.empty() || c.participant == participant) list.push_back(json::value(c.call));
    }
    return list;
  }

  asio::awaitable<Result> Abort(json::value p, CallContext& ctx) {
    std::string txid, reason;
    std::vector<EnlistedCall> calls;
    if (Status s = StringField(p, "txid", true, &txid); !s.ok()) co_return s;
    if (Status s = StringField(p, "reason", false, &reason); !s.ok()) co_return s;
    if (Status s = ParseCalls(p, false, &calls); !s.ok()) co_return s;
    auto it = txns.find(txid);
    Result answer = Status::Ok();
    if (it == txns.end()) {
      const std::string nobody;
      answer = co_await AnswerFromLog(txid, nobody);
    } else {
      std::shared_ptr<TxnEntry> entry = it->second;
      if (entry->state == TxnState::kActive) MarkAborted(*entry, reason.empty() ? "aborted by the client" : reason);
      answer = co_await AnswerWhenSettled(txid, entry, AnswerBy(ctx));
    }
    if (answer.ok() && answer.value().at("outcome") == "aborted") {
      // Releases what the participants hold now; those not told (or not
      // listed) learn it when they ask, as the presumption says.
      for (const EnlistedCall& c : calls) {
        json::value request{{"txid", txid}};
        if (!c.participant.empty()) request.as_object()["participant"] = c.participant;
        asio::co_spawn(co_await asio::this_coro::executor, TellAbort(c.address, std::move(request)), asio::detached);
      }
    }
    co_return answer;
  }

  asio::awaitable<void> TellAbort(std::string at, json::value request) {
    const std::shared_ptr<Channel> participant = participants->Get(at);
    CallResult r = co_await participant->AsyncCall("Participant.abort", request);
    if (!r.ok()) Log().info("abort of {} not delivered to {}: {}", request.at("txid").as_string(), at, r.status.ToString());
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
      case TxnState::kCommitted: {
        json::value answer = Answer(txid, "committed", "", entry.applied);
        answer.as_object()["calls"] = CallsOf(entry.calls, participant);
        co_return answer;
      }
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
    std::string txid = RandomId();
    txns.emplace(txid, entry);
    ++begun;
    return json::value{{"txid", txid}, {"coordinator", address}, {"timeout_ms", timeout_ms}};
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
        if (entry.state == TxnState::kActive && now > entry.deadline) {
          MarkAborted(entry, "timed out: not committed within " + std::to_string(entry.timeout.count()) + " ms");
        }
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
    size_t active = 0, pending = 0;
    for (const auto& [txid, entry] : txns) {
      if (entry->state == TxnState::kActive || entry->state == TxnState::kDeciding) ++active;
      if (entry->state == TxnState::kCommitted && !entry->applied) ++pending;
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
