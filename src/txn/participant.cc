// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Participant: wires the participant's state machine to a Server and
// resolves calls in doubt by asking their coordinator. Every change is a
// command (txn/participant_machine.h) run by Run().
#include "harpc/txn.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "harpc/channel.h"
#include "naming/peer_channels.h"
#include "storage/group_commit.h"
#include "storage/sqlite.h"
#include "txn/participant_log.h"
#include "txn/participant_machine.h"
#include "txn/replicated_db.h"
#include "util/address.h"
#include "util/hash.h"
#include "util/json_params.h"
#include "util/log.h"
#include "util/random_id.h"
#include "util/stop_signal.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

class Participant::Impl {
 public:
  ParticipantOptions options;
  std::unique_ptr<storage::GroupCommitDb> db;
  std::map<std::string, TxnMethod, std::less<>> txn_methods;
  std::map<std::string, std::pair<LocalHandler, MethodOptions>, std::less<>> local_methods;
  std::unique_ptr<txn::ParticipantLog> log;
  std::unique_ptr<txn::ParticipantMachine> machine;
  // In a group (options.group), instead of `db`: the database in memory as
  // the group's state, the group, and its list:// (where phase two reaches
  // whichever member leads).
  std::unique_ptr<txn::ReplicatedDb> state;
  std::unique_ptr<ReplicatedGroup> group;
  std::string group_target;
  std::atomic<uint64_t> resolved_by_asking{0};
  std::atomic<int64_t> prepared{0}, committed{0}, aborted{0};  // mirrors of the database's counts

  // How long a coordinator gets to answer a vote or a question: it answers
  // from memory (or one indexed read), so a second means it is not there.
  static constexpr std::chrono::milliseconds kAskTimeout{1000};

  // Made by Attach: the in-doubt resolver, on the server's first loop, and its
  // channels to coordinators, on the same loop.
  Server* server = nullptr;  // its address is where phase two reaches us
  std::weak_ptr<Impl> self;
  asio::any_io_executor executor;
  std::optional<PeerChannels> coordinators;
  StopSignal resolver;
  // How each coordinator address answered, for its worker's backoff (loop only).
  struct Asking {
    bool busy = false;  // a worker is asking it now
    int failures = 0;   // questions unanswered in a row
    std::chrono::steady_clock::time_point next_ask, last_asked;
  };
  std::map<std::string, Asking> asking;
  // Workers at once, each with one question in flight: addresses beyond it
  // wait for a later round, healthy ones first, then the least recently asked.
  static constexpr size_t kMaxAskingAtOnce = 64;

  ~Impl() {
    // Their work uses `log`, the methods and the state: they finish first.
    group.reset();
    db.reset();
  }

  // Where votes say phase two reaches this participant.
  std::string PhaseTwoAddress() const { return group ? group_target : server->address(); }

  // The gauges from the database (at start, and after a snapshot replaced a
  // member's state).
  void RefreshCounts() {
    txn::CallCounts counts;
    storage::GroupCommitDb::Work count = [&counts](Database database) -> Result {
      counts = txn::ParticipantLog::Counts(database);
      return json::value();
    };
    bool wrote = false;
    const Result r = state ? state->Read(count, &wrote) : db->RunSync(count);
    if (!r.ok()) return;
    prepared = counts.prepared;
    committed = counts.committed;
    aborted = counts.aborted;
  }

  // Follows the gauges with what a command changed.
  void Count(const json::value& command, const Result& r) {
    if (!r.ok()) return;
    const json::string_view op = command.at("op").as_string();
    const json::object& answer = r.value().as_object();
    if (op == "prepare") {
      if (answer.at("prepared").at("recorded").as_bool()) ++prepared;
    } else if (op == "apply") {
      const int64_t c = answer.at("committed").to_number<int64_t>();
      const int64_t a = answer.at("aborted").to_number<int64_t>();
      committed += c;
      aborted += a;
      prepared -= c + a;
    } else if (op == "forget") {  // the gauges follow the database down as well as up
      prepared = answer.at("prepared").to_number<int64_t>();
      committed = answer.at("committed").to_number<int64_t>();
      aborted = answer.at("aborted").to_number<int64_t>();
    }
  }

