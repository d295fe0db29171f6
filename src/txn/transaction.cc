// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/transaction.h"

#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "util/json_params.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// Runs a coroutine on `executor` and blocks the calling thread for its value.
template <typename T>
T RunBlocking(const asio::any_io_executor& executor, asio::awaitable<T> work, T on_exception) {
  std::promise<T> promise;
  auto future = promise.get_future();
  asio::co_spawn(executor, std::move(work), [&promise, &on_exception](const std::exception_ptr& e, T value) {
    promise.set_value(e ? std::move(on_exception) : std::move(value));
  });
  return future.get();
}

// An outcome that is not known, and why.
TxnOutcome UnknownOutcome(Status why, const std::string& txid) {
  TxnOutcome o;
  o.status = std::move(why);
  o.txid = txid;
  return o;
}

CallResult Failed(Status why) {
  CallResult r;
  r.status = std::move(why);
  return r;
}

// The coordinator's answer {"txid","outcome","reason","applied"} as an outcome.
TxnOutcome OutcomeOf(const CallResult& r, const std::string& txid) {
  TxnOutcome o;
  o.txid = txid;
  if (!r.ok()) {
    o.status = Status(r.status.code(), "outcome unknown: " + r.status.message());
    return o;
  }
  std::string outcome;
  if (Status s = StringField(r.value, "outcome", true, &outcome); !s.ok()) {
    o.status = Internal("malformed answer from the coordinator: " + s.message());
    return o;
  }
  StringField(r.value, "reason", false, &o.reason);
  if (const json::value* a = r.value.as_object().if_contains("applied"); a && a->is_bool()) o.applied = a->as_bool();
  if (outcome == "committed") {
    o.committed = true;
  } else if (outcome != "aborted") {
    o.status = Status(StatusCode::kUnavailable, "outcome unknown: the coordinator says " + outcome);
  }
  return o;
}
}  // namespace

Transaction::Transaction(Channel& coordinator, TransactionOptions options)
    : coordinator_(coordinator), options_(options) {}

Status Transaction::Begin() {
  return RunBlocking<Status>(coordinator_.executor(), AsyncBegin(), Internal("begin failed with an exception"));
}

asio::awaitable<Status> Transaction::AsyncBegin() {
  if (!txid_.empty()) co_return Status(StatusCode::kFailedPrecondition, "transaction " + txid_ + " already begun");
  json::value params{{"timeout_ms", options_.timeout.count()}};
  CallOptions call_options;
  call_options.idempotent = true;  // a lost begin only leaves a transaction that times out
  CallResult r = co_await coordinator_.AsyncCall("Coordinator.begin", params, call_options);
  if (!r.ok()) co_return r.status;
  if (Status s = StringField(r.value, "txid", true, &txid_); !s.ok()) co_return s;
  if (Status s = StringField(r.value, "coordinator", false, &coordinator_address_); !s.ok()) co_return s;
  if (Status s = StringField(r.value, "key", true, &key_); !s.ok()) co_return s;
  co_return Status::Ok();
}

CallResult Transaction::Call(Channel& channel, std::string_view method, const json::value& params) {
  return RunBlocking<CallResult>(channel.executor(), AsyncCall(channel, std::string(method), params),
                                 Failed(Internal("call failed with an exception")));
}

asio::awaitable<CallResult> Transaction::AsyncCall(Channel& channel, std::string method, json::value params) {
  if (txid_.empty()) co_return Failed(Status(StatusCode::kFailedPrecondition, "call Begin first"));
  const std::string call = std::to_string(next_call_++);
  json::value body{
      {"txid", txid_}, {"call", call}, {"coordinator", coordinator_address_}, {"params", std::move(params)}};
  CallOptions call_options;
  call_options.timeout = options_.timeout;
  call_options.idempotent = true;                     // the participant prepares each (txid, call) once
  call_options.idempotency_key = txid_ + "." + call;  // and so does the server's idempotency store
  CallResult r = co_await channel.AsyncCall(method, body, call_options);
  std::string participant;
  if (r.ok()) {
    std::string vote;
    const json::value* result = r.value.is_object() ? r.value.as_object().if_contains("result") : nullptr;
    if (!StringField(r.value, "vote", true, &vote).ok() || vote != "yes" ||
        !StringField(r.value, "participant", true, &participant).ok() || !result) {
      r.status = Internal(method + " is not a transactional method (no vote in its answer)");
    } else {
      r.value = *result;
    }
  }
  if (!r.ok()) {
    // If it prepared there all the same, its vote is registered with the
    // coordinator, which tells it about the abort.
    if (doomed_.empty()) {
      doomed_ = method + (r.endpoint.empty() ? "" : " on " + r.endpoint) + " failed: " + r.status.ToString();
    }
    r.value = nullptr;
    co_return r;
  }
  votes_.push_back(json::object{{"call", call}, {"participant", participant}});
  co_return r;
}

TxnOutcome Transaction::Commit() {
  return RunBlocking<TxnOutcome>(coordinator_.executor(), AsyncCommit(),
                                 UnknownOutcome(Internal("commit failed with an exception"), txid_));
}

asio::awaitable<TxnOutcome> Transaction::AsyncCommit() {
  if (txid_.empty()) co_return UnknownOutcome(FailedPrecondition("call Begin first"), txid_);
  if (!doomed_.empty()) co_return co_await AsyncAbort(doomed_);
  json::value params{{"txid", txid_}, {"key", key_}, {"votes", votes_}};
  CallOptions call_options;
  call_options.timeout = options_.timeout;
  call_options.idempotent = true;  // deciding twice gives the same answer
  CallResult r = co_await coordinator_.AsyncCall("Coordinator.commit", params, call_options);
  co_return OutcomeOf(r, txid_);
}

TxnOutcome Transaction::Abort(std::string reason) {
  return RunBlocking<TxnOutcome>(coordinator_.executor(), AsyncAbort(std::move(reason)),
                                 UnknownOutcome(Internal("abort failed with an exception"), txid_));
}

asio::awaitable<TxnOutcome> Transaction::AsyncAbort(std::string reason) {
  if (txid_.empty()) co_return UnknownOutcome(FailedPrecondition("call Begin first"), txid_);
  if (doomed_.empty()) doomed_ = reason;
  json::value params{{"txid", txid_}, {"key", key_}, {"reason", reason}};
  CallOptions call_options;
  call_options.timeout = options_.timeout;
  call_options.idempotent = true;
  CallResult r = co_await coordinator_.AsyncCall("Coordinator.abort", params, call_options);
  co_return OutcomeOf(r, txid_);
}

TxnOutcome Transaction::Query(Channel& coordinator, std::string_view txid) {
  CallOptions call_options;
  call_options.idempotent = true;
  const std::string id(txid);
  CallResult r = coordinator.Call("Coordinator.status", json::value{{"txid", id}}, call_options);
  TxnOutcome o = OutcomeOf(r, id);
  return o;
}

}  // namespace harpc
