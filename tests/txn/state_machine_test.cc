// The participant and coordinator state machines, in process: the group
// commit of the writer thread, the participant log's transitions, the
// participant and coordinator behind real in-process servers on 127.0.0.1, and
// every crash point of two-phase commit.
//
// A crash here destroys the objects (Participant, Coordinator, Server) with no
// cleanup call of their own and reopens the same database files. The server's
// loops are stopped first (Shutdown with no grace, then Wait) and the server is
// destroyed last: coroutines of the coordinator and of the participant hold
// timers on those loops, so the loops must outlive the objects that own the
// coroutines' channels. Nothing is flushed by this: what was not committed to
// SQLite is lost, as in a SIGKILL.
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "harpc/transaction.h"
#include "harpc/txn.h"
#include "apps/bank_service.h"
#include "support/test_support.h"
#include "harpc/coordinator.h"
#include "txn/decision_log.h"
#include "storage/group_commit.h"
#include "txn/participant_log.h"
#include "apps/transfer.h"
#include "storage/sqlite.h"

namespace harpc {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::PollUntil;
using testing::Since;
using testing::TempDir;
using storage::GroupCommitDb;

// How long a state reached in the background (phase two, a resolution by
// asking) may take: far above what it needs, far below the test's budget.
constexpr auto kSettle = std::chrono::milliseconds(8000);

// ---------------------------------------------------------------------------
// GroupCommitDb

constexpr const char* kKvSchema = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL);";

Status Put(Database db, const std::string& k, int64_t v) {
  return Statement(db, "INSERT INTO kv (k, v) VALUES (?, ?)").Bind(1, k).Bind(2, v).Run();
}

GroupCommitDb::Work PutWork(std::string k, int64_t v) {
  return [k, v](Database db) -> Result {
    Status s = Put(db, k, v);
    return s.ok() ? Result(json::value(v)) : Result(s);
  };
}

// What is committed in `path`, read through a connection of its own.
std::map<std::string, int64_t> CommittedRows(const std::string& path) {
  std::map<std::string, int64_t> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return rows;
  }
  {
    Statement select(sql::Access::Wrap(db), "SELECT k, v FROM kv");
    while (select.Step() == Statement::kRow) rows[select.Text(0)] = select.Int(1);
  }
  sqlite3_close(db);
  return rows;
}

// Runs one item as a coroutine and stores its result and the thread it resumed on.
asio::awaitable<void> RunItem(GroupCommitDb* db, GroupCommitDb::Work work, Result* out,
                              std::thread::id* resumed_on) {
  Result r = co_await db->Run(std::move(work));
  if (resumed_on) *resumed_on = std::this_thread::get_id();
  *out = std::move(r);
}

// Holds the writer thread inside one item until released, so that the items
// queued meanwhile are known to share the next batch.
class WriterBlocker {
 public:
  explicit WriterBlocker(GroupCommitDb& db) {
    GroupCommitDb* target = &db;
    thread_ = std::thread([this, target] {
      std::shared_future<void> released = released_;
      result_ = target->RunSync([this, released](Database d) -> Result {
        started_.set_value();
        released.wait();
        Status s = Put(d, "blocker", 0);
        return s.ok() ? Result(json::value(0)) : Result(s);
      });
    });
    started_.get_future().wait();  // the writer is inside the blocker now
  }
  ~WriterBlocker() { Release(); }
  void Release() {
    if (!thread_.joinable()) return;
    release_.set_value();
    thread_.join();
  }
  const Result& result() const { return result_; }

 private:
  std::promise<void> started_, release_;
  std::shared_future<void> released_ = release_.get_future().share();
  Result result_ = Internal("not run");
  std::thread thread_;  // last: started once the rest is
};

TEST(GroupCommitDb, AFailingItemRollsBackAloneWhileTheRestOfItsBatchCommits) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());

  std::vector<GroupCommitDb::Work> items;
  items.push_back(PutWork("a", 1));
  items.push_back([](Database d) -> Result {  // changes something, then fails
    if (Status s = Put(d, "b", 2); !s.ok()) return s;
    return Status(StatusCode::kFailedPrecondition, "b changed its mind");
  });
  items.push_back(PutWork("c", 3));
  items.push_back([](Database d) -> Result {  // a SQL error after a change of its own
    if (Status s = Put(d, "d", 4); !s.ok()) return s;
    Status s = Put(d, "a", 5);  // duplicate key: "a" is taken by the first item
    return s.ok() ? Result(json::value(5)) : Result(s);
  });
  items.push_back([](Database d) -> Result {  // throws after a change
    if (Status s = Put(d, "e", 6); !s.ok()) return s;
    throw std::runtime_error("boom");
  });
  items.push_back(PutWork("f", 7));

  std::vector<Result> results(items.size(), Result(Internal("not run")));
  {
    WriterBlocker blocker(*db);
    asio::io_context io;
    for (size_t i = 0; i < items.size(); ++i) {
      asio::co_spawn(io, RunItem(db.get(), std::move(items[i]), &results[i], nullptr), asio::detached);
    }
    io.poll();  // every coroutine has queued its item behind the blocker
    EXPECT_EQ(db->batches(), 0u);
    blocker.Release();
    ASSERT_TRUE(blocker.result().ok()) << blocker.result().status();
    io.run();
  }
  EXPECT_EQ(db->batches(), 2u) << "the blocker alone, then the six items in one batch";
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_FALSE(results[3].ok());
  EXPECT_EQ(results[4].status().code(), StatusCode::kInternal);
  EXPECT_NE(results[4].status().message().find("boom"), std::string::npos) << results[4].status();
  EXPECT_TRUE(results[5].ok()) << results[5].status();
  const std::map<std::string, int64_t> expected{{"blocker", 0}, {"a", 1}, {"c", 3}, {"f", 7}};
  EXPECT_EQ(CommittedRows(path), expected);
}

TEST(GroupCommitDb, SixtyFourConcurrentCoroutinesShareOneBatch) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());
  constexpr int kItems = 64;
  std::vector<Result> results(kItems, Result(Internal("not run")));
  {
    WriterBlocker blocker(*db);
    asio::io_context io;
    for (int i = 0; i < kItems; ++i) {
      asio::co_spawn(io, RunItem(db.get(), PutWork("k" + std::to_string(i), i), &results[i], nullptr),
                     asio::detached);
    }
    io.poll();
    for (const Result& r : results) EXPECT_EQ(r.status().message(), "not run") << "nothing answered before commit";
    blocker.Release();
    io.run();
  }
  for (const Result& r : results) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db->batches(), 2u) << "64 items, one fsync";
  EXPECT_EQ(CommittedRows(path).size(), static_cast<size_t>(kItems + 1));
}

TEST(GroupCommitDb, ConcurrentThreadsWithRunSyncShareBatches) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());
  constexpr int kThreads = 64, kPerThread = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result r = db->RunSync(PutWork("t" + std::to_string(t) + "." + std::to_string(i), i));
        if (r.ok() && r.value().as_int64() == i) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(CommittedRows(path).size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LT(db->batches(), static_cast<uint64_t>(kThreads * kPerThread)) << "concurrent items share commits";
}

TEST(GroupCommitDb, RunSyncAnswersAfterTheCommitAndReportsErrors) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());
  Result put = db->RunSync(PutWork("x", 42));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put.value().as_int64(), 42);
  EXPECT_EQ(CommittedRows(path).at("x"), 42) << "committed before RunSync returned";
  Result duplicate = db->RunSync(PutWork("x", 43));
  EXPECT_FALSE(duplicate.ok());
  Result read = db->RunSync([](Database d) -> Result {
    Statement select(d, "SELECT v FROM kv WHERE k = 'x'");
    if (select.Step() != Statement::kRow) return Internal("no row");
    return json::value(select.Int(0));
  });
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read.value().as_int64(), 42);
  EXPECT_EQ(db->batches(), 3u);

  // Reopened: the schema is idempotent and the data is there.
  db.reset();
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());
  Result again = db->RunSync([](Database d) -> Result {
    Statement select(d, "SELECT COUNT(*) FROM kv");
    select.Step();
    return json::value(select.Int(0));
  });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().as_int64(), 1);
}

