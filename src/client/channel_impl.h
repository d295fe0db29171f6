// The channel behind harpc::Channel: its loop (given, or a private one with
// its thread) and its shared core. The naming layer makes resolvers from
// targets, so the constructor Channel(target, options) is defined there
// (naming/channel_target.cc).
#pragma once

#include <future>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "client/channel_core.h"
#include "client/client_metrics.h"
#include "client/resolver.h"
#include "harpc/channel.h"

namespace harpc {

// Whether the calling thread is running `executor`'s loop now. Known for
// io_context executors (what harpc's servers and channels use); false for others.
inline bool RunningInThisThread(const boost::asio::any_io_executor& executor) {
  const auto* io = executor.target<boost::asio::io_context::executor_type>();
  return io && io->running_in_this_thread();
}

class Channel::Impl {
 public:
  // `resolver` and `resolved` are what MakeResolver (naming layer) made of the target.
  Impl(std::string_view target, Status resolved, std::unique_ptr<Resolver> resolver, ChannelOptions options) {
    boost::asio::any_io_executor executor = options.executor;
    if (!executor) {
      private_loop_.emplace(1);
      executor = private_loop_->get_executor();
    }
    core_ = std::make_shared<ChannelCore>(executor, std::move(options));
    if (private_loop_) {
      work_.emplace(private_loop_->get_executor());
      thread_ = std::thread([this] { private_loop_->run(); });
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
      // A shared loop is not waited for: the coroutines still running hold the core.
      boost::asio::post(core_->executor(), [core = core_] { core->Stop(); });
      return;
    }
    OnLoop([this] { core_->Stop(); return 0; });
    work_.reset();
    private_loop_->stop();
    if (thread_.get_id() != std::this_thread::get_id()) thread_.join();
    // Before the loop it lives on: its timers and sockets belong to it. What the
    // loop's pending coroutines still hold goes with the loop.
    core_.reset();
  }

  const Status& status() const { return status_; }
  const std::shared_ptr<ChannelCore>& core() const { return core_; }
  bool OnLoopThread() const { return RunningInThisThread(core_->executor()); }

  // Runs `fn` on the loop and returns its result (inline when called on it).
  template <typename Fn>
  std::invoke_result_t<Fn> OnLoop(Fn fn) {
    if (OnLoopThread()) return fn();
    std::promise<std::invoke_result_t<Fn>> promise;
    boost::asio::post(core_->executor(), [&] { promise.set_value(fn()); });
    return promise.get_future().get();
  }

 private:
  std::optional<boost::asio::io_context> private_loop_;  // only without ChannelOptions::executor
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::shared_ptr<ChannelCore> core_;
  Status status_;
  uint64_t metrics_id_ = 0;
};

}  // namespace harpc
