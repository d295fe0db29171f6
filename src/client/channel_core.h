// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The state of a channel that lives on its event loop: endpoints and their
// health checkers, the resolver, the balancer, the retry budget, recent
// latencies. Every member is touched on the loop thread only, except the
// atomic counters.
//
// Lifetime: the core is shared. Every coroutine it starts (health checks,
// hedged attempts, a call run through ExecuteOn) holds it, and the resolver's
// listener holds it weakly, so a coroutine still running after the Channel
// went away never touches freed memory. Stop() (on the loop) cancels the
// background coroutines; calls in flight finish within their deadlines.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include "balance/load_balancer.h"
#include "client/http_exchange.h"
#include "client/recent_latency.h"
#include "client/resolver.h"
#include "client/retry_budget.h"
#include "harpc/channel.h"
#include "health/endpoint.h"
#include "util/loop_liveness.h"
#include "util/stop_signal.h"

namespace harpc {

// Whether the calling thread is running `executor`'s loop now. Known for
// io_context executors (what harpc's servers and channels use); false for others.
inline bool RunningInThisThread(const boost::asio::any_io_executor& executor) {
  const auto* io = executor.target<boost::asio::io_context::executor_type>();
  return io && io->running_in_this_thread();
}

// A call as it goes on the wire: the same request for every attempt.
struct WireCall {
  std::string method;  // POST /rpc/<method> (AnswerForm::kPlain); else names the call in logs
  std::string body;
  AnswerForm form = AnswerForm::kPlain;  // kPlain goes to /rpc/<method>, the others to jsonrpc_path
  bool idempotent = false;               // safe to run twice
};

class ChannelCore : public std::enable_shared_from_this<ChannelCore> {
 public:
  using Clock = std::chrono::steady_clock;

  // `owned_loop`: the private loop `executor` belongs to, if the channel made
  // one: the core keeps it alive as long as its own timers and sockets.
  ChannelCore(boost::asio::any_io_executor executor, ChannelOptions options,
              std::shared_ptr<boost::asio::io_context> owned_loop = nullptr);
  ~ChannelCore();

  // Checks the options and makes the balancer; call once before anything else.
  // `target` names the channel in errors.
  Status Init(std::string_view target);
  // Starts `resolver` (on the loop); each membership it reports goes to
  // UpdateEndpoints. Returns the first membership's verdict when the resolver
  // gave one at once (list://), else OK.
  Status StartResolver(std::unique_ptr<Resolver> resolver);
  // Stops the resolver and the health checks, and wakes calls waiting for a
  // first membership (they fail CANCELLED). On the loop; idempotent.
  void Stop();
  // Replaces the membership: endpoints that stay keep their state (and get the
  // new weight), new ones start their health checks (and a slow start unless
  // this is the first membership), gone ones stop theirs.
  Status UpdateEndpoints(std::vector<EndpointSpec> specs);

  // The wire form of a call of `method` (Protocol::kHarpc or kJsonRpc), of
  // a JSON-RPC 2.0 notification, or of a batch whose calls get the ids
  // *first_id, *first_id + 1, ... in order (notifications none). Fails
  // INVALID_ARGUMENT on what the protocol cannot carry. Any thread.
  Status Prepare(const std::string& method, const boost::json::value& params, const CallOptions& options,
                 WireCall* out);
  Status PrepareNotification(const std::string& method, const boost::json::value& params, const CallOptions& options,
                             WireCall* out);
  Status PrepareBatch(const std::vector<BatchCall>& calls, const CallOptions& options, WireCall* out,
                      uint64_t* first_id);

  // One call with everything: balancing, retries, hedging, health feedback.
  // Before the resolver gave a first membership, a call waits for it (until
  // its deadline, then UNAVAILABLE "no endpoint known yet").
  // `options` must outlive the returned awaitable.
  boost::asio::awaitable<CallResult> Execute(WireCall call, const CallOptions& options);