TEST(GroupCommitDb, RunResumesOnTheCallersExecutorNotOnTheWriter) {
  TempDir dir;
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(dir.File("kv.db"), kKvSchema, &db).ok());
  asio::io_context io;
  std::thread::id writer, resumed;
  Result result = Internal("not run");
  GroupCommitDb::Work work = [&writer](Database d) -> Result {
    writer = std::this_thread::get_id();
    Status s = Put(d, "y", 1);
    return s.ok() ? Result(json::value(1)) : Result(s);
  };
  asio::co_spawn(io, RunItem(db.get(), std::move(work), &result, &resumed), asio::detached);
  std::thread loop([&io] { io.run(); });
  const std::thread::id loop_id = loop.get_id();
  loop.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(resumed, loop_id) << "resumed on the io_context's thread";
  EXPECT_NE(resumed, writer) << "never on the writer thread";
  EXPECT_NE(writer, std::thread::id());
}

// Typed work: the value comes back as a C++ value (no JSON), a failing item
// rolls back what it changed and brings its status, and the coroutine form
// answers on the caller's loop.
TEST(GroupCommitDb, TypedWorkReturnsItsValueOrItsErrorAndRollsBack) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(path, kKvSchema, &db).ok());
  ASSERT_TRUE(db->RunSync(PutWork("x", 42)).ok());

  struct Row {
    std::string key;
    int64_t value = 0;
  };
  auto read = db->RunSync<Row>([](Database d, Row& row) {
    Statement select(d, "SELECT k, v FROM kv WHERE k = 'x'");
    if (select.Step() != Statement::kRow) return Internal("no row");
    row = {select.Text(0), select.Int(1)};
    return Status::Ok();
  });
  ASSERT_TRUE(read.ok()) << read.status;
  EXPECT_EQ(read.value.key, "x");
  EXPECT_EQ(read.value.value, 42);

  auto failed = db->RunSync<int64_t>([](Database d, int64_t& changed) {
    if (Status s = Put(d, "y", 1); !s.ok()) return s;
    changed = 1;
    return FailedPrecondition("y changed its mind");
  });
  EXPECT_EQ(failed.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(CommittedRows(path).contains("y")) << "rolled back";

  asio::io_context io;
  GroupCommitDb::Typed<int64_t> counted;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        GroupCommitDb::TypedWork<int64_t> count = [](Database d, int64_t& n) {
          Statement select(d, "SELECT COUNT(*) FROM kv");
          select.Step();
          n = select.Int(0);
          return Status::Ok();
        };
        counted = co_await db->Run<int64_t>(std::move(count));
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(counted.ok()) << counted.status;
  EXPECT_EQ(counted.value, 1);
}

// ---------------------------------------------------------------------------
// ParticipantLog, driven directly on its writer thread

// A transactional method with counted handlers: Stock.take {"item","n"} holds
// n units at prepare (and then checks, so that a "no" has a change to undo),
// takes them at commit, releases them at abort.
constexpr const char* kStockSchema =
    "CREATE TABLE IF NOT EXISTS stock (item TEXT PRIMARY KEY, qty INTEGER NOT NULL, held INTEGER NOT NULL);";

struct Counters {
  std::atomic<int> prepares{0}, commits{0}, aborts{0};
};

Status MoveStock(Database db, const json::value& p, int64_t d_qty, int64_t d_held) {
  return Statement(db, "UPDATE stock SET qty = qty + ?, held = held + ? WHERE item = ?")
      .Bind(1, d_qty).Bind(2, d_held).Bind(3, std::string(p.at("item").as_string())).Run();
}

TxnMethod StockTake(Counters* counters) {
  return {
      .prepare = [counters](Database db, const json::value& p) -> Result {
        ++counters->prepares;
        const int64_t n = p.at("n").to_number<int64_t>();
        if (Status s = MoveStock(db, p, 0, n); !s.ok()) return s;
        Statement select(db, "SELECT qty, held FROM stock WHERE item = ?");
        select.Bind(1, std::string(p.at("item").as_string()));
        if (select.Step() != Statement::kRow) return Status(StatusCode::kNotFound, "no such item");
        if (select.Int(1) > select.Int(0)) return Status(StatusCode::kFailedPrecondition, "not enough stock");
        return json::value{{"held", select.Int(1)}};
      },
      .commit = [counters](Database db, const json::value& p) -> Status {
        ++counters->commits;
        const int64_t n = p.at("n").to_number<int64_t>();
        return MoveStock(db, p, -n, -n);
      },
      .abort = [counters](Database db, const json::value& p) -> Status {
        ++counters->aborts;
        return MoveStock(db, p, 0, -p.at("n").to_number<int64_t>());
      }};
}

struct Stock {
  int64_t qty = -1, held = -1;
  bool operator==(const Stock&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Stock& s) { return os << "{qty " << s.qty << ", held " << s.held << "}"; }

class ParticipantLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string schema = std::string(txn::kParticipantSchema) + kStockSchema;
    ASSERT_TRUE(GroupCommitDb::Open(dir_.File("participant.db"), schema, &db_).ok());
    methods_.emplace("Stock.take", StockTake(&counters_));
    log_ = std::make_unique<txn::ParticipantLog>("p1", [this](std::string_view name) -> const TxnMethod* {
      auto it = methods_.find(name);
      return it == methods_.end() ? nullptr : &it->second;
    });
    Result r = db_->RunSync([](Database d) -> Result {
      Status s = d.Exec("INSERT INTO stock (item, qty, held) VALUES ('widget', 10, 0)");
      return s.ok() ? Result(json::value()) : Result(s);
    });
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // `recorded_` tells whether the last prepare recorded a new prepared call.
  Result Prepare(const std::string& txid, const std::string& call, int64_t n,
                 const std::string& method = "Stock.take") {
    txn::PrepareRequest request{.txid = txid, .call = call, .coordinator = "127.0.0.1:1", .method = method,
                                .params = json::value{{"item", "widget"}, {"n", n}}};
    recorded_ = true;  // Prepare must say
    return db_->RunSync([&](Database d) { return log_->Prepare(d, request, &recorded_); });
  }
  Result Apply(const std::string& txid, bool commit, std::vector<std::string> calls = {}) {
    txn::Decision decision{.commit = commit, .calls = std::move(calls)};
    return db_->RunSync([&](Database d) { return log_->Apply(d, txid, decision); });
  }
  Result Commit(const std::string& txid, std::vector<std::string> calls) { return Apply(txid, true, std::move(calls)); }
  Result Abort(const std::string& txid) { return Apply(txid, false); }

  Stock stock() {
    Stock out;
    db_->RunSync([&out](Database d) -> Result {
      Statement select(d, "SELECT qty, held FROM stock WHERE item = 'widget'");
      if (select.Step() == Statement::kRow) out = {select.Int(0), select.Int(1)};
      return json::value();
    });
    return out;
  }
  // {call: state} of one transaction, the tombstone "*" included.
  std::map<std::string, std::string> Calls(const std::string& txid) {
    std::map<std::string, std::string> out;
    Result r = db_->RunSync([&txid](Database d) -> Result { return txn::ParticipantLog::Describe(d, txid); });
    if (r.ok()) {
      for (const json::value& c : r.value().as_array()) {
        out[std::string(c.at("call").as_string())] = std::string(c.at("state").as_string());
      }
    }
    return out;
  }
  json::value Counts() {
    return db_->RunSync([](Database d) -> Result { return txn::ParticipantLog::CountByState(d); }).value();
  }
  std::vector<txn::InDoubt> InDoubt(int64_t prepared_before_ms) {
    std::vector<txn::InDoubt> out;
    db_->RunSync([&](Database d) -> Result {
      out = txn::ParticipantLog::FindInDoubt(d, prepared_before_ms);
      return json::value();
    });
    return out;
  }
  static int64_t Committed(const Result& applied) { return applied.value().at("committed").as_int64(); }
  static int64_t Aborted(const Result& applied) { return applied.value().at("aborted").as_int64(); }

  TempDir dir_;
  std::unique_ptr<GroupCommitDb> db_;
  Counters counters_;
  std::map<std::string, TxnMethod, std::less<>> methods_;
  std::unique_ptr<txn::ParticipantLog> log_;
  bool recorded_ = false;
};

