// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "apps/transfer.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

namespace harpc::txn {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace boost::asio::experimental::awaitable_operators;

asio::awaitable<TxnOutcome> Transfer(Channel& coordinator, Channel& from, Channel& to, TransferRequest request,
                                     TransactionOptions options) {
  Transaction txn(coordinator, options);
  if (Status s = co_await txn.AsyncBegin(); !s.ok()) {
    // Nothing was prepared: the transfer certainly did not happen.
    TxnOutcome not_begun;
    not_begun.reason = "could not begin: " + s.ToString();
    co_return not_begun;
  }
  std::string debit = "Bank.debit", credit = "Bank.credit";
  json::value debit_params{{"account", request.from_account}, {"amount", request.amount}};
  json::value credit_params{{"account", request.to_account}, {"amount", request.amount}};
  // Both prepares at once: the transfer's latency is one prepare, not two.
  co_await (txn.AsyncCall(from, std::move(debit), std::move(debit_params)) &&
            txn.AsyncCall(to, std::move(credit), std::move(credit_params)));
  co_return co_await txn.AsyncCommit();
}

}  // namespace harpc::txn
