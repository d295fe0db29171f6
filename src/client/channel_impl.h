// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The channel behind harpc::Channel: its loop (given, or a private one with
// its thread) and its shared core. The naming layer makes resolvers from
// targets, so the constructor Channel(target, options) is defined there
// (naming/channel_target.cc).
#pragma once

#include <future>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "client/channel_core.h"
#include "client/client_metrics.h"
#include "client/resolver.h"
#include "harpc/channel.h"

namespace harpc {

class Channel::Impl {
 public:
  static constexpr std::chrono::milliseconds kStopSlack{100};

  // `resolver` and `resolved` are what MakeResolver (naming layer) made of the target.
  Impl(std::string_view target, Status resolved, std::unique_ptr<Resolver> resolver, ChannelOptions options) {
    boost::asio::any_io_executor executor = options.executor;
    if (!executor) {
      private_loop_ = std::make_shared<boost::asio::io_context>(1);
      executor = private_loop_->get_executor();
    }
    core_ = std::make_shared<ChannelCore>(executor, std::move(options), private_loop_);
    if (private_loop_) {
      work_.emplace(private_loop_->get_executor());
      std::promise<void> ran;
      loop_ran_ = ran.get_future();
      thread_ = std::thread([this, ran = std::move(ran)]() mutable {
        private_loop_->run();
        ran.set_value();
      });
    }
    // On the loop, like every touch of the core (a resolver may make channels
    // of its own there); waited for, so that a list:// membership is there
    // for the first call.
    status_ = OnLoop([&] {
      if (!resolved.ok()) return resolved;
      if (Status s = core_->Init(target); !s.ok()) return s;
      return core_->StartResolver(std::move(resolver));
    });
    if (status_.ok()) metrics_id_ = RegisterChannel(std::string(target), core_);
  }

  ~Impl() {
    if (metrics_id_) UnregisterChannel(metrics_id_);
    if (!private_loop_) {
      // A shared loop is not waited for: the coroutines still running hold the
      // core. Once its owner destroyed it, nothing of the core runs any more.
      core_->loop().Post([core = core_] { core->Stop(); });
      return;
    }
    OnLoop([this] {
      core_->Stop();
      return 0;
    });
    // The loop runs out of work once the calls in flight finish, within their
    // deadline; then (or at once, when called on the loop itself) it stops.
    work_.reset();
    if (OnLoopThread() || loop_ran_.wait_for(core_->options().timeout + kStopSlack) != std::future_status::ready) {
      private_loop_->stop();
    }
    if (thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  const Status& status() const { return status_; }
  const std::shared_ptr<ChannelCore>& core() const { return core_; }
  bool OnLoopThread() const { return RunningInThisThread(core_->executor()); }

  // Why a blocking call cannot start now (the channel failed, or this is its
  // own loop, which the wait would deadlock); OK when it can.
  Status BlockingCallRefusal() const {
    if (!status_.ok()) return status_;
    if (OnLoopThread()) {
      return {StatusCode::kFailedPrecondition,
              "a blocking call on the channel's own event loop would deadlock; use the Async form"};
    }
    return Status::Ok();
  }

  // Runs `wire` on the loop and blocks until it ends.
  CallResult RunBlocking(WireCall wire, const CallOptions& options) const {
    std::promise<CallResult> promise;
    auto future = promise.get_future();
    boost::asio::co_spawn(core_->executor(), ChannelCore::ExecuteOn(core_, std::move(wire), options),
                          [&promise](std::exception_ptr e, CallResult r) {
                            if (e) r.status = Internal("call failed with an exception");
                            promise.set_value(std::move(r));
                          });
    return future.get();
  }

  // Runs `fn` on the loop and returns its result (inline when called on it).
  template <typename Fn>
  std::invoke_result_t<Fn> OnLoop(Fn fn) {
    if (OnLoopThread()) return fn();
    std::promise<std::invoke_result_t<Fn>> promise;
    boost::asio::post(core_->executor(), [&] { promise.set_value(fn()); });
    return promise.get_future().get();
  }

 private:
  // Only without ChannelOptions::executor; shared with the core, which may
  // outlive the channel in a caller's coroutine.
  std::shared_ptr<boost::asio::io_context> private_loop_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::future<void> loop_ran_;  // ready when the private loop's run() returned
  std::shared_ptr<ChannelCore> core_;
  Status status_;
  uint64_t metrics_id_ = 0;
};

}  // namespace harpc