TEST_F(ParticipantLogTest, PrepareThenCommitAppliesOnce) {
  Result prepared = Prepare("t1", "0", 3);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_TRUE(recorded_);
  EXPECT_EQ(prepared.value().at("vote"), "yes");
  EXPECT_EQ(prepared.value().at("participant"), "p1");
  EXPECT_EQ(prepared.value().at("result").at("held"), 3);
  EXPECT_EQ(stock(), (Stock{10, 3}));
  EXPECT_EQ(Calls("t1"), (std::map<std::string, std::string>{{"0", "prepared"}}));

  Result committed = Commit("t1", {"0"});
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(Committed(committed), 1);
  EXPECT_EQ(Aborted(committed), 0);
  EXPECT_EQ(stock(), (Stock{7, 0}));
  EXPECT_EQ(Calls("t1"), (std::map<std::string, std::string>{{"0", "committed"}}));
  EXPECT_EQ(counters_.prepares.load(), 1);
  EXPECT_EQ(counters_.commits.load(), 1);
  EXPECT_EQ(counters_.aborts.load(), 0);
  EXPECT_EQ(Counts(), (json::value{{"prepared", 0}, {"committed", 1}, {"aborted", 0}}));
}

TEST_F(ParticipantLogTest, ARepeatedPrepareGetsTheFirstAnswerWithoutRunningTheHandler) {
  Result first = Prepare("t1", "0", 3);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(recorded_);
  Result again = Prepare("t1", "0", 3);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(recorded_) << "a repeat records nothing";
  EXPECT_EQ(again.value(), first.value());
  EXPECT_EQ(counters_.prepares.load(), 1);
  EXPECT_EQ(stock(), (Stock{10, 3})) << "held once, not twice";

  // The same call under another method is a conflict, not a repeat.
  methods_.emplace("Stock.other", StockTake(&counters_));
  Result other = Prepare("t1", "0", 3, "Stock.other");
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition) << other.status();
  Result unknown = Prepare("t1", "1", 3, "Stock.nothing");
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnimplemented) << unknown.status();

  // Still a repeat after the commit: the recorded yes.
  ASSERT_TRUE(Commit("t1", {"0"}).ok());
  Result late = Prepare("t1", "0", 3);
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late.value(), first.value());
  EXPECT_EQ(counters_.prepares.load(), 1);
  EXPECT_EQ(stock(), (Stock{7, 0}));
}

TEST_F(ParticipantLogTest, ANoVoteLeavesNoRowAndNoReservation) {
  Result no = Prepare("t1", "0", 11);  // holds 11 of 10, then refuses
  EXPECT_EQ(no.status().code(), StatusCode::kFailedPrecondition) << no.status();
  EXPECT_FALSE(recorded_);
  EXPECT_EQ(counters_.prepares.load(), 1);
  EXPECT_EQ(stock(), (Stock{10, 0})) << "the handler's hold was rolled back with its savepoint";
  EXPECT_TRUE(Calls("t1").empty());
  EXPECT_TRUE(InDoubt(txn::WallClockNowMs() + 1000).empty());

  // A "no" does not doom the transaction here: another call may still vote yes.
  Result yes = Prepare("t1", "1", 4);
  ASSERT_TRUE(yes.ok()) << yes.status();
  EXPECT_EQ(stock(), (Stock{10, 4}));
}

TEST_F(ParticipantLogTest, AnAbortOfAnUnknownTxidLeavesATombstoneThatRefusesLatePrepares) {
  Result aborted = Abort("t1");
  ASSERT_TRUE(aborted.ok()) << aborted.status();
  EXPECT_EQ(Committed(aborted), 0);
  EXPECT_EQ(Aborted(aborted), 0);
  EXPECT_EQ(Calls("t1"), (std::map<std::string, std::string>{{"*", "aborted"}}));
  EXPECT_EQ(Counts(), (json::value{{"prepared", 0}, {"committed", 0}, {"aborted", 0}}))
      << "the tombstone is not a call";

  Result late = Prepare("t1", "0", 3);
  EXPECT_EQ(late.status().code(), StatusCode::kAborted) << late.status();
  EXPECT_FALSE(recorded_);
  EXPECT_EQ(counters_.prepares.load(), 0) << "refused before the handler";
  EXPECT_EQ(stock(), (Stock{10, 0}));

  Result again = Abort("t1");  // idempotent, one tombstone
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Calls("t1").size(), 1u);
  Result commit = Commit("t1", {"0"});
  EXPECT_EQ(commit.status().code(), StatusCode::kFailedPrecondition) << commit.status();
  EXPECT_EQ(counters_.aborts.load(), 0);
}

TEST_F(ParticipantLogTest, ACommitOfSomeCallsAbortsTheOrphans) {
  ASSERT_TRUE(Prepare("t1", "0", 1).ok());
  ASSERT_TRUE(Prepare("t1", "1", 2).ok());
  ASSERT_TRUE(Prepare("t1", "2", 3).ok());
  ASSERT_TRUE(Prepare("t2", "0", 4).ok());  // another transaction: untouched
  EXPECT_EQ(stock(), (Stock{10, 10}));

  Result committed = Commit("t1", {"0", "2"});
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(Committed(committed), 2);
  EXPECT_EQ(Aborted(committed), 1);
  EXPECT_EQ(Calls("t1"),
            (std::map<std::string, std::string>{{"0", "committed"}, {"1", "aborted"}, {"2", "committed"}}));
  EXPECT_EQ(Calls("t2"), (std::map<std::string, std::string>{{"0", "prepared"}}));
  EXPECT_EQ(stock(), (Stock{6, 4}));
  EXPECT_EQ(counters_.commits.load(), 2);
  EXPECT_EQ(counters_.aborts.load(), 1);

  // A call of this transaction arriving now is refused: it was decided without it.
  Result late = Prepare("t1", "3", 1);
  EXPECT_EQ(late.status().code(), StatusCode::kAborted) << late.status();
  // A commit naming a call never prepared here is a disagreement, refused as a whole.
  Result unknown = Commit("t2", {"0", "9"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kFailedPrecondition) << unknown.status();
  EXPECT_EQ(Calls("t2"), (std::map<std::string, std::string>{{"0", "prepared"}}));
  EXPECT_EQ(stock(), (Stock{6, 4}));
}

TEST_F(ParticipantLogTest, CommitAfterAbortAndAbortAfterCommitAreRefused) {
  ASSERT_TRUE(Prepare("ta", "0", 1).ok());
  ASSERT_TRUE(Abort("ta").ok());
  Result commit = Commit("ta", {"0"});
  EXPECT_EQ(commit.status().code(), StatusCode::kFailedPrecondition) << commit.status();
  EXPECT_EQ(Calls("ta"), (std::map<std::string, std::string>{{"0", "aborted"}}));

  ASSERT_TRUE(Prepare("tc", "0", 2).ok());
  ASSERT_TRUE(Commit("tc", {"0"}).ok());
  Result abort = Abort("tc");
  EXPECT_EQ(abort.status().code(), StatusCode::kFailedPrecondition) << abort.status();
  EXPECT_EQ(Calls("tc"), (std::map<std::string, std::string>{{"0", "committed"}}));

  EXPECT_EQ(stock(), (Stock{8, 0}));
  EXPECT_EQ(counters_.commits.load(), 1);
  EXPECT_EQ(counters_.aborts.load(), 1);
}

TEST_F(ParticipantLogTest, RepeatedCommitsAndAbortsAreIdempotent) {
  ASSERT_TRUE(Prepare("tc", "0", 2).ok());
  for (int i = 0; i < 3; ++i) {
    Result r = Commit("tc", {"0"});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Committed(r), i == 0 ? 1 : 0);
  }
  ASSERT_TRUE(Prepare("ta", "0", 3).ok());
  for (int i = 0; i < 3; ++i) {
    Result r = Abort("ta");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Aborted(r), i == 0 ? 1 : 0);
  }
  EXPECT_EQ(Calls("ta"), (std::map<std::string, std::string>{{"0", "aborted"}})) << "no tombstone: it had a call";
  EXPECT_EQ(counters_.commits.load(), 1);
  EXPECT_EQ(counters_.aborts.load(), 1);
  EXPECT_EQ(stock(), (Stock{8, 0}));
  EXPECT_EQ(Counts(), (json::value{{"prepared", 0}, {"committed", 1}, {"aborted", 1}}));
}

