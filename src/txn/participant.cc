// Participant: wires the participant log to a Server and resolves calls in
// doubt by asking their coordinator.
#include "harpc/txn.h"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "harpc/channel.h"
#include "naming/peer_channels.h"
#include "storage/group_commit.h"
#include "txn/participant_log.h"
#include "util/json_params.h"
#include "util/log.h"
#include "storage/sqlite.h"
#include "util/stop_signal.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

class Participant::Impl {
 public:
  ParticipantOptions options;
  std::unique_ptr<storage::GroupCommitDb> db;
  std::map<std::string, TxnMethod, std::less<>> txn_methods;
  std::map<std::string, std::pair<LocalHandler, MethodOptions>> local_methods;
  std::unique_ptr<txn::ParticipantLog> log;
  std::atomic<uint64_t> resolved_by_asking{0};
  std::atomic<int64_t> prepared{0}, committed{0}, aborted{0};  // mirrors of the database's counts

  // Made by Attach: the in-doubt resolver, on the server's first loop, and its
  // channels to coordinators, on the same loop.
  asio::any_io_executor executor;
  std::optional<PeerChannels> coordinators;
  StopSignal resolver;

  ~Impl() {
    // Its queued work uses `log` and the methods: it finishes first.
    db.reset();
  }

  void RefreshCounts() {
    SetCounts(db->RunSync<txn::CallCounts>([](Database db, txn::CallCounts& counts) {
      counts = txn::ParticipantLog::Counts(db);
      return Status::Ok();
    }));
  }

  void SetCounts(const storage::GroupCommitDb::Typed<txn::CallCounts>& counts) {
    if (!counts.ok()) return;
    prepared = counts.value.prepared;
    committed = counts.value.committed;
    aborted = counts.value.aborted;
  }

  void Count(const Result& applied) {
    if (!applied.ok()) return;
    const int64_t c = applied.value().at("committed").to_number<int64_t>();
    const int64_t a = applied.value().at("aborted").to_number<int64_t>();
    committed += c;
    aborted += a;
    prepared -= c + a;
  }

  asio::awaitable<Result> Apply(std::string txid, txn::Decision decision) {
    storage::GroupCommitDb::Work work = [this, txid, decision](Database db) { return log->Apply(db, txid, decision); };
    Result r = co_await db->Run(std::move(work));
    Count(r);
    co_return r;
  }

  static ChannelOptions CoordinatorChannelOptions(asio::any_io_executor loop, const ClientSecurity& security) {
    ChannelOptions o;
    o.security = security;
    o.timeout = std::chrono::milliseconds(1000);
    o.idempotent_methods = {"Coordinator.status"};
    o.health.interval = std::chrono::milliseconds(500);
    o.executor = std::move(loop);
    return o;
  }

  // Asks the coordinator about one transaction in doubt and applies its answer.
  asio::awaitable<void> Resolve(txn::InDoubt in_doubt) {
    const std::string address = in_doubt.coordinator.empty() ? options.coordinator : in_doubt.coordinator;
    if (address.empty()) {
      Log().warn("transaction {} is in doubt and no coordinator is known (set ParticipantOptions::coordinator)",
                 in_doubt.txid);
      co_return;
    }
    json::value query{{"txid", in_doubt.txid}, {"participant", log->id()}};
    const std::shared_ptr<Channel> coordinator = coordinators->Get(address);  // named: see coordinator.cc
    CallResult answer = co_await coordinator->AsyncCall("Coordinator.status", query);
    if (!answer.ok()) {
      Log().info("transaction {} in doubt: coordinator {} not reachable ({}); will ask again", in_doubt.txid, address,
                 answer.status.ToString());
      co_return;
    }
    std::string outcome;
    if (Status s = StringField(answer.value, "outcome", true, &outcome); !s.ok()) {
      Log().warn("transaction {}: malformed answer from coordinator {}: {}", in_doubt.txid, address, s.message());
      co_return;
    }
    txn::Decision decision;
    if (outcome == "committed") {
      decision.commit = true;
      const json::value* calls = answer.value.as_object().if_contains("calls");
      if (!calls || !calls->is_array()) co_return;
      for (const json::value& c : calls->as_array()) {
        if (c.is_string()) decision.calls.emplace_back(c.as_string());
      }
    } else if (outcome != "aborted") {
      co_return;  // pending: the transaction is still running
    }
    Result applied = co_await Apply(in_doubt.txid, decision);
    if (applied.ok()) {
      ++resolved_by_asking;
      Log().info("transaction {} was in doubt: {} (asked {})", in_doubt.txid, outcome, address);
    } else {
      Log().error("transaction {}: cannot apply {}: {}", in_doubt.txid, outcome, applied.status().ToString());
    }
  }

