// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// How one call runs (docs/architecture.md, "the flow of a call"): pick an endpoint, send an
// attempt, and while it runs wait for the first of: its answer, the hedge
// delay (then a backup attempt goes to another endpoint), the deadline.
// Failed attempts are retried on endpoints not yet tried, when that is safe:
//
//   failure                                   retried when
//   not sent (refused, connect failed)        always
//   sent, no answer (timeout, reset)          idempotent method or idempotency key
//   answered UNAVAILABLE / RESOURCE_EXHAUSTED  idempotent method or idempotency key
//   any other answer                          never: it is the answer
//
// Every retry and hedge is paid from the retry budget. The first good answer
// wins; attempts still running are cancelled.
//
// A NOT_LEADER answer (a replicated group's follower) is neither a failure
// nor a retry: the method did not run. The call hops to the leader it names
// at once, or, when no leader is known (an election), to another member
// after a short backoff, until the call's deadline; the channel remembers
// the leader for later calls.
// A leader that is not one of the channel's endpoints is never dialled: that
// answer counts as a retryable UNAVAILABLE.
#include <algorithm>
#include <deque>
#include <limits>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "client/channel_core.h"
#include "client/http_exchange.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/random_id.h"

namespace harpc {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct ChannelCore::Attempt {
  std::shared_ptr<Endpoint> endpoint;  // alive even if the endpoint leaves mid-call
  bool hedge = false;
  bool done = false;
  bool handled = false;
  bool cancelled = false;
  std::shared_ptr<http1::PendingRequest> request;  // set while the request is out
  TraceContext trace;                              // this attempt's span, a child of the call's
  AttemptOutcome outcome;
};

// Shared by a call and its attempts, which may outlive the call when cancelled.
struct ChannelCore::CallState {
  explicit CallState(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;  // cancelled by each finishing attempt
  WireCall wire;
  std::string idempotency_key, request_id;
  TraceContext trace;  // the span the call is made for: CallOptions::trace, or a new trace
  Clock::time_point deadline;
  std::deque<Attempt> attempts;  // a deque: references stay valid as attempts are added
  int in_flight = 0;
};

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// The wait before a hop when no leader is known, doubling from the first to the last.
constexpr auto kFirstLeaderBackoff = std::chrono::milliseconds(10);
constexpr auto kLastLeaderBackoff = std::chrono::milliseconds(100);
// A call without a deadline makes at most this many NOT_LEADER hops per
// endpoint (with 3 members, about 3.5 s of waiting); a call with one hops
// until it: an election under load can take longer (split votes, a member
// restarting), and giving up early would fail work the group was about to take.
constexpr int kHopsPerEndpoint = 12;

bool Contains(const std::vector<const Endpoint*>& endpoints, const Endpoint* e) {
  return std::find(endpoints.begin(), endpoints.end(), e) != endpoints.end();
}

bool NotLeaderAnswer(const AttemptOutcome& o) {
  return o.stage == AttemptStage::kAnswered && o.status.code() == StatusCode::kNotLeader;
}

bool ServerFault(const AttemptOutcome& o) {
  if (o.stage != AttemptStage::kAnswered) return true;
  switch (o.status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

bool Retryable(const AttemptOutcome& o, bool safe_after_send) {
  switch (o.stage) {
    case AttemptStage::kNotSent:
      return o.status.code() != StatusCode::kDeadlineExceeded;
    case AttemptStage::kMaybeSent:
      return safe_after_send && o.status.code() != StatusCode::kDeadlineExceeded;
    case AttemptStage::kAnswered:
      return safe_after_send &&
             (o.status.code() == StatusCode::kUnavailable || o.status.code() == StatusCode::kResourceExhausted);
  }
  return false;
}
}  // namespace

bool ChannelCore::IsIdempotent(const std::string& method, const CallOptions& call) const {
  return call.idempotent || idempotent_methods_.contains(method);
}

std::chrono::microseconds ChannelCore::HedgeDelay() {
  if (options_.hedge.use_p95) {
    auto p95 = recent_.Quantile(0.95, Clock::now());
    // Until enough latencies are known, a fixed delay (if any) stands in.
    return p95.count() > 0 ? p95 : std::chrono::microseconds(options_.hedge.after);
  }
  return options_.hedge.after;
}

Endpoint* ChannelCore::EndpointAt(std::string_view address) const {
  for (const auto& e : endpoints_) {
    if (e->address() == address) return e.get();
  }
  return nullptr;
}

Endpoint* ChannelCore::Leader(Clock::time_point now) {
  if (leader_.empty()) return nullptr;
  Endpoint* leader = EndpointAt(leader_);
  if (!leader || !leader->Selectable(now)) {
    leader_.clear();
    return nullptr;
  }
  return leader;
}

void ChannelCore::NoteLeader(const Endpoint& e, const AttemptOutcome& o) {
  if (NotLeaderAnswer(o)) {
    const std::string& named = o.status.leader();
    if (named != e.address() && EndpointAt(named)) {
      leader_ = named;
    } else {
      leader_.clear();
    }
  } else if (leader_ == e.address() &&
             (o.stage != AttemptStage::kAnswered || o.status.code() == StatusCode::kUnavailable)) {
    leader_.clear();
  }
}

Endpoint* ChannelCore::PickEndpoint(const std::vector<const Endpoint*>& excluded, uint64_t hash,
                                    const std::vector<const Endpoint*>& unreachable) {
  const auto now = Clock::now();
  if (Endpoint* leader = Leader(now); leader && !Contains(excluded, leader) && leader->breaker().TryAcquire(now)) {
    return leader;
  }
  std::vector<const Endpoint*> skip = excluded;
  PickRequest request{.now = now, .excluded = &skip, .honour_health = true, .hash = hash};
  for (size_t i = 0; i <= endpoints_.size(); ++i) {
    Endpoint* e = balancer_->Pick(request);
    if (!e) break;
    if (e->breaker().TryAcquire(now)) return e;
    skip.push_back(e);  // half-open with every trial slot taken
  }
  // Every healthy endpoint was tried already: a healthy one again beats a
  // sick one, but not one that this call could not reach (a refused connect
  // says nobody listens there; asking it again at once only burns an attempt).
  request.excluded = &unreachable;
  if (Endpoint* e = balancer_->Pick(request)) return e;
  // Panic mode: nothing is selectable, so spread over all rather than fail everything.
  request.excluded = &excluded;
  request.honour_health = false;
  if (Endpoint* e = balancer_->Pick(request)) return e;
  request.excluded = &unreachable;
  if (Endpoint* e = balancer_->Pick(request)) return e;
  request.excluded = nullptr;
  return balancer_->Pick(request);
}

size_t ChannelCore::AddAttempt(CallState& call, Endpoint* endpoint, bool hedge) {
  call.attempts.push_back({.endpoint = endpoint->shared_from_this(), .hedge = hedge, .trace = call.trace.NewChild()});
  ++call.in_flight;
  endpoint->AddInFlight(1);
  endpoint->picks.fetch_add(1, std::memory_order_relaxed);
  return call.attempts.size() - 1;
}

asio::awaitable<void> ChannelCore::RunAttempt(std::shared_ptr<CallState> call, size_t index) {
  Attempt& a = call->attempts[index];
  Endpoint& endpoint = *a.endpoint;
  const auto started = Clock::now();
  AttemptOutcome outcome;
  {
    // Also when the caller's cancellation (util/stop_signal.h) ends the
    // coroutine with an exception at a co_await below.
    struct InFlight {
      Endpoint& endpoint;
      CallState& call;
      ~InFlight() {
        endpoint.AddInFlight(-1);
        --call.in_flight;
      }
    } in_flight{endpoint, *call};
    if (a.cancelled) {
      outcome = {.status = Status(StatusCode::kCancelled, "attempt cancelled"), .stage = AttemptStage::kNotSent};
    } else {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(call->deadline - Clock::now());
      RequestHeaders headers{.deadline_in = std::max(left, std::chrono::milliseconds(1)),
                             .idempotency_key = call->idempotency_key,
                             .request_id = call->request_id,
                             .bearer_token = options_.security.bearer_token,
                             .trace = &a.trace};
      const WireCall& wire = call->wire;
      std::string request = wire.form == AnswerForm::kPlain
                                ? FormatRequest(endpoint.address(), wire.method, wire.body, headers)
                                : FormatJsonRpcRequest(endpoint.address(), options_.jsonrpc_path, wire.body, headers);
      const http1::ClientResponse response = co_await endpoint.pool().Exchange(
          std::move(request), call->deadline, AnswerLimits(options_.max_response_bytes), &a.request);
      a.request.reset();
      outcome = OutcomeOf(response, endpoint.address(), wire.form, options_.connect_timeout);
    }
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  if (!a.cancelled) {
    RecordOutcome(endpoint, outcome, elapsed);
    NoteLeader(endpoint, outcome);
  } else {
    // It lost a hedge race: at least this slow. least_time should see that.
    endpoint.RecordLatencyAtLeast(elapsed, Clock::now());
  }
  a.outcome = std::move(outcome);
  a.done = true;
  call->wake.cancel();
}

void ChannelCore::RecordOutcome(Endpoint& e, const AttemptOutcome& o, std::chrono::microseconds latency) {
  const auto now = Clock::now();
  const bool success = !ServerFault(o);
  (success ? e.successes : e.failures).fetch_add(1, std::memory_order_relaxed);
  if (o.peer_gone && e.heartbeat().OnConnectionFailure(now)) {
    OnHeartbeatChange(e, HeartbeatState::State::kHealthy, e.heartbeat().state());
  }
  if (e.outlier().OnResult(success, now, MayEject())) {
    e.ejections.fetch_add(1, std::memory_order_relaxed);
    Log().info("endpoint {}: ejected (ejection #{}) until {} ms from now", e.address(), e.outlier().ejections(),
               std::chrono::duration_cast<std::chrono::milliseconds>(e.outlier().ejected_until() - now).count());
  }
  if (e.breaker().OnResult(success, now)) {
    Log().info("endpoint {}: circuit {}", e.address(), CircuitStateName(e.breaker().state(now)));
  }
  // Latencies of answers and of timeouts (a hung server is slow, not fast).
  if (o.stage == AttemptStage::kAnswered || o.status.code() == StatusCode::kDeadlineExceeded) {
    e.RecordLatency(latency, now);
  }
  balancer_->Feedback(e, {.latency = latency, .success = success});
}

asio::awaitable<void> ChannelCore::WaitForMembership(Clock::time_point deadline) {
  auto timer = std::make_shared<asio::steady_timer>(executor_, deadline);
  membership_waiters_.push_back(timer);
  co_await timer->async_wait(kNoThrow);
  std::erase(membership_waiters_, timer);
}

asio::awaitable<CallResult> ChannelCore::Execute(WireCall wire, const CallOptions& options) {
  CallResult result;
  auto now = Clock::now();
  calls_.fetch_add(1, std::memory_order_relaxed);
  budget_.OnCall(now);

  const auto timeout = options.timeout.count() > 0 ? options.timeout : options_.timeout;
  const bool failfast = options_.fault_mode == FaultMode::kFailfast;
  const int max_attempts = failfast ? 1 : 1 + options_.retry.max_retries;
  const bool idempotent = wire.idempotent;
  const bool batch = wire.form == AnswerForm::kJsonRpcBatch;

  auto call = std::make_shared<CallState>(executor_);
  call->wire = std::move(wire);
  const std::string& method = call->wire.method;
  // Saturating: a handler's ctx.remaining() is milliseconds::max() when its
  // caller gave no deadline, and passed on it means none.
  const bool endless = timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
  call->deadline = endless ? Clock::time_point::max() : now + timeout;
  call->request_id = options.request_id;
  call->trace = options.trace.valid() ? options.trace : TraceContext::NewTrace();
  call->idempotency_key = options.idempotency_key;
  // A batch goes without one: a key names one call, and a server would see
  // its calls of one method as one call repeated with other params.
  if (call->idempotency_key.empty() && !idempotent && options_.idempotency_keys && max_attempts > 1 && !batch) {
    call->idempotency_key = RandomId();
  }
  const bool safe_after_send = idempotent || !call->idempotency_key.empty();
  const bool hedging =
      max_attempts > 1 && safe_after_send && (options_.hedge.after.count() > 0 || options_.hedge.use_p95);
  const uint64_t hash = options.hash_key.empty() ? 0 : StableHash(options.hash_key);

  std::vector<const Endpoint*> tried;
  std::vector<const Endpoint*> unreachable;  // endpoints that failed at transport level in this call
  // Picks an endpoint not tried yet and adds an attempt for it.
  auto prepare = [&](bool hedge) -> std::optional<size_t> {
    Endpoint* e = PickEndpoint(tried, hash, unreachable);
    if (!e) return std::nullopt;
    tried.push_back(e);
    return AddAttempt(*call, e, hedge);
  };

  Status last_error = Unavailable("no endpoint to call");
  if (stopped_) {
    result.status = Status(StatusCode::kCancelled, "the channel was destroyed");
    co_return result;
  }
  Attempt* answer = nullptr;
  auto hedge_at = Clock::time_point::max();
  if (!has_members_) {  // the resolver has not answered yet
    co_await WaitForMembership(call->deadline);
    if (stopped_) {
      last_error = Status(StatusCode::kCancelled, "the channel was destroyed");
    } else if (!has_members_) {
      Status why = resolver_ ? resolver_->WhyNoMembership() : Status::Ok();
      last_error = why.ok() ? Unavailable("no endpoint known yet for " + target_) : std::move(why);
    }
    now = Clock::now();
  }
  // From here: the wait for a first membership is not the servers' latency
  // (it would inflate the p95 that hedging waits for).
  const auto call_started = now;
  // NOT_LEADER hops: not retries (the method did not run), yet bounded: by
  // the deadline, or by a count when there is none.
  const int max_hops = endless ? kHopsPerEndpoint * static_cast<int>(std::max<size_t>(endpoints_.size(), 1))
                               : std::numeric_limits<int>::max();
  int hops = 0;                            // NOT_LEADER answers met
  int hop_attempts = 0;                    // attempts sent after them (not counted against max_attempts)
  auto hop_at = Clock::time_point::max();  // when the next hop goes
  std::shared_ptr<Endpoint> hop_to;        // where; null: another member, by the balancer
  std::vector<const Endpoint*> hop_avoid;  // what that other member must not be, when it can
  auto backoff = std::chrono::duration_cast<Clock::duration>(kFirstLeaderBackoff);
  // Plans the hop after a NOT_LEADER answer from `from`.
  auto plan_hop = [&](Attempt& a) {
    const Endpoint* from = a.endpoint.get();
    Endpoint* leader = EndpointAt(a.outcome.status.leader());
    const auto at = Clock::now();
    const bool known = leader && leader != from && leader->Selectable(at) && !Contains(unreachable, leader);
    // A leader this call still waits on (a frozen or partitioned one that the
    // others name until they elect): a second attempt there would only wait
    // on the same silence. Ask another member again until one names a new leader.
    const bool awaited = known && std::any_of(call->attempts.begin(), call->attempts.end(),
                                              [&](const Attempt& b) { return !b.done && b.endpoint.get() == leader; });
    if (known && !awaited) leader_redirects_.fetch_add(1, std::memory_order_relaxed);
    // Straight to a leader named for the first time; after a backoff when no
    // leader is known, or when this call met the named one already (stale news).
    const bool wait = !known || Contains(tried, leader);
    hop_to = known && !awaited ? leader->shared_from_this() : nullptr;
    hop_avoid = unreachable;
    hop_avoid.push_back(from);
    if (awaited) hop_avoid.push_back(leader);
    hop_at = wait ? at + backoff : at;
    if (wait) backoff = std::min(2 * backoff, std::chrono::duration_cast<Clock::duration>(kLastLeaderBackoff));
  };
  std::optional<size_t> next = has_members_ ? prepare(false) : std::nullopt;
  if (next) {
    if (hedging) {
      auto delay = HedgeDelay();
      if (delay.count() > 0) hedge_at = now + delay;
    }
    for (;;) {
      if (next) {
        // Without hedging, attempts run one at a time, inline; with it, beside the call.
        if (hedging) {
          asio::co_spawn(
              executor_, [self = shared_from_this(), call, i = *next] { return self->RunAttempt(call, i); },
              asio::detached);
        } else {
          co_await RunAttempt(call, *next);
        }
        next.reset();
      }
      for (Attempt& a : call->attempts) {
        if (!a.done || a.handled) continue;
        a.handled = true;
        if (a.outcome.stage != AttemptStage::kAnswered) unreachable.push_back(a.endpoint.get());
        if (NotLeaderAnswer(a.outcome)) {
          result.endpoint = a.endpoint->address();
          const std::string& named = a.outcome.status.leader();
          if (!named.empty() && !EndpointAt(named)) {
            // Not dialled: a member's view may be wrong, or the target lists other addresses.
            last_error = Unavailable(a.endpoint->address() + " answered NOT_LEADER naming " + named +
                                     ", which is not an endpoint of " + target_);
            continue;  // retried on another endpoint like any UNAVAILABLE (the method did not run)
          }
          last_error = a.outcome.status;
          ++hops;
          plan_hop(a);
          continue;
        }
        if (!Retryable(a.outcome, safe_after_send)) {
          answer = &a;
          break;
        }
        last_error = a.outcome.status;
        result.endpoint = a.endpoint->address();
      }
      if (answer) break;
      if (hops > max_hops) {
        // No more hops; an attempt still running may yet answer.
        hop_at = Clock::time_point::max();
        hop_to.reset();
        if (call->in_flight == 0) {
          last_error = Unavailable("no leader found: " + std::to_string(hops) +
                                   " NOT_LEADER answers in this call; last: " + last_error.ToString());
          break;
        }
      }
      now = Clock::now();
      if (now >= call->deadline && hops > 0 && call->in_flight == 0 && NotLeaderAnswer(call->attempts.back().outcome)) {
        // Asked until the deadline, and the method ran nowhere: the group had no leader.
        last_error = Unavailable("no leader found before the deadline of " + std::to_string(timeout.count()) +
                                 " ms: " + std::to_string(hops) +
                                 " NOT_LEADER answers in this call; last: " + last_error.ToString());
        break;
      }
      if (now >= call->deadline) {
        last_error =
            DeadlineExceeded("deadline of " + std::to_string(timeout.count()) + " ms passed after " +
                             std::to_string(call->attempts.size()) + " attempt(s); last: " + last_error.ToString());
        break;
      }
      if (now >= hop_at) {
        hop_at = Clock::time_point::max();
        Endpoint* e = hop_to ? hop_to.get() : PickEndpoint(hop_avoid, hash, unreachable);
        hop_to.reset();
        if (e) {
          if (!Contains(tried, e)) tried.push_back(e);
          next = AddAttempt(*call, e, false);
          ++hop_attempts;
          continue;
        }
      }
      const bool attempts_left = static_cast<int>(call->attempts.size()) - hop_attempts < max_attempts;
      if (call->in_flight == 0 && hop_at == Clock::time_point::max()) {  // every attempt failed in a retryable way
        if (!attempts_left) break;
        if (!budget_.TryRetry(now)) {
          budget_exhausted_.fetch_add(1, std::memory_order_relaxed);
          last_error = Status(last_error.code(), last_error.message() + " (retry budget exhausted)");
          break;
        }
        retries_.fetch_add(1, std::memory_order_relaxed);
        next = prepare(false);
        if (!next) break;
        continue;
      }
      if (now >= hedge_at) {
        hedge_at = Clock::time_point::max();
        if (attempts_left && budget_.TryRetry(now)) {
          next = prepare(true);
          if (next) {
            hedges_.fetch_add(1, std::memory_order_relaxed);
            result.hedged = true;
          }
        } else if (attempts_left) {
          budget_exhausted_.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      call->wake.expires_at(std::min({call->deadline, hedge_at, hop_at}));
      co_await call->wake.async_wait(kNoThrow);
    }
  }

  for (Attempt& a : call->attempts) {  // the losers of a hedge race, or those past the deadline
    if (a.done || &a == answer) continue;
    a.cancelled = true;
    if (a.request) a.request->Abandon();
  }
  result.attempts = static_cast<int>(call->attempts.size());
  if (answer && answer->outcome.status.ok()) {
    // The call's latency, not the winning attempt's: when a hedge wins, the
    // first attempt took at least this long. Recording only winners would
    // drag the p95 down and the hedge rate up, call after call.
    const auto finished = Clock::now();
    recent_.Record(std::chrono::duration_cast<std::chrono::microseconds>(finished - call_started), finished);
  }
  if (answer) {
    result.status = answer->outcome.status;
    result.value = std::move(answer->outcome.value);
    result.endpoint = answer->endpoint->address();
    result.trace = answer->trace;
  } else {
    if (!call->attempts.empty()) result.trace = call->attempts.back().trace;
    result.status = std::move(last_error);
  }
  if (!result.ok()) {
    result.value = nullptr;
    if (options_.fault_mode == FaultMode::kFailsafe) {
      Log().warn("failsafe: call {} failed, answering an empty result: {} (trace_id={})", method,
                 result.status.ToString(), call->trace.trace_id_hex());
      result.suppressed = std::move(result.status);
      result.status = Status::Ok();
    }
  }
  co_return result;
}

}  // namespace harpc