TEST_F(ParticipantLogTest, FindInDoubtRespectsTheAgeHorizon) {
  const int64_t before = txn::WallClockNowMs();
  ASSERT_TRUE(Prepare("t1", "0", 1).ok());
  ASSERT_TRUE(Prepare("t1", "1", 1).ok());
  ASSERT_TRUE(Prepare("t2", "0", 1).ok());
  EXPECT_TRUE(InDoubt(before - 60000).empty()) << "nothing prepared a minute ago";
  std::vector<txn::InDoubt> found = InDoubt(txn::WallClockNowMs() + 1);
  ASSERT_EQ(found.size(), 2u) << "one entry per transaction";
  EXPECT_EQ(found[0].txid, "t1") << "oldest first";
  EXPECT_EQ(found[1].txid, "t2");
  EXPECT_EQ(found[0].coordinator, "127.0.0.1:1");

  ASSERT_TRUE(Commit("t1", {"0", "1"}).ok());
  found = InDoubt(txn::WallClockNowMs() + 1);
  ASSERT_EQ(found.size(), 1u) << "decided calls are not in doubt";
  EXPECT_EQ(found[0].txid, "t2");
  ASSERT_TRUE(Abort("t2").ok());
  ASSERT_TRUE(Abort("t3").ok());  // a tombstone is not in doubt either
  EXPECT_TRUE(InDoubt(txn::WallClockNowMs() + 1).empty());
}

TEST_F(ParticipantLogTest, ForgettingDecidedCallsKeepsThoseInDoubt) {
  ASSERT_TRUE(Prepare("tc", "0", 1).ok());
  ASSERT_TRUE(Commit("tc", {"0"}).ok());
  ASSERT_TRUE(Prepare("ta", "0", 2).ok());
  ASSERT_TRUE(Abort("ta").ok());
  ASSERT_TRUE(Abort("tx").ok());  // a tombstone
  ASSERT_TRUE(Prepare("tp", "0", 3).ok());
  auto forget = [this](int64_t before) {
    return db_->RunSync([before](Database d) -> Result {
      Status s = txn::ParticipantLog::ForgetDecided(d, before);
      return s.ok() ? Result(json::value()) : Result(s);
    });
  };
  ASSERT_TRUE(forget(txn::WallClockNowMs() - 60000).ok());
  EXPECT_EQ(Counts(), (json::value{{"prepared", 1}, {"committed", 1}, {"aborted", 1}})) << "all younger than that";
  ASSERT_TRUE(forget(txn::WallClockNowMs() + 1).ok());
  EXPECT_EQ(Counts(), (json::value{{"prepared", 1}, {"committed", 0}, {"aborted", 0}}));
  EXPECT_TRUE(Calls("tc").empty());
  EXPECT_TRUE(Calls("tx").empty());
  EXPECT_EQ(Calls("tp"), (std::map<std::string, std::string>{{"0", "prepared"}})) << "in doubt: never forgotten";
  EXPECT_EQ(stock(), (Stock{9, 3}));
  ASSERT_TRUE(Commit("tp", {"0"}).ok());
  EXPECT_EQ(stock(), (Stock{6, 0}));
}

TEST(DecisionLog, RecordsFindsFinishesAndForgetsCommits) {
  TempDir dir;
  std::unique_ptr<GroupCommitDb> db;
  ASSERT_TRUE(GroupCommitDb::Open(dir.File("decisions.db"), txn::kDecisionSchema, &db).ok());
  auto run = [&db](std::function<Status(Database)> f) {
    Result r = db->RunSync([&f](Database d) -> Result {
      Status s = f(d);
      return s.ok() ? Result(json::value()) : Result(s);
    });
    return r.status();
  };
  const txn::CommitRecord t1{.txid = "t1", .calls = {{"0", "pa", "127.0.0.1:1"}, {"1", "pb", "127.0.0.1:2"}}};
  ASSERT_TRUE(run([&](Database d) { return txn::DecisionLog::RecordCommit(d, t1); }).ok());
  ASSERT_TRUE(run([&](Database d) { return txn::DecisionLog::RecordCommit(d, {.txid = "t2", .calls = {}}); }).ok());
  ASSERT_TRUE(run([&](Database d) { return txn::DecisionLog::RecordCommit(d, t1); }).ok()) << "idempotent";

  txn::CommitRecord found, other;
  std::vector<txn::CommitRecord> unfinished;
  bool t1_found = false, t3_found = true;
  ASSERT_TRUE(run([&](Database d) {
                t1_found = txn::DecisionLog::Find(d, "t1", &found);
                t3_found = txn::DecisionLog::Find(d, "t3", &other);
                unfinished = txn::DecisionLog::Unfinished(d);
                return Status::Ok();
              }).ok());
  ASSERT_TRUE(t1_found);
  EXPECT_FALSE(t3_found) << "never committed: presumed aborted";
  EXPECT_FALSE(found.done);
  ASSERT_EQ(found.calls.size(), 2u);
  EXPECT_EQ(found.calls[1].call, "1");
  EXPECT_EQ(found.calls[1].participant, "pb");
  EXPECT_EQ(found.calls[1].address, "127.0.0.1:2");
  EXPECT_EQ(unfinished.size(), 2u);

  ASSERT_TRUE(run([](Database d) { return txn::DecisionLog::MarkDone(d, {"t1"}); }).ok());
  ASSERT_TRUE(run([](Database d) { return txn::DecisionLog::ForgetDone(d, txn::WallClockNowMs() - 60000); }).ok());
  ASSERT_TRUE(run([&](Database d) {
                t1_found = txn::DecisionLog::Find(d, "t1", &found);
                unfinished = txn::DecisionLog::Unfinished(d);
                return Status::Ok();
              }).ok());
  ASSERT_TRUE(t1_found) << "done, but younger than the horizon";
  EXPECT_TRUE(found.done);
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].txid, "t2");

  ASSERT_TRUE(run([](Database d) { return txn::DecisionLog::ForgetDone(d, txn::WallClockNowMs() + 1); }).ok());
  ASSERT_TRUE(run([&](Database d) {
                t1_found = txn::DecisionLog::Find(d, "t1", &found);
                unfinished = txn::DecisionLog::Unfinished(d);
                return Status::Ok();
              }).ok());
  EXPECT_FALSE(t1_found) << "done and old: forgotten";
  EXPECT_EQ(unfinished.size(), 1u) << "an unfinished commit is never forgotten";
}

TEST_F(ParticipantLogTest, TheParticipantIdIsMadeOnceAndKept) {
  std::string first, second;
  ASSERT_TRUE(db_->RunSync([&first](Database d) -> Result {
                   Status s = txn::ParticipantLog::LoadOrCreateId(d, &first);
                   return s.ok() ? Result(json::value()) : Result(s);
                 }).ok());
  db_.reset();
  ASSERT_TRUE(GroupCommitDb::Open(dir_.File("participant.db"), std::string(txn::kParticipantSchema) + kStockSchema,
                                  &db_)
                  .ok());
  ASSERT_TRUE(db_->RunSync([&second](Database d) -> Result {
                   Status s = txn::ParticipantLog::LoadOrCreateId(d, &second);
                   return s.ok() ? Result(json::value()) : Result(s);
                 }).ok());
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, second);
}

// ---------------------------------------------------------------------------
// In-process nodes: a bank (Participant + Server) and a coordinator.

ServerOptions InProcessServerOptions() {
  ServerOptions o;
  o.threads = 1;
  o.handle_signals = false;
  o.shutdown_grace = std::chrono::milliseconds(0);
  return o;
}

// Stops the server's loops at once (no grace: in-flight calls are abandoned)
// and joins them, leaving the loops themselves alive until `server` goes.
void StopLoops(Server& server) {
  server.Shutdown();
  server.Wait();
}