  // Runs one state change (txn/participant_machine.h), durably, and answers
  // its result. In a group: proposed to the log (NOT_LEADER on a follower),
  // answered once a majority has it; every member counts it as it applies it.
  asio::awaitable<Result> Run(json::value command) {
    if (group) co_return co_await group->Propose(std::move(command));
    storage::GroupCommitDb::Work work = [this, command](Database database) {
      return machine->Execute(database, command);
    };
    Result r = co_await db->Run(std::move(work));
    Count(command, r);
    co_return r;
  }

  // Runs `work` as a read. In a group: on the leader, once a linearizable
  // read is allowed (ReplicatedGroup::Read), on the state's loop, in a
  // savepoint rolled back afterwards; nullopt when `work` wrote (then it
  // must run as a command).
  asio::awaitable<std::optional<Result>> TryRead(storage::GroupCommitDb::Work work) {
    if (!group) co_return co_await db->Run(std::move(work));
    if (Status s = co_await group->Read(); !s.ok()) co_return Result(s);
    std::shared_ptr<Impl> held = self.lock();
    auto reading = ReadOnLoop(std::move(held), std::move(work));
    co_return co_await asio::co_spawn(executor, std::move(reading), asio::use_awaitable);
  }
  // This member's own state, whether it leads or not (on the state's loop;
  // optional because co_spawn needs a default-constructible result).
  static asio::awaitable<std::optional<Result>> DigestOnLoop(std::shared_ptr<Impl> impl) {
    co_return impl->state->Digest();
  }

  static asio::awaitable<std::optional<Result>> ReadOnLoop(std::shared_ptr<Impl> impl,
                                                           storage::GroupCommitDb::Work work) {
    bool wrote = false;
    Result r = impl->state->Read(work, &wrote);
    if (wrote) co_return std::nullopt;
    co_return r;
  }

  // Runs a read of the database (it changes nothing).
  asio::awaitable<Result> Query(storage::GroupCommitDb::Work work) {
    std::optional<Result> r = co_await TryRead(std::move(work));
    if (!r) co_return Internal("a read changed the participant's state");
    co_return std::move(*r);
  }

  // This member became the group's leader, or stopped being it: only the
  // leader resolves calls in doubt (its outcomes go through the log), and
  // it treats every prepared call as in doubt from the start, as after a
  // restart. Runs on the loop.
  void Lead(bool leader) {
    resolver.Stop();
    asking.clear();
    if (leader && executor) resolver.Spawn(executor, ResolverLoop(self));
  }

  asio::awaitable<Result> Apply(std::string txid, txn::Decision decision) {
    decision.at_ms = txn::WallClockNowMs();
    json::value command = txn::ApplyCommand(txid, decision);
    co_return co_await Run(std::move(command));
  }

  static ChannelOptions CoordinatorChannelOptions(asio::any_io_executor loop, const ClientSecurity& security) {
    ChannelOptions o;
    o.security = security;
    o.timeout = std::chrono::milliseconds(1000);
    o.idempotent_methods = {"Coordinator.status", "Coordinator.register"};
    o.health.interval = std::chrono::milliseconds(500);
    o.executor = std::move(loop);
    return o;
  }

  // The coordinator a prepare names (or the default), in canonical form, if
  // this participant takes votes for it.
  Status CoordinatorOf(std::string named, std::string* address) const {
    if (named.empty()) named = options.coordinator;
    if (named.empty()) {
      return InvalidArgument(
          "the prepare names no \"coordinator\" and this participant has no default one: "
          "its vote could not be registered");
    }
    if (Status s = CanonicalPeerTarget(named, address); !s.ok()) {
      return InvalidArgument("\"coordinator\": " + s.message());
    }
    if (options.allowed_coordinators.empty()) return Status::Ok();
    for (const std::string& allowed : options.allowed_coordinators) {
      std::string canonical;
      if (CanonicalPeerTarget(allowed, &canonical).ok() && canonical == *address) return Status::Ok();
    }
    return PermissionDenied("coordinator " + *address + " is not one this participant works with");
  }