  // Holds the participant only during a round: once it is destroyed, the next
  // round does not start (and ~Participant cancels the wait between rounds).
  static asio::awaitable<void> ResolverLoop(std::weak_ptr<Impl> weak) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    // After a start, every prepared call is in doubt: its outcome may have
    // been decided while this process was down.
    int64_t horizon = txn::WallClockNowMs();
    using Clock = std::chrono::steady_clock;
    Clock::time_point next_forget = Clock::now() + std::chrono::minutes(1);
    for (;;) {
      auto self = weak.lock();
      if (!self) co_return;
      co_await self->ResolveRound(horizon, next_forget);
      timer.expires_after(self->options.resolve_interval);
      const auto in_doubt_after = self->options.in_doubt_after;
      self.reset();
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      horizon = txn::WallClockNowMs() - in_doubt_after.count();
    }
  }

  // One round: asks about every call in doubt since `horizon`, and now and
  // then forgets old decisions.
  asio::awaitable<void> ResolveRound(int64_t horizon, std::chrono::steady_clock::time_point& next_forget) {
    using Clock = std::chrono::steady_clock;
    storage::GroupCommitDb::TypedWork<std::vector<txn::InDoubt>> find = [horizon](Database db, auto& in_doubt) {
      in_doubt = txn::ParticipantLog::FindInDoubt(db, horizon);
      return Status::Ok();
    };
    auto found = co_await db->Run<std::vector<txn::InDoubt>>(std::move(find));
    for (txn::InDoubt& in_doubt : found.value) co_await Resolve(std::move(in_doubt));
    if (Clock::now() >= next_forget) {
      next_forget = Clock::now() + std::chrono::minutes(1);
      const int64_t before = txn::WallClockNowMs() - options.retain_decided.count();
      storage::GroupCommitDb::TypedWork<txn::CallCounts> forget = [before](Database db, txn::CallCounts& counts) {
        Status s = txn::ParticipantLog::ForgetDecided(db, before);
        if (s.ok()) counts = txn::ParticipantLog::Counts(db);
        return s;
      };
      // The gauges follow the database down as well as up.
      SetCounts(co_await db->Run<txn::CallCounts>(std::move(forget)));
    }
  }
};

