// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// GroupCommitDb: one SQLite database written by one thread, with group commit.
//
// Work items queued while the previous batch is being committed wait and then
// share the next commit, and so its fsync: at concurrency 1 every item costs
// one fsync, at concurrency 64 one fsync serves many items. Each item runs in
// its own savepoint, so an item that fails rolls back only its own changes.
// Its caller resumes only after the batch is durable (or failed as a whole).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/awaitable.hpp>

#include "harpc/database.h"
#include "harpc/result.h"

struct sqlite3;

namespace harpc::storage {

class GroupCommitDb {
 public:
  // Runs on the writer thread inside the batch's transaction. An error
  // result rolls back what this item changed; the other items still commit.
  using Work = std::function<Result(Database db)>;

  // Opens (creating) `path` durably and runs `schema` (idempotent DDL) once.
  static Status Open(const std::string& path, std::string_view schema, std::unique_ptr<GroupCommitDb>* out);
  ~GroupCommitDb();  // finishes the queued work, then stops the writer

  // Queues `work`; resumes the calling coroutine on its own executor once the
  // batch holding it is committed durably.
  boost::asio::awaitable<Result> Run(Work work);
  // The same, blocking the calling thread (startup, tools and tests).
  Result RunSync(Work work);
  // Queues `work` without waiting for it (a failure is logged): for writes
  // whose caller cannot wait, such as a state change on an event loop. Items
  // commit in the order they were queued, however queued, so a Run queued
  // after them resumes only once they are durable too.
  void Post(Work work);

  // Work that reads or writes typed values instead of answering JSON: `work`
  // fills a T, which comes back with the status. The T lives in shared
  // storage until the writer is done with it, so a caller that goes away
  // early leaves nothing dangling.
  template <typename T>
  struct Typed {
    Status status;
    T value{};
    bool ok() const { return status.ok(); }
  };
  template <typename T>
  using TypedWork = std::function<Status(Database db, T& out)>;
  // (Callers pass a named TypedWork: GCC 12 destroys a temporary argument of
  // a co_await expression twice.)
  template <typename T>
  boost::asio::awaitable<Typed<T>> Run(TypedWork<T> work) {
    auto slot = std::make_shared<T>();
    Work erased = Erase(std::move(work), slot);
    Result r = co_await Run(std::move(erased));
    co_return Typed<T>{r.status(), std::move(*slot)};
  }
  template <typename T>
  Typed<T> RunSync(TypedWork<T> work) {
    auto slot = std::make_shared<T>();
    Result r = RunSync(Erase(std::move(work), slot));
    return {r.status(), std::move(*slot)};
  }

  // Batches committed since Open (each one fsync of the log, at least).
  uint64_t batches() const;
  // Items per batch are capped so that one batch never holds the writer long.
  static constexpr size_t kMaxBatch = 512;

 private:
  template <typename T>
  static Work Erase(TypedWork<T> work, std::shared_ptr<T> slot) {
    return [work = std::move(work), slot = std::move(slot)](Database db) -> Result {
      Status s = work(db, *slot);
      return s.ok() ? Result(boost::json::value()) : Result(std::move(s));
    };
  }

  struct Item {
    Work work;
    std::function<void(Result)> done;  // called on the writer thread
  };
  GroupCommitDb() = default;
  void Enqueue(Item item);
  void WriterLoop();
  void CommitBatch(std::deque<Item>& batch);

  sqlite3* db_ = nullptr;
  std::string path_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  uint64_t batches_ = 0;
  std::thread writer_;
};

}  // namespace harpc::storage