  // Registers the yes vote of a prepared call with its coordinator, before
  // the client hears it. A coordinator that refuses it (the transaction is
  // aborted, or decided without it) settles the call at once.
  asio::awaitable<Status> RegisterVote(std::string txid, std::string call, txn::Prepared recorded,
                                       std::chrono::milliseconds budget) {
    json::value vote{{"txid", txid},
                     {"call", call},
                     {"participant", log->id()},
                     {"address", PhaseTwoAddress()},
                     {"secret", recorded.secret}};
    CallOptions call_options;
    call_options.timeout = std::clamp(budget, std::chrono::milliseconds(1), kAskTimeout);
    const std::shared_ptr<Channel> coordinator = coordinators->Get(recorded.coordinator);  // named: see coordinator.cc
    CallResult r = co_await coordinator->AsyncCall("Coordinator.register", vote, call_options);
    if (r.ok()) co_return Status::Ok();
    if (r.status.code() == StatusCode::kAborted) {
      co_await Resolve(txid, recorded.coordinator);
      co_return Aborted("coordinator " + recorded.coordinator + " refused the vote: " + r.status.message());
    }
    co_return Unavailable("the vote could not be registered with coordinator " + recorded.coordinator + " (" +
                          r.status.ToString() + "); the call stays recorded until that coordinator is asked about it");
  }

  // Asks the coordinator about one transaction in doubt and applies its
  // answer. False when the coordinator did not answer.
  asio::awaitable<bool> Resolve(std::string txid, std::string address) {
    json::value query{{"txid", txid}, {"participant", log->id()}};
    CallOptions call_options;
    call_options.timeout = kAskTimeout;
    call_options.idempotent = true;
    const std::shared_ptr<Channel> coordinator = coordinators->Get(address);  // named: see coordinator.cc
    CallResult answer = co_await coordinator->AsyncCall("Coordinator.status", query, call_options);
    if (!answer.ok()) {
      Log().info("transaction {} in doubt: coordinator {} not reachable ({}); will ask again", txid, address,
                 answer.status.ToString());
      co_return false;
    }
    const txn::InDoubt in_doubt{txid, address};
    std::string outcome;
    if (Status s = StringField(answer.value, "outcome", true, &outcome); !s.ok()) {
      Log().warn("transaction {}: malformed answer from coordinator {}: {}", in_doubt.txid, address, s.message());
      co_return true;
    }
    txn::Decision decision;
    if (outcome == "committed") {
      decision.commit = true;
      const json::value* calls = answer.value.as_object().if_contains("calls");
      if (!calls || !calls->is_array()) co_return true;
      for (const json::value& c : calls->as_array()) {
        if (c.is_string()) decision.calls.emplace_back(c.as_string());
      }
    } else if (outcome != "aborted") {
      co_return true;  // pending: the transaction is still running
    }
    Result applied = co_await Apply(in_doubt.txid, decision);
    if (applied.ok()) {
      ++resolved_by_asking;
      Log().info("transaction {} was in doubt: {} (asked {})", in_doubt.txid, outcome, address);
    } else {
      Log().error("transaction {}: cannot apply {}: {}", in_doubt.txid, outcome, applied.status().ToString());
    }
    co_return true;
  }