Participant::Participant(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Participant::~Participant() {
  // Cancels the resolver on its loop; the participant lives until then (and
  // while a round in progress holds it).
  if (impl_->executor) asio::post(impl_->executor, [impl = impl_] { impl->resolver.Stop(); });
}

Status Participant::Open(ParticipantOptions options, std::string_view schema, std::unique_ptr<Participant>* out) {
  if (options.db_path.empty()) return InvalidArgument("ParticipantOptions::db_path is required");
  auto impl = std::make_shared<Impl>();
  impl->options = std::move(options);
  const std::string full_schema = std::string(txn::kParticipantSchema) + std::string(schema);
  if (Status s = storage::GroupCommitDb::Open(impl->options.db_path, full_schema, &impl->db); !s.ok()) return s;
  std::string id;
  auto made = impl->db->RunSync<std::string>(
      [](Database db, std::string& made_id) { return txn::ParticipantLog::LoadOrCreateId(db, &made_id); });
  if (!made.ok()) return made.status;
  id = std::move(made.value);
  Impl* raw = impl.get();
  impl->log = std::make_unique<txn::ParticipantLog>(id, [raw](std::string_view name) -> const TxnMethod* {
    auto it = raw->txn_methods.find(name);
    return it == raw->txn_methods.end() ? nullptr : &it->second;
  });
  impl->RefreshCounts();
  out->reset(new Participant(std::move(impl)));
  return Status::Ok();
}

const std::string& Participant::id() const { return impl_->log->id(); }

ParticipantStats Participant::stats() const {
  return {.prepared = impl_->prepared, .committed = impl_->committed, .aborted = impl_->aborted,
          .resolved_by_asking = impl_->resolved_by_asking};
}

Status Participant::AddTxnMethod(std::string name, TxnMethod method) {
  if (name.empty() || !method.prepare || !method.commit || !method.abort) {
    return InvalidArgument("a transactional method needs a name and prepare, commit and abort handlers");
  }
  if (!impl_->txn_methods.emplace(std::move(name), std::move(method)).second) {
    return InvalidArgument("transactional method registered twice");
  }
  return Status::Ok();
}

Status Participant::AddLocalMethod(std::string name, LocalHandler handler, MethodOptions options) {
  if (name.empty() || !handler) return InvalidArgument("a local method needs a name and a handler");
  if (!impl_->local_methods.emplace(std::move(name), std::make_pair(std::move(handler), options)).second) {
    return InvalidArgument("local method registered twice");
  }
  return Status::Ok();
}

Result Participant::RunLocal(const LocalHandler& handler, const json::value& params) {
  return impl_->db->RunSync([&handler, &params](Database db) { return handler(db, params); });
}

namespace {
// The decision named by Participant.commit / Participant.abort params.
Status ParseDecision(const json::value& p, const std::string& own_id, bool commit, std::string* txid,
                     txn::Decision* decision) {
  if (Status s = StringField(p, "txid", true, txid); !s.ok()) return s;
  if (txid->empty()) return InvalidArgument("\"txid\" must not be empty");
  std::string participant;
  if (Status s = StringField(p, "participant", commit, &participant); !s.ok()) return s;
  if (!participant.empty() && participant != own_id) {
    return Status(StatusCode::kFailedPrecondition, "this is participant " + own_id + ", not " + participant);
  }
  decision->commit = commit;
  if (!commit) return Status::Ok();
  const json::value* calls = p.as_object().if_contains("calls");
  if (!calls || !calls->is_array()) return InvalidArgument("\"calls\" must be an array of call numbers");
  for (const json::value& c : calls->as_array()) {
    if (!c.is_string()) return InvalidArgument("\"calls\" must be an array of strings");
    decision->calls.emplace_back(c.as_string());
  }
  return Status::Ok();
}
}  // namespace

Status Participant::Attach(Server& server) {
  Impl* impl = impl_.get();
  for (auto& [name, unused] : impl->txn_methods) {
    const std::string method = name;
    // Prepare is deduplicated by (txid, call) in the database, so a retry is safe.
    Status s = server.AddAsyncMethod(
        method,
        [impl, method](json::value p, CallContext&) -> asio::awaitable<Result> {
          txn::PrepareRequest request{.method = method};
          if (Status s = StringField(p, "txid", true, &request.txid); !s.ok()) co_return s;
          if (Status s = StringField(p, "call", true, &request.call); !s.ok()) co_return s;
          if (Status s = StringField(p, "coordinator", false, &request.coordinator); !s.ok()) co_return s;
          if (request.txid.empty() || request.call.empty() || request.call == "*") {
            co_return InvalidArgument("\"txid\" and \"call\" must be non-empty, and \"call\" not \"*\"");
          }
          const json::value* params = p.as_object().if_contains("params");
          if (params) request.params = *params;
          auto recorded = std::make_shared<bool>(false);
          storage::GroupCommitDb::Work work = [impl, request, recorded](Database db) {
            return impl->log->Prepare(db, request, recorded.get());
          };
          Result r = co_await impl->db->Run(std::move(work));
          if (r.ok() && *recorded) ++impl->prepared;
          co_return r;
        },
        {.idempotent = true});
    if (!s.ok()) return s;
  }
  for (auto& [name, entry] : impl->local_methods) {
    LocalHandler handler = entry.first;
    Status s = server.AddAsyncMethod(
        name,
        [impl, handler](json::value p, CallContext&) -> asio::awaitable<Result> {
          storage::GroupCommitDb::Work work = [handler, p](Database db) { return handler(db, p); };
          co_return co_await impl->db->Run(std::move(work));
        },
        entry.second);
    if (!s.ok()) return s;
  }
  for (const bool commit : {true, false}) {
    Status s = server.AddAsyncMethod(
        commit ? "Participant.commit" : "Participant.abort",
        [impl, commit](json::value p, CallContext&) -> asio::awaitable<Result> {
          std::string txid;
          txn::Decision decision;
          if (Status s = ParseDecision(p, impl->log->id(), commit, &txid, &decision); !s.ok()) co_return s;
          co_return co_await impl->Apply(std::move(txid), std::move(decision));
        },
        {.idempotent = true, .role = Role::kPeer});  // phase two: the coordinator's alone
    if (!s.ok()) return s;
  }
  Status s = server.AddAsyncMethod(
      "Participant.status",
      [impl](json::value p, CallContext&) -> asio::awaitable<Result> {
        std::string txid;
        if (!p.is_null()) {
          if (Status s = StringField(p, "txid", false, &txid); !s.ok()) co_return s;
        }
        storage::GroupCommitDb::Work work = [impl, txid](Database db) -> Result {
          json::object answer = txn::ParticipantLog::CountByState(db).as_object();
          answer["participant"] = impl->log->id();
          answer["resolved_by_asking"] = impl->resolved_by_asking.load();
          if (!txid.empty()) answer["calls"] = txn::ParticipantLog::Describe(db, txid);
          return json::value(std::move(answer));
        };
        co_return co_await impl->db->Run(std::move(work));
      },
      {.idempotent = true, .role = Role::kPeer});
  if (!s.ok()) return s;
  s = server.AddMetrics([impl] {
    std::string text = sql::FsyncMetricText();
    text += "# HELP harpc_txn_participant_calls Transactional calls of this participant by state.\n";
    text += "# TYPE harpc_txn_participant_calls gauge\n";
    text += "harpc_txn_participant_calls{state=\"prepared\"} " + std::to_string(impl->prepared.load()) + "\n";
    text += "harpc_txn_participant_calls{state=\"committed\"} " + std::to_string(impl->committed.load()) + "\n";
    text += "harpc_txn_participant_calls{state=\"aborted\"} " + std::to_string(impl->aborted.load()) + "\n";
    text += "# HELP harpc_txn_resolved_by_asking_total In-doubt transactions resolved by asking the coordinator.\n";
    text += "# TYPE harpc_txn_resolved_by_asking_total counter\n";
    text += "harpc_txn_resolved_by_asking_total " + std::to_string(impl->resolved_by_asking.load()) + "\n";
    return text;
  });
  if (!s.ok()) return s;
  impl->executor = server.executor();
  impl->coordinators.emplace(Impl::CoordinatorChannelOptions(impl->executor, impl->options.security));
  // Spawned on the loop: the resolver's signal is touched there only.
  asio::post(impl->executor, [weak = std::weak_ptr<Impl>(impl_)] {
    if (auto self = weak.lock()) self->resolver.Spawn(self->executor, Impl::ResolverLoop(weak));
  });
  return Status::Ok();
}

}  // namespace harpc
