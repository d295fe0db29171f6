#include "apps/bank_service.h"

#include <boost/json.hpp>

#include "harpc/database.h"
#include "util/json_params.h"

namespace harpc {

namespace json = boost::json;

const char* const kBankSchema =
    "CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, balance INTEGER NOT NULL,"
    " reserved INTEGER NOT NULL DEFAULT 0);";

namespace {
constexpr int64_t kMaxAmount = 1'000'000'000'000'000;  // 10^15: sums stay far from overflow

struct Account {
  std::string name;
  int64_t balance = 0, reserved = 0;
  json::value ToJson() const { return {{"account", name}, {"balance", balance}, {"reserved", reserved}}; }
};

Status ReadAccount(Database db, const std::string& name, Account* out) {
  Statement select(db, "SELECT balance, reserved FROM accounts WHERE account = ?");
  select.Bind(1, name);
  if (select.Step() != Statement::kRow) return Status(StatusCode::kNotFound, "no account \"" + name + "\"");
  *out = {name, select.Int(0), select.Int(1)};
  return Status::Ok();
}

// Applies balance += d_balance, reserved += d_reserved.
Status Move(Database db, const std::string& name, int64_t d_balance, int64_t d_reserved) {
  return Statement(db, "UPDATE accounts SET balance = balance + ?, reserved = reserved + ? WHERE account = ?")
      .Bind(1, d_balance).Bind(2, d_reserved).Bind(3, name).Run();
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
                 .Bind(1, a.name).Bind(2, a.balance).Run();
  if (!s.ok()) return s;
  return a.ToJson();
}

Result Deposit(Database db, const json::value& p) {
  std::string name;
  int64_t amount = 0;
  if (Status s = ParseRequest(p, "amount", false, &name, &amount); !s.ok()) return s;
  Account a;
  if (Status s = ReadAccount(db, name, &a); !s.ok()) return s;
  if (a.balance > kMaxAmount * 1000) return Status(StatusCode::kOutOfRange, "balance would overflow");
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

Result Audit(Database db, const json::value&) {
  Statement sums(db, "SELECT COUNT(*), COALESCE(SUM(balance), 0), COALESCE(SUM(reserved), 0) FROM accounts");
  if (sums.Step() != Statement::kRow) return Internal(std::string("audit: ") + db.error());
  return json::value{{"accounts", sums.Int(0)}, {"total", sums.Int(1)}, {"reserved", sums.Int(2)}};
}

TxnMethod Debit() {
  return {
      .prepare = [](Database db, const json::value& p) -> Result {
        Account a;
        int64_t amount = 0;
        if (Status s = ReadLeg(db, p, &a, &amount); !s.ok()) return s;
        if (a.balance - a.reserved < amount) {
          return Status(StatusCode::kFailedPrecondition,
                        "insufficient funds in \"" + a.name + "\": " + std::to_string(a.balance - a.reserved) +
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
  return {
      .prepare = [](Database db, const json::value& p) -> Result {
        Account a;
        int64_t amount = 0;
        if (Status s = ReadLeg(db, p, &a, &amount); !s.ok()) return s;
        return a.ToJson();
      },
      .commit = [](Database db, const json::value& p) -> Status {
        return Move(db, std::string(p.at("account").as_string()), p.at("amount").to_number<int64_t>(), 0);
      },
      .abort = [](Database, const json::value&) -> Status { return Status::Ok(); }};
}
}  // namespace

Status RegisterBankService(Participant& participant) {
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
