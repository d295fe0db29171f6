// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A transfer between two bank accounts (the bank service of `harpc serve
// --service bank`) in one distributed transaction: debit and credit are
// prepared in parallel, then the coordinator decides. Used by `harpc
// transfer`, the demo, the tests and the benchmark.
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "harpc/channel.h"
#include "harpc/transaction.h"

namespace harpc::txn {

struct TransferRequest {
  std::string from_account, to_account;
  int64_t amount = 0;
};

// Runs on the caller's executor. The outcome's status is OK when the
// outcome is known (committed or aborted, with the reason).
boost::asio::awaitable<TxnOutcome> Transfer(Channel& coordinator, Channel& from, Channel& to, TransferRequest request,
                                            TransactionOptions options);

}  // namespace harpc::txn
