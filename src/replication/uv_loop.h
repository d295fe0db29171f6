// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A libuv loop driven by an Asio event loop, so that libraft's disk I/O,
// timers and streams run on the same thread as the harpc server they serve:
// the state machine needs no locks, and Raft needs no thread of its own.
//
// libuv keeps its handles in an epoll instance of its own; the Asio loop
// waits for that descriptor to become readable and for libuv's next timer,
// then runs one non-blocking libuv iteration (uv_run UV_RUN_NOWAIT).
// Whoever calls into libuv or libraft from the Asio side calls Kick()
// afterwards, so that work it queued (a write, a closed handle) runs soon.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "harpc/status.h"
#include "replication/raft_c.h"

namespace harpc::replication {

class UvLoop {
 public:
  explicit UvLoop(boost::asio::any_io_executor executor);
  ~UvLoop();  // Close() must have run
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;

  Status Init();
  uv_loop_t* get() { return &loop_; }
  const boost::asio::any_io_executor& executor() const { return executor_; }

  // Starts driving the loop from the Asio loop (call there).
  void Start();
  // Runs a libuv iteration soon (on the Asio loop). Call on the Asio loop.
  void Kick();
  // Runs after every libuv iteration (on the Asio loop): callers observe
  // what libuv callbacks changed. One observer.
  void OnIteration(std::function<void()> observer) { observer_ = std::move(observer); }
  // Runs libuv alone (the Asio loop is not driving it: stopped, or never
  // started) until `done` holds or `limit` passed.
  void RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit);
  // Stops driving; then runs libuv alone until every handle is closed and
  // closes the loop. For the end of the owner's life, when nothing else uses it.
  void Close();

 private:
  void Run();
  void Arm();

  boost::asio::any_io_executor executor_;
  uv_loop_t loop_{};
  bool initialized_ = false;
  bool driving_ = false;
  bool kicked_ = false;
  bool waiting_ = false;
  std::unique_ptr<boost::asio::posix::stream_descriptor> backend_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::function<void()> observer_;
  // Shared with the pending Asio handlers, which may outlive a stop.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace harpc::replication
