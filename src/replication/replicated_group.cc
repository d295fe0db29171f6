// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// ReplicatedGroup: libraft with its own disk layer (raft_uv: segments,
// metadata, snapshots, fsync), its libuv loop driven by the server's first
// Asio loop (uv_loop.h), and its transport over the server's port
// (raft_transport.h). Everything Raft touches runs on that one loop.
#include "harpc/replicated.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "harpc/channel.h"
#include "replication/raft_c.h"
#include "replication/raft_transport.h"
#include "replication/uv_loop.h"
#include "util/address.h"
#include "util/await_callback.h"
#include "util/log.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;
using replication::RaftTransport;
using replication::UvLoop;

json::value GroupState::ToJson() const {
  json::array list;
  for (const std::string& m : members) list.emplace_back(m);
  return json::object{{"role", role},
                      {"leader", leader ? json::value(*leader) : json::value(nullptr)},
                      {"term", term},
                      {"commit_index", commit_index},
                      {"applied_index", applied_index},
                      {"members", std::move(list)}};
}

namespace {
std::string_view RoleName(int state) {
  switch (state) {
    case RAFT_LEADER:
      return "leader";
    case RAFT_FOLLOWER:
      return "follower";
    case RAFT_CANDIDATE:
      return "candidate";
    default:
      return "unavailable";
  }
}

Status RaftError(std::string_view what, int rv, const char* detail = nullptr) {
  std::string message = std::string(what) + ": " + raft_strerror(rv);
  if (detail && *detail) message += std::string(" (") + detail + ")";
  return Internal(std::move(message));
}
}  // namespace

class ReplicatedGroup::Impl : public std::enable_shared_from_this<Impl> {
 public:
  GroupOptions options;
  StateMachine* machine = nullptr;
  std::vector<std::string> members;  // canonical, sorted: a member's Raft id is its position + 1
  raft_id self_id = 0;

  std::unique_ptr<UvLoop> uv;
  std::unique_ptr<RaftTransport> transport;
  raft_io io{};
  raft_fsm fsm{};
  struct raft raft {};
  bool io_initialized = false, raft_initialized = false, running = false, closed = false;
  struct raft_transfer transfer {};
  bool transferring = false;
  std::shared_ptr<Channel> peers;  // the other members (WatchForStall)

  // A command proposed here, until libraft is done with its request.
  struct Proposal {
    struct raft_apply request {};
    Impl* impl = nullptr;
    uint64_t number = 0;
    std::optional<Result> result;      // set by Apply on this member
    std::function<void(Result)> done;  // cleared once called
    std::unique_ptr<asio::steady_timer> timer;
  };
  uint64_t next_number = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Proposal>> proposals;

  // Linearizable reads wait for a barrier appended after they arrived.
  struct Barrier {
    struct raft_barrier request {};
    Impl* impl = nullptr;
    std::vector<std::function<void(Status)>> readers;
    bool for_leadership = false;  // the barrier a new leader waits for before OnLeadership(true)
  };
  std::vector<std::unique_ptr<Barrier>> barriers;
  std::vector<std::function<void(Status)>> readers_waiting;  // for the next barrier
  bool reading = false;

  // Observed after every libuv iteration.
  mutable std::mutex mutex;
  GroupState published;
  bool leading = false;  // told the machine OnLeadership(true)
  bool leadership_barrier = false;
  uint64_t leader_changes = 0, applied_commands = 0, proposals_failed = 0;
  std::vector<std::function<void(const GroupState&)>> watchers;

  asio::any_io_executor executor() const { return uv->executor(); }
  GroupState PublishedState() const {
    std::lock_guard lock(mutex);
    return published;
  }

  // ---- The state machine, as libraft sees it ------------------------------
  // Entries carry {"m":member id,"n":proposal number,"c":command}: the member
  // that proposed a command finds its proposal when it applies it, whoever
  // is leader by then; others only apply.
  static int FsmApply(raft_fsm* fsm, const raft_buffer* buf, void** result) {
    Impl* self = static_cast<Impl*>(fsm->data);
    *result = nullptr;
    boost::system::error_code ec;
    json::value entry = json::parse(std::string_view(static_cast<const char*>(buf->base), buf->len), ec);
    const json::object* e = entry.if_object();
    if (ec || !e || !e->contains("c")) {
      Log().error("raft: skipped a log entry that is not a harpc command ({} bytes)", buf->len);
      return 0;
    }
    Result r = self->machine->Apply(e->at("c"));
    ++self->applied_commands;
    const json::value* m = e->if_contains("m");
    const json::value* n = e->if_contains("n");
    boost::system::error_code bad;
    if (m && n && m->to_number<raft_id>(bad) == self->self_id && !bad) {
      if (auto it = self->proposals.find(n->to_number<uint64_t>(bad)); !bad && it != self->proposals.end()) {
        it->second->result = std::move(r);
      }
    }
    return 0;
  }