ParticipantOptions BankOptions(const std::string& db_path) {
  ParticipantOptions o;
  o.db_path = db_path;
  o.in_doubt_after = std::chrono::milliseconds(200);
  o.resolve_interval = std::chrono::milliseconds(50);
  return o;
}

struct Money {
  int64_t balance = -1, reserved = -1;
  bool operator==(const Money&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Money& m) {
  return os << "{balance " << m.balance << ", reserved " << m.reserved << "}";
}

json::value Amount(const std::string& account, int64_t amount) {
  return json::value{{"account", account}, {"amount", amount}};
}

// A service on an in-process Server that can crash (its loops stop and it is
// destroyed without any call of its own; its files stay) and start again,
// on the same port or a new one. Subclasses own the service.
class InProcessNode {
 public:
  InProcessNode() = default;
  virtual ~InProcessNode() = default;  // subclasses Crash() in their destructor
  InProcessNode(const InProcessNode&) = delete;
  InProcessNode& operator=(const InProcessNode&) = delete;

  // Opens the service and serves it on `listen`; a fixed port still taken
  // (by a socket of the previous incarnation) is tried again.
  ::testing::AssertionResult Start(const std::string& listen = "127.0.0.1:0") {
    Status why;
    if (PollUntil([&] {
          why = TryStart(listen);
          if (!why.ok()) Crash();
          return why.ok();
        },
        std::chrono::milliseconds(5000))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "start on " << listen << ": " << why;
  }
  // Starts on a new port, never the one it had before (so that nothing sent
  // to the old address can reach it).
  ::testing::AssertionResult StartElsewhere() {
    const std::string old = address_;
    for (int i = 0; i < 10; ++i) {
      if (auto r = Start(); !r) return r;
      if (address_ != old) return ::testing::AssertionSuccess();
      Crash();
    }
    return ::testing::AssertionFailure() << "port 0 kept giving " << old;
  }
  // The crash: the loops stop, then the service and the server are destroyed.
  void Crash() {
    if (server_) StopLoops(*server_);
    DropService();
    server_.reset();
  }
  const std::string& address() const { return address_; }

 protected:
  virtual Status TryStart(const std::string& listen) = 0;
  virtual void DropService() = 0;
  std::unique_ptr<Server> server_;
  std::string address_;
};

class BankNode : public InProcessNode {
 public:
  explicit BankNode(ParticipantOptions options) : options_(std::move(options)) {}
  ~BankNode() override { Crash(); }

  Participant& participant() { return *participant_; }

  void OpenAccount(const std::string& name, int64_t balance) {
    Result r = participant_->RunLocal(
        [](Database db, const json::value& p) -> Result {
          Status s = Statement(db, "INSERT INTO accounts (account, balance, reserved) VALUES (?, ?, 0)")
                         .Bind(1, std::string(p.at("account").as_string()))
                         .Bind(2, p.at("amount").as_int64())
                         .Run();
          return s.ok() ? Result(json::value()) : Result(s);
        },
        Amount(name, balance));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  Money Account(const std::string& name) {
    Money m;
    participant_->RunLocal(
        [&m](Database db, const json::value& p) -> Result {
          Statement select(db, "SELECT balance, reserved FROM accounts WHERE account = ?");
          select.Bind(1, std::string(p.as_string()));
          if (select.Step() == Statement::kRow) m = {select.Int(0), select.Int(1)};
          return json::value();
        },
        json::value(name));
    return m;
  }
  // Calls by state in the database: {"prepared":N,"committed":N,"aborted":N}.
  json::value Counts() {
    Result r = participant_->RunLocal(
        [](Database db, const json::value&) -> Result { return txn::ParticipantLog::CountByState(db); }, nullptr);
    return r.ok() ? r.value() : json::value();
  }
  int64_t Prepared() {
    json::value c = Counts();
    return c.is_object() ? c.at("prepared").as_int64() : -1;
  }
  int64_t Committed() {
    json::value c = Counts();
    return c.is_object() ? c.at("committed").as_int64() : -1;
  }

 private:
  void DropService() override { participant_.reset(); }
  Status TryStart(const std::string& listen) override {
    Status s = Participant::Open(options_, kBankSchema, &participant_);
    if (s.ok()) s = RegisterBankService(*participant_);
    server_ = std::make_unique<Server>(InProcessServerOptions());
    if (s.ok()) s = participant_->Attach(*server_);
    if (s.ok()) s = server_->Start(listen);
    if (s.ok()) address_ = server_->address();
    return s;
  }

  ParticipantOptions options_;
  std::unique_ptr<Participant> participant_;
};

class CoordinatorNode : public InProcessNode {
 public:
  explicit CoordinatorNode(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  ~CoordinatorNode() override { Crash(); }

  // GET /metrics, the value of one sample ("harpc_txn_phase_two_pending"), or -1.
  int64_t Metric(const std::string& sample) {
    testing::RawSocket socket(testing::PortOf(address_));
    if (!socket.connected()) return -1;
    socket.Send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    const std::string body = testing::BodyOf(socket.ReadResponse(std::chrono::milliseconds(2000)));
    const std::string key = "\n" + sample + " ";
    const size_t at = body.find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(body.substr(at + key.size()));
  }

 private:
  void DropService() override { coordinator_.reset(); }
  Status TryStart(const std::string& listen) override {
    CoordinatorOptions options;
    options.data_dir = data_dir_;
    options.max_backoff = std::chrono::milliseconds(200);
    Status s = Coordinator::Open(options, &coordinator_);
    server_ = std::make_unique<Server>(InProcessServerOptions());
    if (s.ok()) s = coordinator_->Attach(*server_);
    if (s.ok()) s = server_->Start(listen);
    if (!s.ok()) return s;
    coordinator_->Start(*server_);
    address_ = server_->address();
    return s;
  }

  std::string data_dir_;
  std::unique_ptr<Coordinator> coordinator_;
};

TransactionOptions TimeoutOf(std::chrono::milliseconds timeout) {
  TransactionOptions o;
  o.timeout = timeout;
  return o;
}

// ---------------------------------------------------------------------------
// The participant behind a server: Bank.* and Participant.*

json::value PrepareParams(const std::string& txid, const std::string& call, json::value params) {
  return json::value{{"txid", txid}, {"call", call}, {"params", std::move(params)}};
}

json::value CommitParams(const std::string& txid, const std::string& participant, json::array calls) {
  return json::value{{"txid", txid}, {"participant", participant}, {"calls", std::move(calls)}};
}

// One bank in process, served over loopback: alice has 100.
class ParticipantServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bank.Start());
    bank.OpenAccount("alice", 100);
  }
  TempDir dir;
  BankNode bank{BankOptions(dir.File("bank.db"))};
};

TEST_F(ParticipantServer, PrepareAndCommitOverTheWireApplyOnce) {
  Channel channel(bank.address());
  const std::string id = bank.participant().id();

  CallResult first = channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 30)));
  ASSERT_TRUE(first.ok()) << first.status;
  EXPECT_EQ(first.value.at("vote"), "yes");
  EXPECT_EQ(first.value.at("participant").as_string(), id);
  EXPECT_EQ(first.value.at("result").at("reserved"), 30);
  CallResult again = channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 30)));
  ASSERT_TRUE(again.ok()) << again.status;
  EXPECT_EQ(again.value, first.value) << "the first answer";
  EXPECT_EQ(bank.Account("alice"), (Money{100, 30})) << "held once";
  EXPECT_EQ(bank.participant().stats().prepared, 1) << "a repeated prepare is not a second prepared call";

  for (int i = 0; i < 2; ++i) {
    CallResult commit = channel.Call("Participant.commit", CommitParams("t1", id, {"0"}));
    ASSERT_TRUE(commit.ok()) << commit.status;
    EXPECT_EQ(commit.value.at("committed"), i == 0 ? 1 : 0);
  }
  EXPECT_EQ(bank.Account("alice"), (Money{70, 0}));
  const ParticipantStats stats = bank.participant().stats();
  EXPECT_EQ(stats.prepared, 0);
  EXPECT_EQ(stats.committed, 1);
  EXPECT_EQ(stats.aborted, 0);

  CallResult status = channel.Call("Participant.status", json::value{{"txid", "t1"}});
  ASSERT_TRUE(status.ok()) << status.status;
  EXPECT_EQ(status.value.at("participant").as_string(), id);
  EXPECT_EQ(status.value.at("prepared"), 0);
  EXPECT_EQ(status.value.at("committed"), 1);
  EXPECT_EQ(status.value.at("calls"),
            json::value(json::array{json::object{{"call", "0"}, {"method", "Bank.debit"}, {"state", "committed"}}}));

  CallResult abort = channel.Call("Participant.abort", json::value{{"txid", "t1"}});
  EXPECT_EQ(abort.status.code(), StatusCode::kFailedPrecondition) << abort.status;
  EXPECT_EQ(bank.Account("alice"), (Money{70, 0}));
}

