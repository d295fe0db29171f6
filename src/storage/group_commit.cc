// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "storage/group_commit.h"

#include <sqlite3.h>

#include <future>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "storage/sqlite.h"
#include "util/await_callback.h"
#include "util/log.h"

namespace harpc::storage {

namespace asio = boost::asio;

Status GroupCommitDb::Open(const std::string& path, std::string_view schema, std::unique_ptr<GroupCommitDb>* out) {
  std::unique_ptr<GroupCommitDb> db(new GroupCommitDb());
  db->path_ = path;
  if (Status s = sql::OpenDurable(path, "database", &db->db_); !s.ok()) return s;
  if (Status s = sql::Exec(db->db_, schema, path); !s.ok()) return s;
  db->writer_ = std::thread([raw = db.get()] { raw->WriterLoop(); });
  *out = std::move(db);
  return Status::Ok();
}

GroupCommitDb::~GroupCommitDb() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_) sqlite3_close(db_);
}

uint64_t GroupCommitDb::batches() const {
  std::lock_guard lock(mutex_);
  return batches_;
}

void GroupCommitDb::Enqueue(Item item) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(item));
      wake_.notify_one();
      return;
    }
  }
  item.done(Unavailable("database " + path_ + " is closing"));
}

asio::awaitable<Result> GroupCommitDb::Run(Work work) {
  // Resumed on the coroutine's own executor: the writer thread never runs user code.
  std::function<void(std::function<void(Result)>)> start = [this, &work](std::function<void(Result)> done) {
    Enqueue({.work = std::move(work), .done = std::move(done)});
  };
  co_return co_await AwaitCallback<Result>(start);  // named: see the GCC 12 note in group_commit.h
}

Result GroupCommitDb::RunSync(Work work) {
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  Enqueue({.work = std::move(work), .done = [promise](Result r) { promise->set_value(std::move(r)); }});
  return future.get();
}

void GroupCommitDb::Post(Work work) {
  Enqueue({.work = std::move(work), .done = [path = path_](const Result& result) {
             if (!result.ok()) Log().error("{}: a queued write failed: {}", path, result.status().ToString());
           }});
}

void GroupCommitDb::WriterLoop() {
  std::deque<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void GroupCommitDb::CommitBatch(std::deque<Item>& batch) {
  std::vector<Result> results;
  results.reserve(batch.size());
  Status begun = sql::Exec(db_, "BEGIN IMMEDIATE", path_);
  if (begun.ok()) {
    for (Item& item : batch) {
      sql::Exec(db_, "SAVEPOINT item", path_);
      Result r = Internal("work threw an exception");
      try {
        r = item.work(sql::Access::Wrap(db_));
      } catch (const std::exception& e) {
        r = Internal(std::string("work failed: ") + e.what());
      }
      if (!r.ok()) sql::Exec(db_, "ROLLBACK TO item", path_);
      sql::Exec(db_, "RELEASE item", path_);
      results.push_back(std::move(r));
    }
    begun = sql::Exec(db_, "COMMIT", path_);
    if (!begun.ok()) sql::Exec(db_, "ROLLBACK", path_);
  }
  {
    std::lock_guard lock(mutex_);
    ++batches_;
  }
  if (!begun.ok()) Log().error("group commit of {} items failed: {}", batch.size(), begun.message());
  for (size_t i = 0; i < batch.size(); ++i) {
    // Nothing is acknowledged before the commit is durable; a failed commit fails every item.
    batch[i].done(begun.ok() ? std::move(results[i]) : Result(begun));
  }
}

}  // namespace harpc::storage