  // libraft's disk layer writes buffers back to back and reads them back at
  // 8-byte boundaries: every buffer we give it is a multiple of 8 bytes.
  static size_t Padded(size_t n) { return (n + 7) / 8 * 8; }

  // A snapshot is [8-byte little-endian length][the machine's bytes][padding].
  static int FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
    Impl* self = static_cast<Impl*>(fsm->data);
    const std::string snapshot = self->machine->Snapshot();
    auto* buffer = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
    if (!buffer) return RAFT_NOMEM;
    buffer->len = 8 + Padded(snapshot.size());
    buffer->base = raft_calloc(1, buffer->len);
    if (!buffer->base) {
      raft_free(buffer);
      return RAFT_NOMEM;
    }
    auto* bytes = static_cast<unsigned char*>(buffer->base);
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(uint64_t{snapshot.size()} >> (8 * i));
    std::memcpy(bytes + 8, snapshot.data(), snapshot.size());  // NOLINT(bugprone-not-null-terminated-result): bytes
    *bufs = buffer;                                            // libraft owns both (an FSM of version 1)
    *n_bufs = 1;
    return 0;
  }

  static int FsmRestore(raft_fsm* fsm, raft_buffer* buf) {
    Impl* self = static_cast<Impl*>(fsm->data);
    const auto* bytes = static_cast<const unsigned char*>(buf->base);
    uint64_t size = 0;
    for (int i = 0; i < 8 && buf->len >= 8; ++i) size |= uint64_t{bytes[i]} << (8 * i);
    Status s = buf->len < 8 || size > buf->len - 8
                   ? DataLoss("a snapshot of " + std::to_string(buf->len) + " bytes is not one of harpc's")
                   : self->machine->Restore(std::string_view(reinterpret_cast<const char*>(bytes) + 8, size));
    if (!s.ok()) {
      Log().error("raft: cannot restore a snapshot: {}", s.ToString());
      return RAFT_MALFORMED;  // libraft keeps (and frees) the buffer
    }
    raft_free(buf->base);  // ours once restored
    return 0;
  }

  // ---- Proposals ------------------------------------------------------------
  static void Complete(Proposal& p, Result r) {
    if (!p.done) return;
    auto done = std::move(p.done);
    p.done = nullptr;
    if (p.timer) p.timer->cancel();
    done(std::move(r));
  }

  static void Applied(struct raft_apply* request, int status, void*) {
    auto* p = static_cast<Proposal*>(request->data);
    Impl* self = p->impl;
    if (status == 0 && p->result) {
      Complete(*p, std::move(*p->result));
    } else {
      ++self->proposals_failed;
      Complete(*p, Unavailable(status == 0 ? "the command was applied without an answer"
                                           : std::string("leadership lost before the command was committed (") +
                                                 raft_strerror(status) + "); it may still be applied"));
    }
    self->proposals.erase(p->number);
  }

  // On the loop.
  void StartProposal(const json::value& command, std::function<void(Result)> done) {
    if (!running) return done(Unavailable("the replicated group is not running"));
    if (raft_state(&raft) != RAFT_LEADER) return done(NotLeaderHere());
    auto p = std::make_unique<Proposal>();
    p->impl = this;
    p->number = next_number++;
    p->done = std::move(done);
    p->request.data = p.get();
    const std::string text = json::serialize(json::object{{"m", self_id}, {"n", p->number}, {"c", command}});
    // Padded with spaces, which JSON ignores (see Padded).
    raft_buffer buf{raft_malloc(Padded(text.size())), Padded(text.size())};
    if (!buf.base) return Complete(*p, ResourceExhausted("out of memory"));
    std::memcpy(buf.base, text.data(), text.size());
    std::memset(static_cast<char*>(buf.base) + text.size(), ' ', buf.len - text.size());
    if (int rv = raft_apply(&raft, &p->request, &buf, 1, &Impl::Applied); rv != 0) {
      ++proposals_failed;
      // Refused before libraft took the buffer (it checks leadership first).
      if (rv == RAFT_NOTLEADER) raft_free(buf.base);
      Complete(*p, rv == RAFT_NOTLEADER ? NotLeaderHere() : Unavailable(std::string("raft: ") + raft_strerror(rv)));
      return;
    }
    p->timer = std::make_unique<asio::steady_timer>(executor(), options.propose_timeout);
    p->timer->async_wait([raw = p.get(), timeout = options.propose_timeout](const boost::system::error_code& ec) {
      if (ec) return;
      // The entry stays in the log; if it commits later it is applied,
      // with nobody to answer. Callers retry with their idempotency key.
      Complete(*raw, Unavailable("not committed within " + std::to_string(timeout.count()) +
                                 " ms: the leader cannot reach a majority"));
    });
    proposals.emplace(p->number, std::move(p));
    uv->Kick();
  }

  Status NotLeaderHere() {
    raft_id id = 0;
    const char* address = nullptr;
    raft_leader(&raft, &id, &address);
    if (id == self_id || !address) return NotLeader("");
    return NotLeader(address);
  }

  // ---- Barriers: linearizable reads, and a new leader's catch-up -----------
  static void BarrierDone(struct raft_barrier* request, int status) {
    auto* b = static_cast<Barrier*>(request->data);
    Impl* self = b->impl;
    const Status s = status == 0
                         ? Status::Ok()
                         : Unavailable(std::string("leadership lost during a read (") + raft_strerror(status) + ")");
    if (b->for_leadership) {
      self->leadership_barrier = false;
      if (status == 0) self->SetLeading(raft_state(&self->raft) == RAFT_LEADER);
    } else {
      self->reading = false;
    }
    for (auto& reader : b->readers) reader(s);
    std::erase_if(self->barriers, [b](const auto& x) { return x.get() == b; });
    if (!self->readers_waiting.empty()) self->StartReadBarrier();
  }

  bool AppendBarrier(std::unique_ptr<Barrier> b) {
    b->impl = this;
    b->request.data = b.get();
    if (raft_barrier(&raft, &b->request, &Impl::BarrierDone) != 0) return false;
    barriers.push_back(std::move(b));
    uv->Kick();
    return true;
  }

  void StartReadBarrier() {
    if (reading || readers_waiting.empty()) return;
    auto b = std::make_unique<Barrier>();
    b->readers = std::exchange(readers_waiting, {});
    auto* raw = b.get();
    if (raft_state(&raft) != RAFT_LEADER || !AppendBarrier(std::move(b))) {
      const Status s = NotLeaderHere();
      for (auto& reader : raw->readers) reader(s);
      return;
    }
    reading = true;
  }

  void StartRead(std::function<void(Status)> done) {
    if (!running) return done(Unavailable("the replicated group is not running"));
    if (raft_state(&raft) != RAFT_LEADER) return done(NotLeaderHere());
    readers_waiting.push_back(std::move(done));
    StartReadBarrier();
  }

  // ---- Observing libraft ---------------------------------------------------
  void SetLeading(bool leader) {
    if (leader == leading) return;
    leading = leader;
    machine->OnLeadership(leader);
  }

  void Observe() {
    if (!running) return;
    const int state = raft_state(&raft);
    raft_id leader_id = 0;
    const char* leader_address = nullptr;
    raft_leader(&raft, &leader_id, &leader_address);
    GroupState now;
    now.role = RoleName(state);
    if (leader_id != 0 && leader_address) now.leader = leader_address;
    now.term = raft.current_term;
    now.commit_index = raft.commit_index;
    now.applied_index = raft_last_applied(&raft);
    now.members = members;
    bool changed;
    {
      std::lock_guard lock(mutex);
      changed = now.role != published.role || now.leader != published.leader;
      if (changed && now.leader && now.leader != published.leader) ++leader_changes;
      published = now;
    }
    if (changed) {
      Log().info("raft: {} is {} in term {}, leader {}", options.self, now.role, now.term,
                 now.leader ? *now.leader : "unknown");
      for (auto& watcher : watchers) watcher(now);
    }
    if (state != RAFT_LEADER) {
      SetLeading(false);
    } else if (!leading && !leadership_barrier) {
      // A new leader has every committed entry but may not have applied
      // them all: the machine hears it leads once a barrier of its own term
      // is applied, so leader-only work starts from the whole state.
      auto b = std::make_unique<Barrier>();
      b->for_leadership = true;
      leadership_barrier = AppendBarrier(std::move(b));
    }
  }

  // ---- A follower that stopped catching up -----------------------------------
  // Raft assumes a member never loses what it acknowledged: a leader that
  // saw this member match index N ignores its rejections below N and never
  // sends it those entries again (libraft's pipeline keeps match_index). A
  // member whose data dir was lost (restarted empty) is such a member. It
  // notices that it stalls — behind the group's commit index and not
  // advancing — and asks the leader to hand leadership to another member: a
  // new leader starts with no assumption about anyone and catches this one
  // up from its log or by snapshot.

  // On the leader: Raft.rejoin {"id":N,"last_index":L}.
  Result HandleRejoin(const json::value& params) {
    if (!running) return Unavailable("the replicated group is not running");
    if (raft_state(&raft) != RAFT_LEADER) return NotLeaderHere();
    boost::system::error_code bad;
    const json::object* p = params.if_object();
    const raft_id id = p && p->contains("id") ? p->at("id").to_number<raft_id>(bad) : 0;
    const raft_index last = p && p->contains("last_index") ? p->at("last_index").to_number<raft_index>(bad) : 0;
    if (bad || id == 0 || id == self_id || id > members.size())
      return InvalidArgument("\"id\" must name another member");
    // The follower that will lead next: the most up to date one that is not the rejoiner.
    raft_index believed = 0, best_match = 0;
    raft_id successor = 0;
    for (unsigned i = 0; i < raft.configuration.n; ++i) {
      const raft_id member = raft.configuration.servers[i].id;
      const raft_progress& progress = raft.leader_state.progress[i];
      if (member == id) believed = progress.match_index;
      if (member != id && member != self_id && progress.match_index >= best_match) {
        best_match = progress.match_index;
        successor = member;
      }
    }
    if (believed <= last) return json::value{{"transferred", false}};
    if (successor == 0) return Unavailable("no other member can take over the leadership");
    if (transferring) return json::value{{"transferred", true}};
    transfer = {};
    transfer.data = this;
    if (int rv = raft_transfer(&raft, &transfer, successor,
                               [](struct raft_transfer* t) { static_cast<Impl*>(t->data)->transferring = false; });
        rv != 0) {
      return Unavailable(std::string("leadership transfer: ") + raft_strerror(rv));
    }
    transferring = true;
    uv->Kick();
    Log().info("raft: member {} came back empty (the leader had it at index {}): handing leadership to member {}", id,
               believed, successor);
    return json::value{{"transferred", true}};
  }

  // On every member, while it runs: once a second, compares its log with
  // the commit index its peers report; behind and not advancing for two
  // looks in a row, it asks the leader to hand over (Raft.rejoin).
  asio::awaitable<void> WatchForStall() {
    asio::steady_timer timer(executor());
    raft_index last_seen = 0;
    int stalled = 0;
    while (running) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!running || raft_state(&raft) != RAFT_FOLLOWER) {
        stalled = 0;
        continue;
      }
      const std::shared_ptr<Channel> channel = peers;  // named: see the GCC 12 note in await_callback.h
      const json::value nothing = json::object{};
      CallResult peer = co_await channel->AsyncCall("Raft.status", nothing);
      if (!running) co_return;
      boost::system::error_code bad;
      const raft_index group_commit = peer.ok() ? peer.value.at("commit_index").to_number<raft_index>(bad) : 0;
      const raft_index mine = raft_last_index(&raft);
      stalled = !bad && group_commit > mine && mine == last_seen ? stalled + 1 : 0;
      last_seen = mine;
      if (stalled < 2) continue;
      stalled = 0;
      Log().warn("raft: {} is stalled at index {} behind the group's {}: asking the leader to hand over", options.self,
                 mine, group_commit);
      const json::value request{{"id", self_id}, {"last_index", mine}};
      CallResult r = co_await channel->AsyncCall("Raft.rejoin", request);
      if (!r.ok()) Log().info("raft: Raft.rejoin: {}", r.status.ToString());
    }
  }

  // ---- Lifecycle -------------------------------------------------------------
  Status StartOnLoop() {
    if (Status s = uv->Init(); !s.ok()) return s;
    if (int rv = raft_uv_init(&io, uv->get(), options.data_dir.c_str(), transport->get()); rv != 0) {
      return RaftError("raft disk layer in " + options.data_dir, rv, io.errmsg);
    }
    io_initialized = true;
    raft_uv_set_connect_retry_delay(&io, 100);
    fsm.version = 1;
    fsm.data = this;
    fsm.apply = &Impl::FsmApply;
    fsm.snapshot = &Impl::FsmSnapshot;
    fsm.restore = &Impl::FsmRestore;
    if (int rv = raft_init(&raft, &io, &fsm, self_id, options.self.c_str()); rv != 0) {
      return RaftError("raft", rv, raft_errmsg(&raft));
    }
    raft_initialized = true;
    raft_set_election_timeout(&raft, static_cast<unsigned>(options.election_timeout.count()));
    raft_set_heartbeat_timeout(&raft, static_cast<unsigned>(options.heartbeat_interval.count()));
    raft_set_snapshot_threshold(&raft, static_cast<unsigned>(options.snapshot_threshold));
    raft_set_snapshot_trailing(&raft, static_cast<unsigned>(options.snapshot_trailing));
    raft_set_pre_vote(&raft, true);

    // Every member bootstraps the same configuration (the sorted member
    // list); one that has a log already keeps it.
    raft_configuration conf;
    raft_configuration_init(&conf);
    for (size_t i = 0; i < members.size(); ++i) raft_configuration_add(&conf, i + 1, members[i].c_str(), RAFT_VOTER);
    int rv = raft_bootstrap(&raft, &conf);
    raft_configuration_close(&conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) return RaftError("raft bootstrap", rv, raft_errmsg(&raft));

    if (rv = raft_start(&raft); rv != 0) return RaftError("raft start", rv, raft_errmsg(&raft));
    running = true;
    uv->OnIteration([this] { Observe(); });
    uv->Start();
    if (members.size() > 1) {
      std::string others;
      for (const std::string& m : members) {
        if (m != options.self) others += (others.empty() ? "" : ",") + m;
      }
      ChannelOptions o;
      o.executor = executor();
      o.security = options.security;
      o.timeout = std::chrono::milliseconds(1000);
      o.lb = "rr";
      o.health.interval = std::chrono::milliseconds(0);
      peers = std::make_shared<Channel>("list://" + others, o);
      asio::co_spawn(executor(), WatchForStall(), asio::detached);
    }
    return Status::Ok();
  }

  // Closes libraft, then its disk layer and the libuv loop, then calls
  // `done`. With `driven`, on the Asio loop while it runs: libraft's close
  // completes in a later libuv iteration. Without, libuv runs alone here
  // (the Asio loop has stopped).
  void Close(bool driven, std::function<void()> done) {
    if (closed) {
      if (done) done();
      return;
    }
    closed = true;
    const bool was_running = running;
    running = false;
    for (auto& [n, p] : proposals) Complete(*p, Unavailable("the replicated group is stopping"));
    std::function<void()> finish = [this, done = std::move(done)] {
      if (io_initialized) raft_uv_close(&io);
      io_initialized = false;
      transport.reset();
      peers.reset();
      uv->Close();
      if (done) done();
    };
    if (!raft_initialized) return finish();
    raft.data = this;
    raft_close(&raft, &Impl::RaftClosed);
    if (driven && was_running) {
      after_raft_closed = std::move(finish);
      uv->Kick();
    } else {
      uv->RunUntil([this] { return raft_closed; }, std::chrono::seconds(5));
      finish();
    }
  }

  static void RaftClosed(struct raft* r) {
    auto* self = static_cast<Impl*>(r->data);
    self->raft_closed = true;
    // Inside a libuv iteration: the rest runs once it returned.
    if (self->after_raft_closed) asio::post(self->executor(), std::exchange(self->after_raft_closed, nullptr));
  }
  bool raft_closed = false;
  std::function<void()> after_raft_closed;

  // Whether the loop is being run by a thread (not stopped): closing must then happen there.
  bool LoopRunning() const {
    const asio::any_io_executor loop = executor();  // target() points into it: not into a temporary
    const auto* on_context = loop.target<asio::io_context::executor_type>();
    return on_context && !on_context->context().stopped();
  }

  std::string Metrics() const {
    GroupState s;
    uint64_t changes, applied, failed;
    {
      std::lock_guard lock(mutex);
      s = published;
      changes = leader_changes;
      applied = applied_commands;
      failed = proposals_failed;
    }
    std::string t;
    t += "# HELP harpc_group_role This member's Raft role (1 for the current one).\n# TYPE harpc_group_role gauge\n";
    for (std::string_view role : {"leader", "follower", "candidate", "unavailable"}) {
      t += "harpc_group_role{role=\"" + std::string(role) + "\"} " + (s.role == role ? "1" : "0") + "\n";
    }
    t += "# HELP harpc_group_term Current Raft term.\n# TYPE harpc_group_term gauge\n";
    t += "harpc_group_term " + std::to_string(s.term) + "\n";
    t += "# HELP harpc_group_commit_index Highest log index known to be committed.\n# TYPE harpc_group_commit_index "
         "gauge\n";
    t += "harpc_group_commit_index " + std::to_string(s.commit_index) + "\n";
    t += "# HELP harpc_group_applied_index Highest log index applied here.\n# TYPE harpc_group_applied_index gauge\n";
    t += "harpc_group_applied_index " + std::to_string(s.applied_index) + "\n";
    t += "# HELP harpc_group_leader_changes_total Leaders this member has seen take over.\n";
    t += "# TYPE harpc_group_leader_changes_total counter\nharpc_group_leader_changes_total " +
         std::to_string(changes) + "\n";
    t += "# HELP harpc_group_commands_applied_total Commands applied to the state machine here.\n";
    t += "# TYPE harpc_group_commands_applied_total counter\nharpc_group_commands_applied_total " +
         std::to_string(applied) + "\n";
    t += "# HELP harpc_group_proposals_failed_total Proposals made here that were not committed.\n";
    t += "# TYPE harpc_group_proposals_failed_total counter\nharpc_group_proposals_failed_total " +
         std::to_string(failed) + "\n";
    return t;
  }
};