TEST_F(ParticipantServer, AnAbortOverTheWireReleasesTheHoldAndRefusesLaterCalls) {
  Channel channel(bank.address());
  const std::string id = bank.participant().id();

  ASSERT_TRUE(channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 30))).ok());
  for (int i = 0; i < 2; ++i) {
    CallResult abort = channel.Call("Participant.abort", json::value{{"txid", "t1"}, {"participant", id}});
    ASSERT_TRUE(abort.ok()) << abort.status;
    EXPECT_EQ(abort.value.at("aborted"), i == 0 ? 1 : 0);
  }
  EXPECT_EQ(bank.Account("alice"), (Money{100, 0}));
  CallResult commit = channel.Call("Participant.commit", CommitParams("t1", id, {"0"}));
  EXPECT_EQ(commit.status.code(), StatusCode::kFailedPrecondition) << commit.status;
  CallResult retry = channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 30)));
  EXPECT_EQ(retry.status.code(), StatusCode::kAborted) << retry.status;
  CallResult later = channel.Call("Bank.debit", PrepareParams("t1", "1", Amount("alice", 30)));
  EXPECT_EQ(later.status.code(), StatusCode::kAborted) << later.status;

  // An abort that arrives before its prepare: the late prepare is refused.
  ASSERT_TRUE(channel.Call("Participant.abort", json::value{{"txid", "t2"}}).ok());
  CallResult late = channel.Call("Bank.debit", PrepareParams("t2", "0", Amount("alice", 30)));
  EXPECT_EQ(late.status.code(), StatusCode::kAborted) << late.status;
  EXPECT_EQ(bank.Account("alice"), (Money{100, 0}));
  EXPECT_EQ(bank.Prepared(), 0);
  EXPECT_EQ(bank.participant().stats().prepared, 0);
  EXPECT_EQ(bank.participant().stats().aborted, 1);
}

TEST_F(ParticipantServer, InsufficientFundsVotesNoAndHoldsNothing) {
  Channel channel(bank.address());

  CallResult no = channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 101)));
  EXPECT_EQ(no.status.code(), StatusCode::kFailedPrecondition) << no.status;
  EXPECT_NE(no.status.message().find("insufficient funds"), std::string::npos) << no.status;
  EXPECT_EQ(bank.Account("alice"), (Money{100, 0}));
  EXPECT_EQ(bank.Counts(), (json::value{{"prepared", 0}, {"committed", 0}, {"aborted", 0}}));
  CallResult status = channel.Call("Participant.status", json::value{{"txid", "t1"}});
  ASSERT_TRUE(status.ok()) << status.status;
  EXPECT_TRUE(status.value.at("calls").as_array().empty()) << "no row for a no vote";

  // Holds count against what is available: 60 held, then 50 more is refused.
  ASSERT_TRUE(channel.Call("Bank.debit", PrepareParams("t2", "0", Amount("alice", 60))).ok());
  CallResult over = channel.Call("Bank.debit", PrepareParams("t3", "0", Amount("alice", 50)));
  EXPECT_EQ(over.status.code(), StatusCode::kFailedPrecondition) << over.status;
  EXPECT_EQ(bank.Account("alice"), (Money{100, 60}));
  CallResult unknown = channel.Call("Bank.credit", PrepareParams("t4", "0", Amount("nobody", 5)));
  EXPECT_EQ(unknown.status.code(), StatusCode::kNotFound) << unknown.status;
  EXPECT_EQ(bank.Prepared(), 1);
}

TEST_F(ParticipantServer, CommitForAnotherParticipantIsRefused) {
  Channel channel(bank.address());
  const std::string id = bank.participant().id();
  ASSERT_TRUE(channel.Call("Bank.debit", PrepareParams("t1", "0", Amount("alice", 30))).ok());

  CallResult commit = channel.Call("Participant.commit", CommitParams("t1", "not-" + id, {"0"}));
  EXPECT_EQ(commit.status.code(), StatusCode::kFailedPrecondition) << commit.status;
  CallResult abort = channel.Call("Participant.abort", json::value{{"txid", "t1"}, {"participant", "not-" + id}});
  EXPECT_EQ(abort.status.code(), StatusCode::kFailedPrecondition) << abort.status;
  EXPECT_EQ(bank.Account("alice"), (Money{100, 30})) << "still held";
  EXPECT_EQ(bank.Prepared(), 1);

  CallResult right = channel.Call("Participant.commit", CommitParams("t1", id, {"0"}));
  ASSERT_TRUE(right.ok()) << right.status;
  EXPECT_EQ(bank.Account("alice"), (Money{70, 0}));
}

TEST_F(ParticipantServer, MalformedParamsAreInvalidArgument) {
  Channel channel(bank.address());
  const std::string id = bank.participant().id();
  const json::value money = Amount("alice", 10);

  const std::vector<std::pair<std::string, json::value>> bad = {
      {"Bank.debit", json::value{{"call", "0"}, {"params", money}}},                        // no txid
      {"Bank.debit", json::value{{"txid", "t"}, {"params", money}}},                        // no call
      {"Bank.debit", json::value{{"txid", ""}, {"call", "0"}, {"params", money}}},          // empty txid
      {"Bank.debit", json::value{{"txid", "t"}, {"call", ""}, {"params", money}}},          // empty call
      {"Bank.debit", json::value{{"txid", "t"}, {"call", "*"}, {"params", money}}},         // the tombstone's call
      {"Bank.debit", json::value{{"txid", 7}, {"call", "0"}, {"params", money}}},           // txid not a string
      {"Bank.debit", json::value{{"txid", "t"}, {"call", 0}, {"params", money}}},           // call not a string
      {"Bank.debit", json::value{{"txid", "t"}, {"call", "0"}, {"coordinator", 1}, {"params", money}}},
      {"Bank.debit", json::value{{"txid", "t"}, {"call", "0"}, {"params", {{"account", "alice"}}}}},  // no amount
      {"Bank.debit", json::value{{"txid", "t"}, {"call", "0"}}},                            // no params at all
      {"Bank.debit", json::value(json::array{1, 2})},                                      // not an object
      {"Participant.commit", json::value{{"txid", "t"}, {"participant", id}, {"calls", json::array{0}}}},
      {"Participant.commit", json::value{{"txid", "t"}, {"participant", id}, {"calls", "0"}}},
      {"Participant.commit", json::value{{"txid", "t"}, {"participant", id}}},  // no calls
      {"Participant.commit", json::value{{"txid", "t"}, {"calls", json::array{"0"}}}},  // no participant
      {"Participant.commit", json::value{{"participant", id}, {"calls", json::array{"0"}}}},  // no txid
      {"Participant.commit", json::value{{"txid", ""}, {"participant", id}, {"calls", json::array{"0"}}}},
      {"Participant.abort", json::value(json::object{})},
      {"Participant.abort", json::value{{"txid", ""}}},
      {"Participant.abort", json::value{{"txid", json::array{}}}},
      {"Participant.abort", json::value("t")},
      {"Participant.status", json::value{{"txid", 3}}},
  };
  for (const auto& [method, params] : bad) {
    CallResult r = channel.Call(method, params);
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << method << " " << json::serialize(params) << ": "
                                                              << r.status;
  }
  EXPECT_EQ(bank.Account("alice"), (Money{100, 0}));
  CallResult all = channel.Call("Participant.status", json::value{{"txid", "t"}});
  ASSERT_TRUE(all.ok()) << all.status;
  EXPECT_TRUE(all.value.at("calls").as_array().empty()) << "nothing prepared, no tombstone";
}

