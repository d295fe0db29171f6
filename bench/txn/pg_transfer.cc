// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc_pg_transfer: PostgreSQL's own two-phase commit doing the transfer that
// `harpc transfer` does, the peer of harpc's transactions in bench/txn.sh.
//
// Two databases (A and B) each hold accounts(id int primary key, balance bigint).
// One transfer moves --amount from a random account of A to a random account of
// B as one distributed transaction, with PostgreSQL as both participants and
// this driver as the coordinator:
//
//   A: BEGIN; UPDATE accounts SET balance = balance - amt WHERE id = x AND balance >= amt
//      (0 rows: ROLLBACK, the transfer is aborted)
//   A: PREPARE TRANSACTION 'txid-a'
//   B: BEGIN; UPDATE accounts SET balance = balance + amt WHERE id = y
//   B: PREPARE TRANSACTION 'txid-b'     (fails: ROLLBACK PREPARED 'txid-a' on A, aborted)
//   A: COMMIT PREPARED 'txid-a'
//   B: COMMIT PREPARED 'txid-b'
//
// The driver keeps no durable log of its decisions: a real coordinator would
// have to, so it would only do more work than this one.
//
// C threads run closed loops (a thread starts its next transfer as soon as the
// previous one ended) for --duration seconds; each thread holds one connection
// to A and one to B. Latency is measured per committed transfer, from its
// BEGIN on A to its COMMIT PREPARED on B, in harpc's own histogram
// (src/metrics/histogram.h), like the other peers in bench/.
//
//   harpc_pg_transfer --conninfo-a CONNINFO --conninfo-b CONNINFO
//                     [--concurrency C] [--duration S] [--accounts N] [--amount A] [--json]
//   harpc_pg_transfer --setup --conninfo-a CONNINFO --conninfo-b CONNINFO [--accounts N]
//
// --setup (re)creates the accounts table in both databases with N accounts
// (ids 0..N-1) of balance 1,000,000 each, and rolls back any transaction a
// killed earlier run left prepared (it would hold its row locks forever).
//
// --json prints {"transfers":N,"committed":N,"aborted":N,"errors":N,"tps":X,
//                "latency_ms":{"p50":X,"p99":X,"max":X}}, tps = committed per second.
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "metrics/histogram.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string conninfo_a, conninfo_b;
  int concurrency = 1;
  double duration_s = 10;
  int accounts = 1000;
  long long amount = 1;
  bool json = false;
  bool setup = false;
};

struct Totals {
  std::atomic<uint64_t> transfers{0}, committed{0}, aborted{0}, errors{0};
  harpc::metrics::Histogram latency;  // committed transfers only
};

// One connection; closed when the owner goes away.
using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Conn Connect(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    std::fprintf(stderr, "harpc_pg_transfer: cannot connect (%s): %s", conninfo.c_str(), PQerrorMessage(c.get()));
    return Conn(nullptr, &PQfinish);
  }
  // Notices ("there is no transaction in progress" after a defensive ROLLBACK,
  // "table does not exist, skipping") are expected; errors are reported by Exec.
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  return c;
}

// Runs sql (one or more statements; the result is the last one's). Returns the
// number of rows it affected, or -1 when it failed. Only the first few failures
// are printed: a broken setup would otherwise print one line per transfer.
long Exec(PGconn* c, const std::string& sql, bool quiet = false) {
  static std::atomic<int> printed{0};
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  long rows = -1;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    const char* n = PQcmdTuples(r);
    rows = *n ? std::atol(n) : 0;
  } else if (!quiet && printed.fetch_add(1) < 10) {
    std::fprintf(stderr, "harpc_pg_transfer: %s: %s", sql.c_str(), PQerrorMessage(c));
  }
  PQclear(r);
  return rows;
}

// Leaves the connection outside any transaction after a failure (ROLLBACK
// outside a transaction is only a warning), reconnecting if it was lost.
void Recover(PGconn* c) {
  if (PQstatus(c) != CONNECTION_OK) PQreset(c);
  if (PQstatus(c) == CONNECTION_OK) Exec(c, "ROLLBACK", /*quiet=*/true);
}

enum class Outcome { kCommitted, kAborted, kError };

// One transfer as described at the top of this file.
Outcome Transfer(PGconn* a, PGconn* b, const std::string& txid, int x, int y, long long amount) {
  const std::string amt = std::to_string(amount);
  // A gid must be unique in the whole server, not per database, and bank_a and
  // bank_b may live in one server: each side gets its own.
  const std::string gid_a = txid + "-a", gid_b = txid + "-b";
  // BEGIN and the UPDATE go in one round trip: the transaction block starts
  // either way, and the row count of the UPDATE (the last statement) is what
  // decides. Fewer round trips only favour PostgreSQL.
  const long debited = Exec(a, "BEGIN; UPDATE accounts SET balance = balance - " + amt +
                                   " WHERE id = " + std::to_string(x) + " AND balance >= " + amt);
  if (debited != 1) {
    Recover(a);
    return debited == 0 ? Outcome::kAborted : Outcome::kError;
  }
  if (Exec(a, "PREPARE TRANSACTION '" + gid_a + "'") < 0) {
    Recover(a);  // a failed PREPARE rolls the transaction back
    return Outcome::kError;
  }
  const long credited =
      Exec(b, "BEGIN; UPDATE accounts SET balance = balance + " + amt + " WHERE id = " + std::to_string(y));
  const bool b_prepared = credited == 1 && Exec(b, "PREPARE TRANSACTION '" + gid_b + "'") >= 0;
  if (!b_prepared) {
    Recover(b);
    if (Exec(a, "ROLLBACK PREPARED '" + gid_a + "'") < 0) {
      Recover(a);
      return Outcome::kError;
    }
    return credited == 0 ? Outcome::kAborted : Outcome::kError;
  }
  // Both prepared: the decision is commit, and it must reach both even if one
  // attempt fails, or the prepared transaction keeps its row locked.
  auto commit = [](PGconn* c, const std::string& gid) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (Exec(c, "COMMIT PREPARED '" + gid + "'") >= 0) return true;
      Recover(c);
    }
    return false;
  };
  const bool a_done = commit(a, gid_a);
  const bool b_done = commit(b, gid_b);
  return a_done && b_done ? Outcome::kCommitted : Outcome::kError;
}