  // One coordinator's transactions in doubt, asked one after another; the
  // first question it does not answer ends the turn and backs the address
  // off, so that a silent coordinator costs one question per backoff
  // however many calls name it. Each address has its own worker: none
  // waits for another.
  static asio::awaitable<void> AskCoordinator(std::weak_ptr<Impl> weak, std::string address,
                                              std::vector<std::string> txids) {
    using Clock = std::chrono::steady_clock;
    bool answered = true;
    for (const std::string& txid : txids) {
      auto self = weak.lock();
      if (!self) co_return;
      answered = co_await self->Resolve(txid, address);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (!answered) break;
    }
    auto self = weak.lock();
    if (!self) co_return;
    Asking& a = self->asking[address];
    a.busy = false;
    a.failures = answered ? 0 : std::min(a.failures + 1, 30);
    auto backoff = self->options.resolve_interval * (int64_t{1} << std::min(a.failures, 20));
    a.next_ask = answered ? Clock::time_point{}
                          : Clock::now() + std::min<Clock::duration>(backoff, self->options.max_ask_backoff);
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

  // One round: starts a worker for every coordinator with calls in doubt
  // since `horizon` that is not being asked already nor backing off (the
  // round does not wait for them), and now and then forgets old decisions.
  asio::awaitable<void> ResolveRound(int64_t horizon, std::chrono::steady_clock::time_point& next_forget) {
    using Clock = std::chrono::steady_clock;
    const int64_t per_coordinator = options.max_prepared_per_coordinator;
    auto found = std::make_shared<std::vector<txn::InDoubt>>();
    storage::GroupCommitDb::Work find = [horizon, per_coordinator, found](Database database) -> Result {
      *found = txn::ParticipantLog::FindInDoubt(database, horizon, per_coordinator);
      return json::value();
    };
    co_await Query(std::move(find));
    std::map<std::string, std::vector<std::string>> by_coordinator;
    for (txn::InDoubt& in_doubt : *found) {
      by_coordinator[in_doubt.coordinator.empty() ? options.coordinator : in_doubt.coordinator].push_back(
          std::move(in_doubt.txid));
    }
    const auto now = Clock::now();
    std::erase_if(asking, [&](const auto& a) { return !a.second.busy && !by_coordinator.contains(a.first); });
    std::vector<std::string> due;
    for (const auto& [address, txids] : by_coordinator) {
      if (address.empty()) {
        Log().warn("{} transactions are in doubt and name no coordinator (set ParticipantOptions::coordinator)",
                   txids.size());
        continue;
      }
      const Asking& a = asking[address];
      if (!a.busy && now >= a.next_ask) due.push_back(address);
    }
    std::sort(due.begin(), due.end(), [this](const std::string& x, const std::string& y) {
      const Asking &a = asking[x], &b = asking[y];
      return std::pair(a.failures > 0, a.last_asked) < std::pair(b.failures > 0, b.last_asked);
    });
    size_t busy = std::count_if(asking.begin(), asking.end(), [](const auto& a) { return a.second.busy; });
    for (const std::string& address : due) {
      if (busy++ >= kMaxAskingAtOnce) break;
      Asking& a = asking[address];
      a.busy = true;
      a.last_asked = now;
      resolver.Spawn(executor, AskCoordinator(self, address, std::move(by_coordinator[address])));
    }
    if (Clock::now() >= next_forget) {
      next_forget = Clock::now() + std::chrono::minutes(1);
      json::value forget = txn::ForgetCommand(txn::WallClockNowMs() - options.retain_decided.count());
      co_await Run(std::move(forget));
    }
  }
};

Participant::Participant(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

// Only the posts' allocations can throw: out of memory here ends the process either way.
Participant::~Participant() {              // NOLINT(bugprone-exception-escape)
  if (impl_->group) impl_->group->Stop();  // no command is applied after this
  // Cancels the resolver on its loop; the participant lives until then (and
  // while a round in progress holds it).
  if (impl_->executor) asio::post(impl_->executor, [impl = impl_] { impl->resolver.Stop(); });
}

namespace {
// A group's participant id: the same on every member, made from the group's
// list:// (32 hex digits, as a random id).
std::string GroupParticipantId(const std::string& target) {
  char id[33];
  std::snprintf(id, sizeof id, "%016" PRIx64 "%016" PRIx64, StableHash(target, 0), StableHash(target, 1));
  return id;
}
}  // namespace

Status Participant::Open(ParticipantOptions options, std::string_view schema, std::unique_ptr<Participant>* out) {
  if (options.db_path.empty() && !options.group) return InvalidArgument("ParticipantOptions::db_path is required");
  auto impl = std::make_shared<Impl>();
  impl->options = std::move(options);
  for (const std::string& allowed : impl->options.allowed_coordinators) {
    std::string canonical;
    if (Status s = CanonicalPeerTarget(allowed, &canonical); !s.ok()) {
      return InvalidArgument("ParticipantOptions::allowed_coordinators: " + s.message());
    }
  }
  Impl* raw = impl.get();
  const std::string full_schema = txn::ParticipantLibrarySchema() + std::string(schema);
  std::string id;
  if (const std::optional<GroupOptions>& group = impl->options.group) {
    std::string members;
    for (const std::string& member : group->members) members += (members.empty() ? "" : ",") + member;
    if (Status s = CanonicalPeerTarget("list://" + members, &impl->group_target); !s.ok()) {
      return InvalidArgument("ParticipantOptions::group: members: " + s.message());
    }
    id = GroupParticipantId(impl->group_target);
    txn::ReplicatedDb::Execute execute = [raw](Database db, const json::value& command) {
      return raw->machine->Execute(db, command);
    };
    if (Status s = txn::ReplicatedDb::Open(full_schema, std::move(execute), &impl->state); !s.ok()) return s;
  } else {
    if (Status s = storage::GroupCommitDb::Open(impl->options.db_path, full_schema, &impl->db); !s.ok()) return s;
    auto made = impl->db->RunSync<std::string>([](Database db, std::string& made_id) {
      if (Status s = txn::ParticipantLog::Upgrade(db); !s.ok()) return s;
      return txn::ParticipantLog::LoadOrCreateId(db, &made_id);
    });
    if (!made.ok()) return made.status;
    id = std::move(made.value);
  }
  impl->log = std::make_unique<txn::ParticipantLog>(id, [raw](std::string_view name) -> const TxnMethod* {
    auto it = raw->txn_methods.find(name);
    return it == raw->txn_methods.end() ? nullptr : &it->second;
  });
  impl->machine =
      std::make_unique<txn::ParticipantMachine>(impl->log.get(), [raw](std::string_view name) -> const LocalHandler* {
        auto it = raw->local_methods.find(name);
        return it == raw->local_methods.end() ? nullptr : &it->second.first;
      });
  if (impl->state) {
    impl->state->OnApplied([raw](const json::value& command, const Result& r) { raw->Count(command, r); });
    impl->state->OnRestored([raw] { raw->RefreshCounts(); });
    impl->state->OnLeadershipChange([raw](bool leader) { raw->Lead(leader); });
    if (Status s = ReplicatedGroup::Open(*impl->options.group, impl->state.get(), &impl->group); !s.ok()) return s;
  }
  impl->RefreshCounts();
  out->reset(new Participant(std::move(impl)));
  return Status::Ok();
}

const std::string& Participant::id() const { return impl_->log->id(); }

ParticipantStats Participant::stats() const {
  return {.prepared = impl_->prepared,
          .committed = impl_->committed,
          .aborted = impl_->aborted,
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
  storage::GroupCommitDb::Work work = [&handler, &params](Database db) { return handler(db, params); };
  return impl_->state ? impl_->state->ChangeLocally(work) : impl_->db->RunSync(work);
}

Status Participant::Start(Server& server) { return impl_->group ? impl_->group->Start(server) : Status::Ok(); }

namespace {
// The decision named by Participant.commit / Participant.abort params:
// {"txid","participant","calls":[{"call","secret"}]}. A commit commits the
// calls listed; an abort names the calls whose secrets prove it comes from
// their coordinator, and aborts every call of the transaction here.
Status ParseDecision(const json::value& p, const std::string& own_id, bool commit, std::string* txid,
                     txn::Decision* decision) {
  if (Status s = StringField(p, "txid", true, txid); !s.ok()) return s;
  if (txid->empty()) return InvalidArgument("\"txid\" must not be empty");
  std::string participant;
  if (Status s = StringField(p, "participant", true, &participant); !s.ok()) return s;
  if (participant != own_id) {
    return Status(StatusCode::kFailedPrecondition, "this is participant " + own_id + ", not " + participant);
  }
  decision->commit = commit;
  decision->secrets.emplace();
  const json::value* calls = p.as_object().if_contains("calls");
  if (!calls || !calls->is_array()) return InvalidArgument("\"calls\" must be an array of {\"call\",\"secret\"}");
  for (const json::value& c : calls->as_array()) {
    std::string call, secret;
    if (Status s = StringField(c, "call", true, &call); !s.ok()) return s;
    if (Status s = StringField(c, "secret", true, &secret); !s.ok()) return s;
    if (!decision->secrets->emplace(call, secret).second) return InvalidArgument("call " + call + " listed twice");
    if (commit) decision->calls.push_back(std::move(call));
  }
  return Status::Ok();
}
}  // namespace

Status Participant::Attach(Server& server) {
  Impl* impl = impl_.get();
  if (impl->group) {
    if (Status s = impl->group->Attach(server); !s.ok()) return s;
  }
  for (auto& [name, unused] : impl->txn_methods) {
    const std::string method = name;
    // Prepare is deduplicated by (txid, call) in the database, so a retry is safe.
    Status added = server.AddAsyncMethod(
        method,
        [impl, method](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
          txn::PrepareRequest request;
          request.method = method;
          request.max_prepared_per_coordinator = impl->options.max_prepared_per_coordinator;
          std::string named;
          if (Status s = StringField(p, "txid", true, &request.txid); !s.ok()) co_return s;
          if (Status s = StringField(p, "call", true, &request.call); !s.ok()) co_return s;
          if (Status s = StringField(p, "coordinator", false, &named); !s.ok()) co_return s;
          if (request.txid.empty() || request.call.empty() || request.call == "*") {
            co_return InvalidArgument("\"txid\" and \"call\" must be non-empty, and \"call\" not \"*\"");
          }
          if (Status s = impl->CoordinatorOf(named, &request.coordinator); !s.ok()) co_return s;
          const json::value* params = p.as_object().if_contains("params");
          if (params) request.params = *params;
          request.secret = RandomId();  // kept only if this prepare is the call's first
          request.prepared_ms = txn::WallClockNowMs();
          json::value command = txn::PrepareCommand(request);
          Result r = co_await impl->Run(std::move(command));
          if (!r.ok()) co_return r;
          const json::object& row = r.value().at("prepared").as_object();
          const txn::Prepared prepared{.recorded = row.at("recorded").as_bool(),
                                       .state = std::string(row.at("state").as_string()),
                                       .coordinator = std::string(row.at("coordinator").as_string()),
                                       .secret = std::string(row.at("secret").as_string())};
          json::value answer = r.value().at("answer");
          if (prepared.state != "prepared") co_return answer;  // committed already: its vote was counted
          Status registered = co_await impl->RegisterVote(request.txid, request.call, prepared, ctx.remaining());
          if (!registered.ok()) co_return registered;
          co_return answer;
        },
        {.idempotent = true});
    if (!added.ok()) return added;
  }
  for (auto& [name, entry] : impl->local_methods) {
    // A method that is not idempotent records its answer by the caller's
    // Idempotency-Key in the database: a retry applies it once, also on
    // another member of a group or after a restart.
    const bool keyed = !entry.second.idempotent;
    Status added = server.AddAsyncMethod(
        name,
        [impl, method = name, keyed](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
          json::value command =
              txn::LocalCommand(method, p, keyed ? ctx.idempotency_key() : std::string(), txn::WallClockNowMs());
          if (impl->group && !keyed) {
            // An idempotent method is tried as a linearizable read on the
            // leader: through the log only if it turns out to write.
            storage::GroupCommitDb::Work read = [impl, command](Database db) {
              return impl->machine->Execute(db, command);
            };
            std::optional<Result> answer = co_await impl->TryRead(std::move(read));
            if (answer) co_return std::move(*answer);
          }
          co_return co_await impl->Run(std::move(command));
        },
        entry.second);
    if (!added.ok()) return added;
  }
  for (const bool commit : {true, false}) {
    Status added =
        server.AddAsyncMethod(commit ? "Participant.commit" : "Participant.abort",
                              [impl, commit](json::value p, CallContext&) -> asio::awaitable<Result> {
                                std::string txid;
                                txn::Decision decision;
                                if (Status s = ParseDecision(p, impl->log->id(), commit, &txid, &decision); !s.ok())
                                  co_return s;
                                co_return co_await impl->Apply(std::move(txid), std::move(decision));
                              },
                              {.idempotent = true, .role = Role::kPeer});  // phase two: the coordinator's alone
    if (!added.ok()) return added;
  }
  Status added = server.AddAsyncMethod("Participant.status",
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
                                         co_return co_await impl->Query(std::move(work));
                                       },
                                       {.idempotent = true, .role = Role::kPeer});
  if (!added.ok()) return added;
  if (impl->group) {
    // Answered by every member from its own copy (not a linearizable read):
    // members that applied as many commands must hold the same state.
    added = server.AddAsyncMethod("Participant.digest",
                                  [impl](json::value, CallContext&) -> asio::awaitable<Result> {
                                    std::shared_ptr<Impl> held = impl->self.lock();
                                    auto digest = Impl::DigestOnLoop(std::move(held));
                                    std::optional<Result> answer =
                                        co_await asio::co_spawn(impl->executor, std::move(digest), asio::use_awaitable);
                                    co_return std::move(*answer);
                                  },
                                  {.idempotent = true, .role = Role::kPeer});
    if (!added.ok()) return added;
  }
  added = server.AddMetrics([impl] {
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
  if (!added.ok()) return added;
  impl->server = &server;
  impl->self = impl_;
  impl->executor = server.executor();
  impl->coordinators.emplace(Impl::CoordinatorChannelOptions(impl->executor, impl->options.security));
  // Spawned on the loop: the resolver's signal is touched there only. In a
  // group it starts when this member leads (Impl::Lead).
  if (!impl->group) {
    asio::post(impl->executor, [weak = std::weak_ptr<Impl>(impl_)] {
      if (auto self = weak.lock()) self->resolver.Spawn(self->executor, Impl::ResolverLoop(weak));
    });
  }
  return Status::Ok();
}

}  // namespace harpc
