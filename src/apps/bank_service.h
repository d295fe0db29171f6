// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The bank service of `harpc serve --service bank`: accounts in the
// participant's SQLite database, and transfers between banks by two-phase
// commit (see harpc/txn.h and docs/transactions.md).
//
//   Bank.open    {"account":"a","balance":1000} -> {"account":"a","balance":1000,"reserved":0}
//   Bank.deposit {"account":"a","amount":10}    -> the account (not idempotent: keyed retries)
//   Bank.balance {"account":"a"}                -> the account; balance is committed money,
//                                                  reserved is held by prepared transfers
//   Bank.audit   {}                             -> {"accounts":N,"total":T,"reserved":R}
//                (exact: T and R are integers, or decimal strings beyond 64 bits)
//   Bank.debit   (transactional) {"account","amount"}: prepare holds the amount
//                (no overdraft: balance - reserved >= amount, else the vote is no);
//                commit spends the hold, abort releases it
//   Bank.credit  (transactional) {"account","amount"}: prepare checks the account
//                and counts the amount as incoming, commit adds it, abort drops it
//
// Amounts are 1 to 10^15 (an opening balance may be 0); an account holds at
// most 10^18, credits prepared for it included. A deposit or credit past that
// is refused at the call with OUT_OF_RANGE (a credit votes no), so no balance
// ever overflows.
//
// Every change runs on the participant's one writer thread, so concurrent
// transfers on one account are serialised; one that would overdraw votes no.
#pragma once

#include "harpc/txn.h"

namespace harpc {

// The bank's table, to pass to Participant::Open.
extern const char* const kBankSchema;

// Adds the Bank.* methods to `participant` (before Attach).
Status RegisterBankService(Participant& participant);

}  // namespace harpc