  // Runs Execute on `core`'s loop (inline when the caller runs on its thread), holding
  // the core and the arguments until it finishes; resumes on the caller's executor.
  static boost::asio::awaitable<CallResult> ExecuteOn(std::shared_ptr<ChannelCore> core, WireCall call,
                                                      CallOptions options);

  std::vector<EndpointInfo> Snapshot() const;
  Channel::Counters counters() const;
  const ChannelOptions& options() const { return options_; }
  const boost::asio::any_io_executor& executor() const { return executor_; }
  // The loop for work posted from another thread: a shared loop (a server's)
  // may be destroyed before the core, and then nothing is posted.
  const LoopLiveness& loop() const { return loop_; }

 private:
  struct CallState;
  struct Attempt;

  // Waits until UpdateEndpoints runs or `deadline` passes.
  boost::asio::awaitable<void> WaitForMembership(Clock::time_point deadline);
  // The remembered leader first (when not excluded), else the balancer's
  // choice; `unreachable` (endpoints this call could not connect to) come last.
  Endpoint* PickEndpoint(const std::vector<const Endpoint*>& excluded, uint64_t hash,
                         const std::vector<const Endpoint*>& unreachable);
  // The member with this address; nullptr if it is not one.
  Endpoint* EndpointAt(std::string_view address) const;
  // The remembered leader of a replicated group, while it is a member and
  // selectable (healthy, not ejected, circuit not open); else it is forgotten.
  Endpoint* Leader(Clock::time_point now);
  // What an attempt's outcome says of the leader: a NOT_LEADER answer names
  // it (or says none is known); a transport failure of the leader, or its
  // UNAVAILABLE, makes the channel forget it.
  void NoteLeader(const Endpoint& endpoint, const struct AttemptOutcome& outcome);
  // Registers an attempt on `endpoint` (in flight from now on); returns its index.
  size_t AddAttempt(CallState& call, Endpoint* endpoint, bool hedge);
  boost::asio::awaitable<void> RunAttempt(std::shared_ptr<CallState> call, size_t index);
  void RecordOutcome(Endpoint& endpoint, const struct AttemptOutcome& outcome, std::chrono::microseconds latency);
  bool MayEject() const;
  std::chrono::microseconds HedgeDelay();
  bool IsIdempotent(const std::string& method, const CallOptions& call) const;
  // The next `n` JSON-RPC 2.0 ids; the first is returned.
  uint64_t TakeJsonRpcIds(uint64_t n) { return next_jsonrpc_id_.fetch_add(n, std::memory_order_relaxed) + 1; }
  static void OnHeartbeatChange(Endpoint& endpoint, HeartbeatState::State from, HeartbeatState::State to);

  std::shared_ptr<boost::asio::io_context> owned_loop_;  // first: destroyed after every I/O object below
  boost::asio::any_io_executor executor_;
  LoopLiveness loop_;
  ChannelOptions options_;
  EndpointPolicy policy_;
  std::unique_ptr<LoadBalancer> balancer_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::vector<StopSignal> health_checks_;  // one per endpoint, same order
  std::unique_ptr<Resolver> resolver_;
  bool has_members_ = false;
  bool stopped_ = false;
  std::string target_;
  // Calls waiting for the first membership; UpdateEndpoints wakes them.
  std::vector<std::shared_ptr<boost::asio::steady_timer>> membership_waiters_;
  std::unordered_set<std::string> idempotent_methods_;
  RetryBudget budget_;
  RecentLatency recent_;

  // The leader's address, learnt from NOT_LEADER answers (docs/client.md,
  // "Leader routing"); empty when none is known.
  std::string leader_;

  std::atomic<uint64_t> calls_{0}, retries_{0}, hedges_{0}, budget_exhausted_{0}, leader_redirects_{0};
  std::atomic<uint64_t> next_jsonrpc_id_{0};  // the "id" of JSON-RPC 2.0 requests
};

}  // namespace harpc
