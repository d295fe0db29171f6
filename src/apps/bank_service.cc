// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "apps/bank_service.h"

#include <boost/json.hpp>

#include "harpc/database.h"
#include "util/json_params.h"

namespace harpc {

namespace json = boost::json;

const char* const kBankSchema =
    "CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, balance INTEGER NOT NULL,"
    " reserved INTEGER NOT NULL DEFAULT 0, incoming INTEGER NOT NULL DEFAULT 0);";

namespace {
// One amount (a deposit, a transfer leg, an opening balance): at most 10^15.
constexpr int64_t kMaxAmount = 1'000'000'000'000'000;
// One account's balance, credits prepared for it included: at most 10^18,
// so that balance + incoming + amount never overflows 64 bits (< 2.1 * 10^18).
constexpr int64_t kMaxBalance = 1'000'000'000'000'000'000;

struct Account {
  std::string name;
  int64_t balance = 0, reserved = 0;
  int64_t incoming = 0;  // held by prepared credits: it may arrive, and must fit
  json::value ToJson() const { return {{"account", name}, {"balance", balance}, {"reserved", reserved}}; }
};

Status ReadAccount(Database db, const std::string& name, Account* out) {
  Statement select(db, "SELECT balance, reserved, incoming FROM accounts WHERE account = ?");
  select.Bind(1, name);
  if (select.Step() != Statement::kRow) return Status(StatusCode::kNotFound, "no account \"" + name + "\"");
  *out = {name, select.Int(0), select.Int(1), select.Int(2)};
  return Status::Ok();
}

// Refuses an amount that would take the account past kMaxBalance, counting
// the credits already prepared for it.
Status RoomFor(const Account& a, int64_t amount) {
  if (a.balance + a.incoming + amount <= kMaxBalance) return Status::Ok();
  return OutOfRange("account \"" + a.name + "\" would hold more than 10^18 (balance " + std::to_string(a.balance) +
                    ", credits in flight " + std::to_string(a.incoming) + ", amount " + std::to_string(amount) + ")");
}

// Applies balance += d_balance, reserved += d_reserved, incoming += d_incoming.
Status Move(Database db, const std::string& name, int64_t d_balance, int64_t d_reserved, int64_t d_incoming = 0) {
  return Statement(db,
                   "UPDATE accounts SET balance = balance + ?, reserved = reserved + ?, incoming = incoming + ?"
                   " WHERE account = ?")
      .Bind(1, d_balance)
      .Bind(2, d_reserved)
      .Bind(3, d_incoming)
      .Bind(4, name)
      .Run();
}

// {"account": A, <amount_field>: N} with 0 < N (or 0 <= N for an opening balance).
Status ParseRequest(const json::value& p, const char* amount_field, bool allow_zero, std::string* account,
                    int64_t* amount) {
  if (Status s = StringField(p, "account", true, account); !s.ok()) return s;
  if (account->empty() || account->size() > 256) return InvalidArgument("\"account\" must be 1 to 256 characters");
  if (!amount_field) return Status::Ok();
  if (Status s = IntField(p, amount_field, true, amount); !s.ok()) return s;
  if (*amount < (allow_zero ? 0 : 1) || *amount > kMaxAmount) {
    return InvalidArgument(std::string("\"") + amount_field + "\" must be " + (allow_zero ? "0" : "1") + " to 10^15");
  }
  return Status::Ok();
}

// A transfer leg's {"account","amount"}, and the account as it is now.
Status ReadLeg(Database db, const json::value& p, Account* account, int64_t* amount) {
  if (Status s = ParseRequest(p, "amount", false, &account->name, amount); !s.ok()) return s;
  return ReadAccount(db, account->name, account);
}

Result Open(Database db, const json::value& p) {
  Account a;
  if (Status s = ParseRequest(p, "balance", true, &a.name, &a.balance); !s.ok()) return s;
  Account existing;
  if (ReadAccount(db, a.name, &existing).ok()) {
    return Status(StatusCode::kAlreadyExists, "account \"" + a.name + "\" already exists");
  }
  Status s = Statement(db, "INSERT INTO accounts (account, balance, reserved) VALUES (?, ?, 0)")
                 .Bind(1, a.name)
                 .Bind(2, a.balance)
                 .Run();
  if (!s.ok()) return s;
  return a.ToJson();
}

Result Deposit(Database db, const json::value& p) {
  std::string name;
  int64_t amount = 0;
  if (Status s = ParseRequest(p, "amount", false, &name, &amount); !s.ok()) return s;
  Account a;
  if (Status s = ReadAccount(db, name, &a); !s.ok()) return s;
  if (Status s = RoomFor(a, amount); !s.ok()) return s;
  if (Status s = Move(db, name, amount, 0); !s.ok()) return s;
  a.balance += amount;
  return a.ToJson();
}

Result Balance(Database db, const json::value& p) {
  Account a;
  if (Status s = ParseRequest(p, nullptr, false, &a.name, nullptr); !s.ok()) return s;
  if (Status s = ReadAccount(db, a.name, &a); !s.ok()) return s;
  return a.ToJson();
}

// An exact sum as JSON: an integer while it fits 64 bits, else its decimal
// digits in a string (a bank of more than nine accounts at the largest
// balance), never a wrapped or rounded number.
json::value ExactSum(__int128 sum) {
  if (sum >= INT64_MIN && sum <= INT64_MAX) return json::value(static_cast<int64_t>(sum));
  const bool negative = sum < 0;
  unsigned __int128 magnitude = negative ? -static_cast<unsigned __int128>(sum) : static_cast<unsigned __int128>(sum);
  std::string digits;
  while (magnitude > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  return json::value(negative ? "-" + digits : digits);
}

// Summed here, not with SQL's SUM, which fails on 64-bit overflow.
Result Audit(Database db, const json::value&) {
  Statement rows(db, "SELECT balance, reserved FROM accounts");
  int64_t accounts = 0;
  __int128 total = 0, reserved = 0;
  while (rows.Step() == Statement::kRow) {
    ++accounts;
    total += rows.Int(0);
    reserved += rows.Int(1);
  }
  return json::value{{"accounts", accounts}, {"total", ExactSum(total)}, {"reserved", ExactSum(reserved)}};
}

TxnMethod Debit() {
  return {.prepare = [](Database db, const json::value& p) -> Result {
            Account a;
            int64_t amount = 0;
            if (Status s = ReadLeg(db, p, &a, &amount); !s.ok()) return s;
            if (a.balance - a.reserved < amount) {
              return Status(StatusCode::kFailedPrecondition, "insufficient funds in \"" + a.name +
                                                                 "\": " + std::to_string(a.balance - a.reserved) +
                                                                 " available, " + std::to_string(amount) + " asked");
            }
            if (Status s = Move(db, a.name, 0, amount); !s.ok()) return s;
            a.reserved += amount;
            return a.ToJson();
          },
          .commit = [](Database db, const json::value& p) -> Status {
            return Move(db, std::string(p.at("account").as_string()), -p.at("amount").to_number<int64_t>(),
                        -p.at("amount").to_number<int64_t>());
          },
          .abort = [](Database db, const json::value& p) -> Status {
            return Move(db, std::string(p.at("account").as_string()), 0, -p.at("amount").to_number<int64_t>());
          }};
}

TxnMethod Credit() {
  return {.prepare = [](Database db, const json::value& p) -> Result {
            Account a;
            int64_t amount = 0;
            if (Status s = ReadLeg(db, p, &a, &amount); !s.ok()) return s;
            if (Status s = RoomFor(a, amount); !s.ok()) return s;  // the commit must not overflow
            if (Status s = Move(db, a.name, 0, 0, amount); !s.ok()) return s;
            return a.ToJson();
          },
          .commit = [](Database db, const json::value& p) -> Status {
            const int64_t amount = p.at("amount").to_number<int64_t>();
            return Move(db, std::string(p.at("account").as_string()), amount, 0, -amount);
          },
          .abort = [](Database db, const json::value& p) -> Status {
            return Move(db, std::string(p.at("account").as_string()), 0, 0, -p.at("amount").to_number<int64_t>());
          }};
}

// A bank database made before credits were counted lacks `incoming`: added,
// zero. A credit prepared before the upgrade and decided after it takes its
// amount off all the same; the column is then below zero by that much, which
// loosens the limit by amounts of at most 10^15 each, far from overflow.
Result AddIncoming(Database db, const json::value&) {
  Statement column(db, "SELECT 1 FROM pragma_table_info('accounts') WHERE name = 'incoming'");
  if (column.Step() == Statement::kRow) return json::value();
  Status s = db.Exec("ALTER TABLE accounts ADD COLUMN incoming INTEGER NOT NULL DEFAULT 0");
  return s.ok() ? Result(json::value()) : Result(s);
}
}  // namespace

Status RegisterBankService(Participant& participant) {
  if (Result upgraded = participant.RunLocal(AddIncoming, nullptr); !upgraded.ok()) return upgraded.status();
  // Opening accounts and depositing make money out of nothing, and the audit
  // shows every account: operators (peer tokens) only. Reading one balance
  // and the transaction legs are the clients' (docs/security.md).
  Status s = participant.AddLocalMethod("Bank.open", Open, {.role = Role::kPeer});
  if (s.ok()) s = participant.AddLocalMethod("Bank.deposit", Deposit, {.role = Role::kPeer});
  if (s.ok()) s = participant.AddLocalMethod("Bank.balance", Balance, {.idempotent = true});
  if (s.ok()) s = participant.AddLocalMethod("Bank.audit", Audit, {.idempotent = true, .role = Role::kPeer});
  if (s.ok()) s = participant.AddTxnMethod("Bank.debit", Debit());
  if (s.ok()) s = participant.AddTxnMethod("Bank.credit", Credit());
  return s;
}

}  // namespace harpc