void Worker(const Options& o, int thread_id, const std::string& nonce, Clock::time_point end, Totals& t) {
  Conn a = Connect(o.conninfo_a), b = Connect(o.conninfo_b);
  if (!a || !b) {
    t.errors.fetch_add(1);
    return;
  }
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int> account(0, o.accounts - 1);
  // Transaction id = run nonce + thread + counter: unique across threads and
  // across runs against the same server, as PostgreSQL requires of gids.
  const std::string gid_prefix = "pgt-" + nonce + "-" + std::to_string(thread_id) + "-";
  for (uint64_t n = 0; Clock::now() < end; ++n) {
    const Clock::time_point started = Clock::now();
    const Outcome out =
        Transfer(a.get(), b.get(), gid_prefix + std::to_string(n), account(rng), account(rng), o.amount);
    t.transfers.fetch_add(1, std::memory_order_relaxed);
    switch (out) {
      case Outcome::kCommitted:
        t.committed.fetch_add(1, std::memory_order_relaxed);
        t.latency.Record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started));
        break;
      case Outcome::kAborted:
        t.aborted.fetch_add(1, std::memory_order_relaxed);
        break;
      case Outcome::kError:
        t.errors.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }
}

// Creates the accounts of one database, after rolling back what an earlier,
// killed run may have left prepared there.
bool Setup(const std::string& conninfo, int accounts) {
  Conn c = Connect(conninfo);
  if (!c) return false;
  PGresult* r = PQexec(c.get(), "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      Exec(c.get(), std::string("ROLLBACK PREPARED '") + PQgetvalue(r, i, 0) + "'");
    }
  }
  PQclear(r);
  return Exec(c.get(),
              "DROP TABLE IF EXISTS accounts;"
              "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);"
              "INSERT INTO accounts SELECT g, 1000000 FROM generate_series(0, " +
                  std::to_string(accounts - 1) + ") AS g") == accounts &&
         Exec(c.get(), "VACUUM ANALYZE accounts") >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"PostgreSQL two-phase-commit transfers (PREPARE TRANSACTION / COMMIT PREPARED) between two databases"};
  app.add_option("--conninfo-a", o.conninfo_a, "libpq conninfo of the database debited")->required();
  app.add_option("--conninfo-b", o.conninfo_b, "libpq conninfo of the database credited")->required();
  app.add_option("--concurrency,-c", o.concurrency, "threads, each with one connection to each database")
      ->check(CLI::Range(1, 10000));
  app.add_option("--duration", o.duration_s, "seconds of load")->check(CLI::PositiveNumber);
  app.add_option("--accounts", o.accounts, "accounts per database (ids 0..N-1)")->check(CLI::Range(1, 100000000));
  app.add_option("--amount", o.amount, "amount moved by each transfer")->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "print one JSON line");
  app.add_flag("--setup", o.setup, "create the accounts in both databases, then exit");
  CLI11_PARSE(app, argc, argv);

  if (o.setup) return Setup(o.conninfo_a, o.accounts) && Setup(o.conninfo_b, o.accounts) ? 0 : 1;

  char nonce[32];
  std::snprintf(nonce, sizeof nonce, "%x%08x", static_cast<unsigned>(getpid()),
                static_cast<unsigned>(std::random_device{}()));
  auto totals = std::make_unique<Totals>();  // the histogram is too big for the stack
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.concurrency; ++i)
    threads.emplace_back(Worker, std::cref(o), i, std::string(nonce), end, std::ref(*totals));
  for (auto& th : threads) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  const Totals& t = *totals;
  const double tps = seconds > 0 ? static_cast<double>(t.committed.load()) / seconds : 0;
  auto ms = [&](double q) { return t.latency.QuantileMicros(q) / 1000.0; };
  if (o.json) {
    std::printf(
        "{\"transfers\":%llu,\"committed\":%llu,\"aborted\":%llu,\"errors\":%llu,\"tps\":%.1f,"
        "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
        (unsigned long long)t.transfers.load(), (unsigned long long)t.committed.load(),
        (unsigned long long)t.aborted.load(), (unsigned long long)t.errors.load(), tps, ms(0.5), ms(0.99),
        t.latency.max_micros() / 1000.0);
  } else {
    std::printf("transfers %llu  committed %llu  aborted %llu  errors %llu  committed/s %.0f\n",
                (unsigned long long)t.transfers.load(), (unsigned long long)t.committed.load(),
                (unsigned long long)t.aborted.load(), (unsigned long long)t.errors.load(), tps);
    std::printf("latency ms  p50 %.3f  p99 %.3f  max %.3f\n", ms(0.5), ms(0.99), t.latency.max_micros() / 1000.0);
  }
  // Nothing committed means the databases were unreachable or not set up.
  return t.committed.load() > 0 ? 0 : 1;
}