// A participant destroyed (crashed) while its resolver waits for a coordinator's
// answer: the wait ends with it, nothing runs afterwards, and the database
// reopens with the call still in doubt.
TEST(ParticipantCrash, WhileAskingTheCoordinatorIsClean) {
  TempDir dir;
  // A coordinator that is slow to answer: the question stays in flight.
  std::atomic<int> asked{0};
  Server slow(InProcessServerOptions());
  ASSERT_TRUE(slow.AddAsyncMethod("Coordinator.status",
                                  [&asked](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
                                    ++asked;
                                    asio::steady_timer timer(ctx.executor(), std::chrono::milliseconds(3000));
                                    co_await timer.async_wait(asio::use_awaitable);
                                    co_return json::value{{"txid", p.at("txid")}, {"outcome", "pending"}};
                                  },
                                  {.idempotent = true})
                  .ok());
  ASSERT_TRUE(slow.Start("127.0.0.1:0").ok());

  BankNode bank(BankOptions(dir.File("bank.db")));
  ASSERT_TRUE(bank.Start());
  bank.OpenAccount("alice", 100);
  {
    Channel channel(bank.address());
    json::value prepare = PrepareParams("t1", "0", Amount("alice", 30));
    prepare.as_object()["coordinator"] = slow.address();
    CallResult r = channel.Call("Bank.debit", prepare);
    ASSERT_TRUE(r.ok()) << r.status;
  }
  ASSERT_TRUE(PollUntil([&] { return asked.load() > 0; }, kSettle)) << "the participant never asked";
  bank.Crash();  // the question is still unanswered

  ASSERT_TRUE(bank.Start());
  EXPECT_EQ(bank.Prepared(), 1) << "still in doubt: pending is no answer";
  EXPECT_EQ(bank.Account("alice"), (Money{100, 30}));
  bank.Crash();
  StopLoops(slow);
}

// ---------------------------------------------------------------------------
// Whole transactions: Transaction (sync), txn::Transfer (coroutine)

TxnOutcome RunTransfer(Channel& coordinator, Channel& from, Channel& to, txn::TransferRequest request,
                       TransactionOptions options) {
  std::promise<TxnOutcome> promise;
  auto future = promise.get_future();
  asio::co_spawn(coordinator.executor(), txn::Transfer(coordinator, from, to, std::move(request), options),
                 [&promise](std::exception_ptr e, TxnOutcome outcome) {
                   if (e) outcome.status = Internal("the transfer threw");
                   promise.set_value(std::move(outcome));
                 });
  return future.get();
}

// A coordinator and two banks in process: alice has 100 on bank a, bob 0 on
// bank b.
class TwoBanks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(coordinator_node.Start());
    ASSERT_TRUE(a.Start());
    ASSERT_TRUE(b.Start());
    a.OpenAccount("alice", 100);
    b.OpenAccount("bob", 0);
  }
  TempDir dir;
  CoordinatorNode coordinator_node{dir.File("coordinator")};
  BankNode a{BankOptions(dir.File("a.db"))}, b{BankOptions(dir.File("b.db"))};
};
class Transactions : public TwoBanks {};
class CrashPoint : public TwoBanks {};

TEST_F(Transactions, ATransferCommitsAndAppliesOnceAndACommitRepeatedAnswersTheSame) {
  Channel coordinator(coordinator_node.address()), bank_a(a.address()), bank_b(b.address());

  txn::TransferRequest request{.from_account = "alice", .to_account = "bob", .amount = 30};
  TxnOutcome outcome = RunTransfer(coordinator, bank_a, bank_b, request, TimeoutOf(5000ms));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.committed) << outcome.reason;
  EXPECT_TRUE(outcome.applied);
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{30, 0}));

  // The sync API, and a commit asked twice.
  Transaction txn(coordinator, TimeoutOf(5000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 20)).ok());
  ASSERT_TRUE(txn.Call(bank_b, "Bank.credit", Amount("bob", 20)).ok());
  TxnOutcome first = txn.Commit();
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_TRUE(first.committed && first.applied);
  TxnOutcome second = txn.Commit();
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_TRUE(second.committed);
  EXPECT_TRUE(second.applied) << "it was applied before this answer";
  TxnOutcome queried = Transaction::Query(coordinator, txn.id());
  ASSERT_TRUE(queried.status.ok()) << queried.status;
  EXPECT_TRUE(queried.committed);
  EXPECT_TRUE(queried.applied);
  TxnOutcome abort = txn.Abort("too late");
  EXPECT_TRUE(abort.status.ok() && abort.committed) << "a committed transaction stays committed";

  EXPECT_EQ(a.Account("alice"), (Money{50, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{50, 0}));
  EXPECT_EQ(a.Committed(), 2);
  EXPECT_EQ(b.Committed(), 2);
  EXPECT_EQ(a.Prepared(), 0);
  EXPECT_EQ(b.Prepared(), 0);
}

TEST_F(Transactions, ANoVoteAbortsAndEveryHoldIsReleased) {
  a.OpenAccount("carol", 100);
  Channel coordinator(coordinator_node.address()), bank_a(a.address()), bank_b(b.address());

  Transaction txn(coordinator, TimeoutOf(5000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("carol", 10)).ok());
  ASSERT_TRUE(txn.Call(bank_b, "Bank.credit", Amount("bob", 10)).ok());
  CallResult no = txn.Call(bank_a, "Bank.debit", Amount("alice", 1000));
  EXPECT_EQ(no.status.code(), StatusCode::kFailedPrecondition) << no.status;
  EXPECT_EQ(a.Account("carol"), (Money{100, 10}));
  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(outcome.committed);
  EXPECT_NE(outcome.reason.find("insufficient funds"), std::string::npos) << outcome.reason;
  // Coordinator.abort tells the participants; nothing stays held.
  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0 && b.Prepared() == 0; }, kSettle));
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
  EXPECT_EQ(a.Account("carol"), (Money{100, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{0, 0}));

  txn::TransferRequest request{.from_account = "alice", .to_account = "bob", .amount = 101};
  TxnOutcome transfer = RunTransfer(coordinator, bank_a, bank_b, request, TimeoutOf(5000ms));
  ASSERT_TRUE(transfer.status.ok()) << transfer.status;
  EXPECT_FALSE(transfer.committed);
  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0 && b.Prepared() == 0; }, kSettle));
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{0, 0}));
}

// ---------------------------------------------------------------------------
// Crash points

// 1. The coordinator crashes after begin, before any prepare: it forgot the
// transaction, and a commit hears "aborted" (presumed abort).
TEST_F(CrashPoint, CoordinatorCrashAfterBeginPresumesAbort) {
  const std::string address = coordinator_node.address();
  Channel coordinator(address);
  Transaction txn(coordinator, TimeoutOf(3000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_FALSE(txn.id().empty());

  coordinator_node.Crash();
  ASSERT_TRUE(coordinator_node.Start(address));  // the same data dir and port

  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(outcome.committed);
  EXPECT_FALSE(outcome.applied);
  EXPECT_NE(outcome.reason.find("unknown transaction"), std::string::npos) << outcome.reason;
  TxnOutcome queried = Transaction::Query(coordinator, txn.id());
  ASSERT_TRUE(queried.status.ok()) << queried.status;
  EXPECT_FALSE(queried.committed);
}

// 2. Prepared, then the coordinator crashes before deciding. The participant
// asks the restarted coordinator, hears "aborted" and releases the hold.
TEST_F(CrashPoint, CoordinatorCrashAfterPrepareTheParticipantAsksAndAborts) {
  const std::string address = coordinator_node.address();
  Channel coordinator(address), bank_a(a.address());

  Transaction txn(coordinator, TimeoutOf(5000ms));
  ASSERT_TRUE(txn.Begin().ok());
  CallResult debit = txn.Call(bank_a, "Bank.debit", Amount("alice", 30));
  ASSERT_TRUE(debit.ok()) << debit.status;
  EXPECT_EQ(a.Account("alice"), (Money{100, 30}));

  coordinator_node.Crash();
  ASSERT_TRUE(coordinator_node.Start(address));  // where the participant asks

  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0; }, kSettle)) << "still in doubt";
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
  // The database is released before the participant counts the resolution.
  EXPECT_TRUE(PollUntil([&] { return a.participant().stats().resolved_by_asking >= 1; }, kSettle));
  EXPECT_TRUE(PollUntil([&] { return a.participant().stats().prepared == 0; }, kSettle));
  EXPECT_EQ(a.Counts(), (json::value{{"prepared", 0}, {"committed", 0}, {"aborted", 1}}));

  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(outcome.committed);
  EXPECT_NE(outcome.reason.find("unknown transaction"), std::string::npos) << outcome.reason;
  CallResult late = txn.Call(bank_a, "Bank.debit", Amount("alice", 30));
  EXPECT_EQ(late.status.code(), StatusCode::kAborted) << late.status;
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
}