ReplicatedGroup::ReplicatedGroup(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

// Stop posts to the group's loop and waits: only that allocation can throw,
// and out of memory here ends the process either way.
ReplicatedGroup::~ReplicatedGroup() { Stop(); }  // NOLINT(bugprone-exception-escape)

Status ReplicatedGroup::Open(GroupOptions options, StateMachine* machine, std::unique_ptr<ReplicatedGroup>* out) {
  if (!machine) return InvalidArgument("a replicated group needs a state machine");
  std::string self;
  if (Status s = CanonicalNumericAddress(options.self, &self); !s.ok()) {
    return InvalidArgument("group member address '" + options.self + "': " + s.message());
  }
  std::vector<std::string> members;
  for (const std::string& m : options.members) {
    std::string canonical;
    if (Status s = CanonicalNumericAddress(m, &canonical); !s.ok()) {
      return InvalidArgument("group member address '" + m + "': " + s.message());
    }
    if (std::find(members.begin(), members.end(), canonical) != members.end()) {
      return InvalidArgument("group member " + canonical + " is listed twice");
    }
    members.push_back(std::move(canonical));
  }
  if (members.empty() || members.size() > 9)
    return InvalidArgument("a group has 1 to 9 members (3 or 5 to survive failures)");
  std::sort(members.begin(), members.end());
  auto me = std::find(members.begin(), members.end(), self);
  if (me == members.end()) return InvalidArgument("this member's address " + self + " is not in the group's list");
  if (options.data_dir.empty()) return InvalidArgument("a group member needs a data dir for its Raft log");
  if (options.heartbeat_interval.count() <= 0 || options.election_timeout <= options.heartbeat_interval) {
    return InvalidArgument("the election timeout must exceed the heartbeat interval (both > 0)");
  }
  if (options.snapshot_threshold == 0) return InvalidArgument("snapshot_threshold must be at least 1");
  if (options.max_message_bytes < 64 * 1024) return InvalidArgument("max_message_bytes must be at least 64 KiB");
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Internal("cannot create the Raft data dir " + options.data_dir + ": " + ec.message());
  auto impl = std::make_shared<Impl>();
  impl->self_id = static_cast<raft_id>(me - members.begin()) + 1;
  options.self = self;
  impl->options = std::move(options);
  impl->members = std::move(members);
  impl->machine = machine;
  impl->published.role = "unavailable";
  impl->published.members = impl->members;
  out->reset(new ReplicatedGroup(std::move(impl)));
  return Status::Ok();
}

Status ReplicatedGroup::Attach(Server& server) {
  if (impl_->uv) return FailedPrecondition("the group is attached already");
  impl_->uv = std::make_unique<UvLoop>(server.executor());
  impl_->transport =
      std::make_unique<RaftTransport>(*impl_->uv, impl_->options.security, impl_->options.max_message_bytes);
  if (Status s = impl_->transport->Attach(server); !s.ok()) return s;
  std::weak_ptr<Impl> weak = impl_;
  if (Status s = server.AddAsyncMethod(
          "Raft.rejoin",
          [weak](json::value params, CallContext&) -> asio::awaitable<Result> {
            auto impl = weak.lock();
            if (!impl) co_return Unavailable("the replicated group is gone");
            // Raft lives on the group's loop, which need not be this call's.
            const std::function<void(std::function<void(Result)>)> start = [impl, &params](auto done) {
              asio::post(impl->executor(), [impl, params, done] { done(impl->HandleRejoin(params)); });
            };
            co_return co_await AwaitCallback<Result>(start);
          },
          {.idempotent = true, .role = Role::kPeer});
      !s.ok()) {
    return s;
  }
  // The same as GET /status's "group", as a method (for channels: tools, the demo).
  if (Status s = server.AddMethod("Raft.status",
                                  [weak](const json::value&, CallContext&) -> Result {
                                    auto impl = weak.lock();
                                    if (!impl) return Unavailable("the replicated group is gone");
                                    return impl->PublishedState().ToJson();
                                  },
                                  {.idempotent = true});
      !s.ok()) {
    return s;
  }
  if (Status s = server.AddStatus("group",
                                  [weak]() -> json::value {
                                    auto impl = weak.lock();
                                    return impl ? impl->PublishedState().ToJson() : json::value(nullptr);
                                  });
      !s.ok()) {
    return s;
  }
  return server.AddMetrics([weak] {
    auto impl = weak.lock();
    return impl ? impl->Metrics() : std::string();
  });
}

Status ReplicatedGroup::Start(Server& server) {
  if (!impl_->uv) return FailedPrecondition("Attach the group to the server before starting it");
  // libuv writes to its end of a socket pair whose other end may be gone
  // (the peer closed): that must be an error, not the process's death.
  std::signal(SIGPIPE, SIG_IGN);
  std::promise<Status> started;
  asio::post(impl_->executor(), [impl = impl_, &started] { started.set_value(impl->StartOnLoop()); });
  Status s = started.get_future().get();
  if (s.ok()) {
    Log().info("raft: {} started as member {} of {}", impl_->options.self, impl_->self_id, impl_->members.size());
  }
  return s;
}

void ReplicatedGroup::Stop() {
  if (!impl_->uv || impl_->closed) return;
  if (impl_->LoopRunning()) {
    auto closed = std::make_shared<std::promise<void>>();
    asio::post(impl_->executor(),
               [impl = impl_, closed] { impl->Close(/*driven=*/true, [closed] { closed->set_value(); }); });
    if (closed->get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready) return;
    Log().warn("raft: the server's loop did not close the group within 10 s; closing it here");
  }
  impl_->Close(/*driven=*/false, nullptr);
}

asio::awaitable<Result> ReplicatedGroup::Propose(json::value command) {
  std::shared_ptr<Impl> impl = impl_;
  const std::function<void(std::function<void(Result)>)> start = [impl, &command](std::function<void(Result)> done) {
    asio::post(impl->executor(), [impl, command = std::move(command), done = std::move(done)]() mutable {
      impl->StartProposal(command, std::move(done));
    });
  };
  co_return co_await AwaitCallback<Result>(start);
}

asio::awaitable<Status> ReplicatedGroup::Read() {
  std::shared_ptr<Impl> impl = impl_;
  const std::function<void(std::function<void(Status)>)> start = [impl](std::function<void(Status)> done) {
    asio::post(impl->executor(), [impl, done = std::move(done)]() mutable { impl->StartRead(std::move(done)); });
  };
  co_return co_await AwaitCallback<Status>(start);
}

GroupState ReplicatedGroup::state() const { return impl_->PublishedState(); }

bool ReplicatedGroup::is_leader() const { return state().role == "leader"; }

void ReplicatedGroup::OnChange(std::function<void(const GroupState&)> callback) {
  impl_->watchers.push_back(std::move(callback));
}

}  // namespace harpc
