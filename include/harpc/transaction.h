// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Transaction: the client side of harpc's distributed transactions.
//
//   harpc::Channel coordinator("list://127.0.0.1:7000");
//   harpc::Channel bank_a("sentinel://127.0.0.1:26379/bank-a"), bank_b("list://127.0.0.1:9002");
//   harpc::Transaction txn(coordinator);
//   if (harpc::Status s = txn.Begin(); !s.ok()) ...;
//   txn.Call(bank_a, "Bank.debit", json::parse(R"({"account":"alice","amount":10})"));
//   txn.Call(bank_b, "Bank.credit", json::parse(R"({"account":"bob","amount":10})"));
//   harpc::TxnOutcome outcome = txn.Commit();   // committed, or aborted with the reason
//
// Each Call is the prepare phase of a transactional method on a participant
// (see txn.h), made through that channel's balancing, failover and retries,
// with the transaction id and call number as idempotency key: a retry never
// prepares twice. A participant registers its yes vote with the coordinator
// before it answers. Commit asks the coordinator to decide, with the key
// Begin received (only this Transaction may decide) and the votes it heard:
// it commits the registered votes when they are exactly those and the
// transaction has not timed out; otherwise it aborts.
// The coordinator writes the decision durably before any participant hears
// it, then tells every participant (retrying until each acknowledges, also
// after a restart of either side). Commit waits for phase two within the
// transaction's deadline; the outcome is final either way.
//
// The coordinator channel may name a coordinator group
// (harpc::Channel coordinator("list://A,B,C")): the channel follows the
// group's leader, and every call of a Transaction is safe to repeat there
// after a change of leader.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "harpc/status.h"

namespace harpc {

struct TransactionOptions {
  // The transaction must reach its commit within this from Begin, or the
  // coordinator aborts it. Also each call's deadline. Default 5 s.
  std::chrono::milliseconds timeout{5000};
};

struct TxnOutcome {
  // OK when the outcome is known. Otherwise (the coordinator could not be
  // reached) the outcome is unknown: ask again with Transaction::Query
  // or Commit again, which is idempotent.
  Status status;
  std::string txid;
  bool committed = false;
  // Why it aborted ("Bank.debit on 127.0.0.1:9001 voted no: ...").
  std::string reason;
  // True when every participant acknowledged phase two before the answer.
  bool applied = false;
};

class Transaction {
 public:
  explicit Transaction(Channel& coordinator, TransactionOptions options = {});
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Asks the coordinator for a transaction id.
  Status Begin();
  boost::asio::awaitable<Status> AsyncBegin();

  // Prepares `method` on a participant reached through `channel`. A failed
  // call (a "no" vote, or no answer) dooms the transaction: Commit aborts it.
  CallResult Call(Channel& channel, std::string_view method, const boost::json::value& params);
  boost::asio::awaitable<CallResult> AsyncCall(Channel& channel, std::string method, boost::json::value params);

  // Decides: committed when every call voted yes, else aborted.
  TxnOutcome Commit();
  boost::asio::awaitable<TxnOutcome> AsyncCommit();
  // Aborts on purpose.
  TxnOutcome Abort(std::string reason);
  boost::asio::awaitable<TxnOutcome> AsyncAbort(std::string reason);

  const std::string& id() const { return txid_; }

  // The outcome of any transaction, asked of a coordinator.
  static TxnOutcome Query(Channel& coordinator, std::string_view txid);

 private:
  Channel& coordinator_;
  TransactionOptions options_;
  std::string txid_;
  std::string key_;                  // from begin: what lets this client, and no one else, decide
  std::string coordinator_address_;  // where participants register their votes and ask about it
  boost::json::array votes_;         // [{"call","participant"}]: the yes votes heard
  int next_call_ = 0;
  std::string doomed_;  // why Commit must abort; empty while all went well
};

}  // namespace harpc