// 3a. A participant crashes after its yes; the transaction commits. Back up at
// another address (so phase two cannot reach it), it asks the coordinator and
// commits.
TEST_F(CrashPoint, ParticipantCrashAfterPrepareResolvesACommitByAsking) {
  Channel coordinator(coordinator_node.address()), bank_a(a.address()), bank_b(b.address());

  Transaction txn(coordinator, TimeoutOf(1000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 30)).ok());
  ASSERT_TRUE(txn.Call(bank_b, "Bank.credit", Amount("bob", 30)).ok());
  b.Crash();

  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.committed) << outcome.reason;
  EXPECT_FALSE(outcome.applied) << "b never acknowledged";
  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0; }, kSettle));
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));

  ASSERT_TRUE(b.StartElsewhere());
  EXPECT_EQ(b.Account("bob"), (Money{0, 0})) << "prepared, not yet committed";
  ASSERT_TRUE(PollUntil([&] { return b.Prepared() == 0; }, kSettle)) << "still in doubt";
  EXPECT_EQ(b.Account("bob"), (Money{30, 0}));
  EXPECT_EQ(b.Committed(), 1);
  EXPECT_TRUE(PollUntil([&] { return b.participant().stats().resolved_by_asking >= 1; }, kSettle));
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));
}

// 3b. The same crash, and the transaction aborts: asked, it releases the hold.
TEST_F(CrashPoint, ParticipantCrashAfterPrepareResolvesAnAbortByAsking) {
  Channel coordinator(coordinator_node.address()), bank_a(a.address());

  Transaction txn(coordinator, TimeoutOf(3000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 30)).ok());
  a.Crash();
  TxnOutcome outcome = txn.Abort("the client changed its mind");
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(outcome.committed);
  EXPECT_EQ(outcome.reason, "the client changed its mind");

  ASSERT_TRUE(a.StartElsewhere());
  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0; }, kSettle)) << "still in doubt";
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
  EXPECT_TRUE(PollUntil([&] { return a.participant().stats().resolved_by_asking >= 1; }, kSettle));
  EXPECT_EQ(a.Counts(), (json::value{{"prepared", 0}, {"committed", 0}, {"aborted", 1}}));
}

// 4. Decided, phase two not delivered (both participants down), then the
// coordinator crashes. Restarted elsewhere, it resumes phase two from its
// log when the participants are back; each applies once.
TEST_F(CrashPoint, CoordinatorCrashAfterTheDecisionResumesPhaseTwoFromTheLog) {
  const std::string a_address = a.address(), b_address = b.address();
  Channel coordinator(coordinator_node.address()), bank_a(a_address), bank_b(b_address);

  Transaction txn(coordinator, TimeoutOf(1000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 30)).ok());
  ASSERT_TRUE(txn.Call(bank_b, "Bank.credit", Amount("bob", 30)).ok());
  a.Crash();
  b.Crash();
  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.committed) << outcome.reason;
  EXPECT_FALSE(outcome.applied);

  coordinator_node.Crash();
  // Elsewhere: the participants, which ask the old address, cannot learn the
  // outcome by asking; only the resumed phase two can tell them.
  ASSERT_TRUE(coordinator_node.StartElsewhere());
  EXPECT_EQ(coordinator_node.Metric("harpc_txn_phase_two_pending"), 1);
  ASSERT_TRUE(a.Start(a_address));
  ASSERT_TRUE(b.Start(b_address));

  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0 && b.Prepared() == 0; }, kSettle)) << "still in doubt";
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{30, 0}));
  EXPECT_EQ(a.Committed(), 1);
  EXPECT_EQ(b.Committed(), 1);
  EXPECT_EQ(a.participant().stats().resolved_by_asking, 0u);
  EXPECT_EQ(b.participant().stats().resolved_by_asking, 0u);
  ASSERT_TRUE(PollUntil([&] { return coordinator_node.Metric("harpc_txn_phase_two_pending") == 0; }, kSettle));
  Channel restarted(coordinator_node.address());
  TxnOutcome queried = Transaction::Query(restarted, txn.id());
  ASSERT_TRUE(queried.status.ok()) << queried.status;
  EXPECT_TRUE(queried.committed);
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));
  EXPECT_EQ(b.Account("bob"), (Money{30, 0}));
}

// 5. During phase two: one participant acknowledged, the other is down; the
// coordinator crashes. Restarted, it sends phase two again to both: the one
// back applies once, the first does not apply twice.
TEST_F(CrashPoint, CoordinatorCrashDuringPhaseTwoAppliesEachParticipantOnce) {
  const std::string b_address = b.address();
  Channel coordinator(coordinator_node.address()), bank_a(a.address()), bank_b(b_address);

  Transaction txn(coordinator, TimeoutOf(1000ms));
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 30)).ok());
  ASSERT_TRUE(txn.Call(bank_b, "Bank.credit", Amount("bob", 30)).ok());
  b.Crash();
  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.committed) << outcome.reason;
  EXPECT_FALSE(outcome.applied);
  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0; }, kSettle)) << "a acknowledged";
  EXPECT_EQ(a.Account("alice"), (Money{70, 0}));

  coordinator_node.Crash();
  ASSERT_TRUE(coordinator_node.StartElsewhere());
  ASSERT_TRUE(b.Start(b_address));

  ASSERT_TRUE(PollUntil([&] { return b.Prepared() == 0; }, kSettle)) << "still in doubt";
  // Both acknowledged the resumed phase two (a again, idempotently).
  ASSERT_TRUE(PollUntil([&] { return coordinator_node.Metric("harpc_txn_phase_two_pending") == 0; }, kSettle));
  EXPECT_EQ(a.Account("alice"), (Money{70, 0})) << "not debited twice";
  EXPECT_EQ(b.Account("bob"), (Money{30, 0}));
  EXPECT_EQ(a.Committed(), 1);
  EXPECT_EQ(b.Committed(), 1);
  EXPECT_EQ(b.participant().stats().resolved_by_asking, 0u) << "told by phase two";
}

// 6. A commit after the transaction's timeout: aborted, "timed out"; the hold
// is released once the participant asks.
TEST_F(CrashPoint, ACommitAfterTheTimeoutAborts) {
  Channel coordinator(coordinator_node.address()), bank_a(a.address());

  constexpr auto kTimeout = std::chrono::milliseconds(600);
  Transaction txn(coordinator, TimeoutOf(kTimeout));
  ASSERT_TRUE(txn.Begin().ok());
  const auto begun = std::chrono::steady_clock::now();  // after the coordinator started the clock
  ASSERT_TRUE(txn.Call(bank_a, "Bank.debit", Amount("alice", 30)).ok());
  ASSERT_TRUE(PollUntil([&] { return Since(begun) > kTimeout + 100ms; }, 5000ms));

  TxnOutcome outcome = txn.Commit();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(outcome.committed);
  EXPECT_NE(outcome.reason.find("timed out"), std::string::npos) << outcome.reason;
  TxnOutcome queried = Transaction::Query(coordinator, txn.id());
  ASSERT_TRUE(queried.status.ok()) << queried.status;
  EXPECT_FALSE(queried.committed);
  EXPECT_NE(queried.reason.find("timed out"), std::string::npos) << queried.reason;

  ASSERT_TRUE(PollUntil([&] { return a.Prepared() == 0; }, kSettle)) << "still in doubt";
  EXPECT_EQ(a.Account("alice"), (Money{100, 0}));
}

}  // namespace
}  // namespace harpc
